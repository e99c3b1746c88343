//! The agent's benchmark: latency percentiles over one HTTP keep-alive connection, throughput, memory and start
//! time, printed as a Markdown report. Run with `npm run bench:agent` (or `cargo bench -p sandbox-agent --bench
//! agent`); `BENCH_QUICK=1` runs fewer iterations.

mod floor;
#[path = "../tests/agent/support/http.rs"]
mod http;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http::Client;
use serde_json::json;

struct Agent {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Agent {
    fn start() -> Agent {
        Agent::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Agent {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sandbox-agent-bench-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sandbox-agent"))
            .args(["--listen", "127.0.0.1:0", "--workspace"])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the agent");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.split("http://").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        Agent { child, addr, dir }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Stats {
    name: String,
    samples: Vec<Duration>,
}

impl Stats {
    fn pct(&self, p: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        s[((s.len() as f64 - 1.0) * p).round() as usize]
    }

    fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} |",
            self.name,
            self.samples.len(),
            ms(self.pct(0.5)),
            ms(self.pct(0.9)),
            ms(self.pct(0.99))
        )
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Times `n` POSTs of `body(i)` to `path` (after a warm-up), checking each reply.
async fn measure(
    c: &mut Client,
    name: &str,
    n: usize,
    path: &str,
    body: impl Fn(usize) -> serde_json::Value,
    check: impl Fn(&http::Reply),
) -> Stats {
    for i in 0..(n / 10).max(2) {
        check(&c.post(path, body(n + i)).await);
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        let reply = c.post(path, body(i)).await;
        samples.push(t0.elapsed());
        check(&reply);
    }
    Stats { name: name.to_string(), samples }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn children_rss_kib(parent: u32) -> (usize, u64) {
    let mut count = 0;
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid =
            stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            count += 1;
            total += rss_kib(pid);
        }
    }
    (count, total)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map(|k| format!("{:.0} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    let bash = Command::new("bash")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem}, Linux {kernel}, {bash}")
}

/// A process writes its clock (ns) as a line every 20 ms; each line's latency is the clock here when its event
/// arrives minus the clock it carries.
async fn line_latency(c: &mut Client, lines: usize) -> Vec<Duration> {
    use http_body_util::BodyExt;
    let command = format!("for i in $(seq 1 {lines}); do date +%s%N; sleep 0.02; done");
    let r = c.post("/v1/processes", json!({"command": command, "processId": "clock"})).await;
    assert_eq!(r.status, 201);
    let mut body = c.start("GET", "/v1/processes/clock/stream", Vec::new()).await.into_body();
    let mut samples = Vec::new();
    let mut buf = String::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else { continue };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        buf.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let Some(json) = event.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            let event: serde_json::Value = serde_json::from_str(json).unwrap();
            if event["type"] == "exit" {
                return samples;
            }
            for line in event["data"].as_str().unwrap_or("").lines() {
                if let Ok(at) = line.trim().parse::<u128>() {
                    samples.push(Duration::from_nanos(now.saturating_sub(at) as u64));
                }
            }
        }
    }
    samples
}

/// `clients` connections, each on a session of its own, running exec `true` for `window`: execs per second in all,
/// and the fewest and most that one session ran.
async fn throughput_of(addr: SocketAddr, clients: usize, prefix: &str, window: Duration) -> (f64, u64, u64) {
    let mut tasks = Vec::new();
    for i in 0..clients {
        let id = format!("{prefix}{i}");
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            c.post("/v1/sessions", json!({"id": id})).await;
            let t0 = Instant::now();
            let mut n = 0u64;
            while t0.elapsed() < window {
                c.post("/v1/exec", json!({"command": "true", "sessionId": id})).await;
                n += 1;
            }
            n
        }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    let total: u64 = counts.iter().sum();
    let (least, most) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
    (total as f64 / window.as_secs_f64(), least, most)
}

