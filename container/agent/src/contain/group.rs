//! One cgroup (v2) of the agent's: a folder under the agent's own, what a session's shell, a background process,
//! a terminal or a local sandbox's jail is started into. Whatever a member starts is a member too, whatever it
//! does (`setsid`, a double fork, an empty environment), so the group is exactly what it started: `cgroup.kill`
//! ends all of it in one write, with no `/proc` walk and no moment in which a number can be reused.

use std::ffi::CString;
use std::io::{self, ErrorKind};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sandbox_protocol::{Limits, ResourceUsage};

use super::limits::{keyed, needed, number, v1_files, v2_files, Controller};
use crate::process::launch::Step;

/// A cgroup the agent made: its folder in the v2 tree (membership, `cgroup.kill`, freezing), and where the host
/// keeps controllers in v1 hierarchies (this machine's kernel), its folder in each of those.
#[derive(Debug)]
pub struct Group {
    dir: PathBuf,
    /// The v2 controllers enabled for it.
    v2: Vec<Controller>,
    /// Its folder in each v1 hierarchy the agent uses.
    v1: Vec<(Controller, PathBuf)>,
    /// Each folder's `cgroup.procs`, made ready for the child's join between fork and exec (no allocation there).
    procs: Vec<CString>,
}

/// How long `remove` and `wait_empty` wait for killed members to be gone.
const GONE_WITHIN: Duration = Duration::from_secs(2);

