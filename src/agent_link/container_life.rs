//! What a sandbox's Durable Object knows of its container between calls: whether workerd's `monitor()` is
//! watching it, which start of it the object made last (its start id) and whether that start's agent answered
//! or its container exited first, and until when a container that failed to start is not tried again.
//!
//! No I/O here: `AgentLink` does the starting, probing and watching, and tells this what happened. Calls in
//! flight wait on it for their container's end (`ended_since`), woken by the watch when it reports one.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use sandbox_protocol::start::started_by;

/// How long calls are refused, without trying, after a container failed to start (their `Retry-After`).
pub const FAILED_START_BACKOFF_S: u32 = 5;

#[derive(Default)]
pub struct ContainerLife {
    /// A `monitor()` of the running container is pending.
    watching: Cell<bool>,
    /// The latest start this object instance made (none yet: a container it finds running is taken as it is).
    start: RefCell<Option<Start>>,
    /// Calls before this time (ms since the epoch) get `CONTAINER_UNAVAILABLE` at once.
    failed_until: Cell<f64>,
    failed_reason: RefCell<String>,
    /// How many exits the watch has seen, and why the last one happened: a call in flight when the count moves
    /// has lost its agent.
    exits: Cell<u32>,
    last_exit: RefCell<String>,
    /// The calls waiting for an exit (`ended_since`), woken when one is seen; each removes itself when dropped.
    waiting: RefCell<HashMap<u64, Waker>>,
    next_wait: Cell<u64>,
}

struct Start {
    id: String,
    answered: bool,
    /// Why its container ended, when it did.
    exited: Option<String>,
}

impl ContainerLife {
    /// Notes a new start with this id: only its agent is taken from now on.
    pub fn begin_start(&self, id: &str) {
        *self.start.borrow_mut() = Some(Start { id: id.to_string(), answered: false, exited: None });
    }

    /// Forgets the latest start (one made only to be destroyed): its exit, when the watch reports it, is nobody's
    /// failure, and the next start is judged on its own.
    pub fn forget_start(&self) {
        *self.start.borrow_mut() = None;
    }

    /// The id of the latest start, which a watch of the container started with it reports the exit of.
    pub fn current_start(&self) -> Option<String> {
        self.start.borrow().as_ref().map(|s| s.id.clone())
    }

    /// Whether an agent that answered with `boot` belongs to the latest start (any agent does before the first).
    pub fn accepts(&self, boot: &str) -> bool {
        self.start.borrow().as_ref().is_none_or(|s| started_by(boot, &s.id))
    }

    pub fn answered(&self) {
        if let Some(start) = self.start.borrow_mut().as_mut() {
            start.answered = true;
        }
    }

    /// The watch saw the container of start `start` end (`None`: one this instance found running).
    pub fn exited(&self, start: Option<&str>, reason: String) {
        self.watching.set(false);
        self.exits.set(self.exits.get().wrapping_add(1));
        *self.last_exit.borrow_mut() = reason.clone();
        let waiting: Vec<Waker> = self.waiting.borrow_mut().drain().map(|(_, waker)| waker).collect();
        waiting.into_iter().for_each(Waker::wake);
        if let Some(current) = self.start.borrow_mut().as_mut() {
            if Some(current.id.as_str()) == start {
                current.exited = Some(reason);
            }
        }
    }

    /// How many exits have been seen so far (`exited_since` compares).
    pub fn exits(&self) -> u32 {
        self.exits.get()
    }

    /// Why the container ended, when it ended since `exits()` was `seen`.
    pub fn exited_since(&self, seen: u32) -> Option<String> {
        (self.exits.get() != seen).then(|| self.last_exit.borrow().clone())
    }

    /// Resolves, with the reason, once the watch has seen the container end after `exits()` was `seen`. Woken by
    /// the watch's report; nothing polls meanwhile.
    pub fn ended_since(&self, seen: u32) -> EndedSince<'_> {
        let id = self.next_wait.get();
        self.next_wait.set(id.wrapping_add(1));
        EndedSince { life: self, seen, id }
    }

    /// Why the latest start failed: its container ended before its agent answered.
    pub fn failed_start(&self) -> Option<String> {
        self.start.borrow().as_ref().filter(|s| !s.answered).and_then(|s| s.exited.clone())
    }

    /// Claims the watch: true when nobody watches yet (the caller then does).
    pub fn claim_watch(&self) -> bool {
        !self.watching.replace(true)
    }

    /// Refuse calls for the back-off after a failed start, saying why.
    pub fn refuse_for(&self, now_ms: f64, reason: &str) {
        self.failed_until.set(now_ms + f64::from(FAILED_START_BACKOFF_S) * 1000.0);
        *self.failed_reason.borrow_mut() = reason.to_string();
    }

    /// While calls are refused: the seconds left (at least 1) and the reason.
    pub fn refusing(&self, now_ms: f64) -> Option<(u32, String)> {
        let left = self.failed_until.get() - now_ms;
        (left > 0.0).then(|| (((left / 1000.0).ceil() as u32).max(1), self.failed_reason.borrow().clone()))
    }
}

