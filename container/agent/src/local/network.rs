//! A local sandbox's way out: its jail has a network namespace of its own (a loopback of its own, nothing of the
//! host's), and slirp4netns gives it a user-mode network to the outside through the host's sockets, as Docker's
//! bridge gives a container one.
//!
//! Why slirp4netns: it asks for nothing of the host (no bridge, no firewall rule, no route), refuses to map the
//! host's loopback into the jail (`--disable-host-loopback`: `10.0.2.2` answers nothing), resolves names through
//! `10.0.2.3` whatever resolver the host has, confines itself (`--enable-sandbox`: its own mount namespace and no
//! capability; `--enable-seccomp`), and says when the interface is up (`--ready-fd`). Debian's pasta (2023) was
//! tried: it gives up root before it opens `/dev/net/tun`, which some hosts keep for root alone.
//!
//! The host's own addresses (its LAN address, a Docker bridge) are still a host service's way in: `seal` puts a
//! `prohibit` route to each in the jail's routing table, which code without `CAP_NET_ADMIN` cannot remove.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::launch::private_mounts;
use crate::process::fds::pipe;
use crate::process::launch::{in_child, Descriptors, JoinNetwork, Launch, Launched};
use crate::process::reaper::{exited, ExitWatch, Reaper};

/// How long slirp4netns may take to bring the jail's interface up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// The descriptors slirp4netns gets: where it says it is ready, and the one whose closing ends it.
const READY_FD: i32 = 3;
const EXIT_FD: i32 = 4;

/// A jail's running network: ends when dropped (its exit descriptor closes) or killed.
pub struct Network {
    pid: i32,
    exit: ExitWatch,
    _exit_fd: OwnedFd,
}

impl Network {
    /// Resolves once slirp4netns has been reaped (its interface in the jail is gone with its descriptors).
    pub async fn ended(&self) {
        let mut exit = self.exit.clone();
        crate::process::reaper::ended(&mut exit).await;
    }

