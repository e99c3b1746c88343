//! The commands of one sandbox in flight, queued or running, by id: the caller's `commandId`, or one the agent
//! gives. `GET /v1/commands` lists them and `POST /v1/exec/cancel` stops one, even when the caller's connection
//! cannot be closed (a Worker in between keeps it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use sandbox_protocol::{CommandInfo, CommandState};
use tokio::sync::watch;

use crate::clock::iso;

/// Raised once, when the command is cancelled. The session's actor watches it like a deadline.
pub type CancelSignal = watch::Receiver<bool>;

/// Where a command is: waiting its turn, running, or withdrawn from the queue by a cancel (it never runs).
const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const WITHDRAWN: u8 = 2;

/// How much of a command a listing shows.
const SHOWN_COMMAND_BYTES: usize = 1024;

/// The commands of one sandbox in flight.
#[derive(Default)]
pub struct InFlight {
    commands: Mutex<HashMap<String, Arc<Entry>>>,
}

/// What a listing says of a command.
pub struct Entry {
    id: String,
    session_id: String,
    command: String,
    queued_at: SystemTime,
    timeout: Option<Duration>,
    /// `QUEUED`, then `RUNNING` (the session's actor takes it) or `WITHDRAWN` (a cancel takes it first).
    state: AtomicU8,
    started_at: OnceLock<SystemTime>,
    cancel: watch::Sender<bool>,
}

/// What a new command is, for its entry.
pub struct Described<'a> {
    pub session_id: &'a str,
    pub command: &'a str,
    /// The timeout it will run with (none: no limit).
    pub timeout: Option<Duration>,
}

/// Keeps a command listed while it is alive; dropping it forgets the id.
pub struct Registration {
    in_flight: Arc<InFlight>,
    entry: Arc<Entry>,
}

/// The session's side of a registered command: the signal it stops on, and where it says it has begun.
#[derive(Clone)]
pub struct Tracked {
    pub signal: CancelSignal,
    entry: Arc<Entry>,
}

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracked").field("id", &self.entry.id).field("cancelled", &*self.signal.borrow()).finish()
    }
}

impl Tracked {
    /// The session's actor takes the command from the queue to run it: false when a cancel withdrew it first.
    pub fn try_begin(&self) -> bool {
        let taken = self.entry.state.compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_ok();
        if taken {
            let _ = self.entry.started_at.set(SystemTime::now());
        }
        taken
    }
}

/// Resolves once the command has been cancelled while still queued, and so withdrawn: its caller is answered at
/// once (exit code 130) instead of when its turn comes, and the actor never runs it. Never resolves for a command
/// that has begun (its cancel stops it where it runs), nor for one without an entry.
pub async fn withdrawn(tracked: &mut Option<Tracked>) {
    if let Some(tracked) = tracked {
        if tracked.signal.wait_for(|raised| *raised).await.is_ok()
            && tracked.entry.state.compare_exchange(QUEUED, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire).is_ok()
        {
            return;
        }
    }
    std::future::pending().await
}

impl Registration {
    /// The command's id.
    pub fn id(&self) -> &str {
        &self.entry.id
    }
}

impl InFlight {
    /// Registers a command under `id`, or under a new id when the caller gave none; `None` when a command with
    /// that id is still in flight.
    pub fn register(self: &Arc<Self>, id: Option<&str>, what: Described<'_>) -> Option<(Registration, Tracked)> {
        let id = id.map_or_else(|| crate::names::random_id("cmd"), str::to_string);
        let mut commands = self.lock();
        if commands.contains_key(&id) {
            return None;
        }
        let (cancel, signal) = watch::channel(false);
        let entry = Arc::new(Entry {
            id: id.clone(),
            session_id: what.session_id.to_string(),
            command: shown(what.command).to_string(),
            queued_at: SystemTime::now(),
            timeout: what.timeout,
            state: AtomicU8::new(QUEUED),
            started_at: OnceLock::new(),
            cancel,
        });
        commands.insert(id, Arc::clone(&entry));
        Some((Registration { in_flight: Arc::clone(self), entry: Arc::clone(&entry) }, Tracked { signal, entry }))
    }

