//! The sandbox's Durable Object (`SandboxObject`, deployed as the class `Sandbox`: `src/entry.mjs`): one per
//! sandbox id. It owns the sandbox's agent link (its container, or the
//! local agent), starts the container on first use, stops it after `SANDBOX_SLEEP_AFTER` without calls (never
//! while one is in flight), and forwards every call to the agent.
//!
//! It remembers the sessions created through it (`session_registry`). Every call carries the boot id of the agent
//! whose sessions are in place (`X-Agent-Boot-Expected`); a restarted agent refuses it with `AGENT_RESTARTED`
//! before doing anything, the object creates the sessions again with their options and variables, and sends the
//! call once more. So every call after a restart, the first included, finds its sessions.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use sandbox_protocol::{
    DestroyResult, ErrorCode, ExposePortRequest, ExposedPort, ExposedPortList, SandboxMode, SandboxStatus,
    SessionOptions, SetEnvVarsRequest, UnexposePortResult, DEFAULT_SESSION_ID, PREVIEW_HEADER, PREVIEW_ORIGIN_HEADER,
    REQUEST_ID_HEADER, SANDBOX_ID_HEADER, SESSIONS_RECREATED_HEADER,
};
use serde::{Deserialize, Serialize};
use worker::{durable_object, Date, DurableObject, Env, Method, Request, Response, Result, State};

use crate::agent_link::{boot_of, AgentLink, Sent};
use crate::container_life::ContainerLife;
use crate::drain;
use crate::errors::WorkerError;
use crate::forward::{json_post, retryable};
use crate::in_flight::{hold_until_done, InFlight};
use crate::log::Log;
use crate::object_call::{classify, ObjectCall};
use crate::object_state::{Adoption, ObjectState};
use crate::port_registry::{self, PortRecord};
use crate::preview;
use crate::session_registry;
use crate::sleep_after::{self, OnAlarm};
use sandbox_protocol::routes::{ENV as ENV_PATH, SANDBOX as SANDBOX_PATH, SESSIONS as SESSIONS_PATH};
use sandbox_protocol::secret::same_secret;

/// Largest `createSession` or `setEnvVars` body the object reads (options are small).
const SESSION_BODY_LIMIT: usize = 1024 * 1024;
/// Storage key of the last container stop, for the status route.
const LAST_STOP_KEY: &str = "last-stop";

#[durable_object]
pub struct SandboxObject {
    state: State,
    env: Env,
    /// What the object knows between calls (the agent's health, its boot id, the last call), and its decisions.
    /// Borrowed briefly, never across an await.
    known: RefCell<ObjectState>,
    in_flight: InFlight,
    /// What is known of the container between calls: its watch, its latest start, a failed start's back-off.
    life: Rc<ContainerLife>,
    /// The sandbox's id, from its calls (for the log lines of the alarm, which has no call).
    sandbox_id: RefCell<String>,
}

/// Why and when the container was last stopped (shown by the status route).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LastStop {
    at: String,
    reason: String,
}

