//! One agent process per local sandbox, each in its own jail (`launch.rs`, `jail.rs`), as each deployed sandbox has
//! its own container: started on the sandbox's first call, ended when the sandbox is destroyed or this agent
//! stops. A child serves a Unix socket only this agent can reach, and answers only calls that carry its token.
//!
//! Each sandbox has a slot of its own, locked while its jail starts or ends: one sandbox's start (up to 10 s) or
//! destroy (the kill, then its whole tree removed) never holds up a call to another. The table of slots is locked
//! only to find or add one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandbox_protocol::ErrorCode;

use super::launch::{ChildAgent, Launcher, Runtime};
use crate::error::{AgentError, AgentResult};
use crate::process::reaper::Reaper;

/// One sandbox's running agent, if any.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<ChildAgent>>>>;

pub struct Children {
    /// The folder of all sandboxes' folders (`ROOT/<id>`).
    pub root: PathBuf,
    launcher: Launcher,
    reaper: Arc<Reaper>,
    slots: Mutex<HashMap<String, Slot>>,
}

impl Children {
    pub fn new(root: PathBuf, reaper: Arc<Reaper>, flags: Vec<String>) -> std::io::Result<Children> {
        let network = super::network::available();
        if !network {
            tracing::warn!("slirp4netns is not installed: local sandboxes have no network but their own loopback");
        }
        let launcher = Launcher { runtime: Runtime::new()?, agent: std::env::current_exe()?, flags, network };
        Ok(Children { root, launcher, reaper, slots: Mutex::new(HashMap::new()) })
    }

    fn slot(&self, id: &str) -> Slot {
        let mut slots = self.slots.lock().expect("slots lock");
        Arc::clone(slots.entry(id.to_string()).or_default())
    }

    /// The sandbox's agent, started (and its folder made) when it has none or its last one died.
    pub async fn get(&self, id: &str) -> AgentResult<Arc<ChildAgent>> {
        let slot = self.slot(id);
        let mut running = slot.lock().await;
        if let Some(child) = running.as_ref().filter(|c| c.alive()) {
            return Ok(Arc::clone(child));
        }
        if let Some(dead) = running.take() {
            dead.kill();
        }
        let child = self
            .launcher
            .start(&self.reaper, id, &self.root.join(id))
            .await
            .map_err(|why| AgentError::new(ErrorCode::ContainerUnavailable, format!("sandbox {id}: {why}")))?;
        let child = Arc::new(child);
        *running = Some(Arc::clone(&child));
        tracing::info!(sandbox = id, "jail started");
        Ok(child)
    }

    /// Ends the sandbox's agent and everything in its jail, and removes its folder; no new agent starts for it
    /// meanwhile (its slot stays locked), and no other sandbox waits for it.
    pub async fn destroy(&self, id: &str) -> std::io::Result<()> {
        let slot = self.slot(id);
        let mut running = slot.lock().await;
        if let Some(child) = running.take() {
            child.kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.ended()).await;
        }
        let folder = self.root.join(id);
        let removed = tokio::task::spawn_blocking(move || crate::files::tree::remove_tree(&folder))
            .await
            .map_err(std::io::Error::other)?;
        drop(running);
        tracing::info!(sandbox = id, "jail destroyed");
        match removed {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Ends every sandbox's agent (on shutdown).
    pub async fn end_all(&self) {
        let slots: Vec<Slot> = self.slots.lock().expect("slots lock").drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            if let Some(child) = slot.lock().await.take() {
                child.kill();
            }
        }
    }
}