impl Group {
    /// Makes the cgroup `name` under `parent` (and under each of the `v1` parents).
    pub fn create(parent: &Path, v2: &[Controller], v1: &[(Controller, PathBuf)], name: &str) -> io::Result<Group> {
        let dir = parent.join(name);
        std::fs::create_dir(&dir)?;
        let mut group = Group::at(dir);
        group.v2 = v2.to_vec();
        for (controller, parent) in v1 {
            let dir = parent.join(name);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(err) => {
                    group.remove();
                    return Err(err);
                }
            }
            group.v1.push((*controller, dir));
        }
        group.procs = procs_of(&group.dir, &group.v1);
        Ok(group)
    }

    /// The cgroup at `dir` (v2 only), which exists.
    pub fn at(dir: PathBuf) -> Group {
        let procs = procs_of(&dir, &[]);
        Group { dir, v2: Vec::new(), v1: Vec::new(), procs }
    }

    /// Its folder in each v1 hierarchy, by controller.
    pub fn v1(&self) -> &[(Controller, PathBuf)] {
        &self.v1
    }

    /// Its folders in the v1 hierarchies.
    pub fn v1_dirs(&self) -> impl Iterator<Item = &Path> {
        self.v1.iter().map(|(_, dir)| dir.as_path())
    }

    /// The controllers it has, in either version.
    pub fn controllers(&self) -> Vec<Controller> {
        let mut all = self.v2.clone();
        all.extend(self.v1.iter().map(|(c, _)| *c));
        all
    }

    /// Sets `limits`; an error names a limit this group has no controller for (nothing is written then).
    pub fn apply(&self, limits: &Limits) -> Result<(), String> {
        let have = self.controllers();
        if let Some(missing) = needed(limits).into_iter().find(|c| !have.contains(c)) {
            return Err(format!("no {} controller is available to the agent here", missing.name()));
        }
        let mut writes: Vec<(PathBuf, String)> = Vec::new();
        for (controller, file, value) in v2_files(limits) {
            if self.v2.contains(&controller) {
                writes.push((self.dir.join(file), value));
            }
        }
        for (controller, file, value) in v1_files(limits) {
            if let Some((_, dir)) = self.v1.iter().find(|(c, _)| *c == controller && !self.v2.contains(c)) {
                writes.push((dir.join(file), value));
            }
        }
        for (path, value) in writes {
            match std::fs::write(&path, &value) {
                Ok(()) => {}
                // Swap files are absent where the machine has no swap accounting: nothing to turn off.
                Err(err) if err.kind() == ErrorKind::NotFound && path.to_string_lossy().contains("swap") => {}
                Err(err) => return Err(format!("{} = {value}: {err}", path.display())),
            }
        }
        Ok(())
    }

    /// What its members use now.
    pub fn usage(&self) -> ResourceUsage {
        let read = |path: PathBuf| std::fs::read_to_string(path).ok();
        let v1 = |controller: Controller| self.v1.iter().find(|(c, _)| *c == controller).map(|(_, d)| d.clone());
        let memory = if self.v2.contains(&Controller::Memory) {
            read(self.dir.join("memory.current")).and_then(|t| number(&t))
        } else {
            v1(Controller::Memory).and_then(|d| read(d.join("memory.usage_in_bytes"))).and_then(|t| number(&t))
        };
        let pids = if self.v2.contains(&Controller::Pids) {
            read(self.dir.join("pids.current")).and_then(|t| number(&t))
        } else {
            v1(Controller::Pids).and_then(|d| read(d.join("pids.current"))).and_then(|t| number(&t))
        };
        // The v2 tree counts CPU time with or without its controller.
        let cpu_ms = read(self.dir.join("cpu.stat")).and_then(|t| keyed(&t, "usage_usec")).map(|us| us / 1000);
        ResourceUsage {
            memory_bytes: memory,
            cpu_ms,
            pids: pids.or_else(|| Some(self.members().len() as u64)),
            oom_kills: self.oom_kills(),
        }
    }

    /// Processes its memory limit has killed so far: one file read (it is asked after each command of a session
    /// with a memory limit).
    pub fn oom_kills(&self) -> u64 {
        let file = if self.v2.contains(&Controller::Memory) {
            Some(self.dir.join("memory.events"))
        } else {
            self.v1.iter().find(|(c, _)| *c == Controller::Memory).map(|(_, d)| d.join("memory.oom_control"))
        };
        file.and_then(|f| std::fs::read_to_string(f).ok()).and_then(|t| keyed(&t, "oom_kill")).unwrap_or(0)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The step that starts a child in this group: it joins between fork and exec, before it can start anything.
    pub fn join(&self) -> Join {
        Join(self.procs.clone())
    }

    /// The processes in the group now (zombies are not).
    pub fn members(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }

    /// SIGKILL to every member, and to any that joins meanwhile (`cgroup.kill`). Does not wait.
    pub fn kill(&self) -> io::Result<()> {
        match std::fs::write(self.dir.join("cgroup.kill"), "1") {
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Freezes the group (no member runs, so none forks or ends on its own), and returns once it is frozen (or
    /// after a bounded wait: a member in an uninterruptible sleep freezes when it leaves it). SIGKILL still ends
    /// a frozen member.
    pub fn freeze(&self) -> io::Result<()> {
        std::fs::write(self.dir.join("cgroup.freeze"), "1")?;
        let deadline = Instant::now() + Duration::from_millis(200);
        while !self.frozen() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }

    pub fn thaw(&self) {
        if let Err(err) = std::fs::write(self.dir.join("cgroup.freeze"), "0") {
            tracing::warn!(%err, group = %self.dir.display(), "a frozen cgroup could not be thawed");
        }
    }

    fn frozen(&self) -> bool {
        std::fs::read_to_string(self.dir.join("cgroup.events")).is_ok_and(|events| events.contains("frozen 1"))
    }

    /// Waits until no member is left (killed processes end when each next runs); false if some are still there
    /// after a bounded wait.
    pub fn wait_empty(&self) -> bool {
        let deadline = Instant::now() + GONE_WITHIN;
        loop {
            if self.members().is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Kills every member, waits until they are gone, and removes the cgroup (with any left empty below it).
    pub fn remove(&self) {
        let _ = self.kill();
        if !self.wait_empty() {
            tracing::warn!(group = %self.dir.display(), left = self.members().len(), "killed members are still there");
        }
        remove_tree(&self.dir);
        for dir in self.v1_dirs() {
            remove_tree(dir);
        }
    }

    /// Gives the group to `uid`, bounded: it may make at most `descendants` groups below, `depth` deep, and
    /// place processes among them (the kernel's delegation: the folder and the files that place processes and
    /// enable controllers). Never the group's own limits, nor its `cgroup.kill` and `cgroup.freeze`: what runs
    /// there cannot freeze or end the whole group, only the groups it made.
    pub fn delegate(&self, uid: u32, gid: u32, descendants: u32, depth: u32) -> io::Result<()> {
        std::fs::write(self.dir.join("cgroup.max.descendants"), descendants.to_string())?;
        std::fs::write(self.dir.join("cgroup.max.depth"), depth.to_string())?;
        let owner = (Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(gid)));
        // A v1 hierarchy has no bound on groups below one; its folders follow the v2 tree's, which has.
        for dir in std::iter::once(self.dir.as_path()).chain(self.v1_dirs()) {
            nix::unistd::chown(dir, owner.0, owner.1)?;
            for file in ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "tasks"] {
                match nix::unistd::chown(&dir.join(file), owner.0, owner.1) {
                    Err(nix::errno::Errno::ENOENT) => {}
                    other => other?,
                }
            }
        }
        Ok(())
    }
}

impl Drop for Group {
    /// The last holder let go: the folders go if nothing is left in them (a group whose members live on, a
    /// background process's daemon say, stays until its sandbox or the agent ends).
    fn drop(&mut self) {
        if std::fs::remove_dir(&self.dir).is_ok() {
            for dir in self.v1_dirs() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// The `cgroup.procs` of the v2 folder and of each v1 folder.
fn procs_of(dir: &Path, v1: &[(Controller, PathBuf)]) -> Vec<CString> {
    std::iter::once(dir)
        .chain(v1.iter().map(|(_, d)| d.as_path()))
        .map(|d| CString::new(d.join("cgroup.procs").as_os_str().as_bytes()).unwrap_or_default())
        .collect()
}

/// Removes `dir` and the cgroups below it, deepest first; one that still has members stays.
pub fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    // A member that was just killed leaves the group a moment after it is gone from `cgroup.procs`.
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        match std::fs::remove_dir(dir) {
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(err) if err.kind() != ErrorKind::NotFound => {
                tracing::warn!(%err, group = %dir.display(), "a cgroup could not be removed");
                return;
            }
            _ => return,
        }
    }
}

/// Starts a child in a group (see `Group::join`): in each of its folders, v1 ones first (the v2 one is what the
/// agent counts members by).
pub struct Join(Vec<CString>);

impl Step for Join {
    fn apply(self, command: &mut Command) {
        let procs = self.0;
        // SAFETY: open, write and close, the paths made before the fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(command, move || {
                for path in procs.iter().rev() {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    let wrote = libc::write(fd, b"0".as_ptr().cast(), 1);
                    let err = io::Error::last_os_error();
                    libc::close(fd);
                    if wrote != 1 {
                        return Err(err);
                    }
                }
                Ok(())
            })
        };
    }
}