fn make_files(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        std::fs::write(dir.join(format!("file-{i:05}.txt")), b"x").unwrap();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let quick = std::env::var("BENCH_QUICK").is_ok();
    let scale = |n: usize| if quick { (n / 10).max(5) } else { n };
    let mut rows = Vec::new();

    // Start to healthy: process spawn until GET /v1/health answers 200.
    let mut starts = Vec::new();
    for _ in 0..scale(20) {
        let t0 = Instant::now();
        let agent = Agent::start();
        loop {
            if let Ok(stream) = tokio::net::TcpStream::connect(agent.addr).await {
                drop(stream);
                let mut c = Client::connect(agent.addr).await;
                if c.get("/v1/health").await.status == 200 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        starts.push(t0.elapsed());
    }
    rows.push(Stats { name: "agent start to healthy".into(), samples: starts }.row());

    let agent = Agent::start();
    let pid = agent.child.id();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_rss = rss_kib(pid);
    let mut c = Client::connect(agent.addr).await;
    c.post("/v1/sessions", json!({"id": "bench"})).await;

    let exec = |command: &'static str| move |_| json!({"command": command, "sessionId": "bench"});
    let ok = |r: &http::Reply| assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    rows.push(measure(&mut c, "exec `true`", scale(3000), "/v1/exec", exec("true"), ok).await.row());
    // The floor, in the same run: the least a server can do for the same requests (`floor.rs`).
    let floor = floor::Floor::start();
    let mut f = Client::connect(floor.addr).await;
    let floor_ok = |r: &http::Reply| assert_eq!(r.status, 200);
    rows.push(
        measure(
            &mut f,
            "floor: exec `true` (one bash over pipes, minimal server)",
            scale(3000),
            "/v1/exec",
            exec("true"),
            floor_ok,
        )
        .await
        .row(),
    );
    // The same with process groups instead of a cgroup per shell (what a host without cgroups runs), in this run:
    // the cost of containment by cgroups, which reads the shell's cgroup at each command's start.
    {
        let plain = Agent::start_with(&["--no-cgroups"]);
        let mut p = Client::connect(plain.addr).await;
        p.post("/v1/sessions", json!({"id": "bench"})).await;
        rows.push(
            measure(&mut p, "exec `true`, process groups (--no-cgroups)", scale(3000), "/v1/exec", exec("true"), ok)
                .await
                .row(),
        );
        let creates = measure(
            &mut p,
            "session creation, back to back, process groups (--no-cgroups)",
            scale(200),
            "/v1/sessions",
            |i| json!({"id": format!("p{i}")}),
            |r| assert_eq!(r.status, 201),
        )
        .await;
        rows.push(creates.row());
    }
    rows.push(
        measure(&mut c, "exec `echo hello`", scale(3000), "/v1/exec", exec("echo hello"), |r| {
            assert_eq!(r.json()["stdout"], "hello")
        })
        .await
        .row(),
    );

    let before_sessions = rss_kib(pid);
    let created = scale(200);
    let create = measure(
        &mut c,
        "session creation, back to back (shell ready)",
        created,
        "/v1/sessions",
        |i| json!({"id": format!("s{i}")}),
        |r| assert_eq!(r.status, 201),
    )
    .await;
    rows.push(create.row());
    let after_sessions = rss_kib(pid);
    let (shells, shells_rss) = children_rss_kib(pid);
    // Delete, then create and delete again one at a time with a pause between (the pool refilled, the last
    // delete's kill done): what a caller sees from a sandbox that is not flooded.
    let sessions = c.get("/v1/sessions").await.json();
    let mut deletes = Vec::new();
    for session in sessions["sessions"].as_array().unwrap() {
        let id = session["id"].as_str().unwrap();
        if id.starts_with('s') {
            let t0 = Instant::now();
            assert_eq!(c.delete(&format!("/v1/sessions/{id}")).await.status, 200);
            deletes.push(t0.elapsed());
        }
    }
    rows.push(Stats { name: "session delete, back to back (to its answer)".into(), samples: deletes }.row());
    let (mut paced_creates, mut paced_deletes, mut paced_execs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut paced_health, mut paced_floor, mut paced_floor_execs) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..scale(200) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t0 = Instant::now();
        assert_eq!(c.get("/v1/health").await.status, 200);
        paced_health.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t0 = Instant::now();
        assert_eq!(f.post("/v1/sessions", json!({"id": format!("q{i}")})).await.status, 200);
        paced_floor.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t0 = Instant::now();
        assert_eq!(f.post("/v1/exec", json!({"command": "true"})).await.status, 200);
        paced_floor_execs.push(t0.elapsed());
        // For reference: one request after the same pause (the workers asleep again) costs more than in a run.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t0 = Instant::now();
        assert_eq!(c.post("/v1/exec", json!({"command": "true", "sessionId": "bench"})).await.status, 200);
        paced_execs.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t0 = Instant::now();
        assert_eq!(c.post("/v1/sessions", json!({"id": format!("q{i}")})).await.status, 201);
        paced_creates.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t0 = Instant::now();
        assert_eq!(c.delete(&format!("/v1/sessions/q{i}")).await.status, 200);
        paced_deletes.push(t0.elapsed());
    }
    rows.push(Stats { name: "session creation, one every 10 ms (shell ready)".into(), samples: paced_creates }.row());
    rows.push(Stats { name: "session delete, one every 10 ms (to its answer)".into(), samples: paced_deletes }.row());
    rows.push(Stats { name: "for reference: exec `true`, one every 10 ms".into(), samples: paced_execs }.row());
    rows.push(Stats { name: "for reference: `GET /v1/health`, one every 10 ms".into(), samples: paced_health }.row());
    rows.push(Stats { name: "floor: a request answered at once, one every 10 ms".into(), samples: paced_floor }.row());
    rows.push(Stats { name: "floor: exec `true`, one every 10 ms".into(), samples: paced_floor_execs }.row());
    drop((f, floor));
    let created = created + (created / 10).max(2);

    let big = agent.dir.join("ten-mb");
    std::fs::write(&big, vec![b'a'; 10 * 1024 * 1024]).unwrap();
    let cat = format!("cat {}", big.display());
    rows.push(
        measure(
            &mut c,
            "exec printing 10 MB",
            scale(30),
            "/v1/exec",
            |_| json!({"command": cat, "sessionId": "bench"}),
            |r| assert!(r.status == 200 && r.body.len() > 10 * 1024 * 1024),
        )
        .await
        .row(),
    );
    let rss_after_big = rss_kib(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_2s_after_big = rss_kib(pid);

    make_files(&agent.dir.join("many"), 10_000);
    rows.push(
        measure(
            &mut c,
            "listFiles of 10,000 entries",
            scale(50),
            "/v1/files/list",
            |_| json!({"path": "many", "sessionId": "bench"}),
            |r| assert_eq!(r.json()["count"], 10_000),
        )
        .await
        .row(),
    );
    // The floor of a listing: the same directory read and every entry `lstat`ed, here, on one thread.
    let many = agent.dir.join("many");
    let mut floor = Vec::new();
    for _ in 0..scale(50) {
        let t0 = Instant::now();
        let mut n = 0;
        for entry in std::fs::read_dir(&many).unwrap() {
            let _ = entry.unwrap().metadata().unwrap();
            n += 1;
        }
        assert_eq!(n, 10_000);
        floor.push(t0.elapsed());
    }
    rows.push(
        Stats { name: "for reference: readdir + lstat of those 10,000 entries, in-process".into(), samples: floor }
            .row(),
    );
    let rss_after_listing = rss_kib(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_2s_after_listing = rss_kib(pid);

    // Background processes: the answer to a start, and how long a line takes from the process to a live stream.
    rows.push(
        measure(
            &mut c,
            "process start (`true`) to its `running` answer",
            scale(200),
            "/v1/processes",
            |i| json!({"command": "true", "processId": format!("b{i}")}),
            |r| assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body)),
        )
        .await
        .row(),
    );
    rows.push(
        Stats { name: "a process's line to its live stream".into(), samples: line_latency(&mut c, scale(200)).await }
            .row(),
    );

    // Throughput: 4 and then 16 clients, each on its own session, exec `true` for a fixed time; with the fewest
    // and most execs one session got, for fairness.
    let window = Duration::from_secs(if quick { 1 } else { 3 });
    let throughput = throughput_of(agent.addr, 4, "t", window).await;
    let throughput16 = throughput_of(agent.addr, 16, "u", window).await;

    println!("## sandbox-agent benchmark\n");
    println!("Machine: {}\n", machine());
    println!("Release build; one HTTP/1.1 keep-alive connection from this process to the agent on 127.0.0.1.\n");
    println!("| measurement | n | p50 | p90 | p99 |");
    println!("|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!("| measurement | value |");
    println!("|---|---|");
    for (clients, (rate, least, most)) in [(4, throughput), (16, throughput16)] {
        println!(
            "| throughput, {clients} clients on {clients} sessions, exec `true` | {rate:.0} execs/s (per session: {least}-{most}) |"
        );
    }
    println!("| agent RSS, idle after start | {:.1} MiB |", idle_rss as f64 / 1024.0);
    println!(
        "| agent RSS per session ({created} sessions) | {:.1} KiB |",
        after_sessions.saturating_sub(before_sessions) as f64 / created as f64
    );
    println!(
        "| bash RSS per session ({shells} shells) | {:.1} MiB |",
        shells_rss as f64 / shells.max(1) as f64 / 1024.0
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    let of_idle = |kib: u64| kib as f64 / idle_rss.max(1) as f64;
    println!("| agent RSS right after 10 MB outputs | {:.1} MiB |", mib(rss_after_big));
    println!(
        "| agent RSS 2 s after them | {:.1} MiB ({:.2}x idle) |",
        mib(rss_2s_after_big),
        of_idle(rss_2s_after_big)
    );
    println!("| agent RSS right after 10,000-entry listings | {:.1} MiB |", mib(rss_after_listing));
    println!(
        "| agent RSS 2 s after them | {:.1} MiB ({:.2}x idle) |",
        mib(rss_2s_after_listing),
        of_idle(rss_2s_after_listing)
    );
}
