//! The view of the machine a local sandbox gets, as a container would give it, and what it may not do there.
//!
//! bubblewrap makes the namespaces: user, mount, PID, IPC, UTS, cgroup and network. The system's programs and
//! libraries are shown read-only, the sandbox's folder at `/workspace`, its own `/tmp` and home, its own `/proc`
//! (neither the agent nor other sandboxes are visible), and nothing else of the host. Inside, the sandbox's code is
//! uid 0 with no capability at all; outside, that uid is `jail_uid(id)`, an unprivileged one that no file of the
//! host belongs to (`spawn_as` in `children.rs` starts bwrap as it when the agent is root). Its network is its own
//! (`network.rs` gives it a way out); its environment is `ENVIRONMENT`, nothing of the agent's.
//!
//! The argument list is built here, pure; `available` asks bwrap whether the machine can do it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the agent's own binary is found inside the jail.
pub const AGENT_INSIDE: &str = "/run/sandbox-agent/agent";

/// System folders shown read-only when the host has them.
const SYSTEM: [&str; 8] = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/opt"];

/// The environment a local sandbox starts with, as a container of `container/Dockerfile` has it (Docker's `PATH`,
/// the image's `LANG`); `HOSTNAME` and `SANDBOX_ID` are the sandbox's id. Nothing else of the host's reaches it.
pub const ENVIRONMENT: [(&str, &str); 3] =
    [("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), ("HOME", "/root"), ("LANG", "C.UTF-8")];

/// The descriptors bwrap is started with, beside standard input (the agent's token), output (where the agent
/// says it is ready) and error (its log, read by `jail_log.rs`). Every other descriptor is closed.
pub mod fd {
    /// The listening Unix socket the jail's agent serves (bound by the host agent; no path to it in the jail).
    pub const LISTEN: i32 = 3;
    /// bwrap writes the jail's process id here, as JSON (`--info-fd`).
    pub const INFO: i32 = 4;
    /// bwrap waits for a byte here before it starts the agent: the jail's network is set up first.
    pub const BLOCK: i32 = 5;
    /// The jail's `/etc/resolv.conf`, read from a pipe.
    pub const RESOLV: i32 = 6;
    /// A Unix socket over which the jail's agent sends the egress proxy's listener (`egress::handoff`).
    pub const EGRESS: i32 = 7;
    /// The jail's trust bundle (`egress::TRUST_BUNDLE`): the host's roots and the sandbox's own CA.
    pub const TRUST: i32 = 8;
}

/// What `/etc/resolv.conf` says in a jail with a way out: slirp4netns's resolver, which asks the host's.
pub const RESOLV_CONF: &str = "nameserver 10.0.2.3\n";

/// The first uid (and gid) of the range local sandboxes run as on the host, and its size: far above the ids
/// of people and system services, below the 32-bit ids that some tools treat as "no id".
pub const JAIL_IDS: (u32, u32) = (0x4000_0000, 0x1000_0000);

/// The host uid and gid a sandbox's jail runs as when the agent is root: one of `JAIL_IDS`, the same for the same
/// id on every start (so its folder stays its own), and different for different ids but by a rare chance (one in
/// 2^28 per pair), which would put two sandboxes under one uid and still in namespaces of their own.
pub fn jail_uid(id: &str) -> u32 {
    // FNV-1a: stable across builds and machines, unlike std's hasher.
    let hash = id.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193));
    JAIL_IDS.0 + hash % JAIL_IDS.1
}

