//! How much memory this agent may use: the lowest memory limit of its own cgroup and the cgroup's ancestors, in
//! whichever hierarchy the host has (cgroup v2's `memory.max`, or v1's memory controller's
//! `memory.limit_in_bytes`; hybrid hosts have both, with the controllers on v1), else the machine's memory.
//!
//! The agent's cgroup is read from `/proc/self/cgroup`, and the hierarchies from `/proc/self/mountinfo`: in a
//! container (a cgroup namespace) its cgroup is `/` at the mount's root, but on a host, where local mode runs,
//! the root's limit is "unlimited" while the agent's own cgroup has the real one. Reading the root alone made the
//! memory budget half the machine's memory in a 1 GiB cgroup, and a burst of output got the agent OOM-killed.

use std::path::{Path, PathBuf};

/// The limit, when some cgroup of this process or the machine says one.
pub fn own_limit() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let from_cgroups = limit_files(&cgroups, &mounts)
        .iter()
        .filter_map(|file| std::fs::read_to_string(file).ok())
        .filter_map(|text| parse_limit(&text))
        .min();
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| mem_total(&text));
    match (from_cgroups, machine) {
        (Some(cgroup), Some(machine)) => Some(cgroup.min(machine)),
        (one, other) => one.or(other),
    }
}

/// Every file that may hold a memory limit of this process's cgroups: its own cgroup's and each ancestor's, in
/// the v2 hierarchy and in v1's memory controller, where mounted.
pub fn limit_files(proc_self_cgroup: &str, mountinfo: &str) -> Vec<PathBuf> {
    let (v1_memory, v2) = cgroup_mounts(mountinfo);
    let mut files = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else { continue };
        let (mount, file) = if id == "0" && controllers.is_empty() {
            (v2.as_deref(), "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            (v1_memory.as_deref(), "memory.limit_in_bytes")
        } else {
            continue;
        };
        let Some(mount) = mount else { continue };
        for dir in Path::new(path).ancestors() {
            let relative = dir.strip_prefix("/").unwrap_or(dir);
            files.push(mount.join(relative).join(file));
        }
    }
    files
}

/// Where the v1 memory controller and the v2 hierarchy are mounted, from `/proc/self/mountinfo`.
pub fn cgroup_mounts(mountinfo: &str) -> (Option<PathBuf>, Option<PathBuf>) {
    let (mut v1_memory, mut v2) = (None, None);
    for line in mountinfo.lines() {
        // `id parent major:minor root mount-point options [optional...] - fstype source super-options`
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let Some(mount_point) = left.split(' ').nth(4) else { continue };
        let mut right = right.split(' ');
        let (fstype, _source, options) = (right.next(), right.next(), right.next().unwrap_or(""));
        match fstype {
            Some("cgroup2") if v2.is_none() => v2 = Some(PathBuf::from(mount_point)),
            Some("cgroup") if v1_memory.is_none() && options.split(',').any(|o| o == "memory") => {
                v1_memory = Some(PathBuf::from(mount_point));
            }
            _ => {}
        }
    }
    (v1_memory, v2)
}

/// A limit file's value: a number of bytes; v2's `max` and v1's near-`i64::MAX` "unlimited" are none.
pub fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|n| *n < (1 << 62))
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
35 25 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
40 35 0:35 / /sys/fs/cgroup/memory rw,nosuid shared:16 - cgroup cgroup rw,memory
41 35 0:36 / /sys/fs/cgroup/pids rw,nosuid shared:17 - cgroup cgroup rw,pids";

    #[test]
    fn a_hybrid_host_is_read_in_both_hierarchies_up_to_the_root() {
        let cgroups = "9:name=systemd:/\n8:pids:/\n4:memory:/api/box\n0::/\n";
        let files = limit_files(cgroups, HYBRID_MOUNTS);
        let files: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            files,
            [
                "/sys/fs/cgroup/memory/api/box/memory.limit_in_bytes",
                "/sys/fs/cgroup/memory/api/memory.limit_in_bytes",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "/sys/fs/cgroup/unified/memory.max",
            ]
        );
    }

    #[test]
    fn a_v2_only_host_or_container_reads_its_own_cgroup() {
        let mounts = "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw";
        let files = limit_files("0::/user.slice/agent\n", mounts);
        assert_eq!(files[0], PathBuf::from("/sys/fs/cgroup/user.slice/agent/memory.max"));
        assert_eq!(files.last().unwrap(), &PathBuf::from("/sys/fs/cgroup/memory.max"));
        assert_eq!(limit_files("0::/\n", mounts), [PathBuf::from("/sys/fs/cgroup/memory.max")]);
        assert!(limit_files("0::/\n", "").is_empty(), "nothing mounted, nothing read");
    }

    #[test]
    fn unlimited_is_no_limit() {
        assert_eq!(parse_limit("1073741824\n"), Some(1 << 30));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712"), None);
        assert_eq!(mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"), Some(24_576_000 * 1024));
        assert_eq!(mem_total("nothing"), None);
    }
}
