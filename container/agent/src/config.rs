//! Command-line configuration of the agent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
sandbox-agent: persistent bash sessions, exec, streaming and files over HTTP

USAGE: sandbox-agent [OPTIONS]

OPTIONS:
  --listen ADDR             address to serve on (default 0.0.0.0:3000; port 0 picks a free port)
  --listen-fd N             serve the listening Unix socket inherited as descriptor N instead (a local
                            sandbox's agent in its jail)
  --egress-fd N             bind the egress proxy's address on this agent's loopback and send the listener
                            over the Unix socket inherited as descriptor N (a local sandbox's agent in its
                            jail, whose proxy the host agent runs)
  --egress-trust FILE       PEM roots the egress proxy trusts, besides the system's, when it speaks TLS to a
                            secret's host (a private CA of yours)
  --token-stdin             read the token every call must carry from the first line of standard input
  --workspace DIR           the sandbox's workspace, created if missing (default /workspace)
  --multi-sandbox ROOT      local mode: serve one sandbox per X-Sandbox-Id, each in ROOT/<id>
  --isolate                 with --multi-sandbox (the default there): give each sandbox its own agent
                            in its own jail (bubblewrap: its folder at /workspace, its own /tmp and
                            processes); the agent refuses to start when the machine cannot make one
  --unconfined              with --multi-sandbox: no jail; sandboxes run as this user on this machine
                            and can reach each other (for machines without namespaces)
  --limit-memory SIZE       what each session and background process may use unless it says (512M, 2G);
  --limit-pids N            its processes alive at once; and its CPUs (0.5: half of one). Enforced with
  --limit-cpu CPUS          cgroups: the agent refuses to start where it cannot (default: none)
  --no-cgroups              hold each session, process and terminal by its process group, as where the
                            agent cannot make cgroups (by default it makes a cgroup for each where it can)
  --max-sandboxes N         with --multi-sandbox: most sandboxes (jails) running at once; more get 429
                            TOO_MANY_SANDBOXES (default 64)
  --command-timeout-ms N    default command timeout; 0 means none (default 600000: ten minutes)
  --max-sessions N          most sessions one sandbox may have (default 256)
  --max-connections N       most connections open at once; more get 503 (default 1024)
  --max-processes N         most background processes one sandbox may have, running or ended and
                            kept (default 256; the oldest ended one makes room)
  --process-log-bytes N     the bound of each background process's log, both streams (default 1048576)
  --heartbeat-ms N          how often a live log stream of a quiet process sends a keep-alive comment
                            (default 15000)
  --terminal-idle-ms N      how long a terminal may have no viewer before it is ended (default 600000)
  --terminal-ping-ms N      how often a terminal's viewers are pinged; one silent for 3 pings is let go (default 30000)
  --shell-pool N            ready shells each sandbox keeps, so that a new session starts at once; 0 for none
                            (default 2)
  --memory-budget-mb N      memory that requests in flight may hold in all; beyond it they get 503
                            (default: half of the container's memory limit, or of the machine's)
  --state-dir DIR           where the agent notes what must outlive it in its container (default
                            /var/lib/sandbox-agent)
  --io-timeout-ms N         how long a request head or body may take to arrive, and a kept-alive
                            connection may sit idle (default 30000)
  -h, --help                this text
  -V, --version             the version
";

/// The environment variable through which the agent gets the token every call must carry (it removes it from its
/// environment); a jail's agent reads its token from standard input instead (`--token-stdin`).
pub const TOKEN_ENV: &str = "SANDBOX_AGENT_TOKEN";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    /// A listening Unix socket inherited from the agent that started this one, served instead of `listen`.
    pub listen_fd: Option<i32>,
    /// A Unix socket over which this agent sends the egress proxy's listener, bound on its own loopback.
    pub egress_fd: Option<i32>,
    /// PEM roots the egress proxy trusts besides the system's (`--egress-trust`).
    pub egress_trust: Option<PathBuf>,
    /// The token comes on standard input (`--token-stdin`): a jail's agent, whose environment its sandbox reads.
    pub token_stdin: bool,
    pub workspace: PathBuf,
    pub multi_sandbox: Option<PathBuf>,
    pub command_timeout: Option<Duration>,
    pub max_sessions: usize,
    /// Local mode: jails running at once.
    pub max_sandboxes: usize,
    pub max_connections: usize,
    pub processes: crate::background::Settings,
    pub terminals: crate::terminal::Settings,
    /// Ready shells each sandbox keeps for new sessions.
    pub shell_pool: usize,
    pub io_timeout: Duration,
    pub memory_budget: Option<usize>,
    pub isolate: bool,
    /// Local mode without jails, asked for explicitly.
    pub unconfined: bool,
    /// Process groups even where cgroups could be made (`contain`).
    pub no_cgroups: bool,
    /// What each session and background process may use unless it says (`--limit-*`).
    pub limits: sandbox_protocol::Limits,
    /// Required of every call when set (an agent in a local sandbox's jail); from the environment, not the
    /// command line.
    pub token: Option<String>,
    /// The container start this agent belongs to (`SANDBOX_START_ID`, given by the Durable Object), carried in
    /// its boot id; from the environment.
    pub start_id: Option<String>,
    /// Where the agent notes the start id it took (`start_claim`).
    pub state_dir: PathBuf,
}

