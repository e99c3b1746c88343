//! Ending the shell from inside (`exit`, `set -e`, `exec`, `kill -9 $$`) returns that command's exit code, and the
//! next command runs in a new shell with the directory and exported variables the session had.

use crate::support::*;

async fn setup(c: &mut Client) {
    c.run(None, "mkdir -p d && cd d && export KEEP=me").await;
}

async fn assert_recovered(c: &mut Client, agent: &Agent) {
    let r = c.run(None, "pwd; echo $KEEP").await;
    assert_eq!(r["stdout"], format!("{}\nme", path_str(&agent.dir.join("d"))));
    assert_eq!(r["exitCode"], 0);
}

#[tokio::test]
async fn exit_with_a_code() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    setup(&mut c).await;
    let r = c.run(None, "echo bye; exit 3").await;
    assert_eq!(r["exitCode"], 3);
    assert_eq!(r["stdout"], "bye");
    assert_recovered(&mut c, &agent).await;
}

#[tokio::test]
async fn exit_keeps_changes_made_just_before_it() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    setup(&mut c).await;
    let r = c.run(None, "export LATE=1; cd /tmp; exit").await;
    assert_eq!(r["exitCode"], 0);
    assert_eq!(c.run(None, "pwd; echo $LATE $KEEP").await["stdout"], "/tmp\n1 me");
}

#[tokio::test]
async fn set_e_then_false() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    setup(&mut c).await;
    let r = c.run(None, "set -e; false; echo never").await;
    assert_eq!(r["exitCode"], 1);
    assert_eq!(r["stdout"], "");
    assert_recovered(&mut c, &agent).await;
    // The new shell does not inherit `set -e`.
    assert_eq!(c.run(None, "false; echo survived").await["stdout"], "survived");
}

#[tokio::test]
async fn exec_of_another_program() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    setup(&mut c).await;
    let r = c.run(None, "exec sh -c 'echo from-sh; exit 7'").await;
    assert_eq!(r["exitCode"], 7);
    assert_eq!(r["stdout"], "from-sh");
    assert_recovered(&mut c, &agent).await;
    let r = c.run(None, "exec bash").await;
    assert_eq!(r["exitCode"], 0);
    assert_recovered(&mut c, &agent).await;
}

#[tokio::test]
async fn kill_9_of_the_shell_itself() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    setup(&mut c).await;
    let r = c.run(None, "echo before; kill -9 $$").await;
    assert_eq!(r["exitCode"], 137);
    assert_eq!(r["stdout"], "before");
    assert_recovered(&mut c, &agent).await;
}

#[tokio::test]
async fn a_user_exit_trap_and_set_u() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    setup(&mut c).await;
    let r = c.run(None, "trap 'echo my-trap' EXIT; set -u; echo $UNSET_VARIABLE").await;
    assert_ne!(r["exitCode"], 0);
    assert!(s(&r["stderr"]).contains("UNSET_VARIABLE"));
    assert_recovered(&mut c, &agent).await;
}

#[tokio::test]
async fn the_shell_killed_from_outside_between_commands() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    setup(&mut c).await;
    let pid: i32 = s(&c.run(None, "echo $$").await["stdout"]).parse().unwrap();
    signal(pid, 9);
    assert!(eventually(std::time::Duration::from_secs(2), || !alive(pid)).await);
    assert_recovered(&mut c, &agent).await;
}
