//! The sandbox's own routes: its status (which starts nothing) and its destruction.

use sandbox_protocol::routes::SANDBOX as SANDBOX_PATH;
use sandbox_protocol::{DestroyResult, SandboxMode, SandboxStatus};
use worker::{Request, Response};

use super::backup_registry;
use super::idle::{LastStop, LAST_STOP_KEY};
use super::request::storage_failed;
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

impl SandboxObject {
    pub(super) async fn status(&self, link: &AgentLink) -> std::result::Result<Response, WorkerError> {
        let last_stop: Option<LastStop> = self.state.storage().get(LAST_STOP_KEY).await.unwrap_or(None);
        // A status starts nothing. Locally the host agent answers for a sandbox's jail only while it has one (a
        // sandbox never used, stopped or destroyed has none): running is whether it answered.
        let agent = link.summary().await;
        let containment = agent.as_ref().and_then(|a| a.containment);
        let running = if link.mode() == SandboxMode::Local { agent.is_some() } else { link.running() };
        let commands = if agent.is_some() { link.commands().await } else { None };
        let network = if agent.is_some() { link.network().await } else { None };
        let (last_save, last_restore) = self.save_outcomes().await;
        let sleep = self.sleep_settings().await;
        Ok(Response::from_json(&SandboxStatus {
            success: true,
            id: link.sandbox_id().to_string(),
            mode: link.mode(),
            running,
            in_flight: self.in_flight.count(),
            stopped_at: last_stop.as_ref().map(|s| s.at.clone()),
            stop_reason: last_stop.map(|s| s.reason),
            agent,
            commands,
            last_save,
            last_restore,
            keep_alive: sleep.keep_alive,
            sleep_after_ms: sleep.sleep_after(self.config.sleep_after).as_millis() as u64,
            containment,
            network,
        })?)
    }

    /// Ends every session and process, stops the container, and forgets the sandbox's state.
    pub(super) async fn destroy(&self, req: &Request, link: &AgentLink) -> std::result::Result<Response, WorkerError> {
        if link.running() {
            // Best effort: a container that is already gone has nothing left to end.
            if let Err(err) = link.send(req, SANDBOX_PATH, None).await {
                link.log.warn("sandbox.destroy", format!("the agent did not answer: {}", err.message));
            }
        }
        link.stop().await?;
        self.known.borrow_mut().call_failed();
        let storage = self.state.storage();
        storage.delete_alarm().await.map_err(storage_failed)?;
        // The backups a caller made outlive the sandbox (each until its ttl or deleteBackup); its automatic save
        // does not.
        self.forget_saves(link).await;
        let backups = backup_registry::all(&storage).await.map_err(storage_failed)?;
        // So are the forks' claims on its blobs, until each fork has saved its own.
        let forks = self.fork_refs().await?;
        storage.delete_all().await.map_err(storage_failed)?;
        *self.sleep.borrow_mut() = None;
        for backup in &backups {
            backup_registry::put(&storage, backup).await.map_err(storage_failed)?;
        }
        for fork in &forks {
            self.record_fork_ref(fork).await?;
        }
        self.known.borrow_mut().destroyed();
        link.log.info("sandbox.destroyed", "destroyed");
        // The save's blobs that no kept backup names.
        self.collect_blobs(link).await;
        Ok(Response::from_json(&DestroyResult { success: true, id: link.sandbox_id().to_string() })?)
    }
}
