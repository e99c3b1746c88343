//! How a sandbox's Durable Object reaches its agent.
//!
//! In production the agent runs in the object's container (`State::container()`): the link starts it with the
//! sandbox's environment and a fresh start id, waits (bounded) until `/v1/health` answers from an agent of that
//! start, and forwards over the container's port. A container that ends before its agent answers, or never
//! answers, fails the call promptly and is removed (no restart loop), and is not tried again for a few seconds.
//! In local development (`SANDBOX_AGENT_URL` set, containers disabled) it forwards by URL to one agent running in
//! multi-sandbox mode on the host, which tells sandboxes apart by `X-Sandbox-Id`.
//!
//! A container is watched while it runs (workerd's `monitor()`, `watch`): only then does workerd notice that it
//! exited (its agent crashed, Docker killed it, `destroy()`), so that `running()` turns false and the next call
//! starts a new one. A send that never reached an agent (nothing listening: the container is starting, restarting
//! or gone) is told apart from one that failed on the way (`Unreached`), because only the first is safe to repeat.

use std::rc::Rc;
use std::time::Duration;

use sandbox_protocol::routes;
use sandbox_protocol::start::START_ID_ENV;
use sandbox_protocol::{
    CommandInfo, CommandList, MetricsSummary, PtyList, SandboxMode, AGENT_BOOT_HEADER, AGENT_TOKEN_HEADER,
    EXPECTED_BOOT_HEADER, SANDBOX_ID_HEADER,
};
use worker::{Container, Date, Delay, Env, Fetch, Headers, Request, RequestInit, RequestRedirect, Response, State};

use crate::container_life::{ContainerLife, FAILED_START_BACKOFF_S};
use crate::errors::WorkerError;
use crate::forward::{json_get, readdress};
use crate::log::Log;

/// The port the agent listens on inside the container.
pub use sandbox_protocol::AGENT_PORT;
/// The variable that selects local mode.
pub const AGENT_URL_VAR: &str = "SANDBOX_AGENT_URL";
/// The token the local host agent asks of its callers (set by `npm run dev` and the tests).
pub const AGENT_TOKEN_VAR: &str = "SANDBOX_AGENT_TOKEN";
/// Optional JSON object of extra environment variables for the container.
pub const CONTAINER_ENV_VAR: &str = "SANDBOX_CONTAINER_ENV";
/// How long a starting container may take to answer `/v1/health`.
const START_DEADLINE: Duration = Duration::from_secs(30);
const START_POLL: Duration = Duration::from_millis(100);
/// How long one health probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the object's own quick calls to an agent (health, re-creating a session) and removing a failed
/// container may take.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a call in flight looks whether its container has ended.
const EXIT_POLL: Duration = Duration::from_millis(250);
/// How long a sandbox's status waits for its agent's counters before it answers without them.
const SUMMARY_TIMEOUT: Duration = Duration::from_secs(2);
/// The agent's URL inside the container (the host part is ignored by the port's fetcher).
const CONTAINER_ORIGIN: &str = "http://container";

/// The way to one sandbox's agent, for one call (or the object's alarm), and the log its steps are told in.
pub struct AgentLink {
    to: To,
    pub log: Log,
}

enum To {
    /// The host agent of local development, and the token it asks of its callers (so that code in a local
    /// sandbox, which shares the host's loopback, cannot drive it).
    Local { base: String, token: Option<String> },
    /// The object's container, and what the object knows of its life (shared by every call of the object).
    Container { container: Container, life: Rc<ContainerLife> },
}

