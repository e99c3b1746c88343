//! Background processes: they start from a session's state and outlive it, their status is the truth, their log is
//! bounded and says what it dropped, a live stream resumes without loss or repeat and stays open while they are
//! quiet, stdin reaches them, kill leaves nothing of their tree, and waits happen inside the agent.

use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::BodyExt;

use crate::support::*;

async fn start(c: &mut Client, body: Value) -> Value {
    let r = c.post("/v1/processes", body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

async fn wait_exit(c: &mut Client, id: &str) -> Value {
    let r = c.post(&format!("/v1/processes/{id}/wait"), json!({"condition": "exit", "timeout": 20000})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["process"].clone()
}

/// Events of a live stream until it ends or `stop` says so, each with its SSE id (none on `exit`), and the number
/// of keep-alive comments seen.
async fn read_events(
    response: hyper::Response<hyper::body::Incoming>,
    mut stop: impl FnMut(&[(Option<u64>, Value)]) -> bool,
) -> (Vec<(Option<u64>, Value)>, usize) {
    let mut body = response.into_body();
    let (mut buf, mut out, mut comments) = (String::new(), Vec::new(), 0);
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(20), body.frame()).await.expect("an event in time")
    {
        let Ok(data) = frame.unwrap().into_data() else { continue };
        buf.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if event.starts_with(':') {
                comments += 1;
                continue;
            }
            let mut id = None;
            let mut json = None;
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse().unwrap());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    json = Some(serde_json::from_str(v).unwrap());
                }
            }
            out.push((id, json.expect("a data line")));
            if stop(&out) {
                return (out, comments);
            }
        }
    }
    (out, comments)
}

#[tokio::test]
async fn a_process_starts_from_its_sessions_state_and_outlives_the_session() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.post("/v1/sessions", json!({"id": "s", "env": {"FROM_SESSION": "1"}})).await.status, 201);
    c.run(Some("s"), "mkdir -p app && cd app && export TYPED=yes").await;
    let p = start(
        &mut c,
        json!({"command": "echo \"$FROM_SESSION $TYPED $OWN $PWD\"; sleep 60", "processId": "web", "sessionId": "s", "env": {"OWN": "mine"}}),
    )
    .await;
    assert_eq!(p["id"], "web");
    assert_eq!(p["status"], "running");
    assert_eq!(p["sessionId"], "s");
    let pid = p["pid"].as_i64().unwrap() as i32;
    assert!(alive(pid));
    let expected = format!("1 yes mine {}/app\n", path_str(&agent.dir));
    let ok = eventually_async(Duration::from_secs(5), async || {
        c.get("/v1/processes/web/logs").await.json()["stdout"] == expected.as_str()
    })
    .await;
    assert!(ok, "{}", c.get("/v1/processes/web/logs").await.json());
    // Ending the session leaves the sandbox's process alone.
    assert_eq!(c.delete("/v1/sessions/s").await.status, 200);
    assert!(alive(pid));
    assert_eq!(c.get("/v1/processes/web").await.json()["status"], "running");
    // Starting a process never waits for a session's running command.
    let blocked = format!("touch started; {}", gate("go"));
    let mut other = agent.client().await;
    let busy = tokio::spawn(async move { other.run(None, &blocked).await });
    until_exists(&agent.dir.join("started")).await;
    let t0 = Instant::now();
    start(&mut c, json!({"command": "true"})).await;
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
    open_gate(&agent.dir, "go");
    busy.await.unwrap();
    assert_eq!(c.delete("/v1/processes/web").await.json()["status"], "killed");
}

#[tokio::test]
async fn the_status_is_what_really_happened() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    start(&mut c, json!({"command": "true", "processId": "ok"})).await;
    start(&mut c, json!({"command": "exit 3", "processId": "bad"})).await;
    start(&mut c, json!({"command": "kill -KILL $$", "processId": "shot"})).await;
    let ok = wait_exit(&mut c, "ok").await;
    assert_eq!((ok["status"].clone(), ok["exitCode"].clone()), (json!("completed"), json!(0)));
    assert!(ok["endTime"].is_string());
    let bad = wait_exit(&mut c, "bad").await;
    assert_eq!((bad["status"].clone(), bad["exitCode"].clone()), (json!("failed"), json!(3)));
    let shot = wait_exit(&mut c, "shot").await;
    assert_eq!(shot["status"], "killed");
    assert_eq!(shot["signal"], "SIGKILL");
    assert_eq!(shot["exitCode"], 137);
    let list = c.get("/v1/processes?status=failed").await.json();
    assert_eq!(list["count"], 1);
    assert_eq!(list["processes"][0]["id"], "bad");
}

