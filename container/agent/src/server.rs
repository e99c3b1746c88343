//! Starting and stopping the agent: the workspace, the reaper, the listener, and a shutdown on SIGTERM or SIGINT
//! that kills every session's processes before the agent exits.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::budget::{default_limit, Budget};
use std::path::PathBuf;

use crate::config::{Config, Parsed};
use crate::connections::{self, raise_descriptor_limit, Limits};
use crate::context::AgentContext;
use crate::http::{router, AppState};
use crate::local::children::Children;
use crate::local::{self, jail, LocalState};
use crate::process::reaper::{become_subreaper, Reaper};
use crate::tenant::{Tenant, Tenants, VISIBLE_WORKSPACE};
use crate::workspace::Workspace;

/// The soft limit of open descriptors the agent asks for (up to the hard limit).
const DESCRIPTORS_WANTED: u64 = 65_536;
/// How long requests still running at shutdown get to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

pub async fn run(config: Config) -> std::io::Result<()> {
    let started = Instant::now();
    // First, before any code of the sandbox can run here: the egress proxy's address, bound and handed out.
    if let Some(fd) = config.egress_fd {
        crate::egress::handoff::send_listener(fd, crate::egress::PROXY_ADDR)
            .map_err(|e| std::io::Error::other(format!("--egress-fd: the proxy's listener: {e}")))?;
    }
    // Descriptors for every connection the cap allows, and for the sessions' pipes beside them.
    let descriptors = match raise_descriptor_limit(DESCRIPTORS_WANTED) {
        Ok(limit) => limit,
        Err(err) => {
            tracing::warn!(%err, "the file descriptor limit could not be read or raised");
            1024
        }
    };
    // Both probes before the reaper starts: each waits for its own child, which the reaper (it waits for any
    // child) would otherwise take first, and a probe that lost that race would say "not installed".
    let jail_network = config.isolate && crate::local::network::available();
    if config.isolate {
        jail::available().map_err(|m| {
            std::io::Error::other(format!(
                "local mode isolates each sandbox, and cannot here: {m}. Install bubblewrap, or pass --unconfined to \
                 run sandboxes unisolated as this user"
            ))
        })?;
    }
    become_subreaper();
    crate::contain::init(!config.no_cgroups).check(&config.limits).map_err(|why| {
        std::io::Error::other(format!("the --limit-* flags ask for limits the agent cannot enforce here: {why}"))
    })?;
    let reaper = Reaper::start()?;
    let budget = Budget::new(config.memory_budget.unwrap_or_else(default_limit));
    crate::trim::watch(Arc::clone(&budget));
    let context = Arc::new(AgentContext {
        reaper,
        default_timeout: config.command_timeout,
        max_sessions: config.max_sessions,
        processes: config.processes,
        terminals: config.terminals,
        budget: Arc::clone(&budget),
        shell_pool: config.shell_pool,
        limits: config.limits,
    });
    let start_id = config.start_id.clone().and_then(|start| crate::start_claim::claim(&config.state_dir, start));
    let boot_id: Arc<str> =
        sandbox_protocol::start::boot_id(start_id.as_deref(), &crate::names::random_id("boot")).into();
    let boot_id_shown = Arc::clone(&boot_id);
    let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(false);
    let app = match (&config.multi_sandbox, config.isolate) {
        (Some(root), true) => {
            std::fs::create_dir_all(root)?;
            let root = std::fs::canonicalize(root)?;
            let tls = crate::egress::intercept::upstream_config(config.egress_trust.as_deref())
                .map_err(std::io::Error::other)?;
            let children = Arc::new(Children::new(
                root,
                Arc::clone(&context.reaper),
                child_flags(&config),
                config.max_sandboxes,
                jail_network,
                tls,
            )?);
            let ending = Arc::clone(&children);
            tokio::spawn(async move {
                wait_for_stop_signal().await;
                ending.end_all().await;
                let _ = stopped_tx.send(true);
            });
            local::router(LocalState { children, started, boot_id, token: config.token.as_deref().map(Arc::from) })
        }
        (multi, _) => {
            let sandboxes = match multi {
                Some(root) => {
                    std::fs::create_dir_all(root)?;
                    let root = std::fs::canonicalize(root)?;
                    tracing::warn!(
                        "--unconfined: sandboxes are NOT isolated: their commands run as this user on this machine \
                         and can reach its files and each other"
                    );
                    Tenants::Multi { root, context, sandboxes: Default::default() }
                }
                None => {
                    std::fs::create_dir_all(&config.workspace)?;
                    let id = std::env::var("SANDBOX_ID").unwrap_or_else(|_| "default".into());
                    let workspace = Workspace::new(&config.workspace, &config.workspace);
                    Tenants::Single(Arc::new(Tenant::new(id, workspace, context)))
                }
            };
            let sandboxes = Arc::new(sandboxes);
            let ending = Arc::clone(&sandboxes);
            tokio::spawn(async move {
                wait_for_stop_signal().await;
                tracing::info!("stopping: ending every session");
                // Kill every session first: commands end, and the requests waiting on them complete.
                let _ = tokio::task::spawn_blocking(move || ending.end_all()).await;
                let _ = stopped_tx.send(true);
            });
            router(AppState {
                sandboxes,
                started,
                boot_id,
                io_timeout: config.io_timeout,
                budget,
                token: config.token.as_deref().map(Arc::from),
            })
        }
    };
    // Connections get at most half the descriptors: the rest are the sessions' pipes, processes and files.
    let max_connections = config.max_connections.min((descriptors / 2).max(1) as usize);
    // Said only when it changes something: a limit below what the connection cap needs.
    if max_connections < config.max_connections {
        tracing::warn!(
            max_connections,
            descriptors,
            "fewer connections than --max-connections: the descriptor limit (raise it with ulimit -n)"
        );
    }
    let limits = Limits { max_connections, head_timeout: config.io_timeout };
    match config.listen_fd {
        Some(fd) => {
            let listener = inherited_listener(fd)?;
            listening(&format!("unix socket on descriptor {fd}"), &boot_id_shown, &config);
            connections::serve(listener, app, limits, stopped_rx, SHUTDOWN_GRACE).await;
        }
        None => {
            let listener = TcpListener::bind(config.listen).await?;
            listening(&format!("http://{}", listener.local_addr()?), &boot_id_shown, &config);
            connections::serve(listener, app, limits, stopped_rx, SHUTDOWN_GRACE).await;
        }
    }
    // What the sessions' ends left of the agent's cgroups (and whatever is still in them) goes with it.
    crate::contain::current().end();
    tracing::info!("stopped");
    Ok(())
}

