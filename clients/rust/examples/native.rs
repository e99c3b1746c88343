//! A native Rust program using sandbox-rs by URL: the createSession docs example, a streamed command stopped by
//! its id, a background process waited for, followed and killed, and a file streamed both ways, printed as JSON. `cargo run -p sandbox-client --features native --example native -- URL [TOKEN]`.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use sandbox_client::protocol::ProcessEventType;
use sandbox_client::{
    get_sandbox, CreateBackupRequest, Encoding, ExecOptions, GitCheckoutRequest, ListFilesOptions, NativeUrl,
    NetworkPolicy, ProcessOptions, SecretOptions, SessionOptions, WaitForLogOptions, WatchOptions,
};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "http://127.0.0.1:8787".into());
    let mut sandbox = get_sandbox(NativeUrl::new(&url)?, "native-example");
    if let Some(token) = args.next() {
        sandbox = sandbox.with_token(&token);
    }

    // Create a session with custom environment
    let env = BTreeMap::from([
        ("API_KEY".to_string(), Some("secret-key".to_string())),
        ("DEBUG".to_string(), Some("true".to_string())),
    ]);
    let session = sandbox
        .create_session(SessionOptions {
            name: Some("data-analysis".into()),
            env: Some(env),
            cwd: Some("/workspace/analysis".into()),
            ..Default::default()
        })
        .await?;
    let result = session.exec("echo $API_KEY", ExecOptions::default()).await?;
    let files = session.list_files(".", ListFilesOptions::default()).await?;

    // A streamed command, stopped by its id once it has started.
    let options = ExecOptions { command_id: Some("native-sleeper".into()), ..Default::default() };
    let mut events = sandbox.exec_stream("echo started; sleep 30", options).await?;
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        let event = event?;
        if event.data.is_some() {
            sandbox.cancel("native-sleeper").await?;
        }
        seen.push(json!({ "type": event.kind, "data": event.data, "exitCode": event.exit_code }));
    }

    // A streamed command dropped after its first output: the command stops (the next command of the session
    // runs at once, and the sleeper never writes its file).
    let mut dropped =
        sandbox.exec_stream("echo up; sleep 30; touch /tmp/native-finished", ExecOptions::default()).await?;
    while let Some(event) = dropped.next().await {
        if event?.data.is_some() {
            break;
        }
    }
    drop(dropped);
    let after_drop =
        sandbox.exec("test -e /tmp/native-finished && echo finished || echo stopped", ExecOptions::default()).await?;

    // A background process: started from the session, waited for inside the sandbox, its log followed, killed.
    let options = ProcessOptions { process_id: Some("ticker".into()), ..Default::default() };
    let ticker =
        session.start_process("echo \"ready $API_KEY\"; while :; do echo tick; sleep 0.1; done", options).await?;
    let ready = sandbox
        .wait_for_log(&ticker.id, "ready", WaitForLogOptions { timeout: Some(10_000), ..Default::default() })
        .await?;
    let mut log = sandbox.follow_process_logs(&ticker.id, 0, None).await?;
    let mut lines = String::new();
    while let Some(event) = log.next().await {
        let event = event?;
        if event.event_type == ProcessEventType::Stdout {
            lines.push_str(event.data.as_deref().unwrap_or(""));
        }
        if lines.matches("tick").count() >= 2 {
            break;
        }
    }
    let killed = sandbox.kill_process(&ticker.id, Some("SIGINT")).await?;
    let gone = sandbox.get_process("no-such-process").await?.is_none();
    let process = json!({
        "ready": ready.line, "lines": lines, "status": killed.status, "signal": killed.signal, "gone": gone,
    });

    // A port exposed at a preview URL, listed and unexposed.
    let exposed = sandbox.expose_port(8123, Some("web")).await?;
    let listed = sandbox.get_exposed_ports().await?.len();
    sandbox.unexpose_port(8123).await?;
    let ports = json!({ "url": exposed.url, "name": exposed.name, "listed": listed, "after": sandbox.get_exposed_ports().await?.len() });

    // A backup of the workspace, a change, the backup restored over it, then forgotten.
    sandbox.write_file("/workspace/saved.txt", "saved", None).await?;
    let backup =
        sandbox.create_backup(CreateBackupRequest { name: Some("native".into()), ..Default::default() }).await?;
    sandbox.write_file("/workspace/saved.txt", "changed", None).await?;
    let restored = sandbox.restore_backup(&backup.id, None).await?;
    let content = sandbox.read_file("/workspace/saved.txt", None).await?.content;
    let listed = sandbox.list_backups().await?.len();
    sandbox.delete_backup(&backup.id).await?;
    let gone = sandbox.restore_backup(&backup.id, None).await.err().and_then(|e| e.code().map(|c| c.as_str()));
    // A fork starts as this sandbox's workspace, then goes its own way.
    let fork_id = "native-example-fork";
    let fork = sandbox.fork(fork_id, None).await?;
    let forked = fork.read_file("/workspace/saved.txt", None).await?.content;
    fork.write_file("/workspace/saved.txt", "fork's", None).await?;
    let origin = sandbox.read_file("/workspace/saved.txt", None).await?.content;
    fork.destroy().await?;
    let backups = json!({
        "name": backup.name, "files": restored.files >= 1, "content": content, "listed": listed, "gone": gone,
        "fork": [fork.id(), &forked, &origin],
    });

    // A file larger than any JSON body streamed up in chunks and down again, and a range of it; a stream that fails
    // half way leaves the file as it was.
    let chunks = (0..40u8).map(|i| Ok(vec![i; 1 << 20]));
    let up = sandbox.write_file_stream("/workspace/big.bin", Box::pin(futures_util::stream::iter(chunks))).await?;
    let mut down = sandbox.read_file_stream("/workspace/big.bin", None, None).await?;
    let (mut size, mut sum) = (0u64, 0u64);
    while let Some(chunk) = down.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        sum += chunk.iter().map(|b| u64::from(*b)).sum::<u64>();
    }
    let failing = vec![Ok(vec![7u8; 1 << 20]), Err(sandbox_client::Error::Network("the source failed".into()))];
    let cut = sandbox.write_file_stream("/workspace/big.bin", Box::pin(futures_util::stream::iter(failing))).await;
    let tail =
        sandbox.read_file_range("/workspace/big.bin", Some((40 << 20) - 3), None, Some(Encoding::Base64)).await?;
    let streams = json!({ "written": up.size, "read": size, "sum": sum, "cut": cut.is_err(), "tail": tail.content });

    // A repository made in the sandbox, checked out on its branch.
    let made = "mkdir -p /workspace/repo && cd /workspace/repo && git init -q && git checkout -qb trunk && \
                echo r > r.txt && git add . && git -c user.name=t -c user.email=t@t commit -qm r && cd /workspace";
    sandbox.exec(made, ExecOptions::default()).await?;
    let target = Some("/workspace/repo-clone".to_string());
    let checkout =
        sandbox.git_checkout("/workspace/repo", GitCheckoutRequest { target_dir: target, ..Default::default() });
    let checkout = checkout.await?;
    let git = json!({ "branch": checkout.branch, "target": checkout.target_dir });

    // A directory watched: a file made in it is seen; dropping the stream ends the watch in the sandbox.
    sandbox.mkdir("/workspace/watched", true).await?;
    let mut watch = sandbox.watch("/workspace/watched", WatchOptions::default()).await?;
    let ready = watch.next().await.transpose()?.map(|e| e.kind);
    sandbox.exec("echo x > /workspace/watched/new.txt", ExecOptions::default()).await?;
    let created = watch.next().await.transpose()?.map(|e| (e.kind, e.path));
    drop(watch);
    // The same asked now and then: a cursor first, then what changed since it (asked until it is there).
    let first = sandbox.check_changes("/workspace/watched", None, WatchOptions::default()).await?;
    sandbox.exec("echo y > /workspace/watched/later.txt", ExecOptions::default()).await?;
    let mut since = Vec::new();
    for _ in 0..200 {
        let later = sandbox.check_changes("/workspace/watched", Some(&first.cursor), WatchOptions::default()).await?;
        since = later.changes.iter().map(|e| e.path.clone()).collect();
        if !since.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let watched = json!({ "ready": ready, "created": created, "since": since.first() });

    // Its own sleep: kept alive, then an idle time of its own, then the Worker's again.
    let kept = sandbox.set_keep_alive(true).await?.keep_alive;
    let own = sandbox.set_sleep_after(Some(std::time::Duration::from_secs(90))).await?;
    let default = sandbox.set_sleep_after(None).await?;
    let refused = sandbox
        .set_sleep_after(Some(std::time::Duration::from_secs(8 * 24 * 3600)))
        .await
        .err()
        .and_then(|e| e.code().map(|c| c.as_str()));
    let sleep = json!({
        "kept": kept, "own": [own.keep_alive, own.sleep_after_ms, own.sleep_after_default],
        "default": default.sleep_after_default, "refused": refused,
    });

    // Its network: an allow-list (refused where it cannot be enforced), then the open internet again.
    let listed = match sandbox.set_allowed_hosts(&["api.example.com"]).await {
        Ok(state) => {
            json!({ "allow": state.policy.allow, "internet": state.policy.internet, "enforced": state.enforced })
        }
        Err(e) => json!({ "refused": e.code().map(|c| c.as_str()) }),
    };
    let open = sandbox.set_network_policy(&NetworkPolicy::default()).await?;
    let hosts = vec!["api.example.com".to_string()];
    let secret = match sandbox.set_secret("TOUR_TOKEN", "v", SecretOptions { hosts, ..Default::default() }).await {
        Ok(made) => {
            let left = sandbox.delete_secret("TOUR_TOKEN").await?.len();
            json!({ "placeholder": made.placeholder.starts_with("sandbox-secret-tour-token-"), "left": left })
        }
        Err(e) => json!({ "refused": e.code().map(|c| c.as_str()) }),
    };
    let network = json!({ "listed": listed, "open": open.policy.internet, "secret": secret });

    let missing = sandbox
        .get_session("no-such-session")
        .await
        .err()
        .map(|e| json!({ "code": e.code().map(|c| c.as_str()), "status": e.status() }));
    sandbox.destroy().await?;
    println!(
        "{}",
        json!({
            "stdout": result.stdout, "path": files.path, "events": seen, "missing": missing, "process": process,
            "ports": ports, "afterDrop": after_drop.stdout, "backups": backups, "sleep": sleep, "streams": streams,
            "git": git, "watched": watched, "network": network,
        })
    );
    Ok(())
}
