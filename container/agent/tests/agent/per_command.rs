//! Per-command `env` and `cwd` apply to that command only, with values taken literally.

use crate::support::*;

#[tokio::test]
async fn env_values_are_literal_and_last_one_command() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "export SESSION_VAR=session").await;
    let tricky = "quote' double\" dollar$HOME back`tick` newline\nend \\ é";
    let r = c
        .exec(json!({"command": "printf '%s|%s' \"$TRICKY\" \"$SESSION_VAR\"", "env": {"TRICKY": tricky, "SESSION_VAR": "override"}}))
        .await;
    assert_eq!(r["stdout"], format!("{tricky}|override"));
    let r = c.run(None, "printf '%s|%s' \"${TRICKY-unset}\" \"$SESSION_VAR\"").await;
    assert_eq!(r["stdout"], "unset|session");
}

#[tokio::test]
async fn a_null_env_value_unsets_for_the_command() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "export GONE=here").await;
    let r = c.exec(json!({"command": "echo ${GONE-unset}", "env": {"GONE": null}})).await;
    assert_eq!(r["stdout"], "unset");
    assert_eq!(c.run(None, "echo $GONE").await["stdout"], "here");
}

#[tokio::test]
async fn cwd_applies_to_one_command_and_changes_inside_do_not_leak() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "mkdir -p a/b").await;
    let r = c.exec(json!({"command": "pwd; cd b; export INNER=1", "cwd": "a"})).await;
    assert_eq!(r["stdout"], path_str(&agent.dir.join("a")));
    let r = c.run(None, "pwd; echo ${INNER-none}").await;
    assert_eq!(r["stdout"], format!("{}\nnone", path_str(&agent.dir)));
}

/// A per-command `cwd` that is missing is made, as a session's is (they agree); one that cannot be a directory is
/// refused before anything runs, in words of the caller's path, never the shell's internal `/proc/.../fd` text.
#[tokio::test]
async fn a_missing_cwd_is_made_and_one_that_cannot_be_is_refused_before_running() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.exec(json!({"command": "pwd", "cwd": "made/here"})).await;
    assert_eq!((r["exitCode"].as_i64(), r["stderr"].as_str()), (Some(0), Some("")), "{r}");
    assert_eq!(r["stdout"], path_str(&agent.dir.join("made/here")));
    c.run(None, "echo x > plain-file").await;
    let r = c.post("/v1/exec", json!({"command": "echo never", "cwd": "plain-file/sub"})).await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("plain-file/sub") && !message.contains("/proc/"), "{message}");
    assert_eq!(c.run(None, "echo fine").await["stdout"], "fine");
}

#[tokio::test]
async fn exit_inside_a_scoped_command_ends_only_that_command() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "export KEEP=1").await;
    let r = c.exec(json!({"command": "exit 5", "env": {"X": "1"}})).await;
    assert_eq!(r["exitCode"], 5);
    assert_eq!(c.run(None, "echo $KEEP").await["stdout"], "1");
}

#[tokio::test]
async fn invalid_env_names_and_values_are_refused() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for env in
        [json!({"1BAD": "x"}), json!({"A-B": "x"}), json!({"": "x"}), json!({"A B": "x"}), json!({"OK": "nul\u{0}"})]
    {
        let r = c.post("/v1/exec", json!({"command": "true", "env": env})).await;
        assert_eq!(r.status, 400, "{env}");
        assert_eq!(r.json()["code"], "VALIDATION_FAILED");
    }
    let r = c.post("/v1/exec", json!({"command": "true", "env": {"A": 5}})).await;
    assert_eq!(r.status, 400);
}
