//! Exposed ports and their preview URLs: the object's own records (a token made once per port and kept), and a
//! browser's request for a port, checked against its token and passed to the app.

use sandbox_protocol::secret::same_secret;
use sandbox_protocol::{
    ErrorCode, ExposePortRequest, ExposedPort, ExposedPortList, UnexposePortResult, PREVIEW_ORIGIN_HEADER,
};
use worker::{Request, Response};

use super::port_registry::{self, PortRecord};
use super::request::{small_body, storage_failed};
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;
use crate::log::Log;
use crate::preview;

impl SandboxObject {
    /// Exposes a port: its preview URL's token is made once and kept (exposing it again keeps the URL).
    pub(super) async fn expose_port(&self, req: Request, id: &str) -> std::result::Result<Response, WorkerError> {
        let origin = preview_origin(&req)?;
        let text = small_body(req, "exposePort").await?;
        let asked: ExposePortRequest = serde_json::from_str(&text)
            .map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, format!("exposePort: {e}")))?;
        preview::check_exposable(asked.port, id)?;
        if let Some(hostname) = &asked.hostname {
            preview::check_hostname(hostname, &origin)?;
        }
        if asked.name.as_ref().is_some_and(|n| n.len() > 256 || n.contains('\0')) {
            return Err(WorkerError::new(ErrorCode::ValidationFailed, "name must be at most 256 bytes, without NUL"));
        }
        let storage = self.state.storage();
        let kept = port_registry::get(&storage, asked.port).await.map_err(storage_failed)?;
        let record = PortRecord {
            name: asked.name,
            token: match kept {
                Some(kept) => kept.token,
                None => new_token()?,
            },
            exposed_at: worker::js_sys::Date::new_0().to_iso_string().as_string().unwrap_or_default(),
        };
        port_registry::put(&storage, asked.port, &record).await.map_err(storage_failed)?;
        Log::new(id, None).info("port.exposed", format!("port {} exposed", asked.port));
        Ok(Response::from_json(&exposed(asked.port, record, &origin, id))?)
    }

    pub(super) async fn list_ports(&self, req: &Request, id: &str) -> std::result::Result<Response, WorkerError> {
        let origin = preview_origin(req)?;
        let ports = port_registry::all(&self.state.storage()).await.map_err(storage_failed)?;
        let ports: Vec<ExposedPort> = ports.into_iter().map(|(port, r)| exposed(port, r, &origin, id)).collect();
        Ok(Response::from_json(&ExposedPortList { success: true, count: ports.len(), ports })?)
    }

    pub(super) async fn unexpose_port(&self, port: u16) -> std::result::Result<Response, WorkerError> {
        if !port_registry::remove(&self.state.storage(), port).await.map_err(storage_failed)? {
            return Err(WorkerError::new(ErrorCode::PortNotExposed, format!("port {port} is not exposed")));
        }
        Ok(Response::from_json(&UnexposePortResult { success: true, port })?)
    }

    /// A browser's request for an exposed port (`<port>.<token>` from the Worker): checked against the stored
    /// token in constant time, and passed to the port as it came, unbuffered both ways (WebSocket upgrades too),
    /// counted in flight until its answer's body has passed.
    /// Anything that does not match is the same bare 404.
    pub(super) async fn preview(
        &self,
        req: Request,
        preview: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let not_found = || Response::error("Not found", 404).map_err(WorkerError::from);
        let Some((port, token)) = preview.split_once('.') else { return not_found() };
        let Ok(port) = port.parse::<u16>() else { return not_found() };
        let stored = port_registry::get(&self.state.storage(), port).await.map_err(storage_failed)?;
        if !stored.is_some_and(|record| same_secret(token.as_bytes(), record.token.as_bytes())) {
            return not_found();
        }
        if !link.running() {
            return Response::error("The sandbox is not running", 503).map_err(WorkerError::from);
        }
        // In flight like any call, until its answer's body has passed (a download from the app keeps it awake).
        let call = self.in_flight.begin();
        self.keep_awake(&link.log).await;
        let response = link.send_to_port(req, port).await?;
        Ok(super::in_flight::hold_until_done(response, call)?)
    }
}

/// The preview URLs' origin the Worker gave (`*` for the label); refused when the Worker serves none.
fn preview_origin(req: &Request) -> std::result::Result<String, WorkerError> {
    req.headers().get(PREVIEW_ORIGIN_HEADER)?.ok_or_else(|| {
        WorkerError::new(
            ErrorCode::ValidationFailed,
            "this Worker serves no preview URLs: set SANDBOX_PREVIEW_HOST to the domain whose subdomains route to it",
        )
    })
}

fn exposed(port: u16, record: PortRecord, origin: &str, id: &str) -> ExposedPort {
    let url = origin.replacen('*', &preview::label(port, id, &record.token), 1) + "/";
    ExposedPort { port, name: record.name, url, exposed_at: record.exposed_at }
}

fn new_token() -> std::result::Result<String, WorkerError> {
    let mut random = [0u8; preview::TOKEN_LEN];
    getrandom::fill(&mut random).map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
    Ok(preview::token_from(&random))
}
