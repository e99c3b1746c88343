//! The view of the machine a local sandbox gets, as a container would give it: bubblewrap's namespaces (user when
//! it can, mount, PID, IPC, UTS), the system's programs and libraries read-only, the sandbox's folder at
//! `/workspace`, its own `/tmp` and home, its own `/proc` (so neither the agent nor other sandboxes are visible),
//! and nothing else of the host (no other sandbox's folder, no home directories). The network is shared, as a
//! container's is. The argument list is built here, pure; `available` asks bwrap whether the machine can do it.

use std::path::Path;
use std::process::{Command, Stdio};

/// Where the agent's own binary is found inside the jail.
pub const AGENT_INSIDE: &str = "/run/sandbox-agent/agent";

/// System folders shown read-only when the host has them.
const SYSTEM: [&str; 8] = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/opt"];

/// bwrap's arguments that run `agent` (this binary) inside the jail of the sandbox `id` whose folder is `folder`,
/// up to and including the `--` before the agent's own arguments.
pub fn bwrap_args(id: &str, folder: &Path, agent: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-user-try",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        id,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for dir in SYSTEM {
        args.extend(["--ro-bind-try".into(), dir.into(), dir.into()]);
    }
    args.extend(
        ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/root", "--tmpfs", "/home"]
            .iter()
            .map(|s| s.to_string()),
    );
    args.extend(["--bind".into(), folder.display().to_string(), "/workspace".into()]);
    args.extend(["--ro-bind".into(), agent.display().to_string(), AGENT_INSIDE.into()]);
    args.extend(["--chdir".into(), "/workspace".into(), "--setenv".into(), "HOME".into(), "/root".into(), "--".into()]);
    args.push(AGENT_INSIDE.into());
    args
}

/// Whether bubblewrap is installed and can make the namespaces here (`bwrap ... true`).
pub fn available() -> Result<(), String> {
    let probe = Command::new("bwrap")
        .args([
            "--unshare-user-try",
            "--unshare-pid",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "true",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match probe {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("bwrap cannot make namespaces here: {}", String::from_utf8_lossy(&out.stderr).trim())),
        Err(err) => Err(format!("bwrap (Debian's bubblewrap) is not installed: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jail_shows_the_workspace_and_system_folders_only() {
        let args = bwrap_args("box1", Path::new("/state/sandboxes/box1"), Path::new("/opt/bin/sandbox-agent"));
        let joined = args.join(" ");
        assert!(joined.contains("--bind /state/sandboxes/box1 /workspace"));
        assert!(joined.contains("--ro-bind-try /usr /usr") && joined.contains("--ro-bind-try /etc /etc"));
        assert!(joined.contains("--proc /proc --dev /dev --tmpfs /tmp --tmpfs /root --tmpfs /home"));
        assert!(joined.contains("--unshare-pid") && joined.contains("--hostname box1"));
        assert!(joined.contains("--ro-bind /opt/bin/sandbox-agent /run/sandbox-agent/agent"));
        assert!(joined.ends_with("-- /run/sandbox-agent/agent"));
        // Nothing of the host is bound writable but the sandbox's own folder.
        assert_eq!(args.iter().filter(|a| *a == "--bind").count(), 1);
        assert!(!joined.contains("/state/sandboxes "), "the root of all sandboxes is not shown");
    }
}
