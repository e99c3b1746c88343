//! The memory that requests in flight may hold, as a whole. Each request charges what it holds (its body, its
//! captured output, a file it reads, a listing) against one budget for the whole agent, and gives it back when it
//! ends; a charge that does not fit is refused. So sixty concurrent execs asking for 64 MiB of output each cannot
//! take a 4 GiB container to its OOM killer and every session with it: beyond the budget, new requests get a
//! retryable 503 `RESOURCE_EXHAUSTED`, and output that arrives while the budget is spent is dropped and reported
//! as `truncated`, as output over `maxOutputBytes` is.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sandbox_protocol::ErrorCode;

use crate::error::AgentError;

#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// Bytes given back since `take_released` last looked (what the allocator may now return to the system).
    released: AtomicUsize,
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit, used: AtomicUsize::new(0), released: AtomicUsize::new(0) })
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
        let grown = budget.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(bytes).filter(|total| *total <= budget.limit)
        });
        if grown.is_ok() {
            self.bytes += bytes;
        }
        grown.is_ok()
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.budget.released.fetch_add(self.bytes, Ordering::Relaxed);
    }
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
}
