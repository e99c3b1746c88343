//! The hand-written JSON writers (`ExecResult::write_json`, `FileInfoRef::write_json`, on `json::write_str`)
//! against `serde_json::to_writer` into a buffer presized the same way, on the answers they write: an exec's
//! result with large and small output, and a listing's entries. Prints the time per answer and the throughput of
//! each, and the ratio. Run with `cargo bench -p sandbox-protocol --bench json_writer`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sandbox_protocol::{Encoding, Ended, ExecResult, FileInfoRef, FileType, Permissions};

/// Runs `f` for about `budget`, after a warm-up, and returns the best time of one run over 7 rounds.
fn time(budget: Duration, mut f: impl FnMut() -> usize) -> Duration {
    for _ in 0..3 {
        black_box(f());
    }
    let mut best = Duration::MAX;
    for _ in 0..7 {
        let t0 = Instant::now();
        let mut runs = 0u32;
        while t0.elapsed() < budget / 7 || runs == 0 {
            black_box(f());
            runs += 1;
        }
        best = best.min(t0.elapsed() / runs);
    }
    best
}

fn result(stdout: String) -> ExecResult {
    ExecResult {
        success: true,
        exit_code: 0,
        stdout,
        stderr: "a warning\n".into(),
        command: "cat big.log".into(),
        duration: 12,
        timestamp: "2026-12-06T19:00:00.000Z".into(),
        session_id: "default".into(),
        ended_as: Some(Ended::Exited),
        timed_out: false,
        truncated: false,
        encoding: Encoding::Utf8,
        oom_killed: false,
        message: None,
        command_id: Some("cmd-0123456789abcdef".into()),
    }
}

fn row(name: &str, bytes: usize, hand: Duration, serde: Duration) {
    let mbps = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{name:<34} {bytes:>10} B   hand {:>10.1} us ({:>7.0} MB/s)   serde {:>10.1} us ({:>7.0} MB/s)   serde/hand {:.2}",
        hand.as_secs_f64() * 1e6,
        mbps(hand),
        serde.as_secs_f64() * 1e6,
        mbps(serde),
        serde.as_secs_f64() / hand.as_secs_f64()
    );
}

fn exec(name: &str, stdout: String) {
    let r = result(stdout);
    let mut probe = Vec::new();
    r.write_json(&mut probe);
    let size = probe.len();
    let hand = time(Duration::from_millis(700), || {
        let mut out = Vec::new();
        r.write_json(&mut out);
        out.len()
    });
    let serde = time(Duration::from_millis(700), || {
        let mut out = Vec::with_capacity(size);
        serde_json::to_writer(&mut out, &r).unwrap();
        out.len()
    });
    row(name, size, hand, serde);
}

fn listing(entries: usize) {
    let names: Vec<String> = (0..entries).map(|i| format!("file-{i:05}.txt")).collect();
    let paths: Vec<String> = names.iter().map(|n| format!("/workspace/project/src/{n}")).collect();
    let rels: Vec<String> = names.iter().map(|n| format!("src/{n}")).collect();
    let infos: Vec<FileInfoRef<'_>> = (0..entries)
        .map(|i| FileInfoRef {
            name: &names[i],
            absolute_path: &paths[i],
            relative_path: &rels[i],
            kind: FileType::File,
            size: 1234 + i as u64,
            modified_at: "2026-12-06T19:00:00.000Z",
            mode: "rw-r--r--",
            permissions: Permissions { readable: true, writable: true, executable: false },
        })
        .collect();
    let write_all = |out: &mut Vec<u8>, hand: bool| {
        for (i, info) in infos.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if hand {
                info.write_json(out);
            } else {
                serde_json::to_writer(&mut *out, info).unwrap();
            }
        }
    };
    let mut probe = Vec::new();
    write_all(&mut probe, true);
    let size = probe.len();
    let hand = time(Duration::from_millis(700), || {
        let mut out = Vec::with_capacity(size);
        write_all(&mut out, true);
        out.len()
    });
    let serde = time(Duration::from_millis(700), || {
        let mut out = Vec::with_capacity(size);
        write_all(&mut out, false);
        out.len()
    });
    row(&format!("listing, {entries} entries"), size, hand, serde);
}

fn main() {
    let log_line = "2026-12-06 19:00:00 INFO request served in 12 ms path=/api/items status=200\n";
    let text = |bytes: usize| log_line.repeat(bytes / log_line.len() + 1)[..bytes].to_string();
    exec("exec, 10 MB of log text", text(10_000_000));
    exec("exec, 1 MB of log text", text(1_000_000));
    exec("exec, 100 B", text(100));
    let escapes = "tab\there \"quoted\" back\\slash é 🦀\n".repeat(30_000);
    exec("exec, 1 MB with escapes and UTF-8", escapes);
    listing(10_000);
    listing(100);
}