/// Jails one machine runs at once in local mode: each is about 5 processes and 12 MB, and a loop over ids must not
/// exhaust the machine that every sandbox shares.
pub const DEFAULT_MAX_SANDBOXES: usize = 64;

/// Each session is a bash of about 3 MiB: 256 of them fit the smallest instance that runs real work.
pub const DEFAULT_MAX_SESSIONS: usize = 256;

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<Config>),
    Help,
    Version,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut config = Config {
        listen: "0.0.0.0:3000".parse().expect("valid default"),
        workspace: PathBuf::from("/workspace"),
        listen_fd: None,
        egress_fd: None,
        egress_trust: None,
        token_stdin: false,
        multi_sandbox: None,
        command_timeout: Some(Duration::from_millis(sandbox_protocol::limits::DEFAULT_COMMAND_TIMEOUT_MS)),
        max_sessions: DEFAULT_MAX_SESSIONS,
        max_sandboxes: DEFAULT_MAX_SANDBOXES,
        max_connections: 1024,
        processes: crate::background::Settings::default(),
        terminals: crate::terminal::Settings::default(),
        shell_pool: 2,
        io_timeout: Duration::from_secs(30),
        memory_budget: None,
        isolate: false,
        unconfined: false,
        no_cgroups: false,
        limits: sandbox_protocol::Limits::default(),
        token: None,
        start_id: None,
        state_dir: PathBuf::from("/var/lib/sandbox-agent"),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| inline.clone().or_else(|| args.next()).ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--listen" => {
                let v = value("--listen")?;
                config.listen =
                    v.parse().map_err(|_| format!("--listen: {v:?} is not an address like 127.0.0.1:3000"))?;
            }
            "--workspace" => config.workspace = PathBuf::from(value("--workspace")?),
            "--state-dir" => config.state_dir = PathBuf::from(value("--state-dir")?),
            "--multi-sandbox" => config.multi_sandbox = Some(PathBuf::from(value("--multi-sandbox")?)),
            "--command-timeout-ms" => {
                let v = value("--command-timeout-ms")?;
                let ms: u64 = v.parse().map_err(|_| format!("--command-timeout-ms: {v:?} is not a number"))?;
                config.command_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            }
            "--max-sessions" => {
                let v = value("--max-sessions")?;
                config.max_sessions = positive(&v).ok_or(format!("--max-sessions: {v:?} is not a positive number"))?;
            }
            "--max-sandboxes" => {
                let v = value("--max-sandboxes")?;
                config.max_sandboxes =
                    positive(&v).ok_or(format!("--max-sandboxes: {v:?} is not a positive number"))?;
            }
            "--max-connections" => {
                let v = value("--max-connections")?;
                config.max_connections =
                    positive(&v).ok_or(format!("--max-connections: {v:?} is not a positive number"))?;
            }
            "--max-processes" => {
                let v = value("--max-processes")?;
                config.processes.max_processes =
                    positive(&v).ok_or(format!("--max-processes: {v:?} is not a positive number"))?;
            }
            "--process-log-bytes" => {
                let v = value("--process-log-bytes")?;
                config.processes.ring_bytes =
                    positive(&v).ok_or(format!("--process-log-bytes: {v:?} is not a positive number"))?;
            }
            "--heartbeat-ms" => {
                let v = value("--heartbeat-ms")?;
                let ms = positive(&v).ok_or(format!("--heartbeat-ms: {v:?} is not a positive number"))?;
                config.processes.heartbeat = Duration::from_millis(ms as u64);
            }
            "--terminal-idle-ms" => {
                let v = value("--terminal-idle-ms")?;
                let ms = positive(&v).ok_or(format!("--terminal-idle-ms: {v:?} is not a positive number"))?;
                config.terminals.idle = Duration::from_millis(ms as u64);
            }
            "--shell-pool" => {
                let v = value("--shell-pool")?;
                config.shell_pool =
                    v.parse().ok().filter(|n| *n <= 64).ok_or(format!("--shell-pool: {v:?} is not 0-64"))?;
            }
            "--terminal-ping-ms" => {
                let v = value("--terminal-ping-ms")?;
                let ms = positive(&v).ok_or(format!("--terminal-ping-ms: {v:?} is not a positive number"))?;
                config.terminals.ping = Duration::from_millis(ms as u64);
            }
            "--listen-fd" => config.listen_fd = Some(descriptor("--listen-fd", &value("--listen-fd")?)?),
            "--egress-fd" => config.egress_fd = Some(descriptor("--egress-fd", &value("--egress-fd")?)?),
            "--egress-trust" => config.egress_trust = Some(PathBuf::from(value("--egress-trust")?)),
            "--token-stdin" => config.token_stdin = true,
            "--isolate" => config.isolate = true,
            "--unconfined" => config.unconfined = true,
            "--no-cgroups" => config.no_cgroups = true,
            "--limit-memory" => {
                let v = value("--limit-memory")?;
                let limits = sandbox_protocol::ResourceLimits {
                    memory: Some(sandbox_protocol::MemorySize::Text(v)),
                    ..Default::default()
                };
                config.limits.memory_bytes = limits.check().map_err(|e| format!("--{e}"))?.memory_bytes;
            }
            "--limit-pids" => {
                let v = value("--limit-pids")?;
                let pids = v.parse().map_err(|_| format!("--limit-pids: {v:?} is not a number"))?;
                let limits = sandbox_protocol::ResourceLimits { pids: Some(pids), ..Default::default() };
                config.limits.pids = limits.check().map_err(|e| format!("--{e}"))?.pids;
            }
            "--limit-cpu" => {
                let v = value("--limit-cpu")?;
                let cpu = v.parse().map_err(|_| format!("--limit-cpu: {v:?} is not a number of CPUs"))?;
                let limits = sandbox_protocol::ResourceLimits { cpu: Some(cpu), ..Default::default() };
                config.limits.cpu_millis = limits.check().map_err(|e| format!("--{e}"))?.cpu_millis;
            }
            "--memory-budget-mb" => {
                let v = value("--memory-budget-mb")?;
                let mb = positive(&v).ok_or(format!("--memory-budget-mb: {v:?} is not a positive number"))?;
                config.memory_budget = Some(mb.saturating_mul(1 << 20));
            }
            "--io-timeout-ms" => {
                let v = value("--io-timeout-ms")?;
                let ms = positive(&v).ok_or(format!("--io-timeout-ms: {v:?} is not a positive number"))?;
                config.io_timeout = Duration::from_millis(ms as u64);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if (config.isolate || config.unconfined) && config.multi_sandbox.is_none() {
        return Err("--isolate and --unconfined go with --multi-sandbox".into());
    }
    if config.isolate && config.unconfined {
        return Err("--isolate and --unconfined exclude each other".into());
    }
    // Local mode isolates unless told not to.
    config.isolate = config.multi_sandbox.is_some() && !config.unconfined;
    Ok(Parsed::Run(Box::new(config)))
}

