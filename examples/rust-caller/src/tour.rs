//! Every method of the Rust client once, through the service binding, with what each returned: commands (with
//! per-command options, streamed, cancelled), variables, files, sessions, terminals, errors, and the sandbox itself.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use sandbox_client::{
    get_sandbox, CommandState, Encoding, ExecEventType, ExecOptions, ListFilesOptions, SessionOptions, TerminalOptions,
};
use serde_json::{json, Value};
use worker::Env;

use crate::Failure;

pub async fn run(env: &Env) -> Result<Value, Failure> {
    let sandbox = get_sandbox(env.service("SANDBOX")?, "rust-tour");
    sandbox.destroy().await?;

    // Commands.
    let plain = sandbox.exec("printf 'a\\nb\\n'; echo err >&2; exit 3", ExecOptions::default()).await?;
    sandbox.mkdir("/workspace/sub", false).await?;
    let scoped = sandbox
        .exec(
            "echo \"$X\"; basename \"$PWD\"",
            ExecOptions {
                env: Some(BTreeMap::from([("X".into(), Some("it's $literal".into()))])),
                cwd: Some("/workspace/sub".into()),
                ..Default::default()
            },
        )
        .await?;
    let timed = sandbox.exec("sleep 5", ExecOptions { timeout: Some(200), ..Default::default() }).await?;
    let bytes = sandbox
        .exec("printf '\\0\\377'", ExecOptions { encoding: Some(Encoding::Base64), ..Default::default() })
        .await?;

    // A streamed command: its events, in order.
    let mut events = sandbox.exec_stream("echo one; echo two >&2", ExecOptions::default()).await?;
    let mut kinds = Vec::new();
    let mut exit_code = None;
    while let Some(event) = events.next().await {
        let event = event?;
        if event.kind == ExecEventType::Complete {
            exit_code = event.exit_code;
        }
        kinds.push(event.kind);
    }

    // A streamed command cancelled by its id once it has started.
    let options = ExecOptions { command_id: Some("tour-sleeper".into()), ..Default::default() };
    let mut sleeper = sandbox.exec_stream("sleep 30", options).await?;
    let first = sleeper.next().await.transpose()?.map(|e| e.kind);
    let cancel = sandbox.cancel("tour-sleeper").await?;
    let mut cancelled_exit = None;
    while let Some(event) = sleeper.next().await {
        cancelled_exit = event?.exit_code.or(cancelled_exit);
    }

    // A streamed command dropped after its first output: the command stops (the session's next command runs at
    // once and finds no file of it).
    let mut dropped = sandbox.exec_stream("echo up; sleep 30; touch /tmp/finished", ExecOptions::default()).await?;
    while let Some(event) = dropped.next().await {
        if event?.data.is_some() {
            break;
        }
    }
    drop(dropped);
    let after_drop =
        sandbox.exec("test -e /tmp/finished && echo finished || echo stopped", ExecOptions::default()).await?;

    // An exec given up while it waits its turn (here: once the sandbox lists it as queued): dropping its future
    // cancels it, and it never runs.
    let mut holder = sandbox.exec_stream("echo held; sleep 1", ExecOptions::default()).await?;
    holder.next().await.transpose()?;
    let given_up = sandbox.exec("touch /tmp/given-up", ExecOptions::default());
    let queued = async {
        loop {
            let listed = sandbox.list_commands().await?;
            if listed.iter().any(|c| c.state == CommandState::Queued) {
                return Ok::<_, Failure>(listed);
            }
            worker::Delay::from(std::time::Duration::from_millis(50)).await;
        }
    };
    let listed = match futures_util::future::select(std::pin::pin!(given_up), std::pin::pin!(queued)).await {
        futures_util::future::Either::Left((answered, _)) => {
            return Err(Failure::Worker(worker::Error::RustError(format!(
                "the queued exec was answered: {answered:?}"
            ))))
        }
        futures_util::future::Either::Right((listed, _)) => listed?,
    };
    while holder.next().await.transpose()?.is_some() {}
    let after_give_up = sandbox.exec("test -e /tmp/given-up && echo ran || echo never", ExecOptions::default()).await?;
    let listed_states: Vec<CommandState> = listed.iter().map(|c| c.state).collect();

    // Variables and sessions.
    let session = sandbox
        .create_session(SessionOptions {
            id: Some("tour".into()),
            cwd: Some("/workspace/t".into()),
            ..Default::default()
        })
        .await?;
    session.set_env_vars(BTreeMap::from([("TOUR".into(), Some("on".into()))])).await?;
    let in_session = session.exec("echo $TOUR", ExecOptions::default()).await?;
    let in_default = sandbox.exec("echo ${TOUR-unset}", ExecOptions::default()).await?;
    let again = sandbox.get_session("tour").await?;
    let info = again.info().await?;
    let history = again.history().await?;
    let listed = sandbox.list_sessions().await?;
    let duplicate =
        sandbox.create_session(SessionOptions { id: Some("tour".into()), ..Default::default() }).await.err();
    sandbox.delete_session("tour").await?;
    let after_delete = session.exec("true", ExecOptions::default()).await.err();

    // Files.
    sandbox.write_file("/workspace/d/a.txt", "hello", None).await?;
    let read = sandbox.read_file("/workspace/d/a.txt", None).await?;
    let binary: Vec<u8> = (0..=255).collect();
    sandbox.write_file_bytes("/tmp/all.bytes", &binary).await?;
    let binary_back = sandbox.read_file_bytes("/tmp/all.bytes").await?;
    let binary_size = sandbox.exec("stat -c %s /tmp/all.bytes", ExecOptions::default()).await?;
    let renamed = sandbox.rename_file("/workspace/d/a.txt", "/workspace/d/b.txt").await?;
    sandbox.mkdir("/workspace/x/y", true).await?;
    sandbox.move_file("/workspace/d/b.txt", "/workspace/x/y").await?;
    let exists = sandbox.exists("/workspace/x/y/b.txt").await?;
    let listing = sandbox.list_files("/workspace", ListFilesOptions { recursive: true, include_hidden: false }).await?;
    sandbox.delete_file("/workspace/x/y/b.txt").await?;
    let missing = sandbox.read_file("/workspace/x/y/b.txt", None).await.err();

    // A file streamed up in chunks through the binding, and part of it back as a stream.
    let chunks = (0..3u8).map(|i| Ok(vec![i; 1 << 20]));
    let up = sandbox.write_file_stream("/tmp/streamed.bin", Box::pin(futures_util::stream::iter(chunks))).await?;
    let mut down = sandbox.read_file_stream("/tmp/streamed.bin", Some(1 << 20), None).await?;
    let (mut streamed_read, mut streamed_sum) = (0u64, 0u64);
    while let Some(chunk) = down.next().await {
        let chunk = chunk?;
        streamed_read += chunk.len() as u64;
        streamed_sum += chunk.iter().map(|b| u64::from(*b)).sum::<u64>();
    }

    // Terminals: one of the Worker's own, listed, ended.
    let socket = sandbox.open_terminal(TerminalOptions::default()).await?;
    let terminals = sandbox.list_terminals().await?;
    let pty_id = terminals.first().map(|t| t.id.clone()).unwrap_or_default();
    let killed = sandbox.kill_terminal(&pty_id).await?;
    let killed_again = sandbox.kill_terminal(&pty_id).await.err();
    let left = sandbox.list_terminals().await?.len();
    socket.close(Some(1000), Some("done"))?;

    // The sandbox itself, and an invalid one.
    let status = sandbox.status().await?;
    let invalid = get_sandbox(env.service("SANDBOX")?, "Not_Valid").exec("true", ExecOptions::default()).await.err();
    let destroyed = sandbox.destroy().await?;

    let err = |e: Option<sandbox_client::Error>| {
        e.map(|e| json!({ "code": e.code().map(|c| c.as_str()), "status": e.status() }))
    };
    let mut paths: Vec<String> = listing.files.iter().map(|f| f.relative_path.clone()).collect();
    paths.sort();
    Ok(json!({
        "plain": plain,
        "scoped": scoped.stdout,
        "timedOut": [timed.timed_out, timed.exit_code],
        "ended": timed.ended(),
        "bytes": bytes.stdout,
        "streamed": { "kinds": kinds, "exitCode": exit_code },
        "cancelled": { "first": first, "cancelled": cancel.cancelled, "exitCode": cancelled_exit },
        "afterDrop": after_drop.stdout,
        "givenUp": { "listed": listed_states, "after": after_give_up.stdout },
        "binary": { "same": binary_back == binary, "size": binary_size.stdout },
        "streamedFile": { "written": up.size, "read": streamed_read, "sum": streamed_sum },
        "env": [in_session.stdout, in_default.stdout],
        "session": { "id": again.id(), "cwd": info.cwd, "historyTotal": history.total, "listed": listed.sessions.iter().any(|s| s.id == "tour") },
        "duplicate": err(duplicate),
        "afterDelete": err(after_delete),
        "files": { "read": read.content, "renamed": renamed.new_path, "exists": exists.exists, "paths": paths },
        "missing": err(missing),
        "status": status,
        "invalid": err(invalid),
        "destroyed": destroyed.success,
        "terminals": {
            "listed": terminals.len(),
            "attached": terminals.first().map(|t| t.attached),
            "killed": killed.success && killed.id == pty_id,
            "again": err(killed_again),
            "left": left,
        },
    }))
}
