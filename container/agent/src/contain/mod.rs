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
mod limits;
mod mounts;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub use group::{remove_tree, Group};
pub use kill_set::{Chosen, Whole};
pub use limits::Controller;

/// What holds the agent's processes.
#[derive(Debug)]
pub enum Containment {
    /// A cgroup per thing, under `base` (the agent's own folder, made at start and removed at its end), with the
    /// controllers enabled there (`v2`) and, for those the host keeps in v1 hierarchies, the agent's folder in each.
    Cgroup { base: PathBuf, v2: Vec<Controller>, v1: Vec<(Controller, PathBuf)> },
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
                let (v2, v1) = controllers(&base);
                let names = |list: &[Controller]| list.iter().map(|c| c.name()).collect::<Vec<_>>().join(",");
                let v1_names: Vec<Controller> = v1.iter().map(|(c, _)| *c).collect();
                tracing::info!(
                    base = %base.display(),
                    v2_controllers = %names(&v2),
                    v1_controllers = %names(&v1_names),
                    "containment: a cgroup per session, process and terminal"
                );
                Containment::Cgroup { base, v2, v1 }
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
        let Containment::Cgroup { base, v2, v1 } = self else { return None };
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!("{kind}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        match Group::create(base, v2, v1, &name) {
            Ok(group) => Some(Arc::new(group)),
            Err(err) => {
                tracing::warn!(%err, %name, "a cgroup could not be made: this one runs in a process group");
                None
            }
        }
    }

    /// Whether `limits` can be enforced here; the error says why not.
    pub fn check(&self, limits: &sandbox_protocol::Limits) -> Result<(), String> {
        let needed = limits::needed(limits);
        if needed.is_empty() {
            return Ok(());
        }
        match self {
            Containment::ProcessGroup => Err("the agent makes no cgroups here (containment: process-group)".into()),
            Containment::Cgroup { v2, v1, .. } => {
                match needed.iter().find(|c| !v2.contains(c) && !v1.iter().any(|(v, _)| v == *c)) {
                    Some(missing) => Err(format!("no {} controller is available to the agent here", missing.name())),
                    None => Ok(()),
                }
            }
        }
    }

    /// Removes the agent's folders and every group left in them, killing their members (the agent's end).
    pub fn end(&self) {
        if let Containment::Cgroup { base, v1, .. } = self {
            if let Ok(entries) = std::fs::read_dir(base) {
                for entry in entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
                    Group::at(entry.path()).remove();
                }
            }
            remove_tree(base);
            for (_, dir) in v1 {
                remove_tree(dir);
            }
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
    sweep(&own, true);
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

/// The controllers the agent can give its groups: those of the v2 tree it can enable below `base` (as PID 1, it
/// first moves itself into a leaf of its own, as the tree requires of a cgroup whose children have controllers),
/// and, for the others, the v1 hierarchies where it can make a folder beside `base`.
fn controllers(base: &Path) -> (Vec<Controller>, Vec<(Controller, PathBuf)>) {
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let listed = |text: &str, c: Controller| text.split_whitespace().any(|w| w == c.name());
    if let Some(own) = base.parent() {
        let available = read(&own.join("cgroup.controllers"));
        let enabled = read(&own.join("cgroup.subtree_control"));
        if std::process::id() == 1 && Controller::ALL.iter().any(|&c| listed(&available, c) && !listed(&enabled, c)) {
            enable_in_own(own, &available);
        }
    }
    let available = read(&base.join("cgroup.controllers"));
    let v2: Vec<Controller> = Controller::ALL
        .into_iter()
        .filter(|&c| listed(&available, c))
        .filter(|c| std::fs::write(base.join("cgroup.subtree_control"), format!("+{}", c.name())).is_ok())
        .collect();
    let mountinfo = read(Path::new("/proc/self/mountinfo"));
    let cgroup = read(Path::new("/proc/self/cgroup"));
    let name = base.file_name().map(PathBuf::from).unwrap_or_default();
    let mut v1: Vec<(Controller, PathBuf)> = Vec::new();
    for controller in Controller::ALL.into_iter().filter(|c| !v2.contains(c)) {
        let Some(own) = mounts::v1_own_dir(&mountinfo, &cgroup, controller.name()) else { continue };
        if v1.iter().any(|(_, dir)| dir.parent() == Some(own.as_path())) {
            // Mounted together with one already taken (`cpu,cpuacct`): one folder serves both.
            continue;
        }
        sweep(&own, false);
        let dir = own.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => v1.push((controller, dir)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => v1.push((controller, dir)),
            Err(err) => tracing::debug!(%err, controller = controller.name(), "no v1 folder for this controller"),
        }
    }
    (v2, v1)
}

/// As PID 1, moves the agent into a leaf `agent` below its cgroup and enables the available controllers for its
/// cgroup's children (the v2 tree lets a cgroup with processes give its children none).
fn enable_in_own(own: &Path, available: &str) {
    let leaf = own.join("agent");
    let moved = std::fs::create_dir_all(&leaf).and_then(|()| std::fs::write(leaf.join("cgroup.procs"), "0"));
    if let Err(err) = moved {
        tracing::info!(%err, "the agent could not move into a leaf cgroup: no v2 controllers for its groups");
        return;
    }
    for controller in Controller::ALL.into_iter().filter(|c| available.split_whitespace().any(|w| w == c.name())) {
        if let Err(err) = std::fs::write(own.join("cgroup.subtree_control"), format!("+{}", controller.name())) {
            tracing::info!(%err, controller = controller.name(), "a v2 controller could not be enabled");
        }
    }
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

/// Removes what agents that are gone left in `own` (their folders, empty once their processes ended), killing
/// what still ran there first when `kill` (the v2 tree: v1 folders empty once it is done).
fn sweep(own: &Path, kill: bool) {
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
            let groups = if kill { std::fs::read_dir(entry.path()).ok() } else { None };
            if let Some(groups) = groups {
                for group in groups.flatten().filter(|g| g.file_type().is_ok_and(|t| t.is_dir())) {
                    Group::at(group.path()).remove();
                }
            }
            remove_tree(&entry.path());
        }
    }
}
