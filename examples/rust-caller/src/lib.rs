//! A Worker that uses sandbox-rs from Rust the way the Sandbox SDK's docs use `@cloudflare/sandbox` from
//! JavaScript: the createSession page's examples, one per route, each answering with what the docs print.
//! `POST /examples/{name}` runs one, `GET /` lists them. `POST /tour` goes through every method of the client
//! once and answers with what each returned.

use std::collections::BTreeMap;

use sandbox_client::protocol::ProcessStatus;
use sandbox_client::{
    get_sandbox, Error, ExecOptions, ListFilesOptions, ProcessOptions, SessionOptions, TerminalOptions,
    WaitForLogOptions, WaitForPortOptions,
};
use serde_json::{json, Value};
use worker::{event, Context, Env, Method, Request, Response, Result};

mod terminal;
mod tour;

/// The examples' sandbox: their own, apart from the JavaScript caller's `my-sandbox` (both can run beside each other).
const SANDBOX_ID: &str = "my-rust-sandbox";

const EXAMPLES: [&str; 6] =
    ["custom-environment", "isolated-sessions", "session-cleanup", "default-session", "dev-server", "terminal-command"];

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    let path = req.path();
    if req.method() == Method::Get && path == "/" {
        return Response::from_json(&json!({ "examples": EXAMPLES }));
    }
    if req.method() == Method::Get && path == "/terminal" {
        return terminal(&req, &env).await;
    }
    if req.method() == Method::Post && path == "/tour" {
        return answer(tour::run(&env).await);
    }
    if req.method() == Method::Post && path == "/readme" {
        return readme(&env).await;
    }
    let name = path.strip_prefix("/examples/").filter(|n| EXAMPLES.contains(n));
    let (Method::Post, Some(name)) = (req.method(), name) else {
        return Ok(Response::from_json(
            &json!({ "code": "NOT_FOUND", "message": "POST /examples/{name}; GET / lists them" }),
        )?
        .with_status(404));
    };
    let outcome = match name {
        "custom-environment" => custom_environment(&env).await,
        "isolated-sessions" => isolated_sessions(&env).await,
        "session-cleanup" => session_cleanup(&env).await,
        "dev-server" => dev_server(&env).await,
        "terminal-command" => terminal::command(&env).await,
        _ => default_session(&env).await,
    };
    answer(outcome)
}

/// The README's Rust snippet as it is written there, in a handler that returns `worker::Result`: `?` on the
/// client's calls gives the handler's error (the client's `From<Error> for worker::Error`, feature `worker`).
async fn readme(env: &Env) -> Result<Response> {
    let sandbox = get_sandbox(env.service("SANDBOX")?, "my-sandbox");
    let session = sandbox
        .create_session(SessionOptions { cwd: Some("/workspace/analysis".into()), ..Default::default() })
        .await?;
    let result = session.exec("echo $API_KEY", ExecOptions::default()).await?;
    let files = session.list_files(".", ListFilesOptions::default()).await?;
    sandbox.delete_session(session.id()).await?;
    Response::from_json(&json!({ "exitCode": result.exit_code, "files": files.count }))
}

/// A terminal on the sandbox for a browser's WebSocket: the upgrade passes straight through (`?cols=&rows=&ptyId=`).
/// The client opens it only for a page of this Worker's own host (another site's page gets 403
/// `CROSS_SITE_REFUSED`, and so does a rebound host name in local development); a real application also checks
/// who the visitor is here.
async fn terminal(req: &Request, env: &Env) -> Result<Response> {
    let url = req.url()?;
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let size = |name: &str| param(name).and_then(|v| v.parse().ok());
    let options =
        TerminalOptions { cols: size("cols"), rows: size("rows"), pty_id: param("ptyId"), ..Default::default() };
    match get_sandbox(env.service("SANDBOX")?, SANDBOX_ID).terminal(req, options).await {
        Ok(response) => Ok(response),
        Err(e) => Ok(Response::from_json(&json!({ "code": e.code().map(|c| c.as_str()), "message": e.to_string() }))?
            .with_status(if e.status() == 0 { 500 } else { e.status() })),
    }
}