#[tokio::test]
async fn kill_leaves_nothing_of_the_tree_even_children_that_ignore_term_or_left_with_setsid() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let pids = agent.dir.join("pids");
    let command = format!(
        "(trap '' TERM; exec sleep 61) & echo $! >> {p}; \
         (trap '' TERM; bash -c 'trap \"\" TERM; sleep 62 & echo $! >> {p}; wait') & \
         setsid bash -c 'sleep 63 & echo $! >> {p}' & \
         trap '' TERM; wait",
        p = pids.display()
    );
    let p = start(&mut c, json!({"command": command, "processId": "tree"})).await;
    assert!(
        eventually(Duration::from_secs(5), || std::fs::read_to_string(&pids).is_ok_and(|t| t.lines().count() == 3))
            .await
    );
    let children: Vec<i32> =
        std::fs::read_to_string(&pids).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    assert!(children.iter().all(|pid| alive(*pid)));
    let t0 = Instant::now();
    let killed = c.delete("/v1/processes/tree").await.json();
    assert_eq!(killed["status"], "killed");
    assert!(t0.elapsed() < Duration::from_secs(8), "took {:?}", t0.elapsed());
    assert!(!alive(p["pid"].as_i64().unwrap() as i32));
    for pid in children {
        assert!(!alive(pid), "{pid} of the process's tree is still there");
    }
}

#[tokio::test]
async fn logs_are_bounded_and_say_what_they_dropped() {
    let agent = Agent::start_with(&["--process-log-bytes", "1000"]);
    let mut c = agent.client().await;
    start(&mut c, json!({"command": "head -c 5000 /dev/zero | tr '\\0' x; printf E >&2", "processId": "chatty"})).await;
    wait_exit(&mut c, "chatty").await;
    let logs = c.get("/v1/processes/chatty/logs").await.json();
    assert_eq!(logs["stdoutRange"]["to"], 5000);
    assert_eq!(logs["stderrRange"], json!({"from": 0, "to": 1, "dropped": 0}));
    let from = logs["stdoutRange"]["from"].as_u64().unwrap();
    assert!(from >= 4000, "{logs}");
    // How much fell out, said plainly per stream: no arithmetic on the ranges.
    assert_eq!(logs["stdoutRange"]["dropped"].as_u64(), Some(from), "{logs}");
    assert_eq!(s(&logs["stdout"]).len() as u64, 5000 - from);
    assert_eq!(logs["stderr"], "E");
    // A stream from the start says how much fell out before it sends what is left.
    let (events, _) = read_events(c.start("GET", "/v1/processes/chatty/stream", Vec::new()).await, |_| false).await;
    assert_eq!(events[0].1["type"], "dropped");
    assert!(events[0].1["dropped"].as_u64().unwrap() >= 4000);
    assert_eq!(events.last().unwrap().1["type"], "exit");
}

#[tokio::test]
async fn a_full_log_keeps_the_error_written_after_the_output_when_the_agent_reads_late() {
    // The agent is stopped while the process writes its output and then its error, so both pipes hold bytes when
    // it reads again: the output must go into the log first, or the error is the oldest byte and falls out.
    let agent = Agent::start_with(&["--process-log-bytes", "1000"]);
    let mut c = agent.client().await;
    let written = agent.dir.join("written");
    let command = format!(
        "{}; head -c 5000 /dev/zero | tr '\\0' x; printf 'the error' >&2; touch {}",
        gate(&path_str(&agent.dir.join("go"))),
        path_str(&written)
    );
    start(&mut c, json!({"command": command, "processId": "late"})).await;
    let pid = agent.pid() as i32;
    signal(pid, 19); // SIGSTOP
    open_gate(&agent.dir, "go");
    let seen = eventually(Duration::from_secs(10), || written.exists()).await;
    signal(pid, 18); // SIGCONT
    assert!(seen, "the process never wrote");
    wait_exit(&mut c, "late").await;
    let logs = c.get("/v1/processes/late/logs").await.json();
    assert_eq!(logs["stderr"], "the error", "{logs}");
    assert_eq!(logs["stdoutRange"]["to"], 5000);
    let (events, _) = read_events(c.start("GET", "/v1/processes/late/stream", Vec::new()).await, |_| false).await;
    let kinds: Vec<&str> = events.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"dropped"));
    assert_eq!(kinds[kinds.len() - 2..], ["stderr", "exit"], "{kinds:?}");
}