/// An inherited descriptor's number (above standard input, output and error).
fn descriptor(flag: &str, v: &str) -> Result<i32, String> {
    v.parse().ok().filter(|fd| *fd > 2).ok_or(format!("{flag}: {v:?} is not a descriptor above 2"))
}

impl Config {
    /// The command line that gives an agent this configuration: every flag `parse` reads, so that an agent
    /// started by this one (a local sandbox's, in its jail) gets all of it and no flag is kept by hand. The token
    /// and the start id come from elsewhere (standard input, the environment) and are not here.
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        let mut flag = |name: &str, value: String| args.extend([name.to_string(), value]);
        flag("--listen", self.listen.to_string());
        if let Some(fd) = self.listen_fd {
            flag("--listen-fd", fd.to_string());
        }
        if let Some(fd) = self.egress_fd {
            flag("--egress-fd", fd.to_string());
        }
        if let Some(path) = &self.egress_trust {
            flag("--egress-trust", path.display().to_string());
        }
        flag("--workspace", self.workspace.display().to_string());
        flag("--state-dir", self.state_dir.display().to_string());
        if let Some(root) = &self.multi_sandbox {
            flag("--multi-sandbox", root.display().to_string());
        }
        flag("--command-timeout-ms", self.command_timeout.map_or(0, |t| t.as_millis()).to_string());
        flag("--max-sessions", self.max_sessions.to_string());
        flag("--max-sandboxes", self.max_sandboxes.to_string());
        flag("--max-connections", self.max_connections.to_string());
        flag("--max-processes", self.processes.max_processes.to_string());
        flag("--process-log-bytes", self.processes.ring_bytes.to_string());
        flag("--heartbeat-ms", self.processes.heartbeat.as_millis().to_string());
        flag("--terminal-idle-ms", self.terminals.idle.as_millis().to_string());
        flag("--terminal-ping-ms", self.terminals.ping.as_millis().to_string());
        flag("--shell-pool", self.shell_pool.to_string());
        flag("--io-timeout-ms", self.io_timeout.as_millis().to_string());
        if let Some(bytes) = self.limits.memory_bytes {
            flag("--limit-memory", bytes.to_string());
        }
        if let Some(pids) = self.limits.pids {
            flag("--limit-pids", pids.to_string());
        }
        if let Some(millis) = self.limits.cpu_millis {
            flag("--limit-cpu", format!("{}", millis as f64 / 1000.0));
        }
        if let Some(budget) = self.memory_budget {
            flag("--memory-budget-mb", (budget >> 20).max(1).to_string());
        }
        let switches = [
            ("--token-stdin", self.token_stdin),
            ("--isolate", self.isolate),
            ("--unconfined", self.unconfined),
            ("--no-cgroups", self.no_cgroups),
        ];
        args.extend(switches.iter().filter(|(_, on)| *on).map(|(name, _)| name.to_string()));
        args
    }
}