/// A call's wait for its container's end (`ContainerLife::ended_since`).
pub struct EndedSince<'a> {
    life: &'a ContainerLife,
    seen: u32,
    id: u64,
}

impl Future for EndedSince<'_> {
    type Output = String;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<String> {
        match self.life.exited_since(self.seen) {
            Some(reason) => Poll::Ready(reason),
            None => {
                self.life.waiting.borrow_mut().insert(self.id, cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for EndedSince<'_> {
    fn drop(&mut self) {
        self.life.waiting.borrow_mut().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_any_start_every_agent_is_taken_and_after_one_only_its_own() {
        let life = ContainerLife::default();
        assert!(life.accepts("boot-1"));
        life.begin_start("s2");
        assert!(life.accepts("s2.boot-9"));
        assert!(!life.accepts("s1.boot-1"), "an agent of an earlier start (Docker restarted it in place)");
        assert!(!life.accepts("boot-1"));
    }

    #[test]
    fn a_start_fails_only_when_its_own_container_ends_before_its_agent_answers() {
        let life = ContainerLife::default();
        life.begin_start("s1");
        life.exited(None, "an older container".into());
        assert_eq!(life.failed_start(), None);
        life.exited(Some("s0"), "an earlier start".into());
        assert_eq!(life.failed_start(), None);
        life.exited(Some("s1"), "exit code 1".into());
        assert_eq!(life.failed_start().as_deref(), Some("exit code 1"));

        life.begin_start("s2");
        life.answered();
        life.exited(Some("s2"), "killed".into());
        assert_eq!(life.failed_start(), None, "it ran: the next call starts another");

        life.begin_start("s3");
        life.forget_start();
        life.exited(Some("s3"), "destroyed".into());
        assert_eq!(life.failed_start(), None, "a start made only to be destroyed fails nobody");
    }

    #[test]
    fn a_call_learns_that_its_container_ended_while_it_was_in_flight() {
        let life = ContainerLife::default();
        let before = life.exits();
        assert_eq!(life.exited_since(before), None);
        life.exited(Some("s1"), "exit code 137".into());
        assert_eq!(life.exited_since(before).as_deref(), Some("exit code 137"));
        let later = life.exits();
        assert_eq!(life.exited_since(later), None, "a call sent after the exit was seen is not affected");
    }

    #[test]
    fn a_waiting_call_is_woken_by_the_exit_and_leaves_nothing_behind() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let life = ContainerLife::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let mut wait = Box::pin(life.ended_since(life.exits()));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(wait.as_mut().poll(&mut cx).is_pending(), "polled again, it waits in the same place");
        assert_eq!(life.waiting.borrow().len(), 1);
        life.exited(None, "exit code 137".into());
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the exit woke it");
        assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready("exit code 137".to_string()));
        // A call that ends first takes its place with it.
        let mut other = Box::pin(life.ended_since(life.exits()));
        assert!(other.as_mut().poll(&mut cx).is_pending());
        drop(other);
        assert!(life.waiting.borrow().is_empty());
    }

    #[test]
    fn one_watch_at_a_time() {
        let life = ContainerLife::default();
        assert!(life.claim_watch());
        assert!(!life.claim_watch());
        life.exited(None, "gone".into());
        assert!(life.claim_watch());
    }

    #[test]
    fn a_failed_start_refuses_calls_for_the_backoff() {
        let life = ContainerLife::default();
        assert_eq!(life.refusing(1000.0), None);
        life.refuse_for(1000.0, "exit code 1");
        assert_eq!(life.refusing(1000.0), Some((FAILED_START_BACKOFF_S, "exit code 1".into())));
        assert_eq!(life.refusing(5500.0), Some((1, "exit code 1".into())));
        assert_eq!(life.refusing(6000.0), None);
    }
}
