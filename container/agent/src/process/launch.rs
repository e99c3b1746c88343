//! Starting a program: the one way the agent launches a process.
//!
//! A `Launch` is a `std::process::Command` and the steps that shape how its child starts (its own process group, a
//! new session on a terminal, descriptors at fixed numbers, another network namespace); `spawn` hands it to the
//! reaper, the one place children are waited for. A shell, a background process, a terminal, a jailed child
//! agent and the jail's network helpers all start here, so a step added once (into a cgroup, say) is one more
//! `with` at the sites that want it.
//!
//! Steps that act in the child between fork and exec run there in the order they were added, and make only
//! async-signal-safe calls (no allocation: whatever they need is made before the fork).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use super::inherit::place_exactly;
use super::reaper::{ExitWatch, Reaper};

/// One change to how a child starts.
pub trait Step {
    fn apply(self, command: &mut Command);
}

/// A program to start, and how.
pub struct Launch {
    command: Command,
}

impl Launch {
    pub fn new(program: &str) -> Launch {
        Launch { command: Command::new(program) }
    }

    /// The command, for its arguments, environment and standard streams.
    pub fn command(&mut self) -> &mut Command {
        &mut self.command
    }

    /// Starts it in `dir` when that is a directory, and in `/` when it is not (a workspace folder removed under a
    /// session must not stop its next shell from starting).
    pub fn in_dir(mut self, dir: &Path) -> Launch {
        self.command.current_dir(if dir.is_dir() { dir } else { Path::new("/") });
        self
    }

    /// Adds a step; steps in the child run in the order they are added.
    pub fn with(mut self, step: impl Step) -> Launch {
        step.apply(&mut self.command);
        self
    }

    /// Starts it, registered with the reaper before it can end. The command is dropped here, so the descriptors
    /// given to the child (pipe ends, a terminal) are closed in the agent: an end of file then means the child and
    /// its own are done with them.
    pub fn spawn(mut self, reaper: &Reaper) -> io::Result<Launched> {
        let (pid, exit) = reaper.spawn(&mut self.command)?;
        Ok(Launched { pid, exit })
    }
}

/// A started child: its process id and the watch on its end.
pub struct Launched {
    pub pid: i32,
    pub exit: ExitWatch,
}

/// The child leads a process group of its own, so everything it starts can be found (and signalled) as one.
pub struct OwnGroup;

impl Step for OwnGroup {
    fn apply(self, command: &mut Command) {
        command.process_group(0);
    }
}

/// The child leads a new session whose controlling terminal is the one on its standard input (an interactive
/// shell's job control and Ctrl-C need one).
pub struct OwnTerminal;

impl Step for OwnTerminal {
    fn apply(self, command: &mut Command) {
        // SAFETY: two system calls between fork and exec: a new session, then the terminal on stdin made its
        // controlling terminal.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// Descriptors at fixed numbers in the child, `(ours, theirs)`, and no other above 2 (see `place_exactly`).
pub struct Descriptors<const N: usize>(pub [(RawFd, RawFd); N]);

impl<const N: usize> Step for Descriptors<N> {
    fn apply(self, command: &mut Command) {
        let pairs = self.0;
        // SAFETY: place_exactly makes only async-signal-safe calls.
        unsafe { command.pre_exec(move || place_exactly(&pairs)) };
    }
}

/// The child joins the network namespace of another process (and first its user namespace, when one is given:
/// what an unprivileged agent needs to act there). The files stay open in the agent until the launch is dropped.
pub struct JoinNetwork {
    pub user: Option<File>,
    pub net: File,
}

impl Step for JoinNetwork {
    fn apply(self, command: &mut Command) {
        let user = self.user.as_ref().map(AsRawFd::as_raw_fd);
        let net = self.net.as_raw_fd();
        let files = (self.user, self.net);
        // SAFETY: setns is a plain system call; the files it names are held by the closure, open until the
        // command is dropped after the spawn.
        unsafe {
            command.pre_exec(move || {
                let _held = &files;
                if let Some(user) = user {
                    if libc::setns(user, libc::CLONE_NEWUSER) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                if libc::setns(net, libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            })
        };
    }
}

/// Code of the caller's own to run in the child, after the steps before it.
///
/// # Safety
/// As `CommandExt::pre_exec`: `f` runs between fork and exec and may make only async-signal-safe calls.
pub unsafe fn in_child<F>(f: F) -> impl Step
where
    F: FnMut() -> io::Result<()> + Send + Sync + 'static,
{
    struct InChild<F>(F);
    impl<F: FnMut() -> io::Result<()> + Send + Sync + 'static> Step for InChild<F> {
        fn apply(self, command: &mut Command) {
            // SAFETY: promised by the caller of `in_child`.
            unsafe { command.pre_exec(self.0) };
        }
    }
    InChild(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::reaper::exited;

    #[tokio::test]
    async fn a_launch_leads_its_own_group_in_a_folder_that_exists() {
        use std::io::Read;
        let reaper = Reaper::start().unwrap();
        let (read, write) = crate::process::fds::pipe().unwrap();
        let mut launch = Launch::new("sh").in_dir(Path::new("/no/such/folder")).with(OwnGroup);
        // Field 5 of /proc/<pid>/stat is the process group.
        launch.command().args(["-c", "echo $(pwd) $(cut -d' ' -f5 /proc/$$/stat)"]);
        launch.command().stdout(std::process::Stdio::from(write));
        let mut child = launch.spawn(&reaper).unwrap();
        let mut text = String::new();
        File::from(read).read_to_string(&mut text).unwrap();
        assert_eq!(exited(&mut child.exit).await, 0);
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            words,
            ["/", child.pid.to_string().as_str()],
            "a folder that is not there gives /; the child leads its group"
        );
    }
}