impl DurableObject for SandboxObject {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            known: RefCell::new(ObjectState::default()),
            in_flight: InFlight::default(),
            life: Rc::new(ContainerLife::default()),
            sandbox_id: RefCell::new(String::new()),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let request_id = req.headers().get(REQUEST_ID_HEADER).ok().flatten();
        match self.handle(req).await {
            Ok(response) => Ok(response),
            Err(err) => err.for_request(request_id).into_response(),
        }
    }

    /// Nobody called for `SANDBOX_SLEEP_AFTER`: stop the container (locally, the sandbox's jail: its folder stays),
    /// unless a call is still in flight (a long exec or stream) or a terminal has a viewer attached. The decision
    /// is logged (`sandbox.stop`) and shown by the status route (`stoppedAt`, `stopReason`). The next call starts a
    /// new one.
    async fn alarm(&self) -> Result<Response> {
        let idle_ms = self.known.borrow().idle_ms(self.in_flight.last_end(), Date::now().as_millis() as f64);
        match sleep_after::on_alarm(self.in_flight.count(), idle_ms, self.sleep_after()) {
            OnAlarm::Later { ms, in_flight } => {
                if in_flight > 0 {
                    self.alarm_log().info("idle.deferred", format!("{in_flight} call(s) still in flight"));
                }
                self.state.storage().set_alarm(ms).await?;
                Response::ok("in use")
            }
            OnAlarm::Stop => {
                let log = self.alarm_log();
                if let Ok(link) = AgentLink::new(&self.state, &self.env, &self.life, log.clone()) {
                    let id = self.sandbox_id.borrow().clone();
                    // A container that runs (deployed), or a local sandbox's jail (the host agent's to stop).
                    let container = link.container().filter(|c| c.running());
                    let local = link.mode() == SandboxMode::Local && !id.is_empty();
                    if container.is_some() || local {
                        // Someone watching a terminal is using the sandbox, though no call reaches this object.
                        let watched = link.watched_terminals(&id).await;
                        if watched > 0 {
                            log.info("idle.deferred", format!("{watched} terminal(s) with a viewer attached"));
                            self.state.storage().set_alarm(self.sleep_after().as_millis() as i64).await?;
                            return Response::ok("in use");
                        }
                        let reason = format!("idle for {} s (SANDBOX_SLEEP_AFTER)", self.sleep_after().as_secs());
                        let what = if local { "the sandbox's jail" } else { "the container" };
                        log.info("sandbox.stop", format!("stopping {what}: {reason}"));
                        // Recorded first: once the container is gone, the status route says why.
                        let at = worker::js_sys::Date::new_0().to_iso_string().as_string().unwrap_or_default();
                        if let Err(err) = self.state.storage().put(LAST_STOP_KEY, LastStop { at, reason }).await {
                            log.error("storage.failed", format!("could not record the stop: {err}"));
                        }
                        let stopped = match container {
                            Some(container) => container.destroy(None).await.map_err(|e| e.to_string()),
                            None => link.stop_local(&id).await.map_err(|e| e.message),
                        };
                        if let Err(err) = stopped {
                            log.error("sandbox.stop.failed", format!("{what} did not stop: {err}"));
                        }
                    }
                }
                self.known.borrow_mut().stopped();
                Response::ok("stopped")
            }
        }
    }
}

impl SandboxObject {
    async fn handle(&self, req: Request) -> std::result::Result<Response, WorkerError> {
        let id = req
            .headers()
            .get(SANDBOX_ID_HEADER)?
            .ok_or_else(|| WorkerError::new(ErrorCode::ValidationFailed, "missing X-Sandbox-Id"))?;
        let path = req.path();
        let request_id = req.headers().get(REQUEST_ID_HEADER)?;
        if *self.sandbox_id.borrow() != id {
            *self.sandbox_id.borrow_mut() = id.clone();
        }
        let link = AgentLink::new(&self.state, &self.env, &self.life, Log::new(&id, request_id.as_deref()))?;
        if let Some(preview) = req.headers().get(PREVIEW_HEADER)? {
            return self.preview(req, &preview, &link).await;
        }
        let what = classify(req.method().as_ref(), &path)?;
        match what {
            ObjectCall::Status => return self.status(&id, &link).await,
            ObjectCall::Destroy => return self.destroy(&req, &id, &link).await,
            ObjectCall::ExposePort => return self.expose_port(req, &id).await,
            ObjectCall::ListPorts => return self.list_ports(&req, &id).await,
            ObjectCall::UnexposePort { port } => return self.unexpose_port(port).await,
            _ => {}
        }
        let call = self.in_flight.begin();
        // A container this object instance finds running (it was started before the object was) is watched too.
        link.watch(&self.state);
        // A read of a local sandbox that never ran here (no agent of it was ever adopted) starts nothing: the host
        // agent answers it as an empty sandbox would (`local/absent.rs` in the agent). A command, a write or a
        // terminal starts it as before.
        if what == ObjectCall::Agent
            && link.mode() == SandboxMode::Local
            && only_reads(&req)?
            && self.known_boot().await?.is_none()
        {
            let response = link.send(&req, &with_query(&req, &path)?, &id, None).await;
            return Ok(hold_until_done(response?, call)?);
        }
        let mut recreated = Vec::new();
        let needs_recovery = self.known.borrow_mut().needs_recovery(link.running());
        if needs_recovery {
            match self.recover(&id, &link).await {
                Ok(sessions) => recreated = sessions,
                Err(err) => {
                    // Answered before its body was read: read it first, or the connection that brought it cannot
                    // carry the caller's next request.
                    drain::request(req, 0).await;
                    return Err(err);
                }
            }
        }
        self.keep_awake(&link.log).await;
        let response = match what {
            ObjectCall::CreateSession => self.create_session(req, &id, &link).await,
            ObjectCall::SetEnvVars => self.set_env_vars(req, &id, &link).await,
            ObjectCall::DeleteSession { session } => self.delete_session(req, &path, &session, &id, &link).await,
            ObjectCall::Agent
            | ObjectCall::Status
            | ObjectCall::Destroy
            | ObjectCall::ExposePort
            | ObjectCall::ListPorts
            | ObjectCall::UnexposePort { .. } => {
                let target = with_query(&req, &path)?;
                self.forward(req, &target, &id, &link).await
            }
        };
        match response {
            Ok(response) => Ok(hold_until_done(with_recreated(response, &recreated)?, call)?),
            Err(err) => {
                self.known.borrow_mut().call_failed();
                Err(err)
            }
        }
    }

