//! Terminals (feature `worker`): a pseudo-terminal in the sandbox running an interactive bash, reached over a
//! WebSocket. `terminal` hands a browser's WebSocket through the caller Worker; `open_terminal` gives the Worker a
//! socket of its own. Binary messages carry the terminal's bytes both ways; text messages carry
//! `protocol::PtyControl` as JSON (`resize` in; `ready` with the id to reattach by, then `exit` with the code, out).

use sandbox_protocol::query::with_query;
use sandbox_protocol::{routes, screen, PtyQuery};
use worker::js_sys::Reflect;
use worker::{web_sys, Request, Response, WebSocket};

use crate::connection::at;
use crate::error::{Error, ErrorCode, Result};
use crate::session::ExecutionSession;
use crate::transport::{Transport, Upgrade};

/// Options of `terminal` and `open_terminal`.
#[derive(Debug, Clone, Default)]
pub struct TerminalOptions {
    /// Columns (80 by default; at most 1000).
    pub cols: Option<u16>,
    /// Rows (24 by default; at most 1000).
    pub rows: Option<u16>,
    /// Reattach this terminal (its recent output is replayed first) instead of opening a new one.
    pub pty_id: Option<String>,
    /// `terminal` only: origins of pages besides the caller's own that may open one (exact matches, such as
    /// `https://console.example.com`). Every other site's page is refused.
    pub allowed_origins: Vec<String>,
}

impl<T: Transport + Upgrade> ExecutionSession<T> {
    /// For a caller Worker: opens a terminal (or reattaches `pty_id`) for the browser's WebSocket `request`, and
    /// returns the response to hand back as it is (the upgrade passes straight through). A session's terminal starts
    /// from its directory and exported variables. Unknown `pty_id`, a bad size: `Error::Api` before any upgrade.
    /// Only the caller's own pages get one (`Origin` naming the request's own host) unless `allowed_origins` names
    /// others: any other site's page is `CROSS_SITE_REFUSED` (403), and in local development so is a page whose host
    /// is not this machine (DNS rebinding: the sandbox Worker checks the host passed on).
    pub async fn terminal(&self, request: &Request, options: TerminalOptions) -> Result<Response> {
        let upgrade = request.headers().get("upgrade").ok().flatten();
        if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
            return Err(Error::Api {
                code: ErrorCode::ValidationFailed,
                status: 400,
                message: "terminal() takes a WebSocket upgrade request".into(),
                retry_after: None,
            });
        }
        let header = |name: &str| request.headers().get(name).ok().flatten();
        let url_host = || {
            let url = request.url().ok()?;
            let host = url.host_str()?;
            Some(url.port().map_or_else(|| host.to_string(), |port| format!("{host}:{port}")))
        };
        let host = header("host").or_else(url_host);
        screen::check_page_origin(header("origin").as_deref(), host.as_deref(), &options.allowed_origins).map_err(
            |message| Error::Api { code: ErrorCode::CrossSiteRefused, status: 403, message, retry_after: None },
        )?;
        self.connection.upgrade(&self.terminal_path(&options), host.as_deref()).await
    }

    /// A WebSocket of the caller Worker's own to a terminal, accepted and ready to use. Its binary messages come
    /// as bytes (`MessageEvent::bytes`), its controls as text.
    pub async fn open_terminal(&self, options: TerminalOptions) -> Result<WebSocket> {
        let response = self.connection.upgrade(&self.terminal_path(&options), None).await?;
        let socket = response
            .websocket()
            .ok_or_else(|| Error::InvalidResponse("the terminal answered 101 without a WebSocket".into()))?;
        socket.accept().map_err(|e| Error::Network(e.to_string()))?;
        // The runtime's default is a Blob per binary message, which `MessageEvent::bytes` cannot read.
        let socket_js: &web_sys::WebSocket = socket.as_ref();
        Reflect::set(socket_js, &"binaryType".into(), &"arraybuffer".into())
            .map_err(|_| Error::InvalidResponse("the terminal's socket took no binaryType".into()))?;
        Ok(socket)
    }

    fn terminal_path(&self, options: &TerminalOptions) -> String {
        let query = PtyQuery {
            cols: options.cols,
            rows: options.rows,
            session_id: self.session_id(),
            pty_id: options.pty_id.clone(),
        };
        with_query(at(routes::PTY), &query)
    }
}