impl AgentLink {
    pub fn new(state: &State, env: &Env, life: &Rc<ContainerLife>, log: Log) -> Result<AgentLink, WorkerError> {
        if let Ok(url) = env.var(AGENT_URL_VAR) {
            let base = url.to_string().trim_end_matches('/').to_string();
            if !base.is_empty() {
                let token = env
                    .secret(AGENT_TOKEN_VAR)
                    .map(|s| s.to_string())
                    .or_else(|_| env.var(AGENT_TOKEN_VAR).map(|v| v.to_string()))
                    .ok()
                    .filter(|t| !t.is_empty());
                return Ok(AgentLink { to: To::Local { base, token }, log });
            }
        }
        state
            .container()
            .map(|container| AgentLink { to: To::Container { container, life: life.clone() }, log })
            .ok_or_else(|| WorkerError::unavailable("this Worker has neither a container nor SANDBOX_AGENT_URL", 5))
    }

    /// The container, when the agent runs in one.
    pub fn container(&self) -> Option<&Container> {
        match &self.to {
            To::Container { container, .. } => Some(container),
            To::Local { .. } => None,
        }
    }

    pub fn mode(&self) -> SandboxMode {
        match &self.to {
            To::Local { .. } => SandboxMode::Local,
            To::Container { .. } => SandboxMode::Container,
        }
    }

    /// Whether an agent that answered with `boot` may be given calls: in a container, only one of the latest
    /// start (not a copy that Docker restarted in place, which workerd removes at the next start).
    pub fn accepts(&self, boot: &str) -> bool {
        match &self.to {
            To::Local { .. } => true,
            To::Container { life, .. } => life.accepts(boot),
        }
    }

    /// Whether the agent's container is running (local mode: assumed, the host agent is not ours to start).
    pub fn running(&self) -> bool {
        match &self.to {
            To::Local { .. } => true,
            To::Container { container, .. } => container.running(),
        }
    }

    /// A preview request passed to `port` in the sandbox as it came: method, headers (ours taken out: the app gets
    /// what a browser sends to its own host),
    /// body stream, and no redirect followed. The app sees `Host: localhost:<port>` in a container
    /// (`127.0.0.1:<port>` in local mode) and the browser's host in `X-Forwarded-Host`. A local sandbox's network
    /// is its own: its port is reached through the host agent (`routes::PORT_HTTP`), with the agent's token.
    pub async fn send_to_port(&self, req: Request, port: u16, sandbox_id: &str) -> Result<Response, WorkerError> {
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
            headers.set(SANDBOX_ID_HEADER, sandbox_id)?;
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

    /// The running agent's counters in brief, for the sandbox's status: `None` when no container runs (nothing is
    /// started for it) or the agent does not answer within `SUMMARY_TIMEOUT` (logged).
    pub async fn summary(&self, sandbox_id: &str) -> Option<MetricsSummary> {
        self.ask(routes::METRICS, sandbox_id, "status.summary", "the agent's counters").await
    }

    /// The running agent's commands in flight (none asked of an agent that does not run).
    pub async fn commands(&self, sandbox_id: &str) -> Option<Vec<CommandInfo>> {
        let list: Option<CommandList> =
            self.ask(routes::COMMANDS, sandbox_id, "status.commands", "the agent's commands").await;
        list.map(|list| list.commands)
    }

    /// How many of the running agent's terminals have a viewer attached now (their traffic does not pass through
    /// this object, so the idle alarm asks). 0 when no container runs or the agent does not answer in time.
    pub async fn watched_terminals(&self, sandbox_id: &str) -> usize {
        let list: Option<PtyList> = self.ask(routes::PTYS, sandbox_id, "idle.terminals", "the agent's terminals").await;
        list.map_or(0, |list| list.ptys.iter().filter(|pty| pty.attached > 0).count())
    }

    /// `GET route` of the running agent, read as JSON within `SUMMARY_TIMEOUT`; never starts a container. `None`
    /// when none runs, or (logged as `event`, naming `what`) when the answer fails or is late.
    async fn ask<T: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        sandbox_id: &str,
        event: &str,
        what: &str,
    ) -> Option<T> {
        if !self.running() {
            return None;
        }
        let asked = async {
            let req = json_get(route).map_err(|e| e.to_string())?;
            let mut response = self.send(&req, route, sandbox_id, None).await.map_err(|e| e.message)?;
            if response.status_code() != 200 {
                return Err(format!("HTTP {}", response.status_code()));
            }
            response.json::<T>().await.map_err(|e| e.to_string())
        };
        match within(SUMMARY_TIMEOUT, asked).await {
            Some(Ok(value)) => Some(value),
            Some(Err(message)) => {
                self.log.warn(event, format!("{what} could not be read: {message}"));
                None
            }
            None => {
                self.log.warn(event, format!("{what} did not come in time"));
                None
            }
        }
    }