    /// Forwards a call as it came (its body streamed). A call small enough to keep a copy of is sent again after
    /// a restarted agent got its sessions back; a larger one learns the agent's boot id first.
    async fn forward(
        &self,
        req: Request,
        path: &str,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        if retryable(&req) {
            // The call itself goes first; a copy (its body teed, buffered only if read) is kept for a second send.
            let copy = req.clone()?;
            let first = RefCell::new(Some(req));
            let make = || match first.borrow_mut().take() {
                Some(req) => Ok(req),
                None => copy.clone().map_err(WorkerError::from),
            };
            return self.send(make, path, id, link).await;
        }
        if let Some(boot) = link.current_boot(id).await? {
            self.adopt(&boot, id, link).await?;
        }
        let once = RefCell::new(Some(req));
        self.send(
            || {
                once.borrow_mut()
                    .take()
                    .ok_or_else(|| WorkerError::unavailable("the sandbox's agent restarted; retry", 1))
            },
            path,
            id,
            link,
        )
        .await
    }

    /// Makes sure an agent answers: starts the container if it is not running, waits until its agent answers,
    /// watches it, and gives a new agent its sessions before any call reaches it. Returns the re-created sessions.
    async fn recover(&self, id: &str, link: &AgentLink) -> std::result::Result<Vec<String>, WorkerError> {
        self.known.borrow_mut().recovering();
        let boot = link.ensure_started(id, &self.env, &self.state).await?;
        self.known.borrow_mut().answered();
        match boot {
            Some(boot) => self.adopt(&boot, id, link).await,
            None => Ok(Vec::new()),
        }
    }

    /// Sends a call to the agent whose sessions are in place. If the agent restarted meanwhile it does nothing and
    /// says so; the sessions are then created again and the call is sent once more (`make` gives a fresh copy),
    /// answered with `X-Sandbox-Sessions-Recreated`. A call that reached no agent at all (its container starting,
    /// restarting, or gone) waits for one that answers and is sent once more the same way.
    async fn send(
        &self,
        make: impl Fn() -> std::result::Result<Request, WorkerError>,
        path: &str,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let mut expected = self.known_boot().await?;
        let mut recreated = Vec::new();
        let mut response = match link.try_send(&make()?, path, id, expected.as_deref()).await? {
            Sent::Answered(response) => response,
            Sent::Unreached(message) => {
                link.log
                    .info("call.unreached", format!("no agent took the call ({message}); starting or waiting for one"));
                recreated = self.recover(id, link).await?;
                expected = self.known_boot().await?;
                link.send(&make()?, path, id, expected.as_deref()).await?
            }
        };
        let boot = boot_of(&response);
        if response.status_code() == ErrorCode::AgentRestarted.http_status() {
            let boot = boot.ok_or_else(|| WorkerError::unavailable("the sandbox's agent restarted; retry", 1))?;
            let boot = if link.accepts(&boot) {
                recreated.extend(self.adopt(&boot, id, link).await?);
                Some(boot)
            } else {
                // Not an agent of the latest start (a copy Docker restarted in place): wait for one that is.
                link.log.info(
                    "call.other_start",
                    format!("{boot} answered and is not of the latest start; starting or waiting"),
                );
                recreated.extend(self.recover(id, link).await?);
                self.known_boot().await?
            };
            response = link.send(&make()?, path, id, boot.as_deref()).await?;
            if response.status_code() == ErrorCode::AgentRestarted.http_status() {
                return Err(WorkerError::unavailable("the sandbox's agent restarted again; retry", 1));
            }
        } else if let (None, Some(boot)) = (expected, boot) {
            self.adopt(&boot, id, link).await?;
        }
        with_recreated(response, &recreated)
    }

