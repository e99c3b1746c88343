//! `POST /v1/env` (`setEnvVars`): variables exported into a session for its later commands, like an `export`
//! typed there, and nothing else.

use crate::support::*;

#[tokio::test]
async fn variables_reach_later_commands_literally_and_null_unsets() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "export OLD=here").await;
    let tricky = "quote' double\" dollar$HOME back`tick` newline\nend";
    let r = c.post("/v1/env", json!({"envVars": {"TRICKY": tricky, "OLD": null}})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["sessionId"], "default");
    let r = c.run(None, "printf '%s|%s' \"$TRICKY\" \"${OLD-unset}\"").await;
    assert_eq!(r["stdout"], format!("{tricky}|unset"));
    // Exported: child processes see it too.
    assert_eq!(c.run(None, "bash -c 'printf %s \"$TRICKY\"'").await["stdout"], tricky);
}

#[tokio::test]
async fn variables_stay_in_their_session_and_out_of_its_history() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "a"})).await;
    c.post("/v1/sessions", json!({"id": "b"})).await;
    let r = c.post("/v1/env", json!({"envVars": {"API_KEY": "secret"}, "sessionId": "a"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(c.run(Some("a"), "echo $API_KEY").await["stdout"], "secret");
    assert_eq!(c.run(Some("b"), "echo ${API_KEY-none}").await["stdout"], "none");
    let history = c.get("/v1/sessions/a/history").await.json();
    assert_eq!(history["total"], 1, "{history}");
    assert_eq!(history["entries"][0]["command"], "echo $API_KEY");
}

#[tokio::test]
async fn variables_survive_the_shell_being_replaced() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/env", json!({"envVars": {"KEPT": "yes"}})).await;
    c.run(None, "exit 3").await;
    assert_eq!(c.run(None, "echo $KEPT").await["stdout"], "yes");
}

#[tokio::test]
async fn bad_names_unknown_sessions_and_readonly_variables_are_refused() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/env", json!({"envVars": {"1BAD": "x"}})).await;
    assert_eq!((r.status, s(&r.json()["code"]).to_string()), (400, "VALIDATION_FAILED".into()));
    let r = c.post("/v1/env", json!({"envVars": {"A": "x"}, "sessionId": "nope"})).await;
    assert_eq!((r.status, s(&r.json()["code"]).to_string()), (404, "SESSION_NOT_FOUND".into()));
    let r = c.post("/v1/env", json!({"envVars": "A=x"})).await;
    assert_eq!(r.status, 400);
    c.run(None, "readonly LOCKED=1").await;
    let r = c.post("/v1/env", json!({"envVars": {"LOCKED": "2"}})).await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert!(s(&r.json()["message"]).contains("LOCKED"), "{}", r.json());
    assert_eq!(c.run(None, "echo $LOCKED").await["stdout"], "1");
}