    /// Makes sure an agent answers: starts the container if it is not running (or when the one found running
    /// exits meanwhile), watches it, and waits until `/v1/health` answers from an agent of that start. Concurrent
    /// first calls all wait; only the first starts (`start` marks the container running). Returns the boot id of
    /// the agent that answered.
    ///
    /// A container started here that ends before its agent answers fails the call at once (`CONTAINER_UNAVAILABLE`,
    /// with the reason), is stopped so that Docker's restart policy does not keep it looping, and calls for the
    /// next `FAILED_START_BACKOFF_S` are refused without trying. One that never answers is stopped the same way
    /// after `START_DEADLINE`.
    pub async fn ensure_started(
        &self,
        sandbox_id: &str,
        env: &Env,
        state: &State,
    ) -> Result<Option<String>, WorkerError> {
        let (container, life) = match &self.to {
            // The sandbox's own agent answers (in isolated local mode, the one in its jail, started now if need be).
            To::Local { .. } => {
                return match within(RECOVERY_TIMEOUT, self.health(sandbox_id)).await {
                    Some(Ok(response)) if response.status_code() == 200 => Ok(boot_of(&response)),
                    _ => Err(WorkerError::unavailable("the sandbox's agent cannot be reached", 1)),
                };
            }
            To::Container { container, life } => (container, life),
        };
        if let Some((seconds, reason)) = life.refusing(now_ms()) {
            return Err(WorkerError::unavailable(
                format!("the sandbox's container failed to start ({reason}); it is tried again in {seconds} s"),
                seconds,
            ));
        }
        let started = now_ms();
        while now_ms() - started < START_DEADLINE.as_millis() as f64 {
            if let Some(reason) = life.failed_start() {
                self.log.error(
                    "container.start.failed",
                    format!("the container ended before its agent answered: {reason}"),
                );
                self.stop_failed(sandbox_id, env, state).await;
                life.refuse_for(now_ms(), &reason);
                return Err(WorkerError::unavailable(
                    format!("the sandbox's container ended before its agent answered ({reason})"),
                    FAILED_START_BACKOFF_S,
                ));
            }
            if !container.running() {
                start(container, sandbox_id, env, life, &self.log)?;
            }
            self.watch(state);
            // Each probe is bounded too: a connection that a dying container accepted may never be answered.
            let port = container.get_tcp_port(AGENT_PORT)?;
            let probe = port.fetch(format!("{CONTAINER_ORIGIN}{}", routes::HEALTH), None);
            if let Some(Ok(response)) = within(PROBE_TIMEOUT, probe).await {
                match boot_of(&response) {
                    Some(boot) if response.status_code() == 200 && life.accepts(&boot) => {
                        life.answered();
                        return Ok(Some(boot));
                    }
                    Some(boot) if response.status_code() == 200 => self.log.info(
                        "container.start.waiting",
                        format!("{boot} is not of this start (an earlier one, or a copy restarted in place)"),
                    ),
                    _ => {}
                }
            }
            Delay::from(START_POLL).await;
        }
        let reason = format!("its agent did not answer within {} s", START_DEADLINE.as_secs());
        self.log.error("container.start.failed", format!("the container did not start: {reason}"));
        self.stop_failed(sandbox_id, env, state).await;
        life.refuse_for(now_ms(), &reason);
        Err(WorkerError::unavailable(
            format!("the sandbox's container did not start: {reason}"),
            FAILED_START_BACKOFF_S,
        ))
    }