fn positive(text: &str) -> Option<usize> {
    text.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults() {
        let Parsed::Run(c) = parse(args(&[])).unwrap() else { panic!() };
        assert_eq!(c.listen.to_string(), "0.0.0.0:3000");
        assert_eq!(c.workspace, PathBuf::from("/workspace"));
        assert_eq!(c.command_timeout, Some(Duration::from_secs(600)), "ten minutes");
        let Parsed::Run(c) = parse(args(&["--command-timeout-ms", "0"])).unwrap() else { panic!() };
        assert_eq!(c.command_timeout, None, "0: none");
    }

    #[test]
    fn flags_with_spaces_or_equals() {
        let Parsed::Run(c) =
            parse(args(&["--listen=127.0.0.1:0", "--multi-sandbox", "/tmp/s", "--command-timeout-ms", "500"])).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.multi_sandbox, Some(PathBuf::from("/tmp/s")));
        assert_eq!(c.command_timeout, Some(Duration::from_millis(500)));
    }

    #[test]
    fn local_mode_isolates_unless_told_otherwise() {
        let run = |list: &[&str]| match parse(args(list)) {
            Ok(Parsed::Run(c)) => Ok(c.isolate),
            Ok(_) => panic!(),
            Err(e) => Err(e),
        };
        assert_eq!(run(&["--multi-sandbox", "/s"]), Ok(true));
        assert_eq!(run(&["--multi-sandbox", "/s", "--unconfined"]), Ok(false));
        assert_eq!(run(&["--multi-sandbox", "/s", "--isolate"]), Ok(true));
        assert_eq!(run(&[]), Ok(false));
        assert!(run(&["--isolate"]).is_err());
        assert!(run(&["--multi-sandbox", "/s", "--isolate", "--unconfined"]).is_err());
    }

    #[test]
    fn a_configuration_given_as_arguments_comes_back_whole() {
        // Every setting away from its default, so that a flag `to_args` forgot would show.
        let Parsed::Run(defaults) = parse(args(&[])).unwrap() else { panic!() };
        let config = Config {
            listen: "127.0.0.1:4000".parse().unwrap(),
            listen_fd: Some(7),
            egress_fd: Some(8),
            egress_trust: Some(PathBuf::from("/roots.pem")),
            token_stdin: true,
            workspace: PathBuf::from("/w"),
            multi_sandbox: Some(PathBuf::from("/roots")),
            command_timeout: None,
            max_sessions: 3,
            max_sandboxes: 4,
            max_connections: 5,
            processes: crate::background::Settings {
                max_processes: 6,
                ring_bytes: 7000,
                heartbeat: Duration::from_millis(800),
            },
            terminals: crate::terminal::Settings {
                idle: Duration::from_millis(900),
                ping: Duration::from_millis(1000),
                ..defaults.terminals
            },
            shell_pool: 9,
            io_timeout: Duration::from_millis(1100),
            memory_budget: Some(12 << 20),
            isolate: false,
            unconfined: true,
            no_cgroups: true,
            limits: sandbox_protocol::Limits { memory_bytes: Some(64 << 20), pids: Some(100), cpu_millis: Some(1500) },
            token: None,
            start_id: None,
            state_dir: PathBuf::from("/state"),
        };
        assert_ne!(config.processes, defaults.processes);
        assert_ne!(config.terminals, defaults.terminals);
        let Parsed::Run(back) = parse(config.to_args()).unwrap() else { panic!() };
        assert_eq!(*back, config);
        let Parsed::Run(back) = parse(defaults.to_args()).unwrap() else { panic!() };
        assert_eq!(back, defaults);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(parse(args(&["--listen", "nope"])).is_err());
        assert!(parse(args(&["--bogus"])).is_err());
        assert!(parse(args(&["--workspace"])).is_err());
    }
}
