//! The agent's counters, served by `GET /v1/metrics` in the Prometheus text format (or in brief as JSON): requests and their latency by
//! route, commands by how they ended, output bytes, limits hit, shells lost; sessions and processes alive are read
//! when scraped. Recording is an atomic add on a process-wide table (`METRICS`); rendering is pure over a
//! `Snapshot`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use sandbox_protocol::{routes, CommandCounts, Ended, MetricsSummary, SessionUsage};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0, 60.0];
/// Label of a request that matched no route.
const OTHER_ROUTE: &str = "other";

/// A limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Sessions,
    Memory,
    Connections,
    Processes,
    /// A buffered result's output cut at its `maxOutputBytes` (or what the memory budget could hold).
    Output,
    /// A request body over `MAX_BODY_BYTES`.
    Body,
}

const LIMITS: [(Limit, &str); 6] = [
    (Limit::Sessions, "sessions"),
    (Limit::Memory, "memory"),
    (Limit::Connections, "connections"),
    (Limit::Processes, "processes"),
    (Limit::Output, "output"),
    (Limit::Body, "body"),
];
const ENDS: [(Ended, &str); 3] =
    [(Ended::Exited, "exited"), (Ended::TimedOut, "timed_out"), (Ended::Cancelled, "cancelled")];

/// One route's requests: by status class (2xx/3xx, 4xx, 5xx), and their latency.
#[derive(Default)]
struct RouteCounters {
    by_class: [AtomicU64; 3],
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
}

pub struct Metrics {
    /// One per `routes::ALL` entry, then one for anything else.
    routes: Vec<RouteCounters>,
    ends: [AtomicU64; 3],
    start_failures: AtomicU64,
    stdout_bytes: AtomicU64,
    stderr_bytes: AtomicU64,
    limits: [AtomicU64; LIMITS.len()],
    shells_lost: AtomicU64,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    fn new() -> Metrics {
        Metrics {
            routes: (0..=routes::ALL.len()).map(|_| RouteCounters::default()).collect(),
            ends: Default::default(),
            start_failures: AtomicU64::new(0),
            stdout_bytes: AtomicU64::new(0),
            stderr_bytes: AtomicU64::new(0),
            limits: Default::default(),
            shells_lost: AtomicU64::new(0),
        }
    }

    /// A request answered: `route` is the matched route's path (`None`: no route matched).
    pub fn request(&self, route: Option<&str>, status: u16, took: Duration) {
        let index =
            route.and_then(|r| routes::ALL.iter().position(|known| known.path == r)).unwrap_or(routes::ALL.len());
        let counters = &self.routes[index];
        let class = match status {
            500.. => 2,
            400.. => 1,
            _ => 0,
        };
        add(&counters.by_class[class], 1);
        let seconds = took.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|le| seconds <= *le) {
            add(&counters.buckets[bucket], 1);
        }
        add(&counters.sum_micros, took.as_micros() as u64);
    }

    pub fn command_ended(&self, ended: Ended) {
        let index = ENDS.iter().position(|(e, _)| *e == ended).unwrap_or(0);
        add(&self.ends[index], 1);
    }

    /// A command that could not start (its shell did not).
    pub fn command_not_started(&self) {
        add(&self.start_failures, 1);
    }

    pub fn output(&self, stdout: usize, stderr: usize) {
        add(&self.stdout_bytes, stdout as u64);
        add(&self.stderr_bytes, stderr as u64);
    }

    pub fn limit_hit(&self, limit: Limit) {
        let index = LIMITS.iter().position(|(l, _)| *l == limit).unwrap_or(0);
        add(&self.limits[index], 1);
    }

    /// A session's shell ended while a command ran (it is replaced at the next command).
    pub fn shell_lost(&self) {
        add(&self.shells_lost, 1);
    }

    /// The counters now, with the gauges read at scrape time.
    pub fn snapshot(&self, sessions: usize, processes: Option<usize>, uptime: Duration) -> Snapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let names = routes::ALL.iter().map(|r| r.path).chain([OTHER_ROUTE]);
        Snapshot {
            routes: names
                .zip(&self.routes)
                .map(|(name, c)| RouteSnapshot {
                    route: name,
                    by_class: c.by_class.each_ref().map(load),
                    buckets: c.buckets.each_ref().map(load),
                    sum_seconds: load(&c.sum_micros) as f64 / 1e6,
                })
                .collect(),
            ends: self.ends.each_ref().map(load),
            start_failures: load(&self.start_failures),
            stdout_bytes: load(&self.stdout_bytes),
            stderr_bytes: load(&self.stderr_bytes),
            limits: self.limits.each_ref().map(load),
            shells_lost: load(&self.shells_lost),
            sessions,
            processes,
            uptime_seconds: uptime.as_secs_f64(),
            session_usage: Vec::new(),
        }
    }
}

