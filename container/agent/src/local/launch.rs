//! Starting one local sandbox's jail (`jail.rs` says what it shows), step by step:
//!
//! 1. The sandbox's folder is made and, when this agent is root, given to the jail's uid (`jail::jail_uid`).
//! 2. bwrap starts with exactly the descriptors of `jail::fd` (nothing else this agent holds), a clean
//!    environment (`jail::ENVIRONMENT`), and, when this agent is root, as the jail's uid: in the forked child,
//!    still root, it takes a private mount namespace where the folder and this binary are bound at fixed paths
//!    under `Runtime::stage` (so the jail's uid needs no right to walk to the real ones), then gives up root.
//! 3. bwrap says where the jail is (`--info-fd`) and waits (`--block-fd`) for a byte before it runs the agent.
//! 4. The agent starts in the jail, reads its token from standard input, serves the listening socket it was
//!    given, and says so on standard output. Its standard error goes to `jail_log.rs`.
//! 5. The jail's network is set up (`network.rs`): the way out, then the host's addresses closed. Only then is the
//!    jail given calls, so no code of the sandbox runs before.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;

use super::jail::{self, fd};
use super::network::{self, Network};
use crate::contain::{remove_tree, Group};
use crate::egress::proxy::Outside;
use crate::egress::record::SandboxEgress;
use crate::egress::{handoff, Serving};
use crate::names::random_id;
use crate::process::fds::{memfile, pipe};
use crate::process::launch::{in_child, Descriptors, Launch, Launched, OwnGroup};
use crate::process::reaper::{ExitWatch, Reaper};

/// How long a jail may take to start its agent.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A sandbox's running agent in its jail.
pub struct ChildAgent {
    /// The Unix socket it serves: a path on the host, in a folder the jails do not see.
    pub socket: PathBuf,
    pub token: String,
    /// bwrap's pid: killing it ends the jail's PID namespace and everything in it.
    pid: i32,
    exit: ExitWatch,
    /// The jail's process (bwrap's child, PID 1 inside), whose namespaces a way out is started into.
    jail_pid: i32,
    /// Its direct way out (none under a policy that restricts anything), ended with it.
    network: tokio::sync::Mutex<Option<Network>>,
    /// Its egress proxy, served by this agent on a listener made in the jail's network (`egress::handoff`).
    _proxy: Serving,
    /// The jail's cgroup, given to it (`contain`); none where the host agent makes no cgroups.
    group: Option<Arc<Group>>,
}

impl ChildAgent {
    pub fn alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// Ends the jail (only while its process is not reaped: its number is ours until then) and its network.
    pub fn kill(&self) {
        if let Some(group) = &self.group {
            let _ = group.kill();
        }
        if self.alive() {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
        if let Ok(network) = self.network.try_lock() {
            if let Some(network) = network.as_ref() {
                network.kill();
            }
        }
    }

    /// Gives the jail its direct way out (`true`), or ends it, so that the egress proxy is its only one; returns
    /// once the change holds (a way out ended is reaped, its interface gone with it).
    pub async fn set_direct(&self, reaper: &Reaper, id: &str, direct: bool) -> Result<(), String> {
        let mut network = self.network.lock().await;
        match (direct, network.take()) {
            (true, None) if self.alive() => *network = open_way_out(reaper, id, self.jail_pid).await?,
            (false, Some(old)) => {
                old.kill();
                old.ended().await;
                tracing::info!(sandbox = id, "the sandbox's direct way out is closed: its proxy is its only one");
            }
            (_, kept) => *network = kept,
        }
        Ok(())
    }

    /// Resolves once the jail's process has been reaped.
    pub async fn ended(&self) {
        let mut exit = self.exit.clone();
        crate::process::reaper::ended(&mut exit).await;
    }
}

impl Drop for ChildAgent {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        // The jail's cgroup and those its agent made in it (left behind when it was killed), once they are empty.
        if let Some(group) = self.group.take() {
            remove_group_when_empty(group);
        }
    }
}

fn remove_group_when_empty(group: Arc<Group>) {
    let remove = move || {
        remove_tree(group.dir());
        for dir in group.v1_dirs() {
            remove_tree(dir);
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(remove)),
        Err(_) => remove(),
    }
}

/// This agent's folder for the jails' sockets and staging paths: in the system's temp folder (which no jail
/// sees: each has its own `/tmp`), walkable but not listable by others, removed when the agent ends.
pub struct Runtime {
    dir: PathBuf,
    next: AtomicU64,
}