#[tokio::test]
async fn a_stream_resumes_from_its_last_event_with_every_byte_once() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let command = "for i in $(seq 1 40); do printf 'line %s é\\n' $i; [ $((i % 7)) = 0 ] && printf 'err %s\\n' $i >&2; sleep 0.02; done";
    start(&mut c, json!({"command": command, "processId": "lines"})).await;
    // Read a few events, then hang up.
    let (first, _) =
        read_events(c.start("GET", "/v1/processes/lines/stream", Vec::new()).await, |events| events.len() >= 5).await;
    let last_id = first.last().unwrap().0.unwrap();
    let mut c2 = agent.client().await;
    let header = last_id.to_string();
    let resumed = c2.start_with("GET", "/v1/processes/lines/stream", &[("last-event-id", &header)], Vec::new()).await;
    let (rest, _) = read_events(resumed, |_| false).await;
    assert_eq!(rest.last().unwrap().1["type"], "exit");
    assert!(rest.last().unwrap().0.is_none(), "exit carries no id");
    let text = |events: &[(Option<u64>, Value)], kind: &str| -> String {
        events.iter().filter(|(_, e)| e["type"] == kind).map(|(_, e)| s(&e["data"]).to_string()).collect()
    };
    let all: Vec<_> = first.iter().chain(rest.iter()).cloned().collect();
    let expected: String = (1..=40).map(|i| format!("line {i} é\n")).collect();
    assert_eq!(text(&all, "stdout"), expected);
    assert_eq!(text(&all, "stderr"), "err 7\nerr 14\nerr 21\nerr 28\nerr 35\n");
    // Ids only grow, and each is the offset after its event.
    let ids: Vec<u64> = all.iter().filter_map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // The same with ?from= and base64: the bytes from that offset on.
    let from = ids[2];
    let (b64, _) = read_events(
        c2.start("GET", &format!("/v1/processes/lines/stream?from={from}&encoding=base64"), Vec::new()).await,
        |_| false,
    )
    .await;
    let bytes: Vec<u8> = b64
        .iter()
        .filter(|(_, e)| e["type"] == "stdout" || e["type"] == "stderr")
        .flat_map(|(_, e)| base64::engine::general_purpose::STANDARD.decode(s(&e["data"])).unwrap())
        .collect();
    let whole: Vec<u8> = all
        .iter()
        .filter(|(_, e)| e["type"] == "stdout" || e["type"] == "stderr")
        .flat_map(|(_, e)| s(&e["data"]).as_bytes().to_vec())
        .collect();
    assert_eq!(bytes, whole[from as usize..]);
}

#[tokio::test]
async fn a_quiet_process_keeps_its_stream_open_with_heartbeats() {
    let agent = Agent::start_with(&["--heartbeat-ms", "200", "--io-timeout-ms", "500"]);
    let mut c = agent.client().await;
    start(&mut c, json!({"command": "sleep 1.5; echo awake", "processId": "quiet"})).await;
    let t0 = Instant::now();
    let (events, comments) =
        read_events(c.start("GET", "/v1/processes/quiet/stream", Vec::new()).await, |_| false).await;
    assert!(t0.elapsed() >= Duration::from_millis(1400));
    assert!(comments >= 4, "{comments} keep-alive comments");
    assert_eq!(events[0].1["data"], "awake\n");
    assert_eq!(events[1].1["type"], "exit");
    assert_eq!(events[1].1["process"]["status"], "completed");
}

