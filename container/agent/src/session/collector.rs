//! A buffered command's output (both streams, each up to its cap) and what it holds of the agent's memory budget.
//!
//! The kept bytes are charged twice (the bytes, and the result's text made of them). The first `FREE` bytes of
//! charge are taken when they fit. Beyond them, or when even they do not fit, the output waits for a reservation
//! of all that this stream may still keep (at most half the budget), granted first come, first served; once it
//! has one it never waits again (what the other stream adds past it is kept only if it fits). So an output that
//! waits holds at most `FREE`, one that holds a reservation always runs to its end and gives it back, and a burst
//! of large outputs is served a few at a time, whole, rather than all of them cut short or all of them stuck.

use std::sync::Arc;

use crate::budget::{Budget, Charge};
use crate::output::Capture;

/// The charge an output takes without waiting its turn.
const FREE: usize = 256 * 1024;

/// The charge of `n` kept bytes: the bytes, and the result's text made of them.
const fn charge_of(n: usize) -> usize {
    n * 2
}

pub(crate) struct Collector {
    pub(super) stdout: Capture,
    pub(super) stderr: Capture,
    /// `None`: kept without charge (the agent's own short commands).
    charge: Option<Charge>,
    reserved: bool,
}

/// Which of a command's outputs a chunk is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stream {
    Stdout,
    Stderr,
}

/// What became of a chunk.
pub(super) enum Pushed {
    /// Kept, or counted as dropped (past the cap, or no room once reserved).
    Done,
    /// Nothing kept yet: wait for this reservation, `grant` it, and push the chunk again.
    Wait(Reservation),
}

pub(super) struct Reservation {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Reservation {
    pub(super) async fn granted(self) -> Charge {
        self.budget.reserve(self.bytes).await
    }
}

impl Collector {
    pub(super) fn new(cap: usize, budget: Option<&Arc<Budget>>) -> Collector {
        Collector {
            stdout: Capture::new(cap),
            stderr: Capture::new(cap),
            charge: budget.and_then(|b| b.try_charge(0)),
            reserved: false,
        }
    }

    pub(super) fn push(&mut self, stream: Stream, chunk: &[u8]) -> Pushed {
        let kept = self.stdout.len() + self.stderr.len();
        let capture = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let wanted = capture.room().min(chunk.len());
        let Some(charge) = self.charge.as_mut() else {
            capture.keep(chunk, wanted);
            return Pushed::Done;
        };
        let need = charge_of(kept + wanted);
        if need > charge.bytes() {
            let more = need - charge.bytes();
            let waits = !self.reserved && (need > FREE || !charge.try_grow(more));
            if waits {
                let budget = Arc::clone(charge.budget());
                let whole = charge_of(kept + capture.room()) + FREE;
                let bytes = whole.saturating_sub(charge.bytes()).min(budget.limit() / 2).max(more);
                return Pushed::Wait(Reservation { budget, bytes });
            }
            if self.reserved && !charge.try_grow(more) {
                // Reserved, and past the reservation with no room: keep what the charge already covers.
                let covered = (charge.bytes() / 2).saturating_sub(kept);
                capture.keep(chunk, covered.min(wanted));
                return Pushed::Done;
            }
        }
        capture.keep(chunk, wanted);
        Pushed::Done
    }

    /// Adds a reservation's grant; from now on the output never waits.
    pub(super) fn grant(&mut self, granted: Charge) {
        if let Some(charge) = self.charge.as_mut() {
            charge.absorb(granted);
        }
        self.reserved = true;
    }

    /// The two streams, and the charge to hold until the result made of them is sent.
    pub(super) fn finish(self) -> (Capture, Capture, Option<Charge>) {
        (self.stdout, self.stderr, self.charge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_granting(c: &mut Collector, stream: Stream, chunk: &[u8]) -> Option<usize> {
        match c.push(stream, chunk) {
            Pushed::Done => None,
            Pushed::Wait(r) => Some(r.bytes),
        }
    }

    #[test]
    fn small_output_is_charged_without_waiting_and_given_back() {
        let budget = Budget::new(1 << 20);
        let mut c = Collector::new(100, Some(&budget));
        assert!(push_granting(&mut c, Stream::Stdout, b"abc").is_none());
        assert!(push_granting(&mut c, Stream::Stderr, b"de").is_none());
        assert_eq!(budget.used(), charge_of(5));
        let (out, err, charge) = c.finish();
        assert_eq!((out.bytes(), err.bytes()), (&b"abc"[..], &b"de"[..]));
        drop(charge);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn output_past_the_free_charge_waits_for_all_it_may_keep_then_never_waits_again() {
        let budget = Budget::new(64 << 20);
        let cap = 4 << 20;
        let mut c = Collector::new(cap, Some(&budget));
        let chunk = vec![b'x'; 64 * 1024];
        let mut pushed = 0;
        let wanted = loop {
            if let Some(bytes) = push_granting(&mut c, Stream::Stdout, &chunk) {
                break bytes;
            }
            pushed += chunk.len();
        };
        assert!(charge_of(pushed) <= FREE && charge_of(pushed + chunk.len()) > FREE);
        assert_eq!(wanted, charge_of(cap) + FREE - charge_of(pushed));
        let grant = budget.try_charge(wanted).unwrap();
        c.grant(grant);
        for _ in 0..cap / chunk.len() {
            assert!(push_granting(&mut c, Stream::Stdout, &chunk).is_none());
        }
        assert_eq!(c.stdout.len(), cap);
        assert!(c.stdout.truncated());
        assert!(push_granting(&mut c, Stream::Stderr, b"err").is_none());
        assert_eq!(c.stderr.bytes(), b"err");
    }

    #[test]
    fn a_reservation_is_at_most_half_the_budget_and_what_it_cannot_cover_is_dropped() {
        let budget = Budget::new(8 << 20);
        let mut c = Collector::new(64 << 20, Some(&budget));
        let chunk = vec![b'y'; 1 << 20];
        let Some(wanted) = push_granting(&mut c, Stream::Stdout, &chunk) else { panic!("a 1 MiB chunk waits") };
        assert_eq!(wanted, 4 << 20);
        c.grant(budget.try_charge(wanted).unwrap());
        let _rest = budget.try_charge(budget.limit() - budget.used()).unwrap();
        for _ in 0..3 {
            assert!(push_granting(&mut c, Stream::Stdout, &chunk).is_none());
        }
        assert_eq!(c.stdout.len(), 2 << 20, "4 MiB of charge covers 2 MiB of output");
        assert!(c.stdout.truncated());
    }

    #[test]
    fn without_room_even_a_small_output_waits_rather_than_being_cut() {
        let budget = Budget::new(1 << 20);
        let _all = budget.try_charge(1 << 20).unwrap();
        let mut c = Collector::new(100, Some(&budget));
        assert!(push_granting(&mut c, Stream::Stdout, b"abc").is_some());
        assert!(c.stdout.bytes().is_empty() && !c.stdout.truncated());
    }
}
