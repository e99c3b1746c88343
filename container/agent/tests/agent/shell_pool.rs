//! The shell pool: a new session takes a shell started ahead of need and is given its own variables and directory;
//! a shell is never shared, a pooled shell killed meanwhile is passed over, and a destroy leaves nothing of the
//! pool's shells from before it.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::*;

/// The shells of the agent other than the default session's, seen from inside the sandbox: bash processes whose
/// parent is the agent, other than the shell this runs in. With no other session, the pool's.
const POOLED: &str = r#"for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = "$$" ] && continue
read -r c < "$d/comm" 2>/dev/null || continue; [ "$c" = bash ] || continue
read -r st < "$d/stat" 2>/dev/null || continue; set -- ${st##*) }; [ "$2" = "$PPID" ] && echo "$p"; done; true"#;

async fn pooled(c: &mut http::Client) -> HashSet<String> {
    let listed = c.run(None, POOLED).await;
    s(&listed["stdout"]).lines().map(str::to_string).collect()
}

#[tokio::test]
async fn sessions_take_ready_shells_with_their_own_variables_and_directory_never_shared() {
    let agent = Agent::start_with(&["--shell-pool", "2"]);
    let mut c = agent.client().await;
    let mut pids = HashSet::new();
    for i in 0..5 {
        let r = c
            .post(
                "/v1/sessions",
                json!({"id": format!("p{i}"), "env": {"N": i.to_string()}, "cwd": format!("/workspace/d{i}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let out = c
            .run(Some(&format!("p{i}")), r#"echo "$N ${PWD##*/} $PAGER ${LEFT:-clean}"; echo $$; export LEFT=p"#)
            .await;
        let lines: Vec<&str> = s(&out["stdout"]).lines().collect();
        assert_eq!(lines[0], format!("{i} d{i} cat clean"));
        assert!(pids.insert(lines[1].to_string()), "a shell served two sessions: {out}");
    }
    // The pool refills: with the sessions gone, two shells wait again.
    for i in 0..5 {
        assert_eq!(c.delete(&format!("/v1/sessions/p{i}")).await.status, 200);
    }
    let mut c2 = agent.client().await;
    assert!(eventually_async(Duration::from_secs(10), async || pooled(&mut c2).await.len() == 2).await);
}

#[tokio::test]
async fn a_pooled_shell_killed_meanwhile_is_passed_over() {
    let agent = Agent::start_with(&["--shell-pool", "2"]);
    let mut c = agent.client().await;
    assert!(eventually_async(Duration::from_secs(10), async || pooled(&mut c).await.len() == 2).await);
    // Code in the sandbox kills every shell it can see but its own.
    let killed = c.run(None, &format!("for p in $({POOLED}); do kill -9 $p; done; echo ok")).await;
    assert_eq!(killed["stdout"], "ok");
    for i in 0..3 {
        let r = c.post("/v1/sessions", json!({"id": format!("k{i}"), "env": {"K": "yes"}})).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(c.run(Some(&format!("k{i}")), "echo $K").await["stdout"], "yes");
    }
}

#[tokio::test]
async fn without_a_pool_sessions_start_their_own_shells() {
    let agent = Agent::start_with(&["--shell-pool", "0"]);
    let mut c = agent.client().await;
    let r = c.post("/v1/sessions", json!({"id": "own", "env": {"O": "1"}, "cwd": "/workspace/own"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(c.run(Some("own"), "echo $O ${PWD##*/}").await["stdout"], "1 own");
    assert_eq!(c.delete("/v1/sessions/own").await.status, 200);
    // Time in which a pool would have started its shells: none waits (once the deleted session's is gone).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(eventually_async(Duration::from_secs(5), async || pooled(&mut c).await.is_empty()).await, "no shell waits");
}

#[tokio::test]
async fn a_destroy_ends_the_pools_shells_and_starts_new_ones() {
    let agent = Agent::start_with(&["--shell-pool", "2"]);
    let mut c = agent.client().await;
    assert!(eventually_async(Duration::from_secs(10), async || pooled(&mut c).await.len() == 2).await);
    let before = pooled(&mut c).await;
    assert_eq!(c.delete("/v1/sandbox").await.status, 200);
    let mut after = HashSet::new();
    let refilled = eventually_async(Duration::from_secs(10), async || {
        after = pooled(&mut c).await;
        after.len() == 2
    })
    .await;
    assert!(refilled, "the pool refills after a destroy: {after:?}");
    assert!(before.is_disjoint(&after), "a shell from before the destroy is still waiting: {before:?} {after:?}");
    let alive = c
        .run(
            None,
            &format!(
                "for p in {}; do kill -0 $p 2>/dev/null && echo $p; done; true",
                before.iter().cloned().collect::<Vec<_>>().join(" ")
            ),
        )
        .await;
    assert_eq!(alive["stdout"], "", "shells of the old pool still run");
}
