//! Terminals over a WebSocket: exact bytes both ways, resize, Ctrl-C, exit, reattach with scrollback, idle end, and
//! nothing of an ended terminal left running.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a terminal (or reattaches one) and returns it with its id, read from the `ready` message.
async fn open(agent: &Agent, query: &str) -> (Ws, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/v1/pty?{query}", agent.addr)).await.unwrap();
    let Some(Ok(Message::Text(text))) = ws.next().await else { panic!("no ready message") };
    let ready: Value = serde_json::from_str(text.as_str()).unwrap();
    assert_eq!(ready["type"], "ready", "{ready}");
    (ws, s(&ready["ptyId"]).to_string())
}

async fn type_in(ws: &mut Ws, keys: &[u8]) {
    ws.send(Message::Binary(keys.to_vec().into())).await.unwrap();
}

/// Reads the terminal's bytes until they hold `needle`; returns all of them.
async fn until(ws: &mut Ws, needle: &[u8]) -> Vec<u8> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Binary(bytes) = message {
                seen.extend_from_slice(&bytes);
                if seen.windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert!(
        found == Ok(true),
        "never saw {:?} in {:?}",
        String::from_utf8_lossy(needle),
        String::from_utf8_lossy(&seen)
    );
    seen
}

#[tokio::test]
async fn a_terminal_runs_an_interactive_shell_with_exact_bytes_both_ways() {
    let agent = Agent::start();
    let (mut ws, _) = open(&agent, "cols=80&rows=24").await;
    type_in(&mut ws, b"echo $((6*7)) $TERM\r").await;
    until(&mut ws, b"42 xterm-256color").await;
    // Bytes that are not UTF-8 come out as they are.
    type_in(&mut ws, b"printf '\\xff\\xfe\\x00end'\r").await;
    until(&mut ws, b"\xff\xfe\x00end").await;
    // A 1 MiB paste reaches the program whole.
    type_in(&mut ws, b"stty -echo; cat > pasted; stty echo\r").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Whole lines (a terminal reads a line at a time), 1 MiB and a little more.
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n";
    let paste = line.repeat((1 << 20) / line.len() + 1);
    type_in(&mut ws, &paste).await;
    type_in(&mut ws, b"\x04").await;
    type_in(&mut ws, b"wc -c < pasted\r").await;
    until(&mut ws, paste.len().to_string().as_bytes()).await;
    assert_eq!(std::fs::read(agent.dir.join("pasted")).unwrap(), paste);
}

#[tokio::test]
async fn resize_ctrl_c_and_exit_behave_as_on_a_real_terminal() {
    let agent = Agent::start();
    let (mut ws, _) = open(&agent, "cols=80&rows=24").await;
    ws.send(Message::Text(r#"{"type":"resize","cols":132,"rows":43}"#.into())).await.unwrap();
    type_in(&mut ws, b"stty size\r").await;
    until(&mut ws, b"43 132").await;
    type_in(&mut ws, b"sleep 30\r").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    type_in(&mut ws, b"\x03").await;
    type_in(&mut ws, b"echo $((2+3))x\r").await;
    until(&mut ws, b"5x").await;
    type_in(&mut ws, b"exit 7\r").await;
    let exit = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Text(text) = message {
                return serde_json::from_str::<Value>(text.as_str()).unwrap();
            }
        }
        panic!("closed without an exit message");
    })
    .await
    .unwrap();
    assert_eq!(exit, json!({"type": "exit", "code": 7}));
}

#[tokio::test]
async fn a_terminal_outlives_its_websocket_and_replays_its_screen_on_reattach() {
    let agent = Agent::start();
    let (mut ws, id) = open(&agent, "").await;
    type_in(&mut ws, b"export KEPT=yes; echo $((11*11))\r").await;
    until(&mut ws, b"121").await;
    drop(ws);
    let mut c = agent.client().await;
    let listed = c.get("/v1/ptys").await.json();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["ptys"][0]["id"], id.as_str());
    let (mut again, same) = open(&agent, &format!("ptyId={id}")).await;
    assert_eq!(same, id);
    // The scrollback first: the earlier output is there again.
    until(&mut again, b"121").await;
    type_in(&mut again, b"echo $KEPT-still\r").await;
    until(&mut again, b"yes-still").await;
    // Two viewers see the same output.
    let (mut second, _) = open(&agent, &format!("ptyId={id}")).await;
    type_in(&mut again, b"echo $((3*3))z\r").await;
    until(&mut again, b"9z").await;
    until(&mut second, b"9z").await;
}