pub struct RouteSnapshot {
    pub route: &'static str,
    pub by_class: [u64; 3],
    pub buckets: [u64; BUCKETS.len()],
    pub sum_seconds: f64,
}

pub struct Snapshot {
    pub routes: Vec<RouteSnapshot>,
    pub ends: [u64; 3],
    pub start_failures: u64,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub limits: [u64; LIMITS.len()],
    pub shells_lost: u64,
    pub sessions: usize,
    /// Processes of the sandbox, where the agent can count them (in a container: all but itself).
    pub processes: Option<usize>,
    pub uptime_seconds: f64,
    /// Each session's use, where the agent can read it (with cgroups).
    pub session_usage: Vec<SessionUsage>,
}

/// The Prometheus text exposition of `s` (format 0.0.4). Routes that saw no request are left out.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP sandbox_agent_requests_total Requests answered, by route and status class.\n\
         # TYPE sandbox_agent_requests_total counter"
    );
    for r in s.routes.iter().filter(|r| r.by_class.iter().sum::<u64>() > 0) {
        for (class, n) in ["2xx", "4xx", "5xx"].iter().zip(r.by_class) {
            let _ = writeln!(out, "sandbox_agent_requests_total{{route=\"{}\",status=\"{class}\"}} {n}", r.route);
        }
    }
    let _ = writeln!(
        out,
        "# HELP sandbox_agent_request_duration_seconds Time to answer a request (to its head, for streams).\n\
         # TYPE sandbox_agent_request_duration_seconds histogram"
    );
    for r in s.routes.iter().filter(|r| r.by_class.iter().sum::<u64>() > 0) {
        let mut cumulative = 0;
        for (le, n) in BUCKETS.iter().zip(r.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "sandbox_agent_request_duration_seconds_bucket{{route=\"{}\",le=\"{le}\"}} {cumulative}",
                r.route
            );
        }
        let count: u64 = r.by_class.iter().sum();
        let _ =
            writeln!(out, "sandbox_agent_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {count}", r.route);
        let _ = writeln!(out, "sandbox_agent_request_duration_seconds_sum{{route=\"{}\"}} {}", r.route, r.sum_seconds);
        let _ = writeln!(out, "sandbox_agent_request_duration_seconds_count{{route=\"{}\"}} {count}", r.route);
    }
    let mut counter = |name: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (labels, n) in samples {
            let _ = writeln!(out, "{name}{labels} {n}");
        }
    };
    let ends: Vec<_> = ENDS.iter().zip(s.ends).map(|((_, e), n)| (format!("{{ended=\"{e}\"}}"), n)).collect();
    counter("sandbox_agent_commands_total", "Commands run, by how they ended.", &ends);
    counter(
        "sandbox_agent_commands_not_started_total",
        "Commands whose shell could not start.",
        &[(String::new(), s.start_failures)],
    );
    let bytes =
        [("{stream=\"stdout\"}".to_string(), s.stdout_bytes), ("{stream=\"stderr\"}".to_string(), s.stderr_bytes)];
    counter("sandbox_agent_output_bytes_total", "Bytes commands wrote, by stream.", &bytes);
    let limits: Vec<_> = LIMITS.iter().zip(s.limits).map(|((_, l), n)| (format!("{{limit=\"{l}\"}}"), n)).collect();
    counter("sandbox_agent_limits_hit_total", "Requests refused, or outputs cut, at a limit, by limit.", &limits);
    counter(
        "sandbox_agent_shells_lost_total",
        "Session shells that ended during a command.",
        &[(String::new(), s.shells_lost)],
    );
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    };
    gauge("sandbox_agent_sessions", "Sessions alive.", s.sessions.to_string());
    if let Some(processes) = s.processes {
        gauge("sandbox_agent_processes", "Processes in the sandbox besides the agent.", processes.to_string());
    }
    gauge("sandbox_agent_uptime_seconds", "Seconds since the agent started.", s.uptime_seconds.to_string());
    render_sessions(&mut out, &s.session_usage);
    out
}

