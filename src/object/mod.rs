//! The sandbox's Durable Object (`SandboxObject`, deployed as the class `Sandbox`: `src/entry.mjs`): one per
//! sandbox id. It owns the sandbox's agent link (its container, or the local agent), starts the container on first
//! use, stops it after `SANDBOX_SLEEP_AFTER` without calls (never while one is in flight), and forwards every call
//! to the agent.
//!
//! Split by job: `call` decides what a call is (the object's own, or the agent's); `protocol` sends the agent's
//! with the boot-id check and one more send after a restart; `recovery` gives a new agent what the sandbox had
//! before its first call; `sessions` remembers the calls whose effect recovery replays; `ports` keeps exposed
//! ports and serves previews; `backups` saves and restores directories through the R2 bucket; `sandbox` answers
//! status and destroy; `collect` deletes the blobs no kept save names; `idle` is the
//! sleep alarm, `sleep` the sandbox's own settings of it. `state`,
//! `in_flight` and the two registries are their pure parts (the sleep decision is `crate::sleep_after`).

mod autosave;
mod backup_agent;
mod backup_registry;
mod backup_transfer;
mod backups;
mod call;
mod collect;
mod fork;
mod idle;
mod in_flight;
mod network;
mod port_registry;
mod ports;
mod protocol;
mod recovery;
mod request;
mod sandbox;
mod secrets;
mod session_registry;
mod sessions;
mod sleep;
mod state;

use std::cell::RefCell;
use std::rc::Rc;

use sandbox_protocol::{ErrorCode, SandboxMode, PREVIEW_HEADER, REQUEST_ID_HEADER, SANDBOX_ID_HEADER};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::agent_link::container_life::ContainerLife;
use crate::agent_link::AgentLink;
use crate::config::Config;
use crate::drain;
use crate::errors::WorkerError;
use crate::log::Log;
use call::{classify, AgentCall, ObjectCall, Own};
use in_flight::{hold_until_done, InFlight};
use protocol::with_recreated;
use request::{only_reads, with_query};
use state::ObjectState;

#[durable_object]
pub struct SandboxObject {
    state: State,
    /// The Worker's configuration, read once when the object starts.
    config: Rc<Config>,
    /// What the object knows between calls (the agent's health, its boot id, the last call), and its decisions.
    /// Borrowed briefly, never across an await.
    known: RefCell<ObjectState>,
    in_flight: InFlight,
    /// What is known of the container between calls: its watch, its latest start, a failed start's back-off.
    life: Rc<ContainerLife>,
    /// The sandbox's id, from its calls (for the log lines of the alarm, which has no call).
    sandbox_id: RefCell<String>,
    /// Its own sleep settings, once read from storage (`sleep`).
    sleep: RefCell<Option<crate::sleep_after::Own>>,
    /// Held by a save from its reading until it is recorded, and by a collection of the store (`collect`): they
    /// take turns, so no save counts on a blob while it is being deleted.
    transfers: futures_util::lock::Mutex<()>,
}

impl DurableObject for SandboxObject {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            config: Rc::new(Config::read(&env)),
            known: RefCell::new(ObjectState::default()),
            in_flight: InFlight::default(),
            life: Rc::new(ContainerLife::default()),
            sandbox_id: RefCell::new(String::new()),
            sleep: RefCell::new(None),
            transfers: futures_util::lock::Mutex::new(()),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let request_id = req.headers().get(REQUEST_ID_HEADER).ok().flatten();
        match self.handle(req).await {
            Ok(response) => Ok(response),
            Err(err) => err.for_request(request_id).into_response(),
        }
    }

    /// Nobody called for `SANDBOX_SLEEP_AFTER` (`idle`).
    async fn alarm(&self) -> Result<Response> {
        self.idle_alarm().await
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
        let link = AgentLink::new(&self.state, &self.config, &self.life, &id, Log::new(&id, request_id.as_deref()))?;
        if let Some(preview) = req.headers().get(PREVIEW_HEADER)? {
            return self.preview(req, &preview, &link).await;
        }
        let agent_call = match classify(req.method().as_ref(), &path)? {
            ObjectCall::Own(own) => {
                return match own {
                    Own::Status => self.status(&link).await,
                    Own::Destroy => self.destroy(&req, &link).await,
                    Own::ExposePort => self.expose_port(req, &id).await,
                    Own::ListPorts => self.list_ports(&req, &id).await,
                    Own::UnexposePort { port } => self.unexpose_port(port).await,
                    Own::CreateBackup => self.create_backup(req, &link).await,
                    Own::ListBackups => self.list_backups(&link).await,
                    Own::DeleteBackup { id } => self.delete_backup(&id, &link).await,
                    Own::RestoreBackup { id } => self.restore_backup(req, &id, &link).await,
                    Own::Fork => self.fork(req, &link).await,
                    Own::AdoptFork => self.adopt_fork(req, &link).await,
                    Own::GetSleep => self.get_sleep().await,
                    Own::SetSleep => self.set_sleep(req, &link.log).await,
                }
            }
            ObjectCall::Agent(call) => call,
        };
        let call = self.in_flight.begin();
        // A container this object instance finds running (it was started before the object was) is watched too.
        link.watch();
        // A read of a local sandbox that never ran here (no agent of it was ever adopted) starts nothing: the host
        // agent answers it as an empty sandbox would (`local/absent.rs` in the agent). A command, a write or a
        // terminal starts it as before.
        if agent_call == AgentCall::AsItCame
            && link.mode() == SandboxMode::Local
            && only_reads(&req)?
            && self.known_boot().await?.is_none()
        {
            let response = link.send(&req, &with_query(&req, &path)?, None).await;
            return Ok(hold_until_done(response?, call)?);
        }
        let mut recreated = Vec::new();
        let needs_recovery = self.known.borrow_mut().needs_recovery(link.running());
        if needs_recovery {
            match self.recover(&link).await {
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
        let response = match agent_call {
            AgentCall::CreateSession => self.create_session(req, &link).await,
            AgentCall::SetEnvVars => self.set_env_vars(req, &link).await,
            AgentCall::SetNetworkPolicy => self.set_network_policy(req, &link).await,
            AgentCall::SetSecret => self.set_secret(req, &link).await,
            AgentCall::DeleteSecret { name } => self.delete_secret(req, &path, &name, &link).await,
            AgentCall::DeleteSession { session } => self.delete_session(req, &path, &session, &link).await,
            AgentCall::AsItCame => {
                let target = with_query(&req, &path)?;
                self.forward(req, &target, &link).await
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
}