#[tokio::test]
async fn a_terminal_without_viewers_ends_after_the_idle_time_with_its_processes() {
    let agent = Agent::start_with(&["--terminal-idle-ms", "400"]);
    let (mut ws, id) = open(&agent, "").await;
    type_in(&mut ws, b"sleep 60 & printf 'p%sd\\n' $!\r").await;
    let pid = pid_in(&until(&mut ws, b"d\r\n").await);
    assert!(alive(pid));
    drop(ws);
    let mut c = agent.client().await;
    assert!(eventually(Duration::from_secs(5), || !alive(pid)).await, "the terminal's job outlived it");
    let gone = async || c.get("/v1/ptys").await.json()["count"] == 0;
    assert!(eventually_async(Duration::from_secs(5), gone).await, "the ended terminal is still listed");
    let r = c.send_with("GET", &format!("/v1/pty?ptyId={id}"), &ws_headers(), Vec::new()).await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!("PTY_NOT_FOUND")));
}

#[tokio::test]
async fn ending_a_terminal_ends_its_processes_and_bad_requests_are_refused_before_the_upgrade() {
    let agent = Agent::start();
    let (mut ws, id) = open(&agent, "").await;
    type_in(&mut ws, b"(trap '' HUP TERM; sleep 61) & printf 'p%sd\\n' $!\r").await;
    let pid = pid_in(&until(&mut ws, b"d\r\n").await);
    let mut c = agent.client().await;
    assert_eq!(c.delete(&format!("/v1/ptys/{id}")).await.status, 200);
    assert!(eventually(Duration::from_secs(5), || !alive(pid)).await);
    assert_eq!(c.delete(&format!("/v1/ptys/{id}")).await.status, 404);
    for (query, status) in
        [("cols=0", 400), ("rows=5000", 400), ("cols=x", 400), ("ptyId=nope", 404), ("sessionId=nope", 404)]
    {
        let r = c.send_with("GET", &format!("/v1/pty?{query}"), &ws_headers(), Vec::new()).await;
        assert_eq!(r.status, status, "{query}: {}", String::from_utf8_lossy(&r.body));
    }
}

/// A plain GET of the terminal route (no upgrade) is a JSON 400 like every other refusal, not a bare text error.
#[tokio::test]
async fn a_plain_get_of_the_terminal_route_is_a_json_refusal() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.get("/v1/pty").await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], "VALIDATION_FAILED");
    assert!(r.json()["message"].as_str().unwrap().contains("WebSocket"), "{}", r.json());
}

/// A viewer that closes cleanly gets the server's close frame back (a clean close), not a dropped connection.
#[tokio::test]
async fn a_viewer_that_closes_gets_the_servers_close() {
    let agent = Agent::start();
    let (mut ws, _) = open(&agent, "").await;
    ws.send(Message::Close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return Some(frame),
                Some(Ok(_)) => continue,
                // The connection dropped without a close frame (a browser reports 1006).
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the server neither closed nor dropped the connection");
    assert!(answered.is_some(), "the server dropped the connection without its close frame");
}

/// The number printed as `p<digits>d` (a form the typed command's echo does not contain).
fn pid_in(seen: &[u8]) -> i32 {
    let text = String::from_utf8_lossy(seen);
    let end = text.rfind("d\r\n").unwrap();
    let start = text[..end].rfind('p').unwrap() + 1;
    text[start..end].parse().unwrap_or_else(|_| panic!("no pid in {text:?}"))
}

/// The headers of a WebSocket upgrade, for a plain client that only needs the refusal.
fn ws_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]
}

#[tokio::test]
async fn viewers_are_pinged_and_one_that_never_answers_is_let_go() {
    let agent = Agent::start_with(&["--terminal-ping-ms", "100"]);
    let (mut answering, id) = open(&agent, "").await;
    // Never read again, so never a pong: as a browser whose network went away without a close.
    let (silent, _) = open(&agent, &format!("ptyId={id}")).await;
    let mut c = agent.client().await;
    assert_eq!(c.get("/v1/ptys").await.json()["ptys"][0]["attached"], 2);
    // The answering viewer reads (tungstenite answers each ping as it reads).
    let mut pings = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, answering.next()).await {
        pings += usize::from(matches!(message, Message::Ping(_)));
    }
    assert!(pings >= 4, "{pings} pings in 800 ms at one per 100 ms");
    let listed = c.get("/v1/ptys").await.json();
    assert_eq!(listed["ptys"][0]["attached"], 1, "the silent viewer was let go: {listed}");
    type_in(&mut answering, b"echo $((2+3))k\r").await;
    until(&mut answering, b"5k").await;
    drop(silent);
}
