//! One agent process per local sandbox, each in its own jail (`launch.rs`, `jail.rs`), as each deployed sandbox has
//! its own container: started on the sandbox's first call, ended when the sandbox is destroyed or this agent
//! stops. A child serves a Unix socket only this agent can reach, and answers only calls that carry its token.
//!
//! Each sandbox has a slot of its own, locked while its jail starts or ends: one sandbox's start (up to 10 s) or
//! destroy (the kill, then its whole tree removed) never holds up a call to another. The table of slots is locked
//! only to find or add one. At most `max` jails run at once (`--max-sandboxes`): each holds a `Reservation` from
//! before its start until it is replaced or destroyed, so a loop over new ids gets 429 `TOO_MANY_SANDBOXES`
//! instead of exhausting the machine every sandbox shares.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandbox_protocol::{ErrorCode, NetworkPolicy};

use super::launch::{ChildAgent, Launcher, Runtime};
use crate::egress::proxy::Outside;
use crate::egress::Egress;
use crate::error::{AgentError, AgentResult};
use crate::process::reaper::Reaper;

/// One sandbox's running agent, if any, with the place it holds among the running.
type Slot = Arc<tokio::sync::Mutex<Option<(Arc<ChildAgent>, Reservation)>>>;

/// A place among the jails that may run at once, given back when dropped.
struct Reservation(Arc<AtomicUsize>);

impl Reservation {
    fn take(running: &Arc<AtomicUsize>, max: usize) -> Option<Reservation> {
        running.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Reservation(Arc::clone(running)))
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub struct Children {
    /// The folder of all sandboxes' folders (`ROOT/<id>`).
    pub root: PathBuf,
    launcher: Launcher,
    reaper: Arc<Reaper>,
    slots: Mutex<HashMap<String, Slot>>,
    /// Jails running (or starting) now, and how many may.
    running: Arc<AtomicUsize>,
    max: usize,
    /// Each sandbox's network policy and what its proxy decided, kept across its jail's stops.
    pub egress: Egress,
}

impl Children {
    /// `network`: whether jails can have a way out here (`network::available`, probed before the reaper started).
    pub fn new(
        root: PathBuf,
        reaper: Arc<Reaper>,
        flags: Vec<String>,
        max: usize,
        network: bool,
        tls: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<Children> {
        if !network {
            tracing::warn!("slirp4netns is not installed: local sandboxes have no network but their own loopback");
        }
        let outside = Outside { own: super::network::own_addresses(), tls };
        let launcher = Launcher { runtime: Runtime::new()?, agent: std::env::current_exe()?, flags, network, outside };
        let running = Arc::new(AtomicUsize::new(0));
        let slots = Mutex::new(HashMap::new());
        Ok(Children { root, launcher, reaper, slots, running, max, egress: Egress::default() })
    }

    fn slot(&self, id: &str) -> Slot {
        let mut slots = self.slots.lock().expect("slots lock");
        Arc::clone(slots.entry(id.to_string()).or_default())
    }

    /// The sandbox's agent, started (and its folder made) when it has none or its last one died.
    pub async fn get(&self, id: &str) -> AgentResult<Arc<ChildAgent>> {
        let slot = self.slot(id);
        let mut running = slot.lock().await;
        if let Some((child, _)) = running.as_ref().filter(|(c, _)| c.alive()) {
            return Ok(Arc::clone(child));
        }
        if let Some((dead, _)) = running.take() {
            dead.kill();
        }
        let reservation = Reservation::take(&self.running, self.max).ok_or_else(|| {
            AgentError::new(
                ErrorCode::TooManySandboxes,
                format!(
                    "this machine runs {} local sandboxes, as many as the agent's --max-sandboxes allows: destroy one \
                     first (sandbox {id} was not started)",
                    self.max
                ),
            )
        })?;
        let child = self
            .launcher
            .start(&self.reaper, id, &self.root.join(id), self.egress.of(id))
            .await
            .map_err(|why| AgentError::new(ErrorCode::ContainerUnavailable, format!("sandbox {id}: {why}")))?;
        let child = Arc::new(child);
        *running = Some((Arc::clone(&child), reservation));
        tracing::info!(sandbox = id, "jail started");
        Ok(child)
    }

    /// Whether the sandbox exists here: its jail runs, or its folder is there (it ran before, and was not
    /// destroyed). A read of one that does not exist starts nothing.
    pub fn exists(&self, id: &str) -> bool {
        let running =
            self.slots.lock().expect("slots lock").get(id).is_some_and(|slot| {
                slot.try_lock().map_or(true, |child| child.as_ref().is_some_and(|(c, _)| c.alive()))
            });
        running || self.root.join(id).exists()
    }

    /// Ends the sandbox's agent and everything in its jail, and removes its folder; no new agent starts for it
    /// meanwhile (its slot stays locked), and no other sandbox waits for it.
    pub async fn destroy(&self, id: &str) -> std::io::Result<()> {
        let slot = self.slot(id);
        let mut running = slot.lock().await;
        if let Some((child, _)) = running.take() {
            child.kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.ended()).await;
        }
        self.egress.forget(id);
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

    /// Puts `policy` in effect for the sandbox: for connections its proxy takes from now on, and, when its jail
    /// runs, its direct way out opened or closed to match before this returns. The policy holds for later starts.
    pub async fn set_policy(&self, id: &str, policy: &NetworkPolicy) -> AgentResult<NetworkPolicy> {
        let slot = self.slot(id);
        let running = slot.lock().await;
        let checked = self.egress.of(id).set(policy).map_err(AgentError::invalid)?;
        if let Some((child, _)) = running.as_ref().filter(|(c, _)| c.alive()) {
            let direct = self.launcher.network && !checked.restricts();
            child
                .set_direct(&self.reaper, id, direct)
                .await
                .map_err(|why| AgentError::new(ErrorCode::InternalError, format!("sandbox {id}: {why}")))?;
        }
        tracing::info!(
            sandbox = id,
            internet = checked.internet(),
            allow = checked.allow.len(),
            deny = checked.deny.len(),
            "network policy set"
        );
        Ok(checked)
    }

    /// Stops the sandbox's jail (its processes and sessions end, its place among the running is given back) and
    /// keeps its folder: the local form of a container's idle stop. Whether one was running.
    pub async fn stop(&self, id: &str) -> bool {
        let slot = self.slot(id);
        let mut running = slot.lock().await;
        let Some((child, _)) = running.take() else { return false };
        child.kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), child.ended()).await;
        tracing::info!(sandbox = id, "jail stopped (its folder kept)");
        true
    }

    /// Ends every sandbox's agent (on shutdown).
    pub async fn end_all(&self) {
        let slots: Vec<Slot> = self.slots.lock().expect("slots lock").drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            if let Some((child, _)) = slot.lock().await.take() {
                child.kill();
            }
        }
    }
}