    /// Cancels the command with `id`; false when there is none in flight.
    pub fn cancel(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|entry| {
            entry.cancel.send_replace(true);
            true
        })
    }

    /// The commands in flight (of `session` only, when given), oldest first.
    pub fn list(&self, session: Option<&str>) -> Vec<CommandInfo> {
        let mut entries: Vec<Arc<Entry>> =
            self.lock().values().filter(|e| session.is_none_or(|s| e.session_id == s)).cloned().collect();
        entries.sort_by(|a, b| a.queued_at.cmp(&b.queued_at).then_with(|| a.id.cmp(&b.id)));
        entries.iter().map(|e| e.info()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        self.commands.lock().expect("in-flight commands lock")
    }
}

impl Entry {
    fn info(&self) -> CommandInfo {
        let started_at = self.started_at.get().copied();
        let running = self.state.load(Ordering::Acquire) == RUNNING;
        CommandInfo {
            command_id: self.id.clone(),
            session_id: self.session_id.clone(),
            command: self.command.clone(),
            state: if running { CommandState::Running } else { CommandState::Queued },
            queued_at: iso(self.queued_at),
            started_at: started_at.map(iso),
            timeout_ms: self.timeout.map(|t| t.as_millis() as u64),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // The id is this entry's until now: `register` refuses an id in flight.
        self.in_flight.lock().remove(&self.entry.id);
    }
}

/// The first `SHOWN_COMMAND_BYTES` of a command, cut at a character's boundary.
fn shown(command: &str) -> &str {
    if command.len() <= SHOWN_COMMAND_BYTES {
        return command;
    }
    let mut end = SHOWN_COMMAND_BYTES;
    while !command.is_char_boundary(end) {
        end -= 1;
    }
    &command[..end]
}

/// Resolves when the signal is raised; never for a command without one.
pub async fn cancelled(signal: &mut Option<CancelSignal>) {
    if let Some(rx) = signal {
        if rx.wait_for(|raised| *raised).await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what(session_id: &str) -> Described<'_> {
        Described { session_id, command: "sleep 9", timeout: Some(Duration::from_secs(5)) }
    }

    #[test]
    fn an_id_is_taken_until_its_registration_is_dropped() {
        let in_flight = Arc::new(InFlight::default());
        let (registration, tracked) = in_flight.register(Some("c1"), what("s")).unwrap();
        assert!(in_flight.register(Some("c1"), what("s")).is_none());
        assert!(in_flight.cancel("c1"));
        assert!(*tracked.signal.borrow());
        drop(registration);
        assert!(!in_flight.cancel("c1"));
        assert!(in_flight.register(Some("c1"), what("s")).is_some());
    }

    #[test]
    fn every_command_gets_an_id_and_a_listing_says_whether_it_runs() {
        let in_flight = Arc::new(InFlight::default());
        let (first, tracked) = in_flight.register(None, what("a")).unwrap();
        let (second, _) = in_flight.register(None, what("b")).unwrap();
        assert!(first.id().starts_with("cmd-") && first.id() != second.id());
        let listed = in_flight.list(None);
        assert_eq!(listed.iter().map(|c| c.state).collect::<Vec<_>>(), [CommandState::Queued, CommandState::Queued]);
        assert!(tracked.try_begin());
        let of_a = in_flight.list(Some("a"));
        assert_eq!(of_a.len(), 1);
        assert_eq!(
            (of_a[0].state, of_a[0].timeout_ms, of_a[0].command.as_str()),
            (CommandState::Running, Some(5000), "sleep 9")
        );
        assert!(of_a[0].started_at.is_some());
        drop(first);
        assert_eq!(in_flight.list(None).len(), 1);
    }

    #[tokio::test]
    async fn a_cancel_withdraws_a_queued_command_or_leaves_a_running_one_to_its_actor() {
        let in_flight = Arc::new(InFlight::default());
        let (_queued, tracked) = in_flight.register(Some("q"), what("s")).unwrap();
        let mut waiting = Some(tracked.clone());
        in_flight.cancel("q");
        withdrawn(&mut waiting).await;
        assert!(!tracked.try_begin(), "withdrawn: the actor does not run it");

        let (_running, tracked) = in_flight.register(Some("r"), what("s")).unwrap();
        assert!(tracked.try_begin());
        in_flight.cancel("r");
        let mut waiting = Some(tracked);
        let raced = tokio::time::timeout(Duration::from_millis(50), withdrawn(&mut waiting)).await;
        assert!(raced.is_err(), "a running command is not withdrawn");
    }

    #[test]
    fn a_long_command_is_shown_in_part_at_a_character_boundary() {
        let long = "é".repeat(1000);
        let cut = shown(&long);
        assert!(cut.len() <= SHOWN_COMMAND_BYTES && cut.len() >= SHOWN_COMMAND_BYTES - 1);
    }
}