/// Says where the agent listens: on standard output for whoever started it (the first line, which they wait
/// for), and in the log.
fn listening(addr: &str, boot_id: &str, config: &Config) {
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "sandbox-agent listening on {addr} (workspace {})", describe(config));
        let _ = out.flush();
    }
    tracing::info!(%addr, %boot_id, version = env!("CARGO_PKG_VERSION"), workspace = %describe(config), "listening");
}

/// The listening Unix socket this agent was given as descriptor `fd` (`--listen-fd`).
fn inherited_listener(fd: i32) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::fd::FromRawFd;
    // SAFETY: fstat only reads the descriptor's status into the buffer given.
    let is_socket = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
    };
    if !is_socket {
        return Err(std::io::Error::other(format!("--listen-fd {fd}: no socket was given as that descriptor")));
    }
    // SAFETY: the descriptor is a socket this process inherited for this use and nothing else owns (main marked
    // it close-on-exec before any shell started: none may accept the calls meant for this agent).
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
    listener.set_nonblocking(true)?;
    tokio::net::UnixListener::from_std(listener)
}

/// The command line of a local sandbox's own agent: this agent's whole configuration, but serving the socket it
/// is given (`fd::LISTEN`), with its token on standard input, for one sandbox in its jail's `/workspace`.
fn child_flags(config: &Config) -> Vec<String> {
    let Ok(Parsed::Run(defaults)) = crate::config::parse(Vec::new()) else { unreachable!("no arguments parse") };
    Config {
        listen_fd: Some(crate::local::jail::fd::LISTEN),
        egress_fd: Some(crate::local::jail::fd::EGRESS),
        egress_trust: None,
        token_stdin: true,
        workspace: PathBuf::from(VISIBLE_WORKSPACE),
        multi_sandbox: None,
        max_sandboxes: defaults.max_sandboxes,
        isolate: false,
        unconfined: false,
        token: None,
        start_id: None,
        state_dir: defaults.state_dir,
        ..config.clone()
    }
    .to_args()
}

fn describe(config: &Config) -> String {
    match &config.multi_sandbox {
        Some(root) => format!("{VISIBLE_WORKSPACE} -> {}/<sandbox id>", root.display()),
        None => config.workspace.display().to_string(),
    }
}

async fn wait_for_stop_signal() {
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
