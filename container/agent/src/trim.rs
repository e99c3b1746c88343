//! Memory that comes back. A 10 MB output or a large listing is held while its request runs, then freed; glibc's
//! allocator keeps freed memory for reuse (in up to eight arenas per core, at the top of each, and large blocks on
//! its heap once its mmap threshold has grown past them), so the agent's RSS would stay near its peak: 44 MiB two
//! seconds after a run of 10,000-entry listings, from 6.5 MiB idle (`benches/RESULTS.md`, issue 14). Two things
//! bring it back: the allocator is set up at start (`configure`: two arenas, and fixed thresholds, so large blocks
//! are mapped and unmapped on their own and a heap's free top is returned), and a watcher asks it to return free
//! memory once requests have given back a good amount and the agent is quiet. (mimalloc was measured too: faster
//! on large outputs, but 16 MiB idle, and it kept what it took unless told to purge at once, which took the speed.)

use std::sync::Arc;
use std::time::Duration;

use crate::budget::Budget;

/// How often the watcher looks.
const EVERY: Duration = Duration::from_millis(500);
/// Bytes given back, since the last trim, that make a trim worth its cost (it walks the allocator's free lists).
const WORTH_TRIMMING: usize = 4 << 20;

/// Whether to trim now, from the bytes given back since the last trim (`released`) and held now (`held`). Pure.
pub fn should_trim(released: usize, held: usize) -> bool {
    released >= WORTH_TRIMMING && held < WORTH_TRIMMING
}

/// The allocator's settings, before any thread starts: at most two arenas (a thread's arena keeps its free top,
/// which `malloc_trim` leaves alone outside the main one; two cores do not need more), and blocks of 128 KiB or
/// more mapped on their own with the heap trimmed past 128 KiB free (fixed values: glibc's own would rise to the
/// largest block freed, and keep such blocks on the heap for good).
pub fn configure() {
    #[cfg(target_env = "gnu")]
    {
        use nix::libc::{mallopt, M_ARENA_MAX, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD};
        // SAFETY: mallopt only changes the allocator's parameters; called before any other thread exists.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
            mallopt(M_TRIM_THRESHOLD, 128 * 1024);
        }
    }
}

/// Runs the watcher for the agent's life.
pub fn watch(budget: Arc<Budget>) {
    tokio::spawn(async move {
        let mut released = 0usize;
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            released = released.saturating_add(budget.take_released());
            if should_trim(released, budget.used()) {
                released = 0;
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        }
    });
}

/// Returns the allocator's free memory to the system.
fn trim() {
    #[cfg(target_env = "gnu")]
    {
        let t0 = std::time::Instant::now();
        // SAFETY: malloc_trim only releases free memory the allocator holds; it may run at any time.
        let returned = unsafe { nix::libc::malloc_trim(0) };
        tracing::debug!(returned = returned != 0, took_us = t0.elapsed().as_micros() as u64, "memory trimmed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_a_large_release_once_little_is_held() {
        assert!(!should_trim(0, 0));
        assert!(!should_trim(1 << 20, 0), "too little given back to be worth it");
        assert!(should_trim(10 << 20, 0));
        assert!(!should_trim(10 << 20, 20 << 20), "a large request still runs: later");
    }
}