    /// Stops a container that failed to start. One whose process exited is no longer `running` to workerd, but
    /// Docker restarts it (on-failure) until it is removed, and `destroy()` does nothing to a container that is not
    /// running: so it is started once more, which removes the looping one, and destroyed with its sidecar at once.
    async fn stop_failed(&self, sandbox_id: &str, env: &Env, state: &State) {
        let To::Container { container, life } = &self.to else { return };
        if !container.running() {
            if let Err(err) = start(container, sandbox_id, env, life, &self.log) {
                self.log.error(
                    "container.remove.failed",
                    format!("could not replace the failed container: {}", err.message),
                );
                return;
            }
        }
        // Watched, so that workerd learns it is gone; the start itself is not one to wait for or to judge.
        self.watch(state);
        life.forget_start();
        match within(RECOVERY_TIMEOUT, container.destroy(None)).await {
            Some(Ok(())) => self.log.info("container.removed", "the failed container is removed"),
            Some(Err(err)) => {
                self.log.error("container.remove.failed", format!("the failed container was not removed: {err}"))
            }
            None => self.log.error("container.remove.failed", "removing the failed container took over 15 s"),
        }
    }

    /// Watches a running container until it exits, once at a time (`life` says whether a watch is pending): when
    /// it exits, workerd marks it not running and the next call starts a new one. Local mode: nothing to watch.
    pub fn watch(&self, state: &State) {
        let To::Container { container, life } = &self.to else { return };
        if !container.running() || !life.claim_watch() {
            return;
        }
        let Some(handle) = state.container() else {
            life.exited(None, "no container".into());
            return;
        };
        let (life, log, start) = (life.clone(), self.log.clone(), life.current_start());
        wasm_bindgen_futures::spawn_local(async move {
            let reason = match handle.wait_for_exit().await {
                Ok(()) => "exit code 0".to_string(),
                Err(err) => err.to_string(),
            };
            log.warn("container.ended", format!("the container ended: {reason}"));
            life.exited(start.as_deref(), reason);
        });
    }

    /// Sends `req` to the agent at `path`. With `expected_boot`, an agent that is another process refuses it with
    /// `AGENT_RESTARTED` before doing anything.
    pub async fn send(
        &self,
        req: &Request,
        path: &str,
        sandbox_id: &str,
        expected_boot: Option<&str>,
    ) -> Result<Response, WorkerError> {
        match self.try_send(req, path, sandbox_id, expected_boot).await? {
            Sent::Answered(response) => Ok(response),
            Sent::Unreached(message) => Err(unreachable_agent(&message)),
        }
    }

    /// `send`, telling a request that reached no agent (safe to send again once one answers) from an answer.
    pub async fn try_send(
        &self,
        req: &Request,
        path: &str,
        sandbox_id: &str,
        expected_boot: Option<&str>,
    ) -> Result<Sent, WorkerError> {
        let url = match &self.to {
            To::Local { base, .. } => format!("{base}{path}"),
            To::Container { .. } => format!("{CONTAINER_ORIGIN}{path}"),
        };
        let forwarded = readdress(req, &url, sandbox_id)?;
        if let Some(boot) = expected_boot {
            forwarded.headers().set(EXPECTED_BOOT_HEADER, boot)?;
        }
        if let To::Local { token: Some(token), .. } = &self.to {
            forwarded.headers().set(AGENT_TOKEN_HEADER, token)?;
        }
        let sent = match &self.to {
            To::Local { .. } => Fetch::Request(forwarded).send().await,
            To::Container { container, life } => {
                // Raced against the container's end: a call whose agent died may never be answered (its
                // connection cut inside Docker's network), and must not hold the caller forever.
                let seen = life.exits();
                let port = container.get_tcp_port(AGENT_PORT)?;
                let fetch = std::pin::pin!(port.fetch_request(forwarded));
                let ended = std::pin::pin!(ended_since(life, seen));
                match futures_util::future::select(fetch, ended).await {
                    futures_util::future::Either::Left((sent, _)) => sent,
                    futures_util::future::Either::Right((reason, _)) => {
                        self.log.error(
                            "call.container_ended",
                            format!("the container ended during a call to {path}: {reason}"),
                        );
                        return Err(WorkerError::unavailable(
                            format!(
                                "the sandbox's container ended during the call ({reason}); it may have taken effect \
                                 in part"
                            ),
                            1,
                        ));
                    }
                }
            }
        };
        match sent {
            Ok(response) => Ok(Sent::Answered(response)),
            Err(err) if unreached(&err.to_string()) => Ok(Sent::Unreached(err.to_string())),
            Err(err) => Err(unreachable_agent(&err.to_string())),
        }
    }

