//! The proxy's listener, made inside a local sandbox's network namespace and handed out of it.
//!
//! A jail's network namespace is made by bubblewrap, and joining it from this multi-threaded agent would need
//! capabilities an agent that is not root lacks. Its own agent is in it from the start, before any code of the
//! sandbox runs: it binds the proxy's address on the jail's loopback, sends the listening socket over the Unix
//! socket it was given (`SCM_RIGHTS`) and closes its own copies of both. From then on the host agent alone
//! accepts on it, outside the jail; nothing in the jail can take the address over (it is bound, without
//! `SO_REUSEPORT`).

use std::io::IoSlice;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// In the jail's agent, first thing: binds `addr` and sends the listener over the Unix socket inherited as `fd`.
pub fn send_listener(fd: i32, addr: std::net::SocketAddr) -> std::io::Result<()> {
    // SAFETY: the descriptor was given to this process for this alone; it is closed when `channel` drops.
    let channel = unsafe { UnixStream::from_raw_fd(fd) };
    let listener = TcpListener::bind(addr)?;
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(
        channel.as_raw_fd(),
        &[IoSlice::new(b"L")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(std::io::Error::from)?;
    Ok(())
}

/// In the host agent: the listener the jail's agent sent, waiting at most `timeout` for it.
pub fn receive_listener(channel: &UnixStream, timeout: Duration) -> std::io::Result<TcpListener> {
    channel.set_read_timeout(Some(timeout))?;
    let mut byte = [0u8; 1];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let msg = recvmsg::<()>(channel.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(std::io::Error::from)?;
    let mut received: Vec<OwnedFd> = Vec::new();
    for cmsg in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: descriptors the kernel just gave this process, each owned once here.
            received.extend(fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let fd = received.pop().ok_or_else(|| std::io::Error::other("the jail's agent sent no listener"))?;
    let listener = TcpListener::from(fd);
    listener.local_addr()?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_crosses_a_unix_socket_and_serves_on_the_other_side() {
        let (host, jail) = UnixStream::pair().unwrap();
        let jail_fd = std::os::fd::IntoRawFd::into_raw_fd(jail);
        send_listener(jail_fd, "127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = receive_listener(&host, Duration::from_secs(5)).unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(false).unwrap();
        let client = std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
        listener.accept().unwrap();
        client.join().unwrap();
    }

    #[test]
    fn nothing_sent_is_an_error_not_a_hang() {
        let (host, jail) = UnixStream::pair().unwrap();
        drop(jail);
        assert!(receive_listener(&host, Duration::from_secs(5)).is_err());
    }
}
