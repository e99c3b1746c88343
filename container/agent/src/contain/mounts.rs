//! Where this process's cgroup (v2) is, from `/proc/self/mountinfo` and `/proc/self/cgroup`. Pure.
//!
//! A v2 hierarchy may be mounted at its root (a host: `/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` beside v1
//! controllers), at a cgroup of its own (a container's namespace, or a jail given its folder by a bind mount), or
//! nowhere. The process's own cgroup is `0::<path>` in `/proc/self/cgroup`, and its folder is the mount point
//! joined with that path less the mount's root; a cgroup outside the mounted part has no folder here.

use std::path::PathBuf;

/// A mount of the v2 hierarchy: where it is, and which of its cgroups it shows there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Mount {
    pub point: PathBuf,
    pub root: String,
}

/// The first cgroup2 mount in `mountinfo`.
pub fn v2_mount(mountinfo: &str) -> Option<V2Mount> {
    mountinfo.lines().find_map(|line| {
        // `id parent major:minor root mount-point options [optional...] - fstype source super-options`
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        let mut fields = left.split(' ');
        let root = fields.nth(3)?;
        let point = fields.next()?;
        Some(V2Mount { point: PathBuf::from(unescape(point)), root: unescape(root) })
    })
}

/// This process's v2 cgroup, from `/proc/self/cgroup` (its `0::` line).
pub fn v2_path(proc_self_cgroup: &str) -> Option<String> {
    proc_self_cgroup.lines().find_map(|line| line.strip_prefix("0::")).map(str::to_string)
}

/// The folder of this process's v2 cgroup, when a mount shows it.
pub fn own_dir(mountinfo: &str, proc_self_cgroup: &str) -> Option<PathBuf> {
    let mount = v2_mount(mountinfo)?;
    let path = v2_path(proc_self_cgroup)?;
    // `/a/bc` is not below `/a/b`.
    below(mount.point, &mount.root, &path)
}

/// The folder of this process's cgroup in the v1 hierarchy of `controller`, when one is mounted.
pub fn v1_own_dir(mountinfo: &str, proc_self_cgroup: &str, controller: &str) -> Option<PathBuf> {
    let (point, root) = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split(' ');
        let (fstype, _source, options) = (right.next()?, right.next()?, right.next().unwrap_or(""));
        if fstype != "cgroup" || !options.split(',').any(|o| o == controller) {
            return None;
        }
        let mut fields = left.split(' ');
        let root = fields.nth(3)?;
        let point = fields.next()?;
        Some((PathBuf::from(unescape(point)), unescape(root)))
    })?;
    let path = proc_self_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_id, list, path) = (parts.next()?, parts.next()?, parts.next()?);
        list.split(',').any(|c| c == controller).then(|| path.to_string())
    })?;
    below(point, &root, &path)
}

/// `point` joined with `path` less `root`, when `path` is `root` or below it.
fn below(point: PathBuf, root: &str, path: &str) -> Option<PathBuf> {
    let rest = if root == "/" { path } else { path.strip_prefix(root)? };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let rest = rest.trim_start_matches('/');
    if rest.split('/').any(|part| part == "..") {
        return None;
    }
    Some(if rest.is_empty() { point } else { point.join(rest) })
}

/// mountinfo writes a space, a tab, a newline and a backslash in a path as an octal escape (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";

    #[test]
    fn a_host_with_v1_controllers_has_its_v2_tree_beside_them() {
        let own = own_dir(HYBRID, "4:memory:/api/box\n0::/user.slice/agent\n");
        assert_eq!(own, Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/agent")));
        assert_eq!(own_dir(HYBRID, "4:memory:/\n0::/\n"), Some(PathBuf::from("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn a_mount_of_a_cgroup_of_its_own_shows_what_is_below_it() {
        // A jail given its cgroup's folder by a bind mount, without a cgroup namespace of its own.
        let mounts = "50 40 0:38 /sandbox-agent-7/jail-1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw";
        let own = own_dir(mounts, "0::/sandbox-agent-7/jail-1/sandbox-agent-1\n");
        assert_eq!(own, Some(PathBuf::from("/sys/fs/cgroup/sandbox-agent-1")));
        // A cgroup outside what is mounted has no folder, nor one whose name merely begins the same.
        assert_eq!(own_dir(mounts, "0::/sandbox-agent-7/other\n"), None);
        assert_eq!(own_dir(mounts, "0::/sandbox-agent-7/jail-10\n"), None);
    }

    #[test]
    fn nothing_is_found_without_a_v2_mount_or_line() {
        let v1_only = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory";
        assert_eq!(own_dir(v1_only, "0::/\n"), None);
        assert_eq!(own_dir(HYBRID, "4:memory:/\n"), None);
        assert_eq!(own_dir("", ""), None);
    }

    #[test]
    fn a_v1_controllers_folder_is_found_in_its_own_hierarchy() {
        let cgroups = "4:memory:/process_api/box\n2:cpu,cpuacct:/a\n0::/\n";
        let mounts = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                      36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct";
        assert_eq!(v1_own_dir(mounts, cgroups, "memory"), Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/box")));
        assert_eq!(v1_own_dir(mounts, cgroups, "cpuacct"), Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a")));
        assert_eq!(v1_own_dir(mounts, cgroups, "pids"), None, "not mounted");
        // A container's view: the hierarchy mounted at its own cgroup.
        let docker = "96 95 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory";
        assert_eq!(
            v1_own_dir(docker, "4:memory:/docker/abc\n", "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
    }

    #[test]
    fn escaped_paths_are_read_back() {
        let mounts = r"41 31 0:38 / /run/my\040cgroups rw - cgroup2 cgroup2 rw";
        assert_eq!(own_dir(mounts, "0::/a\n"), Some(PathBuf::from("/run/my cgroups/a")));
    }
}