    /// The boot id of the agent answering now (a health check).
    pub async fn current_boot(&self, sandbox_id: &str) -> Result<Option<String>, WorkerError> {
        Ok(boot_of(&self.send_bounded(&health_request()?, routes::HEALTH, sandbox_id, None).await?))
    }

    /// `send` for the object's own quick calls (health, re-creating sessions): an agent that takes the request
    /// and does not answer within `RECOVERY_TIMEOUT` fails it, rather than hold the caller's call forever.
    pub async fn send_bounded(
        &self,
        req: &Request,
        path: &str,
        sandbox_id: &str,
        expected_boot: Option<&str>,
    ) -> Result<Response, WorkerError> {
        within(RECOVERY_TIMEOUT, self.send(req, path, sandbox_id, expected_boot)).await.unwrap_or_else(|| {
            Err(WorkerError::unavailable(
                format!("the sandbox's agent took {path} and did not answer within {} s", RECOVERY_TIMEOUT.as_secs()),
                1,
            ))
        })
    }

    /// The sandbox's agent's answer to `/v1/health`.
    async fn health(&self, sandbox_id: &str) -> Result<Response, WorkerError> {
        self.send(&health_request()?, routes::HEALTH, sandbox_id, None).await
    }

    /// Stops the container (local mode: nothing to stop).
    /// Local mode: stops the sandbox's jail on the host agent (its folder stays; the next call starts it anew).
    pub async fn stop_local(&self, sandbox_id: &str) -> Result<(), WorkerError> {
        let req = crate::forward::json_post(routes::SANDBOX_STOP, "{}")?;
        let response = self.send(&req, routes::SANDBOX_STOP, sandbox_id, None).await?;
        match response.status_code() {
            200 => Ok(()),
            status => {
                Err(WorkerError::unavailable(format!("the host agent did not stop the sandbox: HTTP {status}"), 1))
            }
        }
    }

    pub async fn stop(&self) -> Result<(), WorkerError> {
        if let To::Container { container, .. } = &self.to {
            if container.running() {
                container.destroy(None).await?;
            }
        }
        Ok(())
    }
}

fn health_request() -> Result<Request, WorkerError> {
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Get);
    Ok(Request::new_with_init(&format!("https://sandbox.internal{}", routes::HEALTH), &init)?)
}

fn now_ms() -> f64 {
    Date::now().as_millis() as f64
}

/// Resolves, with the reason, once the watch has seen the container end after `exits()` was `seen`.
async fn ended_since(life: &ContainerLife, seen: u32) -> String {
    loop {
        Delay::from(EXIT_POLL).await;
        if let Some(reason) = life.exited_since(seen) {
            return reason;
        }
    }
}

/// `future`'s output, or `None` when `limit` passes first.
async fn within<T>(limit: Duration, future: impl std::future::Future<Output = T>) -> Option<T> {
    let future = std::pin::pin!(future);
    let timer = std::pin::pin!(Delay::from(limit));
    match futures_util::future::select(future, timer).await {
        futures_util::future::Either::Left((output, _)) => Some(output),
        futures_util::future::Either::Right(_) => None,
    }
}

