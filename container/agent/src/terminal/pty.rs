//! A pseudo-terminal with an interactive bash on its other side: the kernel calls, and the master's async I/O.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

use nix::pty::{openpty, Winsize};
use tokio::io::unix::AsyncFd;

use crate::contain::Group;
use crate::process::launch::{Launch, Launched, OwnTerminal};
use crate::process::reaper::{ExitWatch, Reaper};

/// The terminal's side the agent holds.
pub struct Master {
    fd: AsyncFd<OwnedFd>,
}

/// Starts `bash -i` on a new terminal of `cols` x `rows`, as the leader of a new session whose controlling
/// terminal it is, in `cwd`, after `prelude` (its variables) is run by the interactive shell itself.
pub fn spawn(
    reaper: &Reaper,
    group: Option<&Group>,
    size: (u16, u16),
    cwd: &Path,
    rcfile: &str,
) -> io::Result<(i32, ExitWatch, Master)> {
    let (cols, rows) = size;
    let size = Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    let pty = openpty(Some(&size), None)?;
    // Both ends close on exec, so no other program the agent starts holds them (a held slave would keep the terminal
    // open after its shell ended); the shell gets the slave as its stdin, stdout and stderr.
    set_cloexec(&pty.master)?;
    set_cloexec(&pty.slave)?;
    set_nonblocking(&pty.master)?;
    let slave = pty.slave;
    let mut launch = Launch::new("bash").in_dir(cwd);
    launch
        .command()
        .args(["--rcfile", rcfile, "-i"])
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave));
    let mut launch = launch.with(OwnTerminal);
    if let Some(group) = group {
        launch = launch.with(group.join());
    }
    let Launched { pid, exit } = launch.spawn(reaper)?;
    // SAFETY: an `OwnedFd` is open, and keeps returning the same descriptor, until the `AsyncFd` drops it.
    let fd = unsafe { AsyncFd::register(pty.master) }.map_err(|e| e.into_parts().1)?;
    Ok((pid, exit, Master { fd }))
}

impl Master {
    /// Reads what the terminal wrote; `Ok(0)` once its other side is closed for good (every process on it gone).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            match ready.try_io(|fd| nix::unistd::read(fd.get_ref(), buf).map_err(io::Error::from)) {
                Ok(Ok(n)) => return Ok(n),
                // EIO: the last process holding the terminal's other side closed it.
                Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => return Ok(0),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `bytes` to the terminal (what a keyboard types).
    pub async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let mut ready = self.fd.writable().await?;
            match ready.try_io(|fd| nix::unistd::write(fd.get_ref(), bytes).map_err(io::Error::from)) {
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Tells the terminal (and so the programs on it, with SIGWINCH) its new size.
    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        let size = Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which lives across the call.
        if unsafe { nix::libc::ioctl(self.fd.get_ref().as_raw_fd(), nix::libc::TIOCSWINSZ as _, &size) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    Ok(())
}