impl Runtime {
    pub fn new() -> std::io::Result<Runtime> {
        let dir = std::env::temp_dir().join(format!("sandbox-agent-{}-{}", std::process::id(), random_id("rt")));
        std::fs::DirBuilder::new().mode(0o711).create(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
        // Staging mount points: each jail's bwrap binds its own folder and the agent over them, in a mount
        // namespace of its own, so they stay empty here.
        std::fs::DirBuilder::new().mode(0o755).create(dir.join("workspace"))?;
        std::fs::File::create(dir.join("agent"))?;
        Ok(Runtime { dir, next: AtomicU64::new(0) })
    }

    fn socket(&self) -> PathBuf {
        self.dir.join(format!("{}.sock", self.next.fetch_add(1, Ordering::Relaxed)))
    }

    fn stage(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What every jail's start shares.
pub struct Launcher {
    pub runtime: Runtime,
    /// This binary, run in every jail.
    pub agent: PathBuf,
    /// Flags every jail's agent gets after its own (timeouts, limits).
    pub flags: Vec<String>,
    /// Whether jails get a way out (slirp4netns is here).
    pub network: bool,
    /// What the egress proxies need of the machine: its own addresses, the TLS to a secret's hosts.
    pub outside: Outside,
}

impl Launcher {
    /// Starts the jail of sandbox `id`, whose folder is `folder`.
    /// Under `egress`'s policy: its proxy is served from the start, and a policy that restricts anything gives
    /// the jail no direct way out.
    pub async fn start(
        &self,
        reaper: &Reaper,
        id: &str,
        folder: &Path,
        egress: Arc<SandboxEgress>,
    ) -> Result<ChildAgent, String> {
        let root = nix::unistd::geteuid().is_root();
        let uid = root.then(|| jail::jail_uid(id));
        std::fs::create_dir_all(folder).map_err(|e| format!("cannot make its folder: {e}"))?;
        if let Some(uid) = uid {
            let folder = folder.to_path_buf();
            tokio::task::spawn_blocking(move || give_tree(&folder, uid))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot give its folder to its uid: {e}"))?;
        }
        let socket = self.runtime.socket();
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).map_err(|e| format!("cannot make its socket: {e}"))?;
        let token = random_id("token");
        let (token_read, token_write) = pipe().map_err(|e| e.to_string())?;
        std::fs::File::from(token_write).write_all(format!("{token}\n").as_bytes()).map_err(|e| e.to_string())?;
        let (out_read, out_write) = pipe().map_err(|e| e.to_string())?;
        let (err_read, err_write) = pipe().map_err(|e| e.to_string())?;
        let (info_read, info_write) = pipe().map_err(|e| e.to_string())?;
        let (block_read, block_write) = pipe().map_err(|e| e.to_string())?;
        let (resolv_read, resolv_write) = pipe().map_err(|e| e.to_string())?;
        std::fs::File::from(resolv_write).write_all(jail::RESOLV_CONF.as_bytes()).map_err(|e| e.to_string())?;
        let (proxy_channel, jail_channel) = UnixStream::pair().map_err(|e| e.to_string())?;
        // The jail trusts the host's roots and its own CA (for the proxy's TLS on a secret's hosts).
        let ca = egress.ca(id).map_err(|e| format!("its egress CA: {e}"))?;
        let (trust, trusted) = trust_file(&ca.pem()).map_err(|e| format!("its trust bundle: {e}"))?;

        let group = jail_group(uid);
        let cgroup_binds = match &group {
            Some(group) => {
                let v1: Vec<(&str, PathBuf)> = group.v1().iter().map(|(c, dir)| (c.name(), dir.clone())).collect();
                jail::jail_cgroup_binds(group.dir(), &v1)
            }
            None => Vec::new(),
        };
        let (workspace, agent) = match uid {
            Some(_) => (self.runtime.stage("workspace"), self.runtime.stage("agent")),
            None => (folder.to_path_buf(), self.agent.clone()),
        };
        let mut launch = Launch::new("bwrap");
        launch
            .command()
            .args(jail::bwrap_args(id, &workspace, &agent, self.network, trusted, &cgroup_binds))
            .args(&self.flags)
            .env_clear()
            .envs(jail::ENVIRONMENT)
            .envs(crate::egress::PROXY_ENV)
            .envs(crate::egress::TRUST_ENV.iter().copied().filter(|_| trusted))
            .env("HOSTNAME", id)
            .env("SANDBOX_ID", id)
            .envs(crate::logging::child_env())
            .current_dir("/")
            .stdin(Stdio::from(token_read))
            .stdout(Stdio::from(out_write))
            .stderr(Stdio::from(err_write));
        let pairs = [
            (listener.as_raw_fd(), fd::LISTEN),
            (info_write.as_raw_fd(), fd::INFO),
            (block_read.as_raw_fd(), fd::BLOCK),
            (resolv_read.as_raw_fd(), fd::RESOLV),
            (jail_channel.as_raw_fd(), fd::EGRESS),
            (trust.as_raw_fd(), fd::TRUST),
        ];
        let staging = match uid {
            Some(uid) => Some(Staging::new(uid, folder, &self.agent, &workspace, &agent)?),
            None => None,
        };
        let mut launch = launch.with(OwnGroup).with(Descriptors(pairs));
        if let Some(group) = &group {
            // Before the staging gives up root: joining needs the right to write where the agent's groups are.
            launch = launch.with(group.join());
        }
        if let Some(staging) = staging {
            // SAFETY: `enter` makes only system calls (no allocation) between fork and exec.
            launch = launch.with(unsafe { in_child(move || staging.enter()) });
        }
        let Launched { pid, exit } = launch.spawn(reaper).map_err(|e| format!("bwrap did not start: {e}"))?;
        drop((listener, info_write, block_read, resolv_read, jail_channel, trust));
        jail_log_relay(id, err_read);
        let mut child = Starting { socket, token, pid, exit, group };

        let started = tokio::time::timeout(START_TIMEOUT, async {
            let jail_pid = read_info(info_read).await?;
            std::fs::File::from(block_write).write_all(b"1").map_err(|e| format!("bwrap: {e}"))?;
            read_ready(out_read).await?;
            // The agent sent its proxy's listener before it said it listens: it is here already.
            let listener = tokio::task::spawn_blocking(move || {
                handoff::receive_listener(&proxy_channel, std::time::Duration::from_secs(2))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("its egress proxy's listener: {e}"))?;
            let proxy = crate::egress::serve(listener, id, Arc::clone(&egress), self.outside.clone())
                .map_err(|e| format!("its egress proxy: {e}"))?;
            // Only now: bwrap configures the jail's loopback itself, after it says where the jail is and before it
            // starts the agent, and a way out set up meanwhile races it (its netlink request fails). No call
            // reaches the jail before this returns, so its code never runs without the routes below.
            let direct = self.network && !egress.policy().restricts();
            let network = if direct { open_way_out(reaper, id, jail_pid).await? } else { None };
            Ok::<_, String>((jail_pid, network, proxy))
        })
        .await
        .unwrap_or_else(|_| Err("it did not start in time".into()));
        match started {
            Ok((jail_pid, network, proxy)) => Ok(ChildAgent {
                socket: child.socket,
                token: child.token,
                pid: child.pid,
                exit: child.exit,
                jail_pid,
                network: tokio::sync::Mutex::new(network),
                _proxy: proxy,
                group: child.group.take(),
            }),
            Err(why) => {
                child.kill();
                Err(format!("its agent did not start in its jail: {why}"))
            }
        }
    }
}

/// The jail's trust bundle (`egress::ca::trust_bundle`) as an in-memory file read from its start, and whether the
/// host has a bundle at `TRUST_BUNDLE` for the jail's view of it to replace (without, the file goes unused).
fn trust_file(ca_pem: &str) -> std::io::Result<(OwnedFd, bool)> {
    use std::io::{Seek, SeekFrom};
    let host = match std::fs::read(crate::egress::TRUST_BUNDLE) {
        Ok(bundle) => Some(bundle),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let fd = memfile("trust", &crate::egress::ca::trust_bundle(host.as_deref(), ca_pem))?;
    let mut file = std::fs::File::from(fd);
    file.seek(SeekFrom::Start(0))?;
    Ok((OwnedFd::from(file), host.is_some()))
}

/// A jail on its way up: killed and its cgroup removed if it does not become a `ChildAgent`.
struct Starting {
    socket: PathBuf,
    token: String,
    pid: i32,
    exit: ExitWatch,
    group: Option<Arc<Group>>,
}

impl Starting {
    fn kill(&mut self) {
        if let Some(group) = &self.group {
            let _ = group.kill();
        }
        if self.exit.borrow().is_none() {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
        let _ = std::fs::remove_file(&self.socket);
        if let Some(group) = self.group.take() {
            remove_group_when_empty(group);
        }
    }
}

/// The jail's direct way out (slirp4netns), with the host's own addresses closed in it; none where slirp4netns
/// could not bring it up (logged: the sandbox then has its proxy alone).
async fn open_way_out(reaper: &Reaper, id: &str, jail_pid: i32) -> Result<Option<Network>, String> {
    let net = match network::start(reaper, jail_pid).await {
        Ok(net) => net,
        Err(why) => {
            tracing::warn!(sandbox = id, %why, "the sandbox has no direct way out");
            return Ok(None);
        }
    };
    network::seal(reaper, jail_pid).await.map_err(|why| format!("its network: {why}"))?;
    Ok(Some(net))
}

/// Most cgroups a jail's agent may make (one per session shell, background process and terminal, within its
/// limits of 256 sessions and 256 processes, with room for shells replaced), and how deep.
const JAIL_GROUPS: (u32, u32) = (2048, 4);

/// A cgroup for a jail, given to the uid it runs as (`uid`, or this agent's own), when this agent makes cgroups.
/// One that cannot be made or given is logged, and the jail runs without (its agent then uses process groups).
fn jail_group(uid: Option<u32>) -> Option<Arc<Group>> {
    let group = crate::contain::current().new_group("jail")?;
    let owner = uid.unwrap_or_else(|| nix::unistd::geteuid().as_raw());
    let gid = uid.unwrap_or_else(|| nix::unistd::getegid().as_raw());
    match group.delegate(owner, gid, JAIL_GROUPS.0, JAIL_GROUPS.1) {
        Ok(()) => Some(group),
        Err(err) => {
            tracing::warn!(%err, "a jail's cgroup could not be given to it: its agent uses process groups");
            group.remove();
            None
        }
    }
}

fn jail_log_relay(id: &str, err: OwnedFd) {
    super::jail_log::relay(id.to_string(), err);
}

/// The jail's process id, from bwrap's `--info-fd` (written in parts; complete at its closing brace).
async fn read_info(info: OwnedFd) -> Result<i32, String> {
    let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(info).map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    let mut chunk = [0u8; 512];
    while !text.contains(&b'}') && text.len() < 4096 {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&text);
    jail::child_pid(&text).ok_or_else(|| format!("bwrap did not say where the jail is ({text:?})"))
}

/// Waits for the jail's agent to say it listens (its first line).
async fn read_ready(out: OwnedFd) -> Result<(), String> {
    let mut out = tokio::net::unix::pipe::Receiver::from_owned_fd(out).map_err(|e| e.to_string())?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).await.ok() == Some(1) && byte[0] != b'\n' && line.len() < 1024 {
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line);
    if line.starts_with("sandbox-agent listening on ") {
        Ok(())
    } else {
        Err(format!("it said {line:?}"))
    }
}

/// What the forked child of a root agent does before it runs bwrap: binds the sandbox's folder and this binary at
/// the staging paths in a mount namespace of its own, then becomes the jail's uid. Everything is prepared here,
/// before the fork, so that `enter` only makes system calls.
struct Staging {
    uid: libc::uid_t,
    folder: CString,
    agent: CString,
    workspace_stage: CString,
    agent_stage: CString,
}

impl Staging {
    fn new(
        uid: u32,
        folder: &Path,
        agent: &Path,
        workspace_stage: &Path,
        agent_stage: &Path,
    ) -> Result<Staging, String> {
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("{} has a NUL", p.display()));
        Ok(Staging {
            uid,
            folder: c(folder)?,
            agent: c(agent)?,
            workspace_stage: c(workspace_stage)?,
            agent_stage: c(agent_stage)?,
        })
    }

    fn enter(&self) -> std::io::Result<()> {
        let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
        private_mounts()?;
        // SAFETY: plain system calls on strings made before the fork.
        unsafe {
            check(libc::mount(
                self.folder.as_ptr(),
                self.workspace_stage.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                self.agent.as_ptr(),
                self.agent_stage.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ))?;
            check(libc::setgroups(0, std::ptr::null()))?;
            check(libc::setresgid(self.uid, self.uid, self.uid))?;
            check(libc::setresuid(self.uid, self.uid, self.uid))?;
        }
        Ok(())
    }
}

/// In a forked child of a root agent (bwrap's staging, slirp4netns): a mount namespace of its own whose mounts are
/// all private, so nothing mounted or unmounted there reaches the host. slirp4netns's sandbox (`--enable-sandbox`)
/// makes a mount namespace and unmounts the host's tree in it; with the host's mounts shared (as `ip netns` makes
/// `/run/netns`, and systemd makes `/`), those unmounts
/// propagated back and took the host's own network namespaces' mounts with them (`ip netns exec` then failed with
/// "Invalid argument"). A non-root agent's slirp4netns joins the jail's user namespace, where the host's mounts
/// arrive as slaves already.
pub(super) fn private_mounts() -> std::io::Result<()> {
    let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
    // SAFETY: plain system calls on static strings.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))
    }
}

/// Gives `folder` and everything in it to `uid` (and the group of the same number), unless the folder is its
/// already: a folder of an earlier agent, or of one that ran as root before jails had uids of their own.
/// Symbolic links are changed, never followed.
fn give_tree(folder: &Path, uid: u32) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::symlink_metadata(folder)?.uid() == uid {
        return Ok(());
    }
    // Everything inside first, the folder itself last: an interrupted pass is done again at the next start.
    let mut stack = vec![folder.to_path_buf()];
    let mut found = Vec::new();
    while let Some(path) = stack.pop() {
        if std::fs::symlink_metadata(&path)?.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
        found.push(path);
    }
    for path in found.iter().rev() {
        std::os::unix::fs::lchown(path, Some(uid), Some(uid))?;
    }
    Ok(())
}