/// bwrap's arguments that run the agent inside the jail of the sandbox `id`, its folder `workspace` and the
/// agent's binary `agent` (paths as bwrap sees them), up to and including the `--` before the agent's own
/// arguments. With `trust`, the jail's system bundle of roots is the one on `fd::TRUST` (the host's and the
/// sandbox's egress CA). With `network`, the jail's `/etc/resolv.conf` is `RESOLV_CONF` (its way out is
/// started once bwrap says where the jail is); without, the jail has a loopback and nothing else. `cgroups` are
/// the jail's own cgroup's folders (made and given to it by the host agent, bwrap started in them) and where the
/// jail sees each (`jail_cgroup_binds`): there its agent makes one for each session, process and terminal; the
/// jail's cgroup namespace begins at them.
pub fn bwrap_args(
    id: &str,
    workspace: &Path,
    agent: &Path,
    network: bool,
    trust: bool,
    cgroups: &[(PathBuf, String)],
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-user",
        "--uid",
        "0",
        "--gid",
        "0",
        "--unshare-pid",
        // The agent is the jail's PID 1, as in its container: no bwrap process in the jail holds what it was given.
        "--as-pid-1",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
        "--unshare-cgroup-try",
        // Effective only where bwrap runs as root; it never does here, and an unprivileged bwrap keeps none.
        "--cap-drop",
        "ALL",
        "--hostname",
        id,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for dir in SYSTEM {
        args.extend(["--ro-bind-try".into(), dir.into(), dir.into()]);
    }
    if network {
        args.extend(["--ro-bind-data".into(), fd::RESOLV.to_string(), "/etc/resolv.conf".into()]);
    }
    if trust {
        args.extend(["--ro-bind-data".into(), fd::TRUST.to_string(), crate::egress::TRUST_BUNDLE.into()]);
    }
    args.extend(
        ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/root", "--tmpfs", "/home"]
            .iter()
            .map(|s| s.to_string()),
    );
    args.extend(["--bind".into(), workspace.display().to_string(), "/workspace".into()]);
    for (host, inside) in cgroups {
        args.extend(["--bind".into(), host.display().to_string(), inside.clone()]);
    }
    args.extend(["--ro-bind".into(), agent.display().to_string(), AGENT_INSIDE.into()]);
    args.extend(["--info-fd".into(), fd::INFO.to_string(), "--block-fd".into(), fd::BLOCK.to_string()]);
    args.extend(["--chdir".into(), "/workspace".into(), "--".into(), AGENT_INSIDE.into()]);
    args
}

/// Where a jail sees its cgroup's folders: the v2 one at `/sys/fs/cgroup`, or, beside v1 hierarchies (a host that
/// keeps its controllers there), at `/sys/fs/cgroup/unified`, each v1 one at `/sys/fs/cgroup/<controller>`: the
/// layout of such a host.
pub fn jail_cgroup_binds(v2: &Path, v1: &[(&str, PathBuf)]) -> Vec<(PathBuf, String)> {
    if v1.is_empty() {
        return vec![(v2.to_path_buf(), "/sys/fs/cgroup".into())];
    }
    let mut binds = vec![(v2.to_path_buf(), "/sys/fs/cgroup/unified".to_string())];
    binds.extend(v1.iter().map(|(name, dir)| (dir.clone(), format!("/sys/fs/cgroup/{name}"))));
    binds
}

/// The jail's process id, from what bwrap writes to `--info-fd` (`{"child-pid": N, ...}`).
pub fn child_pid(info: &str) -> Option<i32> {
    let value: serde_json::Value = serde_json::from_str(info.trim()).ok()?;
    value.get("child-pid")?.as_i64().and_then(|pid| i32::try_from(pid).ok()).filter(|pid| *pid > 0)
}

