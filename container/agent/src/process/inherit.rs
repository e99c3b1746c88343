//! Which descriptors the programs this agent starts inherit: the ones meant for them and nothing else. Whatever
//! the agent itself inherited (a lock file on descriptor 3, a pipe of the shell that started it) would otherwise
//! reach every session's shell, and in local mode every jail.

use std::os::fd::RawFd;

/// Marks every descriptor above 2 close-on-exec: run first thing at start, before any thread or shell, so only what
/// the agent opens for a child on purpose reaches it (std opens everything close-on-exec). A descriptor given to
/// the agent itself (`--listen-fd`) stays open in the agent, and reaches no shell.
pub fn close_inherited_on_exec() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<RawFd> = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        // SAFETY: F_GETFD/F_SETFD change only the flag of a descriptor number; one that closed meanwhile (the
        // listing's own) fails harmlessly.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// In a child between fork and exec (`CommandExt::pre_exec`): puts each `(from, to)` descriptor at `to`, open
/// across exec, and closes every other descriptor above 2. Only async-signal-safe calls. `to` numbers must be
/// above 2 and distinct.
pub fn place_exactly(pairs: &[(RawFd, RawFd)]) -> std::io::Result<()> {
    let last = pairs.iter().map(|(_, to)| *to).max().unwrap_or(2);
    // First out of the way (a `from` may sit at another pair's `to`), then into place.
    let mut moved = [0 as RawFd; 16];
    if pairs.len() > moved.len() {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    for (i, (from, _)) in pairs.iter().enumerate() {
        // SAFETY: plain descriptor calls in the forked child.
        let copy = unsafe { libc::fcntl(*from, libc::F_DUPFD, last + 1) };
        if copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
        moved[i] = copy;
    }
    for (i, (_, to)) in pairs.iter().enumerate() {
        // SAFETY: as above; dup2 leaves the new descriptor open across exec.
        if unsafe { libc::dup2(moved[i], *to) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    for fd in 3..last {
        if !pairs.iter().any(|(_, to)| *to == fd) {
            // SAFETY: a number of this child that is not meant to pass.
            unsafe { libc::close(fd) };
        }
    }
    // SAFETY: closes descriptors of this child only (the copies above among them).
    if unsafe { libc::syscall(libc::SYS_close_range, (last + 1) as libc::c_uint, libc::c_uint::MAX, 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