fn answer(outcome: std::result::Result<Value, Failure>) -> Result<Response> {
    match outcome {
        Ok(value) => Response::from_json(&value),
        Err(Failure::Sandbox(e)) => Ok(Response::from_json(
            &json!({ "code": e.code().map(|c| c.as_str()), "message": e.to_string(), "status": e.status() }),
        )?
        .with_status(500)),
        Err(Failure::Worker(e)) => Err(e),
    }
}

pub(crate) enum Failure {
    Sandbox(Error),
    Worker(worker::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Sandbox(e)
    }
}

impl From<worker::Error> for Failure {
    fn from(e: worker::Error) -> Self {
        Failure::Worker(e)
    }
}

fn env_of(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Option<String>>> {
    Some(pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect())
}

/// "Create a session with custom environment"
async fn custom_environment(env: &Env) -> std::result::Result<Value, Failure> {
    let sandbox = get_sandbox(env.service("SANDBOX")?, SANDBOX_ID);

    // Create a session with custom environment
    let session = sandbox
        .create_session(SessionOptions {
            name: Some("data-analysis".into()),
            env: env_of(&[("API_KEY", "secret-key"), ("DEBUG", "true")]),
            cwd: Some("/workspace/analysis".into()),
            ..Default::default()
        })
        .await?;

    // Use the session - all operations use session context
    let result = session.exec("echo $API_KEY", ExecOptions::default()).await?;
    worker::console_log!("{}", result.stdout); // "secret-key"

    let files = session.list_files(".", ListFilesOptions::default()).await?;
    worker::console_log!("{:?}", files); // Lists /workspace/analysis

    Ok(json!({ "stdout": result.stdout, "files": files }))
}

/// "Example: Multiple Isolated Sessions"
async fn isolated_sessions(env: &Env) -> std::result::Result<Value, Failure> {
    let sandbox = get_sandbox(env.service("SANDBOX")?, SANDBOX_ID);

    // Create sessions for different users
    let user1_session = sandbox
        .create_session(SessionOptions {
            id: Some("user-1".into()),
            env: env_of(&[("USER_ID", "1")]),
            cwd: Some("/workspace/user1".into()),
            ..Default::default()
        })
        .await?;
    let user2_session = sandbox
        .create_session(SessionOptions {
            id: Some("user-2".into()),
            env: env_of(&[("USER_ID", "2")]),
            cwd: Some("/workspace/user2".into()),
            ..Default::default()
        })
        .await?;

    // Each session has isolated state
    user1_session.exec("export TOKEN=abc123", ExecOptions::default()).await?;
    user2_session.exec("export TOKEN=xyz789", ExecOptions::default()).await?;

    let result1 = user1_session.exec("echo $TOKEN", ExecOptions::default()).await?;
    worker::console_log!("{}", result1.stdout); // "abc123"

    let result2 = user2_session.exec("echo $TOKEN", ExecOptions::default()).await?;
    worker::console_log!("{}", result2.stdout); // "xyz789"

    // What the sandbox holds now; then the sessions go, so that this example can run again.
    let sessions: Vec<Value> = sandbox
        .list_sessions()
        .await?
        .sessions
        .into_iter()
        .filter(|s| s.id.starts_with("user-"))
        .map(|s| json!([s.id, s.cwd]))
        .collect();
    sandbox.delete_session(user1_session.id()).await?;
    sandbox.delete_session(user2_session.id()).await?;

    Ok(json!({ "result1": result1.stdout, "result2": result2.stdout, "sessions": sessions }))
}

/// "Example: Session with Cleanup"
async fn session_cleanup(env: &Env) -> std::result::Result<Value, Failure> {
    let sandbox = get_sandbox(env.service("SANDBOX")?, SANDBOX_ID);

    let session = sandbox
        .create_session(SessionOptions {
            name: Some("temp-work".into()),
            cwd: Some("/tmp/session".into()),
            ..Default::default()
        })
        .await?;

    // Do work in session (Rust has no `finally`: the cleanup runs whatever the work returned)
    let work = async {
        let installed = session.exec("npm install", ExecOptions::default()).await?;
        let tested = session.exec("npm test", ExecOptions::default()).await?;
        Ok::<_, Error>((installed, tested))
    }
    .await;
    // Cleanup
    sandbox.delete_session(session.id()).await?;
    let (installed, tested) = work?;

    let after = match session.exec("echo still here", ExecOptions::default()).await {
        Ok(result) => json!({ "stdout": result.stdout }),
        Err(e) => json!({ "code": e.code().map(|c| c.as_str()), "status": e.status() }),
    };
    Ok(json!({
        "sessionId": session.id(),
        "after": after,
        "npm": [installed.exit_code, tested.exit_code],
        "tested": tested.stdout,
    }))
}

/// "The sandbox automatically creates a default session for non-session methods"
async fn default_session(env: &Env) -> std::result::Result<Value, Failure> {
    let sandbox = get_sandbox(env.service("SANDBOX")?, SANDBOX_ID);

    sandbox.exec("export FROM_DEFAULT=yes; cd /workspace", ExecOptions::default()).await?;
    let session = sandbox
        .create_session(SessionOptions { env: env_of(&[("FROM_SESSION", "yes")]), ..Default::default() })
        .await?;
    let in_default = sandbox.exec("echo \"$FROM_DEFAULT ${FROM_SESSION:-unset}\"", ExecOptions::default()).await?;
    let in_session = session.exec("echo \"${FROM_DEFAULT:-unset} $FROM_SESSION\"", ExecOptions::default()).await?;
    sandbox.write_file("/workspace/shared.txt", "one filesystem", None).await?;
    let read = session.read_file("/workspace/shared.txt", None).await?;
    sandbox.delete_session(session.id()).await?;

    Ok(json!({
        "inDefault": in_default.stdout,
        "inDefaultSession": in_default.session_id,
        "inSession": in_session.stdout,
        "shared": read.content,
    }))
}

/// A dev server: started in the background unless it runs already (this example can run again), waited for inside
/// the sandbox, opened at its preview URL.
async fn dev_server(env: &Env) -> std::result::Result<Value, Failure> {
    let sandbox = get_sandbox(env.service("SANDBOX")?, SANDBOX_ID);

    sandbox.write_file("/workspace/site/index.html", "<h1>Hello from the sandbox</h1>", None).await?;
    let running = sandbox.get_process("dev-server").await?.filter(|p| p.status == ProcessStatus::Running);
    let server = match running {
        Some(server) => server,
        None => {
            let options = ProcessOptions { process_id: Some("dev-server".into()), ..Default::default() };
            let command = "python3 -u -m http.server 0 --bind 127.0.0.1 --directory /workspace/site";
            sandbox.start_process(command, options).await?
        }
    };
    // It picks a free port and says which.
    let ready =
        sandbox.wait_for_log(&server.id, r"port \d+", WaitForLogOptions { regex: true, ..Default::default() }).await?;
    let line = ready.line.unwrap_or_default();
    let port: u16 = line
        .split("port ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| Failure::from(worker::Error::RustError(format!("no port in {line:?}"))))?;
    let http = WaitForPortOptions { path: Some("/".into()), ..Default::default() };
    sandbox.wait_for_port(&server.id, port, http).await?;
    let exposed = sandbox.expose_port(port, Some("site")).await?;
    let status = sandbox.get_process(&server.id).await?.map(|p| p.status);

    Ok(json!({ "url": exposed.url, "port": port, "status": status }))
}
