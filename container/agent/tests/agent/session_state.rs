//! Each session is one persistent shell: its state carries over between commands and stays its own.

use crate::support::*;

async fn new_session(c: &mut Client, body: Value) -> Value {
    let r = c.post("/v1/sessions", body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

#[tokio::test]
async fn cd_export_variables_functions_and_aliases_persist() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(
        None,
        "mkdir -p sub && cd sub && export EXPORTED=1 && plain=2 && f() { echo \"f:$1\"; } && alias hi='echo hi-alias'",
    )
    .await;
    let r = c.run(None, "pwd; echo $EXPORTED $plain; f x; hi").await;
    let pwd = path_str(&agent.dir.join("sub"));
    assert_eq!(r["stdout"], format!("{pwd}\n1 2\nf:x\nhi-alias"));
}

#[tokio::test]
async fn declare_in_a_command_makes_a_global() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "declare -A map=([k]=v); declare -i n=41").await;
    assert_eq!(c.run(None, "n+=1; echo ${map[k]} $n").await["stdout"], "v 42");
}

#[tokio::test]
async fn the_docs_example_session_with_env_and_cwd() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let cwd = path_str(&agent.dir.join("analysis"));
    let session = new_session(
        &mut c,
        json!({"name": "data-analysis", "env": {"API_KEY": "secret-key", "DEBUG": "true"}, "cwd": cwd}),
    )
    .await;
    assert_eq!(session["name"], "data-analysis");
    assert_eq!(session["cwd"], cwd.as_str());
    let id = s(&session["id"]).to_string();
    let r = c.run(Some(&id), "echo $API_KEY").await;
    assert_eq!(r["stdout"], "secret-key");
    assert_eq!(r["sessionId"], id.as_str());
    assert_eq!(c.run(Some(&id), "pwd").await["stdout"], cwd.as_str());
}

#[tokio::test]
async fn sessions_do_not_see_each_others_state_but_share_files() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    new_session(&mut c, json!({"id": "user-1", "env": {"USER_ID": "1"}})).await;
    new_session(&mut c, json!({"id": "user-2", "env": {"USER_ID": "2"}})).await;
    c.run(Some("user-1"), "export TOKEN=abc123; f() { :; }; cd /tmp; echo shared > shared.txt").await;
    c.run(Some("user-2"), "export TOKEN=xyz789").await;
    assert_eq!(c.run(Some("user-1"), "echo $TOKEN $USER_ID").await["stdout"], "abc123 1");
    assert_eq!(c.run(Some("user-2"), "echo $TOKEN $USER_ID").await["stdout"], "xyz789 2");
    let r = c.run(Some("user-2"), "type f >/dev/null 2>&1 || echo no-f; pwd; cat /tmp/shared.txt").await;
    assert_eq!(r["stdout"], format!("no-f\n{}\nshared", path_str(&agent.dir)));
    let _ = std::fs::remove_file("/tmp/shared.txt");
}

#[tokio::test]
async fn heredocs_quoted_and_unquoted_multiline_and_continuations() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "X=1\ncat <<EOF\nvalue $X\nEOF\ncat <<'RAW'\nkeep $X\nRAW\necho a \\\n  b").await;
    assert_eq!(r["stdout"], "value 1\nkeep $X\na b");
    // A heredoc that ends the command without a final newline.
    let r = c.run(None, "cat <<EOF\nlast\nEOF").await;
    assert_eq!(r["stdout"], "last");
}

#[tokio::test]
async fn empty_and_comment_only_commands_succeed() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for command in ["", "   ", "# just a comment", "\n\n"] {
        let r = c.run(None, command).await;
        assert_eq!(r["exitCode"], 0, "{command:?}");
        assert_eq!(r["stdout"], "");
    }
}

#[tokio::test]
async fn a_syntax_error_fails_the_command_not_the_session() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "if then fi (").await;
    assert_eq!(r["exitCode"], 2);
    assert!(s(&r["stderr"]).contains("syntax error"));
    assert_eq!(c.run(None, "echo ok").await["stdout"], "ok");
}

#[tokio::test]
async fn commands_reading_stdin_see_end_of_input_at_once() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "cat; read line; echo \"read=$? [$line]\"; python3 - <&0 || true").await;
    assert_eq!(r["stdout"], "read=1 []");
    assert!(r["duration"].as_u64().unwrap() < 5000);
}

#[tokio::test]
async fn pagers_and_editors_never_wait_for_a_person() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "echo $PAGER $GIT_PAGER $GIT_EDITOR").await;
    assert_eq!(r["stdout"], "cat cat true");
    let r = c
        .run(
            None,
            "git init -q repo && cd repo && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m one && git log --oneline | wc -l",
        )
        .await;
    assert_eq!(r["stdout"], "1", "{}", r["stderr"]);
}

#[tokio::test]
async fn the_user_redefining_prompt_traps_and_options_does_not_break_the_session() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(
        None,
        "PS1='$ '; PROMPT_COMMAND='echo prompt'; trap 'echo int' INT; set +T; set -u; builtin() { echo hijack; }",
    )
    .await;
    let r = c.run(None, "echo works").await;
    assert_eq!(r["stdout"], "works");
    let r = c.exec(json!({"command": "sleep 5", "timeout": 200})).await;
    assert_eq!(r["timedOut"], true);
    c.run(None, "unset -f builtin; set +u").await;
    assert_eq!(c.run(None, "echo still").await["stdout"], "still");
}

#[tokio::test]
async fn the_previous_exit_status_is_not_the_sessions_business() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "false").await["exitCode"], 1);
    assert_eq!(c.run(None, "true").await["exitCode"], 0);
}

#[tokio::test]
async fn a_deleted_cwd_does_not_break_the_session() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "mkdir -p gone && cd gone && rmdir ../gone").await;
    let r = c.run(None, "cd / && pwd").await;
    assert_eq!(r["stdout"], "/");
}

#[tokio::test]
async fn dollar_question_and_a_bare_exit_see_the_users_last_status_not_the_agents() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo $?").await["stdout"], "0", "a fresh session starts at 0");
    c.run(None, "true").await;
    assert_eq!(c.run(None, "echo $?").await["stdout"], "0");
    c.run(None, "(exit 7)").await;
    assert_eq!(c.run(None, "echo $?").await["stdout"], "7");
    // A per-command variable runs the command in a subshell: the same status reaches it.
    c.run(None, "false").await;
    assert_eq!(c.exec(json!({"command": "echo $? $X", "env": {"X": "x"}})).await["stdout"], "1 x");
    // The agent's own commands (setEnvVars) leave the user's status alone.
    c.run(None, "(exit 3)").await;
    assert_eq!(c.post("/v1/env", json!({"envVars": {"Y": "y"}})).await.status, 200);
    assert_eq!(c.run(None, "echo $? $Y").await["stdout"], "3 y");
    c.run(None, "true").await;
    assert_eq!(c.run(None, "exit").await["exitCode"], 0, "a bare exit after true");
    c.run(None, "(exit 5)").await;
    assert_eq!(c.run(None, "exit").await["exitCode"], 5);
}
