//! Re-addressing a request to the next hop without reading its body: same method and body stream, and only the
//! headers the agent needs. Nothing else a caller sent travels on: above all not its `Authorization`, which code in
//! a sandbox could read off the wire and use against every other sandbox.

use sandbox_protocol::{REQUEST_ID_HEADER, SANDBOX_ID_HEADER};
use worker::{Headers, Request, RequestInit, Result};

/// The Durable Object is reached at this made-up origin; only the path matters to it.
const OBJECT_ORIGIN: &str = "https://sandbox.internal";

/// `req` for the sandbox's object: the agent path, the sandbox id in `X-Sandbox-Id` and the call's id in
/// `X-Request-Id`.
pub fn to_object(req: Request, sandbox_id: &str, agent_path: &str, request_id: &str) -> Result<Request> {
    let forwarded = readdress(&req, &format!("{OBJECT_ORIGIN}{agent_path}"), sandbox_id)?;
    forwarded.headers().set(REQUEST_ID_HEADER, request_id)?;
    Ok(forwarded)
}

/// The request headers that travel to the object and the agent; every other header stays behind. (The Worker
/// sets `X-Request-Id` itself: a caller's travels on only when it is a plain id.)
pub const FORWARDED_HEADERS: [&str; 5] =
    ["content-type", "content-length", "accept", "last-event-id", REQUEST_ID_HEADER];

/// `req` sent to `url` instead, carrying `sandbox_id` and the `FORWARDED_HEADERS` it has.
pub fn readdress(req: &Request, url: &str, sandbox_id: &str) -> Result<Request> {
    let headers = Headers::new();
    for name in FORWARDED_HEADERS {
        if let Some(value) = req.headers().get(name)? {
            headers.set(name, &value)?;
        }
    }
    headers.set(SANDBOX_ID_HEADER, sandbox_id)?;
    // A WebSocket upgrade (a terminal) travels on as one: workerd makes the handshake with the next hop.
    if is_websocket_upgrade(req) {
        headers.set("upgrade", "websocket")?;
    }
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    Request::new_with_init(url, &init)
}

/// Whether `req` asks to become a WebSocket.
pub fn is_websocket_upgrade(req: &Request) -> bool {
    req.headers().get("upgrade").ok().flatten().is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// A `POST` of a JSON body to the sandbox's object path `path` (for requests the object makes itself).
pub fn json_post(path: &str, body: &str) -> Result<Request> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(worker::Method::Post).with_headers(headers).with_body(Some(body.into()));
    Request::new_with_init(&format!("{OBJECT_ORIGIN}{path}"), &init)
}

/// A `PUT` of the object's own with a JSON body.
pub fn json_put(path: &str, body: &str) -> Result<Request> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(worker::Method::Put).with_headers(headers).with_body(Some(body.into()));
    Request::new_with_init(&format!("{OBJECT_ORIGIN}{path}"), &init)
}

/// A `GET` of the object's own that asks for JSON.
pub fn json_get(path: &str) -> Result<Request> {
    let headers = Headers::new();
    headers.set("accept", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(worker::Method::Get).with_headers(headers);
    Request::new_with_init(&format!("{OBJECT_ORIGIN}{path}"), &init)
}

/// Whether a request's body is small enough to keep a copy of for a retry (bodiless requests are).
pub fn retryable(req: &Request) -> bool {
    const LIMIT: u64 = 1024 * 1024;
    match req.headers().get("content-length").ok().flatten() {
        Some(length) => length.parse::<u64>().is_ok_and(|n| n <= LIMIT),
        None => req.inner().body().is_none(),
    }
}
