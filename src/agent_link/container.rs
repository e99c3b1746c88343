//! The container's life as the link drives it: starting one and waiting until its agent answers, removing one
//! that failed, watching it until it exits, stopping it.

use std::time::Duration;

use sandbox_protocol::routes;
use sandbox_protocol::start::START_ID_ENV;
use worker::{Container, Delay};

use super::container_life::FAILED_START_BACKOFF_S;
use super::{boot_of, now_ms, within, AgentLink, To, AGENT_PORT, CONTAINER_ORIGIN, RECOVERY_TIMEOUT};
use crate::errors::WorkerError;

/// How long a starting container may take to answer `/v1/health`.
const START_DEADLINE: Duration = Duration::from_secs(30);
const START_POLL: Duration = Duration::from_millis(100);
/// How long one health probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl AgentLink {
    /// Makes sure an agent answers: starts the container if it is not running (or when the one found running
    /// exits meanwhile), watches it, and waits until `/v1/health` answers from an agent of that start. Concurrent
    /// first calls all wait; only the first starts (`start` marks the container running). Returns the boot id of
    /// the agent that answered.
    ///
    /// A container started here that ends before its agent answers fails the call at once (`CONTAINER_UNAVAILABLE`,
    /// with the reason), is stopped so that Docker's restart policy does not keep it looping, and calls for the
    /// next `FAILED_START_BACKOFF_S` are refused without trying. One that never answers is stopped the same way
    /// after `START_DEADLINE`.
    pub async fn ensure_started(&self) -> Result<Option<String>, WorkerError> {
        let (container, life) = match &self.to {
            // The sandbox's own agent answers (in isolated local mode, the one in its jail, started now if need be).
            To::Local { .. } => {
                return match within(RECOVERY_TIMEOUT, self.health()).await {
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
                self.stop_failed().await;
                life.refuse_for(now_ms(), &reason);
                return Err(WorkerError::unavailable(
                    format!("the sandbox's container ended before its agent answered ({reason})"),
                    FAILED_START_BACKOFF_S,
                ));
            }
            if !container.running() {
                self.start(container, life)?;
            }
            self.watch();
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
        self.stop_failed().await;
        life.refuse_for(now_ms(), &reason);
        Err(WorkerError::unavailable(
            format!("the sandbox's container did not start: {reason}"),
            FAILED_START_BACKOFF_S,
        ))
    }

    /// Stops a container that failed to start. One whose process exited is no longer `running` to workerd, but
    /// Docker restarts it (on-failure) until it is removed, and `destroy()` does nothing to a container that is not
    /// running: so it is started once more, which removes the looping one, and destroyed with its sidecar at once.
    async fn stop_failed(&self) {
        let To::Container { container, life } = &self.to else { return };
        if !container.running() {
            if let Err(err) = self.start(container, life) {
                self.log.error(
                    "container.remove.failed",
                    format!("could not replace the failed container: {}", err.message),
                );
                return;
            }
        }
        // Watched, so that workerd learns it is gone; the start itself is not one to wait for or to judge.
        self.watch();
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
    pub fn watch(&self) {
        let To::Container { container, life } = &self.to else { return };
        if !container.running() || !life.claim_watch() {
            return;
        }
        // The promise is taken now, from this call's handle; the watch outlives the call.
        let exit = wasm_bindgen_futures::JsFuture::from(handle(container).monitor());
        let (life, log, start) = (life.clone(), self.log.clone(), life.current_start());
        wasm_bindgen_futures::spawn_local(async move {
            let reason = match exit.await {
                Ok(_) => "exit code 0".to_string(),
                Err(err) => worker::Error::from(err).to_string(),
            };
            log.warn("container.ended", format!("the container ended: {reason}"));
            life.exited(start.as_deref(), reason);
        });
    }

    /// Stops the container (local mode: nothing to stop).
    /// Local mode: stops the sandbox's jail on the host agent (its folder stays; the next call starts it anew).
    pub async fn stop_local(&self) -> Result<(), WorkerError> {
        let req = crate::forward::json_post(routes::SANDBOX_STOP, "{}")?;
        let response = self.send(&req, routes::SANDBOX_STOP, None).await?;
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

    /// Starts the container with the sandbox's id, a fresh start id (`life` notes it: only an agent of this start
    /// is taken), and the configured environment.
    ///
    /// `ctx.container.start()` is given a plain object: workers-rs 0.8's `ContainerStartupOptions` reaches workerd
    /// as a class instance whose `env` is a JS `Map`, which workerd reads as no variables at all (found when the
    /// first real container ran without `SANDBOX_ID`).
    fn start(&self, container: &Container, life: &super::container_life::ContainerLife) -> Result<(), WorkerError> {
        use worker::js_sys::{Object, Reflect};
        use worker::wasm_bindgen::JsValue;
        let failed = |e: JsValue| WorkerError::unavailable(format!("the container did not start: {e:?}"), 5);
        let start_id = new_start_id()?;
        let variables = Object::new();
        let ours = [("SANDBOX_ID".to_string(), self.sandbox_id.clone()), (START_ID_ENV.to_string(), start_id.clone())];
        for (key, value) in self.config.container_env.iter().cloned().chain(ours) {
            Reflect::set(&variables, &key.into(), &value.into()).map_err(failed)?;
        }
        let options = Object::new();
        Reflect::set(&options, &"env".into(), &variables).map_err(failed)?;
        Reflect::set(&options, &"enableInternet".into(), &JsValue::TRUE).map_err(failed)?;
        handle(container).start(&options).map_err(failed)?;
        life.begin_start(&start_id);
        self.log.info("container.start", format!("starting the container ({start_id})"));
        Ok(())
    }
}

fn new_start_id() -> Result<String, WorkerError> {
    crate::ids::random_id("start").ok_or_else(|| WorkerError::unavailable("no randomness for a start id", 1))
}

/// workerd's container handle (`ctx.container`), for the two calls workers-rs 0.8 does not give as we need them:
/// `start` with a plain options object, and `monitor` as a promise that outlives the call that took it.
mod js {
    use worker::js_sys::{Object, Promise};
    use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsValue};

    #[wasm_bindgen]
    extern "C" {
        pub type ContainerHandle;

        #[wasm_bindgen(method, catch)]
        pub fn start(this: &ContainerHandle, options: &Object) -> Result<(), JsValue>;

        #[wasm_bindgen(method)]
        pub fn monitor(this: &ContainerHandle) -> Promise;
    }
}

fn handle(container: &Container) -> &js::ContainerHandle {
    use worker::wasm_bindgen::JsCast;
    let value: &worker::wasm_bindgen::JsValue = container.as_ref();
    value.unchecked_ref()
}
