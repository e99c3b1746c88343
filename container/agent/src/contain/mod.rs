//! Containment: how the agent holds on to everything a session, a background process, a terminal or a local
//! sandbox starts, so that ending it ends all of it and nothing else.
//!
//! Where the kernel lets the agent make cgroups (v2, with `cgroup.kill`: Linux 5.14), each of those things is
//! started into a cgroup of its own below the agent's (`group.rs`): its members are exactly what it started, and
//! they are killed in one write. Elsewhere (a container that shows no writable cgroup2 tree, as Docker's default
//! does on a cgroup v1 host) the agent falls back to process groups and `/proc` scans (`process::kill::Scan`),
//! which a process can leave (`setsid` and a double fork). `status()` says which one runs.
//!
//! Detected once at start (`init`), for the agent's life. In a container the agent is PID 1 and mounts the v2
//! hierarchy itself when none is mounted and it may; a local sandbox's jail is given its cgroup's folder by the
//! host agent, which made it and gave it to the jail's user (`Group::delegate`).

mod group;
mod kill_set;
mod mounts;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub use group::{remove_tree, Group};
pub use kill_set::{Chosen, Whole};

/// What holds the agent's processes.
#[derive(Debug)]
pub enum Containment {
    /// A cgroup per thing, under `base` (the agent's own folder, made at start and removed at its end).
    Cgroup { base: PathBuf },
    /// Process groups and `/proc` scans (why cgroups are not used is logged at start).
    ProcessGroup,
}

static CONTAINMENT: OnceLock<Containment> = OnceLock::new();

/// Prefix of the folder each agent makes for its groups, followed by its process id.
const BASE_PREFIX: &str = "sandbox-agent-";

/// Detects what this agent can use (`allowed`: false when told to use process groups), once.
pub fn init(allowed: bool) -> &'static Containment {
    CONTAINMENT.get_or_init(|| {
        let found = if allowed { detect() } else { Err("turned off (--no-cgroups)".to_string()) };
        match found {
            Ok(base) => {
                tracing::info!(base = %base.display(), "containment: a cgroup per session, process and terminal");
                Containment::Cgroup { base }
            }
            Err(why) => {
                tracing::info!(%why, "containment: process groups (no cgroups)");
                Containment::ProcessGroup
            }
        }
    })
}

/// What `init` found; process groups when it has not run (the unit tests).
pub fn current() -> &'static Containment {
    static NONE: OnceLock<Containment> = OnceLock::new();
    CONTAINMENT.get().unwrap_or_else(|| NONE.get_or_init(|| Containment::ProcessGroup))
}

impl Containment {
    /// Which it is, as `status()` shows it.
    pub fn kind(&self) -> sandbox_protocol::Containment {
        match self {
            Containment::Cgroup { .. } => sandbox_protocol::Containment::Cgroup,
            Containment::ProcessGroup => sandbox_protocol::Containment::ProcessGroup,
        }
    }

    /// A new group for one `kind` of thing ("shell", "process", ...), when cgroups are used. One that cannot be
    /// made (a limit on the number of cgroups, say) is logged and the thing runs in a process group instead.
    pub fn new_group(&self, kind: &str) -> Option<Arc<Group>> {
        let Containment::Cgroup { base } = self else { return None };
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!("{kind}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        match Group::create(base, &name) {
            Ok(group) => Some(Arc::new(group)),
            Err(err) => {
                tracing::warn!(%err, %name, "a cgroup could not be made: this one runs in a process group");
                None
            }
        }
    }

    /// Removes the agent's folder and every group left in it, killing their members (the agent's end).
    pub fn end(&self) {
        if let Containment::Cgroup { base } = self {
            if let Ok(entries) = std::fs::read_dir(base) {
                for entry in entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
                    Group::at(entry.path()).remove();
                }
            }
            remove_tree(base);
        }
    }
}

/// Finds the agent's own cgroup folder (mounting the hierarchy first when the agent is PID 1 and none is
/// mounted), checks it can make groups there that `cgroup.kill` ends, and makes the agent's folder.
fn detect() -> Result<PathBuf, String> {
    let own = match own_dir() {
        Some(own) => own,
        None if std::process::id() == 1 => {
            mount_v2()?;
            own_dir().ok_or("cgroup2 was mounted, but this process's cgroup is not in it")?
        }
        None => return Err("no cgroup2 hierarchy is mounted".into()),
    };
    sweep(&own);
    let base = own.join(format!("{BASE_PREFIX}{}", std::process::id()));
    match std::fs::create_dir(&base) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(format!("cannot make a cgroup in {}: {err}", own.display())),
    }
    if !base.join("cgroup.kill").exists() {
        remove_tree(&base);
        return Err("the kernel has no cgroup.kill (Linux 5.14 or later is needed)".into());
    }
    Ok(base)
}

fn own_dir() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    mounts::own_dir(&mountinfo, &cgroup).filter(|dir| dir.join("cgroup.procs").exists())
}

/// Where the agent mounts the v2 hierarchy when it is PID 1 and none is mounted.
const MOUNT_POINT: &str = "/run/sandbox-agent/cgroup";

fn mount_v2() -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    std::fs::create_dir_all(MOUNT_POINT).map_err(|e| format!("no cgroup2 is mounted, and {MOUNT_POINT}: {e}"))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("cgroup2"), MOUNT_POINT, Some("cgroup2"), flags, None::<&str>)
        .map_err(|e| format!("no cgroup2 is mounted, and mounting one was refused ({e})"))
}

/// Removes what agents that are gone left in `own` (their folders, empty once their processes ended).
fn sweep(own: &Path) {
    let Ok(entries) = std::fs::read_dir(own) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(BASE_PREFIX)).and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let gone =
            matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH));
        if gone || pid == std::process::id() as i32 {
            // What still runs there outlived its agent: nobody ends it otherwise.
            if let Ok(groups) = std::fs::read_dir(entry.path()) {
                for group in groups.flatten().filter(|g| g.file_type().is_ok_and(|t| t.is_dir())) {
                    Group::at(group.path()).remove();
                }
            }
            remove_tree(&entry.path());
        }
    }
}
