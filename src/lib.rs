//! The sandbox Worker: the public API in front of one Durable Object per sandbox.
//!
//! `/v1/sandboxes/{id}/...` is checked here (route, sandbox id, bearer token) and handed to the sandbox's Durable
//! Object, which forwards it to the agent in its container. Nothing here buffers a body.

mod access;
mod agent_link;
mod errors;
mod forward;
mod route;
mod sandbox_object;
mod session_registry;
mod sleep_after;

use worker::{event, Context, Env, Request, Response, Result};

pub use sandbox_object::Sandbox;

use access::check_bearer;
use errors::WorkerError;
use route::Route;

/// Binding of the Durable Object namespace.
const SANDBOX_BINDING: &str = "SANDBOX";
/// Secret that, when set, every request must present as `Authorization: Bearer <token>`.
const TOKEN_SECRET: &str = "SANDBOX_API_TOKEN";
/// Set only by the end-to-end tests: enables `GET /v1/_test/panic`, which panics, to prove that a panic still
/// reaches the caller as JSON (`src/entry.mjs`).
const TEST_HOOKS_VAR: &str = "SANDBOX_TEST_HOOKS";

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match handle(req, env).await {
        Ok(response) => Ok(response),
        Err(err) => err.into_response(),
    }
}

async fn handle(req: Request, env: Env) -> std::result::Result<Response, WorkerError> {
    if req.path() == "/v1/_test/panic" && env.var(TEST_HOOKS_VAR).is_ok_and(|v| v.to_string() == "1") {
        panic!("a panic requested by the test hook");
    }
    let route = route::parse(req.method().as_ref(), &req.path())?;
    let token = env.secret(TOKEN_SECRET).ok().map(|s| s.to_string()).or_else(|| env.var(TOKEN_SECRET).ok().map(|v| v.to_string()));
    check_bearer(token.as_deref(), req.headers().get("authorization").ok().flatten().as_deref())?;
    match route {
        Route::Health => Ok(Response::from_json(&serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))?),
        Route::Sandbox { id, agent_path } => {
            let stub = env.durable_object(SANDBOX_BINDING)?.get_by_name(&id)?;
            let forwarded = forward::to_object(req, &id, &agent_path)?;
            Ok(stub.fetch_with_request(forwarded).await?)
        }
    }
}
