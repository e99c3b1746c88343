//! The sandbox Worker: the public API in front of one Durable Object per sandbox.
//!
//! `/v1/sandboxes/{id}/...` is checked here (route, sandbox id, bearer token) and handed to the sandbox's Durable
//! Object, which forwards it to the agent in its container. Nothing here buffers a body.

mod access;
mod agent_link;
mod body_limit;
mod body_pass;
mod config;
mod cors;
mod drain;
mod errors;
mod forward;
mod ids;
mod log;
mod object;
mod preview;
mod reply;
mod route;
mod save_every;
mod sleep_after;
mod test_hooks;

use sandbox_protocol::ids::valid_request_id;
use sandbox_protocol::{PAGE_HOST_HEADER, PREVIEW_HEADER, PREVIEW_ORIGIN_HEADER, REQUEST_ID_HEADER};
use worker::{event, Context, Env, Request, Response, Result};

pub use object::SandboxObject;

use access::{check_bearer, check_browser, BrowserCheck};
use config::{Config, SANDBOX_BINDING};
use errors::WorkerError;
use route::Route;

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // A preview URL's request is a browser's for the app in the sandbox: its token is in its host name, and it
    // goes to the app as it came (no bearer token, no API rules).
    let config = Config::read(&env);
    if let Some(preview) = preview_of(&req, &config) {
        return preview_call(req, &env, preview).await;
    }
    // A page of an allowed origin: its preflight is answered before the token is asked for (a browser sends none
    // with it), and its answers say it may read them.
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let page = cors::allowed(header("origin").as_deref(), &config.allowed_origins).map(str::to_string);
    if let Some(origin) = &page {
        if cors::is_preflight(req.method().as_ref(), header("access-control-request-method").as_deref()) {
            let mut response = Response::empty()?.with_status(204);
            for (name, value) in cors::preflight_headers(origin) {
                response.headers_mut().set(name, &value)?;
            }
            return Ok(response);
        }
    }
    let request_id = request_id(&req);
    let response = match handle(req, env, &config, &request_id).await {
        Ok(response) => response,
        Err(err) => {
            let mut response = err.for_request(Some(request_id.clone())).into_response()?;
            response.headers_mut().set(REQUEST_ID_HEADER, &request_id)?;
            response
        }
    };
    match page {
        Some(origin) => reply::for_allowed_origin(response, &origin),
        None => Ok(response),
    }
}

/// The call's id: the caller's `X-Request-Id` when it is a plain id, else a new one.
fn request_id(req: &Request) -> String {
    let given = req.headers().get(REQUEST_ID_HEADER).ok().flatten();
    given.filter(|id| valid_request_id(id)).or_else(|| ids::random_id("req")).unwrap_or_else(|| "req-unknown".into())
}

async fn handle(
    req: Request,
    env: Env,
    config: &Config,
    request_id: &str,
) -> std::result::Result<Response, WorkerError> {
    // The token first, for every path and method: nothing of the route table shows without it.
    let header = |name: &str| req.headers().get(name).ok().flatten();
    check_bearer(config.api_token.as_deref(), header("authorization").as_deref())?;
    let method = req.method();
    let (origin, fetch_site, content_type, host) =
        (header("origin"), header("sec-fetch-site"), header("content-type"), header("host"));
    check_browser(&BrowserCheck {
        method: method.as_ref(),
        origin: origin.as_deref(),
        fetch_site: fetch_site.as_deref(),
        content_type: content_type.as_deref(),
        host: host.as_deref(),
        page_host: header(PAGE_HOST_HEADER).as_deref(),
        allowed_origins: &config.allowed_origins,
        local: config.local,
        allowed_hosts: &config.allowed_hosts,
    })?;
    if let Some(answer) = test_hooks::answer(&req, config).await {
        return answer;
    }
    let route = route::parse(method.as_ref(), &req.path())?;
    match route {
        Route::Health => {
            Ok(Response::from_json(&serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))?)
        }
        Route::Sandbox { id, agent_path } => {
            if let Err(err) = body_limit::check(method.as_ref(), &agent_path, header("content-length").as_deref()) {
                drain::request(req, 0).await;
                return Err(err);
            }
            let stub = env.durable_object(SANDBOX_BINDING)?.get_by_name(&id)?;
            let target = match req.url()?.query() {
                Some(query) => format!("{agent_path}?{query}"),
                None => agent_path,
            };
            let origin = preview_origin(&req, config);
            let forwarded = forward::to_object(req, &id, &target, request_id)?;
            if let Some(origin) = origin {
                forwarded.headers().set(PREVIEW_ORIGIN_HEADER, &origin)?;
            }
            Ok(stub.fetch_with_request(forwarded).await?)
        }
    }
}

/// The preview a request's host names, if it is one.
fn preview_of(req: &Request, config: &Config) -> Option<preview::Preview> {
    let host = req.headers().get("host").ok().flatten()?;
    preview::parse_host(&host, &config.preview_domain()?.0)
}

/// Preview URLs' origin as a caller of this request would open them: `https` (`http` on localhost), `*` for the
/// label, the domain, and the port (the configured one, or locally the one this call came to).
fn preview_origin(req: &Request, config: &Config) -> Option<String> {
    let (domain, port) = config.preview_domain()?;
    let local = domain == "localhost";
    let port = port.or_else(|| if local { req.url().ok()?.port() } else { None });
    let scheme = if local { "http" } else { "https" };
    Some(format!("{scheme}://*.{domain}{}", port.map(|p| format!(":{p}")).unwrap_or_default()))
}

/// Hands a preview request to its sandbox's object, which checks the token and passes it to the port.
async fn preview_call(req: Request, env: &Env, preview: preview::Preview) -> Result<Response> {
    let url = req.url()?;
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    let headers = worker::Headers::new();
    for (name, value) in req.headers().entries() {
        headers.set(&name, &value)?;
    }
    if let Some(host) = req.headers().get("host")? {
        headers.set("x-forwarded-host", &host)?;
    }
    headers.set("x-forwarded-proto", url.scheme())?;
    headers.set(PREVIEW_HEADER, &format!("{}.{}", preview.port, preview.token))?;
    headers.set(sandbox_protocol::SANDBOX_ID_HEADER, &preview.sandbox_id)?;
    let mut init = worker::RequestInit::new();
    init.with_method(req.method()).with_headers(headers).with_redirect(worker::RequestRedirect::Manual);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    let forwarded = Request::new_with_init(&format!("https://sandbox.internal{}{query}", url.path()), &init)?;
    let stub = env.durable_object(SANDBOX_BINDING)?.get_by_name(&preview.sandbox_id)?;
    stub.fetch_with_request(forwarded).await
}
