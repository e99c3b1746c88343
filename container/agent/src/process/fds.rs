//! The kernel objects a command's text and output travel through: pipes and sealed in-memory files, named to the
//! shell as `/proc/<agent pid>/fd/<n>` so that nothing is created on a filesystem per command.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};

/// The path under which a process of this machine can open the agent's descriptor `fd`.
pub fn proc_path(fd: &impl AsRawFd) -> String {
    format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd())
}

/// A pipe as `(read end, write end)`, both close-on-exec so no spawned process inherits them by accident.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

/// Grows a pipe's buffer so that large outputs need fewer wake-ups; a refusal is harmless.
pub fn grow_pipe(fd: &impl AsRawFd, bytes: i32) {
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd.as_raw_fd()) };
    let _ = fcntl(fd, FcntlArg::F_SETPIPE_SZ(bytes));
}

/// An anonymous in-memory file holding `content`.
pub fn memfile(name: &str, content: &[u8]) -> io::Result<OwnedFd> {
    let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(content)?;
    Ok(OwnedFd::from(file))
}

/// The bytes a pipe holds at one moment, read piece by piece; bytes written after that moment are left for later,
/// so a writer that never stops cannot keep a reader here.
pub struct Pending(usize);

impl Pending {
    pub fn of(fd: &impl AsRawFd) -> Pending {
        Pending(pending_bytes(fd))
    }

    /// Reads the next piece into `buf`: its length, or `None` once all of them are read (or a read failed).
    pub fn read(&mut self, fd: &impl AsRawFd, buf: &mut [u8]) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let want = self.0.min(buf.len());
        match read_now(fd, &mut buf[..want]) {
            Ok(n) if n > 0 => {
                self.0 -= n;
                Some(n)
            }
            _ => None,
        }
    }
}

/// How many bytes wait in a pipe right now.
fn pending_bytes(fd: &impl AsRawFd) -> usize {
    let mut n: nix::libc::c_int = 0;
    let rc = unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::FIONREAD, &mut n) };
    if rc == 0 {
        n.max(0) as usize
    } else {
        0
    }
}

/// Reads what is in a non-blocking descriptor right now, asking the kernel directly: Tokio's `try_read` answers
/// from the readiness it has seen so far, which can lag behind data already in the pipe.
pub fn read_now(fd: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd.as_raw_fd()) };
    Ok(nix::unistd::read(fd, buf)?)
}

/// The whole content of a file, read from its start whatever the descriptor's offset.
pub fn read_file(fd: &impl AsRawFd) -> io::Result<Vec<u8>> {
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd.as_raw_fd()) };
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = nix::sys::uio::pread(fd, &mut buf, out.len() as i64)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}
