//! One agent process per local sandbox, each in its own jail (`jail.rs`), as each deployed sandbox has its own
//! container: started on the sandbox's first call, ended when the sandbox is destroyed or this agent stops. A
//! child listens on loopback and answers only calls that carry its token, which only this agent knows.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sandbox_protocol::ErrorCode;
use tokio::io::AsyncReadExt;
use tokio::sync::Mutex;

use super::jail;
use crate::error::{AgentError, AgentResult};
use crate::names::random_id;
use crate::process::fds::pipe;
use crate::process::reaper::{ExitWatch, Reaper};

/// The environment variable through which a child agent gets its token (it removes it from its environment).
pub const TOKEN_ENV: &str = "SANDBOX_AGENT_TOKEN";
/// How long a child may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct ChildAgent {
    pub addr: SocketAddr,
    pub token: String,
    /// bwrap's pid: killing it ends the jail's PID namespace and everything in it.
    pid: i32,
    exit: ExitWatch,
}

impl ChildAgent {
    fn alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// Ends the jail (only while its process is not reaped: its number is ours until then).
    pub fn kill(&self) {
        if self.alive() {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
    }
}

pub struct Children {
    /// The folder of all sandboxes' folders (`ROOT/<id>`).
    pub root: PathBuf,
    agent: PathBuf,
    /// Flags every child gets (timeouts, limits), after `--listen` and `--workspace`.
    flags: Vec<String>,
    reaper: Arc<Reaper>,
    running: Mutex<HashMap<String, Arc<ChildAgent>>>,
}

impl Children {
    pub fn new(root: PathBuf, reaper: Arc<Reaper>, flags: Vec<String>) -> std::io::Result<Children> {
        let agent = std::env::current_exe()?;
        Ok(Children { root, agent, flags, reaper, running: Mutex::new(HashMap::new()) })
    }

    /// The sandbox's agent, started (and its folder made) when it has none or its last one died.
    pub async fn get(&self, id: &str) -> AgentResult<Arc<ChildAgent>> {
        let mut running = self.running.lock().await;
        if let Some(child) = running.get(id).filter(|c| c.alive()) {
            return Ok(Arc::clone(child));
        }
        let child = Arc::new(self.start(id).await?);
        running.insert(id.to_string(), Arc::clone(&child));
        Ok(child)
    }

    async fn start(&self, id: &str) -> AgentResult<ChildAgent> {
        let failed = |what: String| AgentError::new(ErrorCode::ContainerUnavailable, format!("sandbox {id}: {what}"));
        let folder = self.root.join(id);
        std::fs::create_dir_all(&folder).map_err(|e| failed(format!("cannot make its folder: {e}")))?;
        let token = random_id("token");
        let (out_read, out_write) = pipe().map_err(|e| failed(e.to_string()))?;
        let mut command = Command::new("bwrap");
        command
            .args(jail::bwrap_args(id, &folder, &self.agent))
            .args(["--listen", "127.0.0.1:0", "--workspace", "/workspace"])
            .args(&self.flags)
            .env(TOKEN_ENV, &token)
            .env("SANDBOX_ID", id)
            .envs(crate::logging::child_env())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_write))
            .process_group(0);
        let (pid, exit) = self.reaper.spawn(&mut command).map_err(|e| failed(format!("bwrap did not start: {e}")))?;
        drop(command);
        let child = ChildAgent { addr: SocketAddr::from(([127, 0, 0, 1], 0)), token, pid, exit };
        let mut out = tokio::net::unix::pipe::Receiver::from_owned_fd(out_read).map_err(|e| failed(e.to_string()))?;
        let mut line = Vec::new();
        let read = tokio::time::timeout(START_TIMEOUT, async {
            let mut byte = [0u8; 1];
            while out.read(&mut byte).await.ok() == Some(1) {
                if byte[0] == b'\n' {
                    break;
                }
                line.push(byte[0]);
            }
        })
        .await;
        let line = String::from_utf8_lossy(&line).into_owned();
        let addr =
            line.split("http://").nth(1).and_then(|rest| rest.split_whitespace().next()).and_then(|a| a.parse().ok());
        match (read, addr) {
            (Ok(()), Some(addr)) => Ok(ChildAgent { addr, ..child }),
            _ => {
                child.kill();
                Err(failed(format!("its agent did not start in its jail (it said {line:?})")))
            }
        }
    }

    /// Ends the sandbox's agent and everything in its jail, and removes its folder; no new agent starts for it
    /// meanwhile.
    pub async fn destroy(&self, id: &str) -> std::io::Result<()> {
        let mut running = self.running.lock().await;
        if let Some(child) = running.remove(id) {
            child.kill();
            let mut exit = child.exit.clone();
            let _ = tokio::time::timeout(Duration::from_secs(5), crate::process::reaper::exited(&mut exit)).await;
        }
        let folder = self.root.join(id);
        let removed = tokio::task::spawn_blocking(move || crate::files::tree::remove_tree(&folder))
            .await
            .map_err(std::io::Error::other)?;
        drop(running);
        match removed {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Ends every sandbox's agent (on shutdown).
    pub async fn end_all(&self) {
        for (_, child) in self.running.lock().await.drain() {
            child.kill();
        }
    }
}