    /// The boot id of the agent whose sessions are in place (from storage when the object has just started).
    async fn known_boot(&self) -> std::result::Result<Option<String>, WorkerError> {
        if let Some(boot) = self.known.borrow().boot() {
            return Ok(boot.map(str::to_string));
        }
        let stored = session_registry::last_boot(&self.state.storage()).await.map_err(storage_failed)?;
        let mut known = self.known.borrow_mut();
        known.boot_read(stored);
        Ok(known.boot().flatten().map(str::to_string))
    }

    /// Makes `boot` the agent whose sessions are in place: when it is a new one, creates the remembered sessions
    /// on it first (with their options and variables), and only then records it. Returns the re-created ids.
    async fn adopt(&self, boot: &str, id: &str, link: &AgentLink) -> std::result::Result<Vec<String>, WorkerError> {
        self.known_boot().await?;
        let adoption = self.known.borrow().adoption(boot);
        if adoption == Adoption::InPlace {
            return Ok(Vec::new());
        }
        let storage = self.state.storage();
        let mut recreated = Vec::new();
        if adoption == Adoption::Recreate {
            let sessions = session_registry::all(&storage).await.map_err(storage_failed)?;
            for (session, options) in sessions {
                let created = self.recreate(&session, options, boot, id, link).await?;
                if created {
                    recreated.push(session);
                }
            }
            link.log.warn(
                "sessions.recreated",
                format!("the agent restarted ({boot}); re-created sessions: {recreated:?}"),
            );
        }
        session_registry::set_boot(&storage, boot).await.map_err(storage_failed)?;
        self.known.borrow_mut().adopted(boot);
        Ok(recreated)
    }

