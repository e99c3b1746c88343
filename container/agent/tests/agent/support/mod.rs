//! What the integration tests share: the real agent binary started on a free port with a workspace of its own,
//! and a client for it.
//!
//! With `SANDBOX_AGENT_IMAGE` set, each agent runs in a container of that image instead (`docker run`, host
//! network and process table, the test's folder mounted at the same path), so the same suite tests the image
//! (scripts/test-image.sh).

#![allow(dead_code, unused_imports)]

pub mod http;
pub mod test_host;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use http::Client;
pub use serde_json::{json, Value};
pub use test_host::{Speaks, TestHost, HELLO};

pub struct Agent {
    child: Option<Child>,
    /// The container's name, when the agent runs in one.
    container: Option<String>,
    pub addr: SocketAddr,
    /// A folder of this test's own: the workspace, or the root in multi-sandbox mode.
    pub dir: PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh folder under the system's temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("sandbox-agent-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Agent {
    /// The agent serving one sandbox whose workspace is a fresh folder.
    pub fn start() -> Agent {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Agent {
        Self::start_with_env(extra, &[])
    }

    /// `start_with`, with these variables in the agent's environment.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Agent {
        Self::start_configured(extra, env, |_| {})
    }

    /// `start_with_env`, with the command changed by `configure` before it starts (its standard error, what it
    /// inherits, its user).
    pub fn start_configured(extra: &[&str], env: &[(&str, &str)], configure: impl FnOnce(&mut Command)) -> Agent {
        let dir = scratch_dir("ws");
        let mut args: Vec<String> = vec!["--listen".into(), "127.0.0.1:0".into()];
        if !extra.contains(&"--multi-sandbox") {
            args.extend(["--workspace".into(), dir.to_string_lossy().into_owned()]);
        }
        for a in extra {
            args.push(a.replace("{dir}", &dir.to_string_lossy()));
        }
        // Local mode isolates by default; the tests of its in-process form (and every test in a container, which
        // cannot make namespaces) ask for it unconfined. `tests/isolation.rs` tests the jails.
        let local = extra.contains(&"--multi-sandbox");
        if local && !extra.contains(&"--isolate") && !extra.contains(&"--unconfined") {
            args.push("--unconfined".into());
        }
        // In a container, the folders a test names (its scratch folders) are the host's too.
        let mut shared = vec![dir.clone()];
        shared.extend(args.iter().map(PathBuf::from).filter(|p| p.starts_with(std::env::temp_dir()) && p.is_dir()));
        let (mut command, container) = launcher(&shared, env);
        command.args(&args).stdout(Stdio::piped()).stderr(Stdio::inherit());
        configure(&mut command);
        let mut child = command.spawn().expect("start the agent");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("agent prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Agent { child: Some(child), container, addr, dir }
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Whether the agent runs in a container (the image's test run) rather than on this machine.
    pub fn in_container(&self) -> bool {
        self.container.is_some()
    }

    /// The agent's process id (in a container: as the host sees it).
    pub fn pid(&self) -> u32 {
        match &self.container {
            None => self.child.as_ref().unwrap().id(),
            Some(name) => {
                let out = Command::new("docker")
                    .args(["inspect", "-f", "{{.State.Pid}}", name])
                    .output()
                    .expect("docker inspect");
                String::from_utf8_lossy(&out.stdout).trim().parse().expect("the container's pid")
            }
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status and how long it took.
    pub fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let mut child = self.child.take().unwrap();
        let t0 = Instant::now();
        signal(child.id() as i32, 15);
        let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("the agent exits after SIGTERM");
        (status, t0.elapsed())
    }
}

/// The agents' log level in tests: warnings and errors only, unless `SANDBOX_AGENT_LOG` asks for more.
fn log_level() -> String {
    std::env::var("SANDBOX_AGENT_LOG").unwrap_or_else(|_| "warn".into())
}

/// How an agent is started: the binary, or `docker run` of `SANDBOX_AGENT_IMAGE` (the container's name comes
/// along). `docker run` passes SIGTERM on to the agent, so stopping works the same way.
fn launcher(shared: &[PathBuf], env: &[(&str, &str)]) -> (Command, Option<String>) {
    match std::env::var("SANDBOX_AGENT_IMAGE") {
        Ok(image) if !image.is_empty() => {
            let name = format!("sandbox-agent-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
            let mut command = Command::new("docker");
            command.args([
                "run",
                "--rm",
                "--name",
                &name,
                "--label",
                "sandbox-rs-test",
                "--network",
                "host",
                "--pid",
                "host",
            ]);
            for dir in shared {
                command.arg("-v").arg(format!("{0}:{0}", dir.display()));
            }
            command.arg("-e").arg(format!("SANDBOX_AGENT_LOG={}", log_level()));
            for (key, value) in env {
                command.arg("-e").arg(format!("{key}={value}"));
            }
            command.arg(image);
            (command, Some(name))
        }
        _ => {
            let mut command = Command::new(env!("CARGO_BIN_EXE_sandbox-agent"));
            command.env("SANDBOX_AGENT_LOG", log_level()).envs(env.iter().copied());
            (command, None)
        }
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    None
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Sends signal `sig` to process `pid`.
pub fn signal(pid: i32, sig: i32) {
    unsafe {
        libc_kill(pid, sig);
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id() as i32, 15);
            let _ = wait_timeout(&mut child, Duration::from_secs(5));
        }
        if let Some(name) = &self.container {
            let _ =
                Command::new("docker").args(["rm", "-f", name]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether local sandboxes can be jailed here; says why not (the test then returns: skipped).
pub fn jail_available() -> bool {
    if std::env::var("SANDBOX_AGENT_IMAGE").is_ok_and(|image| !image.is_empty()) {
        eprintln!("skipped: the agent runs in a container here, where bubblewrap gets no namespaces");
        return false;
    }
    if let Err(why) = sandbox_agent::jail_available() {
        eprintln!("skipped: {why}");
        return false;
    }
    true
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Polls an async `check` until it holds or `limit` passes.
pub async fn eventually_async(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check().await
}

/// Waits (at most 10 s) until `path` exists: how a test knows a command has started, from a `touch` at its
/// beginning, rather than sleeping a guess.
pub async fn until_exists(path: &Path) {
    assert!(eventually(Duration::from_secs(10), || path.exists()).await, "{} never appeared", path.display());
}

/// Shell text that waits until the file `name` exists (the test opens the gate with `open_gate`), so a command
/// runs exactly as long as the test needs it to.
pub fn gate(name: &str) -> String {
    format!("until [ -e {name} ]; do sleep 0.01; done")
}

pub fn open_gate(dir: &Path, name: &str) {
    std::fs::write(dir.join(name), "").unwrap();
}

/// Polls `check` until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