/// What a send came to.
pub enum Sent {
    Answered(Response),
    /// Nothing took the request (workerd's message): no agent has seen it.
    Unreached(String),
}

pub fn unreachable_agent(message: &str) -> WorkerError {
    WorkerError::unavailable(format!("the sandbox's agent cannot be reached: {message}"), 1)
}

/// Whether a failed send never reached an agent, from workerd's message: nothing listens on the container's port
/// (it is starting, or restarting after its agent died), its ingress is gone, or it is not running. Local mode:
/// the host agent refused the connection. Any other failure may have come after the agent acted.
pub fn unreached(message: &str) -> bool {
    const BEFORE_SENDING: [&str; 4] =
        ["is not listening to port", "ingress proxy is not running", "container is not running", "connection refused"];
    let message = message.to_ascii_lowercase();
    BEFORE_SENDING.iter().any(|m| message.contains(m))
}

/// The `X-Agent-Boot` of an agent's answer.
pub fn boot_of(response: &Response) -> Option<String> {
    response.headers().get(AGENT_BOOT_HEADER).ok().flatten()
}

/// Starts the container with the sandbox's id, a fresh start id (`life` notes it: only an agent of this start is
/// taken), and the configured environment.
///
/// `ctx.container.start()` is called with a plain object: workers-rs 0.8's `ContainerStartupOptions` reaches
/// workerd as a class instance whose `env` is a JS `Map`, which workerd reads as no variables at all (found when
/// the first real container ran without `SANDBOX_ID`).
fn start(
    container: &Container,
    sandbox_id: &str,
    env: &Env,
    life: &ContainerLife,
    log: &Log,
) -> Result<(), WorkerError> {
    use worker::js_sys::{Function, Object, Reflect};
    use worker::wasm_bindgen::{JsCast, JsValue};
    let failed = |e: JsValue| WorkerError::unavailable(format!("the container did not start: {e:?}"), 5);
    let start_id = new_start_id()?;
    let variables = Object::new();
    let ours = [("SANDBOX_ID".to_string(), sandbox_id.to_string()), (START_ID_ENV.to_string(), start_id.clone())];
    for (key, value) in container_env(env).into_iter().chain(ours) {
        Reflect::set(&variables, &key.into(), &value.into()).map_err(failed)?;
    }
    let options = Object::new();
    Reflect::set(&options, &"env".into(), &variables).map_err(failed)?;
    Reflect::set(&options, &"enableInternet".into(), &JsValue::TRUE).map_err(failed)?;
    let handle: &JsValue = container.as_ref();
    let start: Function = Reflect::get(handle, &"start".into()).map_err(failed)?.dyn_into().map_err(failed)?;
    start.call1(handle, &options).map_err(failed)?;
    life.begin_start(&start_id);
    log.info("container.start", format!("starting the container ({start_id})"));
    Ok(())
}

fn new_start_id() -> Result<String, WorkerError> {
    crate::ids::random_id("start").ok_or_else(|| WorkerError::unavailable("no randomness for a start id", 1))
}

fn container_env(env: &Env) -> Vec<(String, String)> {
    env.var(CONTAINER_ENV_VAR)
        .ok()
        .and_then(|v| serde_json::from_str::<std::collections::BTreeMap<String, String>>(&v.to_string()).ok())
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::unreached;

    #[test]
    fn only_failures_before_any_agent_saw_the_request_are_unreached() {
        assert!(unreached("Error: Container is not listening to port 3000"));
        assert!(unreached("connect(): Container ingress proxy is not running."));
        assert!(unreached("Error: The container is not running, consider calling start()"));
        assert!(unreached("TypeError: fetch failed: Connection refused"));
        assert!(!unreached("Error: Network connection lost."));
        assert!(!unreached("Error: The script will never generate a response."));
        assert!(!unreached(""));
    }
}