/// Whether bubblewrap is installed and can make the namespaces here (`bwrap ... true`): user and network
/// namespaces included, as the agent's own uid and, when that is root, as a jail's.
pub fn available() -> Result<(), String> {
    let mut probe = Command::new("bwrap");
    probe
        .args([
            "--unshare-user",
            "--uid",
            "0",
            "--unshare-pid",
            "--unshare-net",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "true",
        ])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if nix::unistd::geteuid().is_root() {
        use std::os::unix::process::CommandExt;
        probe.uid(JAIL_IDS.0).gid(JAIL_IDS.0).current_dir("/");
    }
    match probe.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "bwrap cannot make user and network namespaces here as an unprivileged user: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(err) => Err(format!("bwrap (Debian's bubblewrap) is not installed: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jail_shows_the_workspace_and_system_folders_only() {
        let args = bwrap_args("box1", Path::new("/state/box1"), Path::new("/opt/agent"), true, true, &[]);
        let joined = args.join(" ");
        assert!(joined.contains("--bind /state/box1 /workspace"));
        assert!(joined.contains("--ro-bind-try /usr /usr") && joined.contains("--ro-bind-try /etc /etc"));
        assert!(joined.contains("--proc /proc --dev /dev --tmpfs /tmp --tmpfs /root --tmpfs /home"));
        assert!(joined.contains("--unshare-pid") && joined.contains("--hostname box1"));
        assert!(joined.contains("--ro-bind /opt/agent /run/sandbox-agent/agent"));
        assert!(joined.ends_with("-- /run/sandbox-agent/agent"));
        // Nothing of the host is bound writable but the sandbox's own folder.
        assert_eq!(args.iter().filter(|a| a.starts_with("--bind")).count(), 1);
        // Its own users (uid 0 inside, no capability) and its own network.
        assert!(joined.contains("--unshare-user --uid 0 --gid 0") && !joined.contains("--unshare-user-try"));
        assert!(joined.contains("--unshare-net") && joined.contains("--cap-drop ALL"));
        assert!(joined.contains("--ro-bind-data 6 /etc/resolv.conf"));
        assert!(joined.contains("--ro-bind-data 8 /etc/ssl/certs/ca-certificates.crt"));
        assert!(!bwrap_args("box1", Path::new("/w"), Path::new("/a"), false, false, &[])
            .join(" ")
            .contains("resolv.conf"));
    }

    #[test]
    fn a_jail_with_a_cgroup_sees_that_cgroup_and_nothing_else_of_the_tree() {
        let own = Path::new("/sys/fs/cgroup/unified/sandbox-agent-7/jail-3");
        let binds = jail_cgroup_binds(own, &[]);
        let args = bwrap_args("box1", Path::new("/w"), Path::new("/a"), true, false, &binds).join(" ");
        assert!(args.contains("--bind /sys/fs/cgroup/unified/sandbox-agent-7/jail-3 /sys/fs/cgroup"));
        assert!(args.contains("--unshare-cgroup-try"));
        // Beside v1 hierarchies, the host's layout.
        let memory = PathBuf::from("/sys/fs/cgroup/memory/sandbox-agent-7/jail-3");
        let binds = jail_cgroup_binds(own, &[("memory", memory)]);
        let args = bwrap_args("box1", Path::new("/w"), Path::new("/a"), true, false, &binds).join(" ");
        assert!(args.contains("--bind /sys/fs/cgroup/unified/sandbox-agent-7/jail-3 /sys/fs/cgroup/unified"));
        assert!(args.contains("--bind /sys/fs/cgroup/memory/sandbox-agent-7/jail-3 /sys/fs/cgroup/memory"));
    }

    #[test]
    fn a_jail_uid_is_unprivileged_stable_and_in_its_range() {
        for id in ["a", "box1", "my-sandbox", &"x".repeat(63)] {
            let uid = jail_uid(id);
            assert_eq!(uid, jail_uid(id));
            assert!(uid >= JAIL_IDS.0 && uid < JAIL_IDS.0 + JAIL_IDS.1, "{id}: {uid}");
        }
        assert_ne!(jail_uid("box-a"), jail_uid("box-b"));
    }

    #[test]
    fn the_child_pid_is_read_from_bwraps_info() {
        assert_eq!(child_pid("{\n    \"child-pid\": 4242\n}\n"), Some(4242));
        assert_eq!(child_pid("{\"child-pid\": 0}"), None);
        assert_eq!(child_pid("not json"), None);
        assert_eq!(child_pid("{}"), None);
    }
}