    pub fn kill(&self) {
        if self.exit.borrow().is_none() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Whether jails can have a way out here (slirp4netns is installed); without it a jail has its loopback alone.
/// It waits for its own child: call it before the reaper starts.
pub fn available() -> bool {
    Command::new("slirp4netns").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// slirp4netns's arguments for the jail whose process is `pid`. An agent that is not root joins the jail's user
/// namespace first (it owns it); root needs not.
pub fn slirp_args(pid: i32, root: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--enable-sandbox",
        "--enable-seccomp",
        &format!("--ready-fd={READY_FD}"),
        &format!("--exit-fd={EXIT_FD}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !root {
        args.push(format!("--userns-path=/proc/{pid}/ns/user"));
    }
    args.extend(["--netns-type=path".into(), format!("/proc/{pid}/ns/net"), "tap0".into()]);
    args
}

/// Starts the way out of the jail whose process is `pid` and waits until its interface is up.
pub async fn start(reaper: &Reaper, pid: i32) -> Result<Network, String> {
    let (ready_read, ready_write) = pipe().map_err(|e| e.to_string())?;
    let (exit_read, exit_write) = pipe().map_err(|e| e.to_string())?;
    // What slirp4netns says on its way out is the reason a network did not come up: kept for that error.
    let (said_read, said_write) = pipe().map_err(|e| e.to_string())?;
    let root = nix::unistd::geteuid().is_root();
    let mut launch = Launch::new("slirp4netns");
    launch
        .command()
        .args(slirp_args(pid, root))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(said_write));
    let pairs = [(ready_write.as_raw_fd(), READY_FD), (exit_read.as_raw_fd(), EXIT_FD)];
    let mut launch = launch.with(Descriptors(pairs));
    if root {
        // SAFETY: `private_mounts` makes two system calls on static strings.
        launch = launch.with(unsafe { in_child(private_mounts) });
    }
    let Launched { pid: slirp_pid, exit } =
        launch.spawn(reaper).map_err(|e| format!("slirp4netns did not start: {e}"))?;
    drop((ready_write, exit_read));
    let network = Network { pid: slirp_pid, exit, _exit_fd: exit_write };
    let mut ready = tokio::net::unix::pipe::Receiver::from_owned_fd(ready_read).map_err(|e| e.to_string())?;
    let mut said = tokio::net::unix::pipe::Receiver::from_owned_fd(said_read).map_err(|e| e.to_string())?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(READY_TIMEOUT, ready.read(&mut byte)).await {
        Ok(Ok(1)) => {
            // Read on for its life (and dropped), so that nothing it says can fill the pipe and stop it.
            tokio::spawn(async move { while said.read(&mut [0u8; 4096]).await.is_ok_and(|n| n > 0) {} });
            Ok(network)
        }
        outcome => {
            network.kill();
            let why = match outcome {
                Err(_) => format!("not up within {} s", READY_TIMEOUT.as_secs()),
                Ok(_) => last_words(&mut said).await,
            };
            Err(format!("slirp4netns did not bring the jail's network up: {why}"))
        }
    }
}

/// The end of what slirp4netns wrote to its standard error (it has exited, or is being killed).
async fn last_words(said: &mut tokio::net::unix::pipe::Receiver) -> String {
    let mut text = Vec::new();
    let read_all = async {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = said.read(&mut chunk).await {
            if text.len() < 64 * 1024 {
                text.extend_from_slice(&chunk[..n]);
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), read_all).await;
    let text = String::from_utf8_lossy(&text);
    let last = text.trim().lines().rev().take(3).collect::<Vec<_>>();
    if last.is_empty() {
        "it ended without a word".into()
    } else {
        last.into_iter().rev().collect::<Vec<_>>().join(" / ")
    }
}

/// The routes that close the host's own addresses to a jail: a `prohibit` route to each IPv4 address of the host
/// but its loopback (which the jail's `127.0.0.0/8` is its own of), in `ip -batch` form.
pub fn prohibit_routes(addresses: &[std::net::Ipv4Addr]) -> String {
    addresses.iter().filter(|a| !a.is_loopback()).map(|a| format!("route replace prohibit {a}/32\n")).collect()
}

/// The host's IPv4 addresses now (an address added later is not closed to jails started before).
pub fn host_addresses() -> Vec<std::net::Ipv4Addr> {
    let Ok(all) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    let mut found: Vec<std::net::Ipv4Addr> = all.filter_map(|a| a.address?.as_sockaddr_in().map(|s| s.ip())).collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// Which addresses are this machine's own, for the egress proxy: every address of the host's interfaces, either
/// family, read again at most once a second (an address the machine gets later is closed within a second).
pub fn own_addresses() -> crate::egress::proxy::OwnAddress {
    let cache = std::sync::Mutex::new((std::time::Instant::now(), all_host_addresses()));
    std::sync::Arc::new(move |addr: std::net::IpAddr| {
        let addr = match addr {
            std::net::IpAddr::V6(a) => a.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(addr),
            a => a,
        };
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0.elapsed() > Duration::from_secs(1) {
            *cache = (std::time::Instant::now(), all_host_addresses());
        }
        cache.1.contains(&addr)
    })
}

fn all_host_addresses() -> Vec<std::net::IpAddr> {
    let Ok(all) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    all.filter_map(|a| {
        let addr = a.address?;
        addr.as_sockaddr_in()
            .map(|s| std::net::IpAddr::V4(s.ip()))
            .or_else(|| addr.as_sockaddr_in6().map(|s| s.ip().into()))
    })
    .collect()
}

/// Puts the prohibit routes of `host_addresses` into the network namespace of the jail whose process is `pid`
/// (with `ip`, run in that namespace). Before the jail's own code runs.
pub async fn seal(reaper: &Reaper, pid: i32) -> Result<(), String> {
    let routes = prohibit_routes(&host_addresses());
    if routes.is_empty() {
        return Ok(());
    }
    let ns = |kind: &str| {
        std::fs::File::open(format!("/proc/{pid}/ns/{kind}")).map_err(|e| format!("the jail's {kind} namespace: {e}"))
    };
    let (user, net) = (ns("user")?, ns("net")?);
    // The routes wait in a pipe (a few hundred bytes: they fit), read by `ip` as its standard input.
    let (routes_read, routes_write) = pipe().map_err(|e| e.to_string())?;
    std::fs::File::from(routes_write).write_all(routes.as_bytes()).map_err(|e| e.to_string())?;
    let root = nix::unistd::geteuid().is_root();
    let mut launch = Launch::new("ip");
    launch.command().args(["-batch", "-"]).stdin(Stdio::from(routes_read)).stdout(Stdio::null()).stderr(Stdio::null());
    let join = JoinNetwork { user: (!root).then_some(user), net };
    let Launched { mut exit, .. } = launch.with(join).spawn(reaper).map_err(|e| format!("ip did not start: {e}"))?;
    match tokio::time::timeout(READY_TIMEOUT, exited(&mut exit)).await {
        Ok(0) => Ok(()),
        Ok(code) => Err(format!("ip route replace prohibit ... exited with {code}")),
        Err(_) => Err("ip did not finish".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_loopback_is_refused_and_the_readiness_asked_for() {
        let args = slirp_args(42, true).join(" ");
        assert!(args.contains("--disable-host-loopback") && args.contains("--enable-sandbox"));
        assert!(args.contains("--ready-fd=3") && args.contains("--exit-fd=4"));
        assert!(args.ends_with("--netns-type=path /proc/42/ns/net tap0"));
        assert!(!args.contains("--userns-path"));
        assert!(slirp_args(42, false).join(" ").contains("--userns-path=/proc/42/ns/user"));
    }

    #[test]
    fn every_host_address_but_loopback_is_prohibited() {
        let routes = prohibit_routes(&["127.0.0.1".parse().unwrap(), "192.0.2.2".parse().unwrap()]);
        assert_eq!(routes, "route replace prohibit 192.0.2.2/32\n");
    }
}
