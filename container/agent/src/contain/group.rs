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

use crate::process::launch::Step;

/// A cgroup the agent made.
#[derive(Debug)]
pub struct Group {
    dir: PathBuf,
    /// `cgroup.procs`, made ready for the child's join between fork and exec (no allocation there).
    procs: CString,
}

/// How long `remove` and `wait_empty` wait for killed members to be gone.
const GONE_WITHIN: Duration = Duration::from_secs(2);

impl Group {
    /// Makes the cgroup `name` under `parent`.
    pub fn create(parent: &Path, name: &str) -> io::Result<Group> {
        let dir = parent.join(name);
        std::fs::create_dir(&dir)?;
        Ok(Group::at(dir))
    }

    /// The cgroup at `dir`, which exists.
    pub fn at(dir: PathBuf) -> Group {
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).unwrap_or_default();
        Group { dir, procs }
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
    }

    /// Gives the group to `uid`, bounded: it may make at most `descendants` groups below, `depth` deep, and
    /// place processes among them (the kernel's delegation: the folder and the files that place processes and
    /// enable controllers). Never the group's own limits, nor its `cgroup.kill` and `cgroup.freeze`: what runs
    /// there cannot freeze or end the whole group, only the groups it made.
    pub fn delegate(&self, uid: u32, gid: u32, descendants: u32, depth: u32) -> io::Result<()> {
        std::fs::write(self.dir.join("cgroup.max.descendants"), descendants.to_string())?;
        std::fs::write(self.dir.join("cgroup.max.depth"), depth.to_string())?;
        let owner = (Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(gid)));
        nix::unistd::chown(&self.dir, owner.0, owner.1)?;
        for file in ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"] {
            match nix::unistd::chown(&self.dir.join(file), owner.0, owner.1) {
                Err(nix::errno::Errno::ENOENT) => {}
                other => other?,
            }
        }
        Ok(())
    }
}

impl Drop for Group {
    /// The last holder let go: the folder goes if nothing is left in it (a group whose members live on, a
    /// background process's daemon say, stays until its sandbox or the agent ends).
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
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

/// Starts a child in a group (see `Group::join`).
pub struct Join(CString);

impl Step for Join {
    fn apply(self, command: &mut Command) {
        let procs = self.0;
        // SAFETY: open, write and close, the path made before the fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(command, move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let wrote = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = io::Error::last_os_error();
                libc::close(fd);
                if wrote != 1 {
                    return Err(err);
                }
                Ok(())
            })
        };
    }
}