    /// Creates one remembered session on the agent `boot`. The default session, which the agent makes itself, gets
    /// its variables back.
    async fn recreate(
        &self,
        session: &str,
        options: SessionOptions,
        boot: &str,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<bool, WorkerError> {
        let (path, body) = if session == DEFAULT_SESSION_ID {
            let vars = SetEnvVarsRequest { env_vars: options.env.unwrap_or_default(), session_id: None };
            (ENV_PATH, serde_json::to_string(&vars))
        } else {
            (SESSIONS_PATH, serde_json::to_string(&options))
        };
        let body = body.map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
        let answer = link.send_bounded(&json_post(path, &body)?, path, id, Some(boot)).await?;
        match answer.status_code() {
            // Made, or made already by a call that met the restart at the same time.
            200 | 201 | 409 => Ok(true),
            412 => Err(WorkerError::unavailable("the sandbox's agent restarted again; retry", 1)),
            status => {
                link.log.error(
                    "sessions.recreate.failed",
                    format!("session {session} could not be re-created (HTTP {status})"),
                );
                Ok(false)
            }
        }
    }

    /// Creates a session and remembers its options. They are checked against what storage can hold before the
    /// agent makes anything; should storage fail all the same, the session is ended again.
    async fn create_session(
        &self,
        req: Request,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let text = small_body(req, "session options").await?;
        let options: Option<SessionOptions> = serde_json::from_str(&text).ok();
        if let Some(options) = &options {
            session_registry::record(options).map_err(|m| WorkerError::new(ErrorCode::BodyTooLarge, m))?;
        }
        let mut response = self.send(|| Ok(json_post(SESSIONS_PATH, &text)?), SESSIONS_PATH, id, link).await?;
        let (201, Some(options)) = (response.status_code(), options) else { return Ok(response) };
        let created: serde_json::Value = response.cloned()?.json().await?;
        let Some(session) = created["id"].as_str().map(str::to_string) else { return Ok(response) };
        let options = SessionOptions { id: Some(session.clone()), ..options };
        let stored = match session_registry::record(&options) {
            Ok(record) => session_registry::put(&self.state.storage(), &session, record).await.map_err(storage_failed),
            Err(message) => Err(WorkerError::new(ErrorCode::BodyTooLarge, message)),
        };
        if let Err(err) = stored {
            // Not remembered means not re-created after a restart: end it now rather than lose it later.
            let path = format!("{SESSIONS_PATH}/{session}");
            let mut init = worker::RequestInit::new();
            init.with_method(Method::Delete);
            let delete = Request::new_with_init(&format!("https://sandbox.internal{path}"), &init)?;
            let ended = link.send(&delete, &path, id, self.known_boot().await?.as_deref()).await;
            let detail = match ended {
                Ok(response) => {
                    format!("session {session} was not remembered and is ended (HTTP {})", response.status_code())
                }
                Err(e) => format!("session {session} was not remembered, and ending it failed: {}", e.message),
            };
            link.log.error("session.unremembered", detail);
            return Err(err);
        }
        Ok(response)
    }

    /// Forwards `setEnvVars` and remembers the variables with the session, for its re-creation. The merged record
    /// is checked before the agent changes anything.
    async fn set_env_vars(
        &self,
        req: Request,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let text = small_body(req, "setEnvVars").await?;
        let merged = match serde_json::from_str::<SetEnvVarsRequest>(&text) {
            Ok(sent) => {
                let session = sent.session_id.clone().unwrap_or_else(|| DEFAULT_SESSION_ID.to_string());
                let stored = session_registry::get(&self.state.storage(), &session).await.map_err(storage_failed)?;
                let base = stored.unwrap_or(SessionOptions { id: Some(session.clone()), ..SessionOptions::default() });
                let merged = session_registry::with_env(base, &sent.env_vars);
                let record =
                    session_registry::record(&merged).map_err(|m| WorkerError::new(ErrorCode::BodyTooLarge, m))?;
                Some((session, record))
            }
            // The agent says what is wrong with it.
            Err(_) => None,
        };
        let response = self.send(|| Ok(json_post(ENV_PATH, &text)?), ENV_PATH, id, link).await?;
        if let (200, Some((session, record))) = (response.status_code(), merged) {
            session_registry::put(&self.state.storage(), &session, record).await.map_err(storage_failed)?;
        }
        Ok(response)
    }

    async fn delete_session(
        &self,
        req: Request,
        path: &str,
        session: &str,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let response = self.forward(req, path, id, link).await?;
        if response.status_code() == 200 || response.status_code() == 404 {
            session_registry::forget(&self.state.storage(), session).await.map_err(storage_failed)?;
        }
        Ok(response)
    }

    async fn status(&self, id: &str, link: &AgentLink) -> std::result::Result<Response, WorkerError> {
        let last_stop: Option<LastStop> = self.state.storage().get(LAST_STOP_KEY).await.unwrap_or(None);
        // A status starts nothing. Locally the host agent answers for a sandbox's jail only while it has one (a
        // sandbox never used, stopped or destroyed has none): running is whether it answered.
        let agent = link.summary(id).await;
        let running = if link.mode() == SandboxMode::Local { agent.is_some() } else { link.running() };
        let commands = if agent.is_some() { link.commands(id).await } else { None };
        Ok(Response::from_json(&SandboxStatus {
            success: true,
            id: id.to_string(),
            mode: link.mode(),
            running,
            in_flight: self.in_flight.count(),
            stopped_at: last_stop.as_ref().map(|s| s.at.clone()),
            stop_reason: last_stop.map(|s| s.reason),
            agent,
            commands,
        })?)
    }

    /// Exposes a port: its preview URL's token is made once and kept (exposing it again keeps the URL).
    async fn expose_port(&self, req: Request, id: &str) -> std::result::Result<Response, WorkerError> {
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

    async fn list_ports(&self, req: &Request, id: &str) -> std::result::Result<Response, WorkerError> {
        let origin = preview_origin(req)?;
        let ports = port_registry::all(&self.state.storage()).await.map_err(storage_failed)?;
        let ports: Vec<ExposedPort> = ports.into_iter().map(|(port, r)| exposed(port, r, &origin, id)).collect();
        Ok(Response::from_json(&ExposedPortList { success: true, count: ports.len(), ports })?)
    }

    async fn unexpose_port(&self, port: u16) -> std::result::Result<Response, WorkerError> {
        if !port_registry::remove(&self.state.storage(), port).await.map_err(storage_failed)? {
            return Err(WorkerError::new(ErrorCode::PortNotExposed, format!("port {port} is not exposed")));
        }
        Ok(Response::from_json(&UnexposePortResult { success: true, port })?)
    }

    /// A browser's request for an exposed port (`<port>.<token>` from the Worker): checked against the stored
    /// token in constant time, and passed to the port as it came, unbuffered both ways (WebSocket upgrades too).
    /// Anything that does not match is the same bare 404.
    async fn preview(
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
        self.keep_awake(&link.log).await;
        let id = self.sandbox_id.borrow().clone();
        link.send_to_port(req, port, &id).await
    }

    /// Ends every session and process, stops the container, and forgets the sandbox's state.
    async fn destroy(&self, req: &Request, id: &str, link: &AgentLink) -> std::result::Result<Response, WorkerError> {
        if link.running() {
            // Best effort: a container that is already gone has nothing left to end.
            if let Err(err) = link.send(req, SANDBOX_PATH, id, None).await {
                link.log.warn("sandbox.destroy", format!("the agent did not answer: {}", err.message));
            }
        }
        link.stop().await?;
        self.known.borrow_mut().call_failed();
        let storage = self.state.storage();
        storage.delete_alarm().await.map_err(storage_failed)?;
        storage.delete_all().await.map_err(storage_failed)?;
        self.known.borrow_mut().destroyed();
        link.log.info("sandbox.destroyed", "destroyed");
        Ok(Response::from_json(&DestroyResult { success: true, id: id.to_string() })?)
    }

    /// Notes the call and keeps the idle alarm `SANDBOX_SLEEP_AFTER` ahead (`ObjectState::call_came` says when
    /// to write it).
    async fn keep_awake(&self, log: &Log) {
        let after = self.sleep_after();
        let push = self.known.borrow_mut().call_came(Date::now().as_millis() as f64, after);
        if push {
            if let Err(err) = self.state.storage().set_alarm(after).await {
                log.error("alarm.failed", format!("could not set the idle alarm: {err}"));
            }
        }
    }

    /// The log of the object's alarm: its sandbox, and no call.
    fn alarm_log(&self) -> Log {
        Log::new(&self.sandbox_id.borrow(), None)
    }

    fn sleep_after(&self) -> std::time::Duration {
        self.env
            .var("SANDBOX_SLEEP_AFTER")
            .ok()
            .and_then(|v| sleep_after::parse(&v.to_string()))
            .unwrap_or(sleep_after::DEFAULT)
    }
}

/// Names the sessions re-created for this call in `X-Sandbox-Sessions-Recreated` (when there are any).
fn with_recreated(response: Response, recreated: &[String]) -> std::result::Result<Response, WorkerError> {
    // An accepted WebSocket (101) is passed on as it is: a new response made of it would lose its socket.
    if recreated.is_empty() || response.status_code() == 101 {
        return Ok(response);
    }
    let mut names = response.headers().get(SESSIONS_RECREATED_HEADER)?.map(|n| vec![n]).unwrap_or_default();
    names.extend(recreated.iter().cloned());
    // A fetched response's headers are immutable: answer with a copy.
    let headers = response.headers().clone();
    headers.set(SESSIONS_RECREATED_HEADER, &names.join(","))?;
    Ok(response.with_headers(headers))
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

/// A storage failure, as callers see it: no engine text (it is logged).
fn storage_failed(err: worker::Error) -> WorkerError {
    worker::console_error!(
        "{}",
        crate::log::line(crate::log::Level::Error, "", None, "storage.failed", &err.to_string())
    );
    WorkerError::new(ErrorCode::InternalError, "the sandbox's state could not be stored; nothing was remembered")
}

/// Reads a body the object needs to look into, refusing more than `SESSION_BODY_LIMIT`.
async fn small_body(mut req: Request, what: &str) -> std::result::Result<String, WorkerError> {
    let too_large = || WorkerError::new(ErrorCode::BodyTooLarge, format!("{what}: the body is larger than 1 MiB"));
    let mut body = Vec::new();
    let mut chunks = req.stream()?;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > SESSION_BODY_LIMIT {
            // Read the rest and drop it, so the caller gets this answer rather than a connection cut while it
            // still sends.
            let read = body.len() + chunk.len();
            drop(body);
            drain::stream(chunks, read).await;
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Whether a call only reads: a `GET` that is no WebSocket.
fn only_reads(req: &Request) -> std::result::Result<bool, WorkerError> {
    Ok(req.method() == worker::Method::Get && req.headers().get("upgrade")?.is_none())
}

/// The agent path `path` with the call's query as it came (`?from=`, `?encoding=`, ...): the agent reads plain
/// tokens only.
fn with_query(req: &Request, path: &str) -> std::result::Result<String, WorkerError> {
    Ok(match req.url()?.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    })
}
