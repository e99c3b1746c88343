//! Re-addressing a request to the next hop without reading its body: same method, headers and body stream.

use sandbox_protocol::SANDBOX_ID_HEADER;
use worker::{Request, RequestInit, Result};

/// The Durable Object is reached at this made-up origin; only the path matters to it.
const OBJECT_ORIGIN: &str = "https://sandbox.internal";

/// `req` for the sandbox's object: the agent path, and the sandbox id in `X-Sandbox-Id`.
pub fn to_object(req: Request, sandbox_id: &str, agent_path: &str) -> Result<Request> {
    readdress(&req, &format!("{OBJECT_ORIGIN}{agent_path}"), sandbox_id)
}

/// `req` sent to `url` instead, carrying `sandbox_id`.
pub fn readdress(req: &Request, url: &str, sandbox_id: &str) -> Result<Request> {
    let headers = req.headers().clone();
    headers.set(SANDBOX_ID_HEADER, sandbox_id)?;
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    Request::new_with_init(url, &init)
}
