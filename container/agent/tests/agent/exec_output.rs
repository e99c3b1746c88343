//! Output is captured byte-exact, stdout and stderr apart, with the text rules of the SDK.

use crate::support::*;
use base64::Engine;

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s(v)).unwrap()
}

#[tokio::test]
async fn echo_gives_the_value_without_its_trailing_newline() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "echo hello").await;
    assert_eq!(r["stdout"], "hello");
    assert_eq!(r["stderr"], "");
    assert_eq!(r["exitCode"], 0);
    assert_eq!(r["success"], true);
    assert_eq!(r["command"], "echo hello");
    assert_eq!(r["sessionId"], "default");
    assert_eq!(r["timedOut"], false);
    assert_eq!(r["ended"], "exited");
    assert!(s(&r["timestamp"]).ends_with('Z'));
    assert!(r["duration"].is_u64());
}

#[tokio::test]
async fn only_one_trailing_newline_is_removed_and_nothing_else() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "printf 'a\\n\\n'").await["stdout"], "a\n");
    assert_eq!(c.run(None, "printf 'no newline'").await["stdout"], "no newline");
    assert_eq!(c.run(None, "printf 'crlf\\r\\n'").await["stdout"], "crlf\r");
    assert_eq!(c.run(None, "printf ''").await["stdout"], "");
    assert_eq!(c.run(None, "printf '  spaced  '").await["stdout"], "  spaced  ");
}

#[tokio::test]
async fn stdout_and_stderr_are_kept_apart() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "echo out; echo err >&2; echo out2; echo err2 1>&2; exit 4").await;
    assert_eq!(r["stdout"], "out\nout2");
    assert_eq!(r["stderr"], "err\nerr2");
    assert_eq!(r["exitCode"], 4);
    assert_eq!(r["success"], false);
}

#[tokio::test]
async fn base64_returns_nul_invalid_utf8_and_the_final_newline_exactly() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.exec(json!({"command": "printf 'a\\0b\\377\\r\\n'; printf 'e\\0' >&2", "encoding": "base64"})).await;
    assert_eq!(r["encoding"], "base64");
    assert_eq!(b64(&r["stdout"]), b"a\0b\xff\r\n");
    assert_eq!(b64(&r["stderr"]), b"e\0");
}

#[tokio::test]
async fn text_keeps_nul_and_replaces_invalid_utf8() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "printf 'a\\0b\\377c\\033[31mred\\033[0m'").await;
    assert_eq!(r["stdout"], "a\0b\u{fffd}c\u{1b}[31mred\u{1b}[0m");
}

#[tokio::test]
async fn a_one_megabyte_line_arrives_whole() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "head -c 1048576 /dev/zero | tr '\\0' x").await;
    let out = s(&r["stdout"]);
    assert_eq!(out.len(), 1 << 20);
    assert!(out.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn output_that_looks_like_the_agents_own_reports_is_just_output() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let forged = "printf 'D\\0001\\0000\\000/\\000\\000'; printf 'X\\0000\\000/\\000\\000' >&2; echo after";
    let r = c.exec(json!({"command": forged, "encoding": "base64"})).await;
    assert_eq!(b64(&r["stdout"]), b"D\x001\x000\x00/\x00\x00after\n");
    assert_eq!(b64(&r["stderr"]), b"X\x000\x00/\x00\x00");
    assert_eq!(c.run(None, "echo still fine").await["stdout"], "still fine");
}

#[tokio::test]
async fn env_shows_no_internal_variables() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "env").await;
    assert!(!s(&r["stdout"]).contains("__sbx"), "{}", r["stdout"]);
}

#[tokio::test]
async fn ten_megabytes_are_captured_completely() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "head -c 10485760 /dev/urandom | base64 -w 0; echo").await;
    assert_eq!(s(&r["stdout"]).len(), 10485760usize.div_ceil(3) * 4);
    assert_eq!(r["truncated"], false);
}

#[tokio::test]
async fn output_beyond_the_cap_is_cut_and_reported() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r =
        c.exec(json!({"command": "head -c 5000 /dev/zero | tr '\\0' a; echo tail >&2", "maxOutputBytes": 1000})).await;
    assert_eq!(s(&r["stdout"]).len(), 1000);
    assert_eq!(r["stderr"], "tail");
    assert_eq!(r["truncated"], true);
    assert_eq!(r["exitCode"], 0);
}

#[tokio::test]
async fn a_huge_output_keeps_the_agents_memory_bounded() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let rss = |pid: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let r = c
        .exec(json!({"command": "head -c 200000000 /dev/zero", "maxOutputBytes": 1000000, "encoding": "base64"}))
        .await;
    assert_eq!(r["truncated"], true);
    assert_eq!(b64(&r["stdout"]).len(), 1000000);
    let kib = rss(agent.pid());
    assert!(kib < 100 * 1024, "agent RSS {kib} KiB after 200 MB of output");
}

#[tokio::test]
async fn a_missing_binary_exits_127_with_the_shells_message() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "no-such-binary-xyz").await;
    assert_eq!(r["exitCode"], 127);
    assert!(s(&r["stderr"]).contains("no-such-binary-xyz: command not found"), "{}", r["stderr"]);
}
