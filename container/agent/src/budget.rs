//! The memory that requests in flight may hold, as a whole. Each request charges what it holds (its body, its
//! captured output, a file it reads, a listing) against one budget for the whole agent, and gives it back when it
//! ends. Most charges are taken if they fit and refused if not: beyond the budget a request gets a retryable 503
//! `RESOURCE_EXHAUSTED`. A command's output may instead wait for room (`reserve`): the waits are served first
//! come, first served as charges are given back, so a burst of large outputs is answered a few at a time, whole,
//! instead of all of them cut short, and the budget is all free again once the burst is over.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sandbox_protocol::ErrorCode;
use tokio::sync::oneshot;

use crate::error::AgentError;

#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// Bytes given back since `take_released` last looked (what the allocator may now return to the system).
    released: AtomicUsize,
    /// Reservations waiting for room, oldest first, and how many there are (read without the lock on release).
    waiters: Mutex<VecDeque<Waiter>>,
    waiting: AtomicUsize,
}

#[derive(Debug)]
struct Waiter {
    bytes: usize,
    granted: oneshot::Sender<Charge>,
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
            waiters: Mutex::new(VecDeque::new()),
            waiting: AtomicUsize::new(0),
        })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The bytes given back since the last call, counted from zero again.
    pub fn take_released(&self) -> usize {
        self.released.swap(0, Ordering::AcqRel)
    }

    /// A charge of `bytes`, or `None` when they do not fit.
    pub fn try_charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        let mut charge = Charge { budget: Arc::clone(self), bytes: 0 };
        charge.try_grow(bytes).then_some(charge)
    }

    /// `try_charge`, refused as the API's error.
    pub fn charge(self: &Arc<Self>, bytes: usize, what: &str) -> Result<Charge, AgentError> {
        self.try_charge(bytes).ok_or_else(|| self.exhausted(what))
    }

    /// A charge of `bytes` (at most the whole budget), waiting for room behind the reservations that came first.
    /// Dropping the future gives up its place (and whatever was granted to it meanwhile).
    pub async fn reserve(self: &Arc<Self>, bytes: usize) -> Charge {
        let bytes = bytes.min(self.limit);
        let granted = {
            let mut waiters = self.waiters.lock().expect("budget waiters lock");
            if waiters.is_empty() {
                if let Some(charge) = self.try_charge(bytes) {
                    return charge;
                }
            }
            let (granted, receiver) = oneshot::channel();
            waiters.push_back(Waiter { bytes, granted });
            self.waiting.store(waiters.len(), Ordering::SeqCst);
            receiver
        };
        // Room given back between the failed try and the queueing was not offered to this wait: offer it now.
        self.serve();
        tracing::debug!(bytes, "output waits for room in the memory budget");
        granted.await.expect("a wait leaves the queue unserved only once its receiver is gone")
    }

    /// Grants the waiting reservations that now fit, oldest first, stopping at the first that does not.
    fn serve(self: &Arc<Self>) {
        let mut unclaimed = Vec::new();
        {
            let mut waiters = self.waiters.lock().expect("budget waiters lock");
            while let Some(first) = waiters.front() {
                if first.granted.is_closed() {
                    waiters.pop_front();
                    continue;
                }
                let Some(charge) = self.try_charge(first.bytes) else { break };
                let first = waiters.pop_front().expect("the front waiter");
                if let Err(charge) = first.granted.send(charge) {
                    unclaimed.push(charge);
                }
            }
            self.waiting.store(waiters.len(), Ordering::SeqCst);
        }
        // Grants whose waits were given up meanwhile go back (and may serve the next waits) outside the lock.
        drop(unclaimed);
    }

    fn release(self: &Arc<Self>, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::SeqCst);
        self.released.fetch_add(bytes, Ordering::Relaxed);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.serve();
        }
    }

    pub fn exhausted(&self, what: &str) -> AgentError {
        tracing::warn!(what, used_mib = self.used() >> 20, limit_mib = self.limit >> 20, "memory budget exhausted");
        crate::metrics::METRICS.limit_hit(crate::metrics::Limit::Memory);
        AgentError::new(
            ErrorCode::ResourceExhausted,
            format!(
                "{what}: the agent holds {} of the {} MiB that requests in flight may use; retry shortly",
                self.used() >> 20,
                self.limit >> 20
            ),
        )
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Bytes charged to a budget, given back when dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Charge {
    /// Adds `bytes` to the charge if they fit; says whether they did.
    pub fn try_grow(&mut self, bytes: usize) -> bool {
        let budget = &self.budget;
        let grown = budget.used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
            used.checked_add(bytes).filter(|total| *total <= budget.limit)
        });
        if grown.is_ok() {
            self.bytes += bytes;
        }
        grown.is_ok()
    }

    /// Takes `other`'s bytes into this charge (both are of the same budget).
    pub fn absorb(&mut self, mut other: Charge) {
        debug_assert!(Arc::ptr_eq(&self.budget, &other.budget));
        self.bytes += std::mem::take(&mut other.bytes);
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.release(self.bytes);
        }
    }
}

