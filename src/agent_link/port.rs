//! A preview's request, passed to a port of the sandbox's app.

use sandbox_protocol::{routes, AGENT_TOKEN_HEADER, SANDBOX_ID_HEADER};
use worker::{Fetch, Headers, Request, RequestInit, RequestRedirect, Response};

use super::{AgentLink, To};
use crate::errors::WorkerError;

impl AgentLink {
    /// A preview request passed to `port` in the sandbox as it came: method, headers (ours taken out: the app gets
    /// what a browser sends to its own host),
    /// body stream, and no redirect followed. The app sees `Host: localhost:<port>` in a container
    /// (`127.0.0.1:<port>` in local mode) and the browser's host in `X-Forwarded-Host`. A local sandbox's network
    /// is its own: its port is reached through the host agent (`routes::PORT_HTTP`), with the agent's token.
    pub async fn send_to_port(&self, req: Request, port: u16) -> Result<Response, WorkerError> {
        let url = req.url()?;
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        let target = match &self.to {
            To::Local { base, .. } => format!("{base}{}{query}", routes::port_http(port, url.path())),
            To::Container { .. } => format!("http://localhost:{port}{}{query}", url.path()),
        };
        let headers = Headers::new();
        for (name, value) in req.headers().entries() {
            if !crate::preview::ours(&name) {
                headers.set(&name, &value)?;
            }
        }
        if let To::Local { token, .. } = &self.to {
            headers.set(SANDBOX_ID_HEADER, &self.sandbox_id)?;
            if let Some(token) = token {
                headers.set(AGENT_TOKEN_HEADER, token)?;
            }
        }
        let mut init = RequestInit::new();
        init.with_method(req.method()).with_headers(headers).with_redirect(RequestRedirect::Manual);
        if let Some(body) = req.inner().body() {
            init.with_body(Some(body.into()));
        }
        let forwarded = Request::new_with_init(&target, &init)?;
        let sent = match &self.to {
            To::Local { .. } => Fetch::Request(forwarded).send().await,
            To::Container { container, .. } => container.get_tcp_port(port)?.fetch_request(forwarded).await,
        };
        match sent {
            Ok(response) => Ok(crate::reply::for_preview(response)?),
            Err(err) => {
                self.log.warn("preview.unanswered", format!("port {port} did not answer: {err}"));
                Ok(Response::error(format!("Nothing in the sandbox answers on port {port}"), 502)?)
            }
        }
    }
}