#[tokio::test]
async fn stdin_reaches_the_process_and_its_end_ends_cat() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    start(&mut c, json!({"command": "cat", "processId": "cat"})).await;
    let r = c.post("/v1/processes/cat/stdin", json!({"data": "hello\n"})).await.json();
    assert_eq!((r["written"].clone(), r["closed"].clone()), (json!(6), json!(false)));
    let bytes = base64::engine::general_purpose::STANDARD.encode([0u8, 255, b'\n']);
    let r = c.post("/v1/processes/cat/stdin", json!({"data": bytes, "encoding": "base64", "end": true})).await.json();
    assert_eq!(r["closed"], true);
    let p = wait_exit(&mut c, "cat").await;
    assert_eq!(p["status"], "completed");
    let logs = c.get("/v1/processes/cat/logs?encoding=base64").await.json();
    let out = base64::engine::general_purpose::STANDARD.decode(s(&logs["stdout"])).unwrap();
    assert_eq!(out, b"hello\n\0\xff\n");
    let r = c.post("/v1/processes/cat/stdin", json!({"data": "late"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (409, json!("PROCESS_NOT_RUNNING")));
}

#[tokio::test]
async fn waits_happen_inside_the_agent() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let port = free_port();
    let command = format!(
        "echo booting; sleep 0.3; echo 'Ready on port {port}'; exec python3 -m http.server {port} --bind 127.0.0.1"
    );
    start(&mut c, json!({"command": command, "processId": "srv"})).await;
    let r =
        c.post("/v1/processes/srv/wait", json!({"condition": "log", "pattern": "Ready on", "timeout": 10000})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["line"], format!("Ready on port {port}"));
    // Output already logged counts, and a regular expression works.
    let r =
        c.post("/v1/processes/srv/wait", json!({"condition": "log", "pattern": "^boot(ing)?$", "regex": true})).await;
    assert_eq!(r.json()["line"], "booting");
    let r = c
        .post(
            "/v1/processes/srv/wait",
            json!({"condition": "port", "port": port, "path": "/", "status": 200, "timeout": 15000}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["process"]["status"], "running");
    let r = c.post("/v1/processes/srv/wait", json!({"condition": "log", "pattern": "never", "timeout": 200})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (408, json!("WAIT_TIMED_OUT")));
    c.delete("/v1/processes/srv").await;
    start(&mut c, json!({"command": "echo bye; exit 4", "processId": "short"})).await;
    let r =
        c.post("/v1/processes/short/wait", json!({"condition": "port", "port": free_port(), "timeout": 10000})).await;
    assert_eq!(r.status, 409);
    let e = r.json();
    assert_eq!(e["code"], "PROCESS_EXITED");
    assert!(s(&e["message"]).contains("exit code 4"), "{e}");
    let r = c.post("/v1/processes/short/wait", json!({"condition": "log"})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn an_ended_process_gives_its_id_to_the_next_start_and_a_running_one_keeps_it() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    start(&mut c, json!({"command": "echo first; exit 3", "processId": "web"})).await;
    assert_eq!(wait_exit(&mut c, "web").await["exitCode"], 3);
    // A crashed server is started again under its own name; the record and log are the new process's.
    let again = start(&mut c, json!({"command": "echo second; sleep 60", "processId": "web"})).await;
    assert_eq!(again["status"], "running");
    let shown = c.get("/v1/processes/web").await.json();
    assert_eq!((shown["pid"].clone(), shown["status"].clone()), (again["pid"].clone(), json!("running")));
    let r = c.post("/v1/processes/web/wait", json!({"condition": "log", "pattern": "second"})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(c.get("/v1/processes/web/logs").await.json()["stdout"], "second\n");
    let listed = c.get("/v1/processes").await.json();
    assert_eq!(listed["processes"].as_array().map(|p| p.len()), Some(1), "{listed}");
    // Running: its id is refused, saying what to do.
    let r = c.post("/v1/processes", json!({"command": "true", "processId": "web"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (409, json!("PROCESS_ALREADY_EXISTS")));
    assert!(s(&r.json()["message"]).contains("kill it first"), "{}", r.json());
}

#[tokio::test]
async fn limits_and_bad_input_get_clear_errors() {
    let agent = Agent::start_with(&["--max-processes", "2"]);
    let mut c = agent.client().await;
    start(&mut c, json!({"command": "sleep 60", "processId": "a"})).await;
    let r = c.post("/v1/processes", json!({"command": "true", "processId": "a"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (409, json!("PROCESS_ALREADY_EXISTS")));
    start(&mut c, json!({"command": "true", "processId": "b"})).await;
    wait_exit(&mut c, "b").await;
    // Full: the ended one makes room.
    start(&mut c, json!({"command": "sleep 60", "processId": "c"})).await;
    assert_eq!(c.get("/v1/processes/b").await.status, 404);
    let r = c.post("/v1/processes", json!({"command": "true"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (429, json!("TOO_MANY_PROCESSES")));
    for (body, code) in [
        (json!({"command": ""}), "VALIDATION_FAILED"),
        (json!({"command": "true", "processId": "../x"}), "VALIDATION_FAILED"),
        (json!({"command": "true", "timout": 5}), "VALIDATION_FAILED"),
        (json!({"command": "x".repeat(70_000)}), "VALIDATION_FAILED"),
        (json!({"command": "true", "sessionId": "nope"}), "SESSION_NOT_FOUND"),
    ] {
        let r = c.post("/v1/processes", body).await;
        assert_eq!(r.json()["code"], code);
    }
    let r = c.get("/v1/processes/nope").await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!("PROCESS_NOT_FOUND")));
    assert_eq!(c.send("DELETE", "/v1/processes/a?signal=SIGSTOP", Vec::new()).await.status, 400);
    assert_eq!(c.get("/v1/processes/a/stream?from=x").await.status, 400);
    let r = c.get("/v1/processes?status=sleeping").await;
    let (status, body) = (r.status, r.json());
    assert_eq!((status, body["code"].clone()), (400, json!("VALIDATION_FAILED")));
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("\"status=sleeping\"") && message.contains("unknown variant `sleeping`"), "{message}");
    // Values are percent-decoded, as a client's encoder writes them.
    assert_eq!(c.get("/v1/processes?status=runn%69ng").await.json()["count"], 2);
    let r = c.send("DELETE", "/v1/processes/a?signal=SIGINT", Vec::new()).await.json();
    assert_eq!((r["status"].clone(), r["signal"].clone()), (json!("killed"), json!("SIGINT")));
    assert_eq!(c.delete("/v1/processes").await.json()["killed"], 1);
}

#[tokio::test]
async fn timeouts_cleanup_and_the_sandboxs_end() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    start(&mut c, json!({"command": "sleep 60", "processId": "slow", "timeout": 300})).await;
    let p = wait_exit(&mut c, "slow").await;
    assert_eq!((p["status"].clone(), p["signal"].clone()), (json!("killed"), json!("SIGTERM")));
    start(&mut c, json!({"command": "true", "processId": "gone", "autoCleanup": true})).await;
    let forgotten =
        eventually_async(Duration::from_secs(5), async || c.get("/v1/processes/gone").await.status == 404).await;
    assert!(forgotten);
    let p = start(&mut c, json!({"command": "sleep 60"})).await;
    assert!(s(&p["id"]).starts_with("proc-"));
    let pid = p["pid"].as_i64().unwrap() as i32;
    assert_eq!(c.delete("/v1/sandbox").await.status, 200);
    assert!(eventually(Duration::from_secs(5), || !alive(pid)).await, "the sandbox's end left its process running");
}

#[tokio::test]
async fn two_hundred_processes_are_listed() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for i in 0..200 {
        start(&mut c, json!({"command": "true", "processId": format!("p{i}")})).await;
    }
    let list = c.get("/v1/processes").await.json();
    assert_eq!(list["count"], 200);
    assert_eq!(list["processes"][0]["id"], "p0");
    assert_eq!(list["processes"][199]["id"], "p199");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A process that closes its stdout and stderr and runs on keeps its live stream open (no error, no early end)
/// until it really exits, and the stream then ends with its exit and real code.
#[tokio::test]
async fn a_process_that_closes_its_output_streams_until_it_exits() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let gate = agent.dir.join("gate");
    let command = format!("echo hi; exec >&- 2>&-; {}; exit 3", gate_at(&gate));
    start(&mut c, json!({"command": command, "processId": "closer"})).await;
    let stream = c.start("GET", "/v1/processes/closer/stream", Vec::new()).await;
    let reading = tokio::spawn(read_events(stream, |events| events.iter().any(|(_, e)| e["type"] == "exit")));
    // The process's streams are closed now, and it still runs: its stream must wait for it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reading.is_finished(), "the live stream ended while the process still ran");
    std::fs::write(&gate, "").unwrap();
    let (events, _) = reading.await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["stdout", "exit"], "{events:?}");
    assert_eq!(events[0].1["data"], "hi\n");
    assert_eq!(events[1].1["process"]["exitCode"], 3, "{events:?}");
}

/// Shell text that waits until the file at `path` exists.
fn gate_at(path: &std::path::Path) -> String {
    format!("until [ -e {} ]; do sleep 0.01; done", path.display())
}