/// Each session's use, as series labelled by session (ids are of `[A-Za-z0-9._-]`: nothing to escape).
fn render_sessions(out: &mut String, sessions: &[SessionUsage]) {
    type Read = fn(&sandbox_protocol::ResourceUsage) -> Option<String>;
    let series: [(&str, &str, &str, Read); 4] = [
        ("sandbox_agent_session_memory_bytes", "gauge", "Memory a session's processes use.", |u| {
            u.memory_bytes.map(|n| n.to_string())
        }),
        ("sandbox_agent_session_cpu_seconds_total", "counter", "CPU time a session's processes used.", |u| {
            u.cpu_ms.map(|ms| (ms as f64 / 1000.0).to_string())
        }),
        ("sandbox_agent_session_processes", "gauge", "Processes of a session alive.", |u| {
            u.pids.map(|n| n.to_string())
        }),
        ("sandbox_agent_session_oom_kills_total", "counter", "Processes a session's memory limit killed.", |u| {
            Some(u.oom_kills.to_string())
        }),
    ];
    if sessions.is_empty() {
        return;
    }
    for (name, kind, help, read) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in sessions {
            if let Some(value) = read(&s.usage) {
                let _ = writeln!(out, "{name}{{session=\"{}\"}} {value}", s.session_id);
            }
        }
    }
}

/// The counters in brief (`MetricsSummary`), for a JSON reader and a sandbox's status.
pub fn summary(s: &Snapshot) -> MetricsSummary {
    let by_class = |class: usize| s.routes.iter().map(|r| r.by_class[class]).sum::<u64>();
    let [exited, timed_out, cancelled] = s.ends;
    MetricsSummary {
        uptime_ms: (s.uptime_seconds * 1000.0) as u64,
        sessions: s.sessions as u64,
        processes: s.processes.map(|n| n as u64),
        requests: by_class(0) + by_class(1) + by_class(2),
        client_errors: by_class(1),
        server_errors: by_class(2),
        commands: CommandCounts { exited, timed_out, cancelled, not_started: s.start_failures },
        stdout_bytes: s.stdout_bytes,
        stderr_bytes: s.stderr_bytes,
        limits_hit: s.limits.iter().sum(),
        shells_lost: s.shells_lost,
        containment: Some(crate::contain::current().kind()),
        session_usage: s.session_usage.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_adds_up_the_counters() {
        let m = Metrics::new();
        m.request(Some(routes::EXEC), 200, Duration::from_micros(400));
        m.request(Some(routes::FILES_READ), 404, Duration::from_millis(3));
        m.request(None, 503, Duration::from_micros(10));
        m.command_ended(Ended::Exited);
        m.command_ended(Ended::Exited);
        m.command_ended(Ended::Cancelled);
        m.command_not_started();
        m.output(10, 2);
        m.limit_hit(Limit::Memory);
        m.limit_hit(Limit::Sessions);
        m.limit_hit(Limit::Output);
        m.shell_lost();
        let s = summary(&m.snapshot(3, None, Duration::from_millis(2500)));
        assert_eq!(
            s,
            MetricsSummary {
                uptime_ms: 2500,
                sessions: 3,
                processes: None,
                requests: 3,
                client_errors: 1,
                server_errors: 1,
                commands: CommandCounts { exited: 2, timed_out: 0, cancelled: 1, not_started: 1 },
                stdout_bytes: 10,
                stderr_bytes: 2,
                limits_hit: 3,
                shells_lost: 1,
                containment: Some(sandbox_protocol::Containment::ProcessGroup),
                session_usage: Vec::new(),
            }
        );
    }

    #[test]
    fn counters_render_as_prometheus_text() {
        let m = Metrics::new();
        m.request(Some(routes::EXEC), 200, Duration::from_micros(400));
        m.request(Some(routes::EXEC), 404, Duration::from_millis(3));
        m.request(None, 404, Duration::from_micros(10));
        m.command_ended(Ended::TimedOut);
        m.output(10, 2);
        m.limit_hit(Limit::Memory);
        let text = render(&m.snapshot(3, Some(7), Duration::from_secs(2)));
        for line in [
            "sandbox_agent_requests_total{route=\"/v1/exec\",status=\"2xx\"} 1",
            "sandbox_agent_requests_total{route=\"/v1/exec\",status=\"4xx\"} 1",
            "sandbox_agent_requests_total{route=\"other\",status=\"4xx\"} 1",
            "sandbox_agent_request_duration_seconds_bucket{route=\"/v1/exec\",le=\"0.001\"} 1",
            "sandbox_agent_request_duration_seconds_bucket{route=\"/v1/exec\",le=\"0.005\"} 2",
            "sandbox_agent_request_duration_seconds_bucket{route=\"/v1/exec\",le=\"+Inf\"} 2",
            "sandbox_agent_request_duration_seconds_count{route=\"/v1/exec\"} 2",
            "sandbox_agent_commands_total{ended=\"timed_out\"} 1",
            "sandbox_agent_output_bytes_total{stream=\"stdout\"} 10",
            "sandbox_agent_limits_hit_total{limit=\"memory\"} 1",
            "sandbox_agent_sessions 3",
            "sandbox_agent_processes 7",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("route=\"/v1/files/read\""), "routes without requests are left out");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(name.starts_with("sandbox_agent_"), "{line}");
        }
    }
}