/// A response body's bytes holding `held` (a charge) until the last view of them is gone: hyper takes a body's
/// frames before it writes them out, so a charge dropped with the body would end while a slow reader still has
/// the whole answer to come.
pub fn charged<B, H>(bytes: B, held: H) -> bytes::Bytes
where
    B: AsRef<[u8]> + Send + 'static,
    H: Send + 'static,
{
    struct Charged<B, H>(B, H);
    impl<B: AsRef<[u8]>, H> AsRef<[u8]> for Charged<B, H> {
        fn as_ref(&self) -> &[u8] {
            self.0.as_ref()
        }
    }
    bytes::Bytes::from_owner(Charged(bytes, held))
}

/// The budget when none is configured: half the memory this agent may use (`memory_limit::own_limit`: its
/// cgroup's limit, else the machine's), at least 64 MiB.
pub fn default_limit() -> usize {
    let limit = crate::memory_limit::own_limit().unwrap_or(1 << 30);
    ((limit / 2) as usize).max(64 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_fit_or_are_refused_and_come_back_when_dropped() {
        let budget = Budget::new(100);
        let a = budget.try_charge(60).unwrap();
        assert!(budget.try_charge(50).is_none());
        let mut b = budget.try_charge(40).unwrap();
        assert_eq!(budget.used(), 100);
        assert!(!b.try_grow(1));
        drop(a);
        assert!(b.try_grow(60));
        assert_eq!(budget.used(), 100);
        drop(b);
        assert_eq!(budget.used(), 0);
        assert_eq!(budget.charge(101, "x").unwrap_err().code, ErrorCode::ResourceExhausted);
    }

    #[test]
    fn concurrent_charges_never_overshoot() {
        let budget = Budget::new(1000);
        let held: Vec<Charge> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| (0..100).filter_map(|_| budget.try_charge(7)).collect::<Vec<_>>()))
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(held.len(), 1000 / 7);
        assert!(budget.used() <= 1000);
    }

    #[tokio::test]
    async fn reservations_wait_their_turn_and_are_granted_as_charges_come_back() {
        let budget = Budget::new(100);
        let held = budget.try_charge(90).unwrap();
        let first = tokio::spawn({
            let budget = Arc::clone(&budget);
            async move { budget.reserve(60).await }
        });
        let second = tokio::spawn({
            let budget = Arc::clone(&budget);
            async move { budget.reserve(20).await }
        });
        while budget.waiting.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        // 10 bytes are free: the second would fit, but waits behind the first; a plain charge may still take them.
        assert!(!second.is_finished());
        let small = budget.try_charge(10).unwrap();
        drop((held, small));
        let first = first.await.unwrap();
        let second = second.await.unwrap();
        assert_eq!((first.bytes(), second.bytes(), budget.used()), (60, 20, 80));
        drop((first, second));
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_wait_given_up_leaves_nothing_held_and_lets_the_next_through() {
        let budget = Budget::new(100);
        let held = budget.try_charge(100).unwrap();
        let given_up = tokio::spawn({
            let budget = Arc::clone(&budget);
            async move { budget.reserve(200).await }
        });
        let next = tokio::spawn({
            let budget = Arc::clone(&budget);
            async move { budget.reserve(30).await }
        });
        while budget.waiting.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        given_up.abort();
        assert!(given_up.await.unwrap_err().is_cancelled());
        drop(held);
        assert_eq!(next.await.unwrap().bytes(), 30);
        assert_eq!((budget.used(), budget.waiting.load(Ordering::SeqCst)), (0, 0));
    }
}
