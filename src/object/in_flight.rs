//! Calls in flight in a sandbox's object, streams included until their last byte: the idle alarm never stops a
//! container that is still answering one. A call counts from when the object takes it until its response body
//! is done (a buffered answer when it is handed back; an event stream when it ends or its reader goes away).
//! When the last one ended is kept too: a sandbox is idle from the end of its last call, not from its start.

use std::cell::Cell;
use std::rc::Rc;

use futures_util::StreamExt;
use worker::{Response, Result};

#[derive(Default, Clone)]
pub struct InFlight {
    count: Rc<Cell<u32>>,
    /// When a call last ended (ms since the epoch; 0: none yet).
    last_end: Rc<Cell<f64>>,
}

/// One call in flight; dropping it ends the call.
pub struct Call {
    count: Rc<Cell<u32>>,
    last_end: Rc<Cell<f64>>,
}

impl InFlight {
    pub fn begin(&self) -> Call {
        self.count.set(self.count.get() + 1);
        Call { count: Rc::clone(&self.count), last_end: Rc::clone(&self.last_end) }
    }

    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// When a call last ended (ms since the epoch), if one has.
    pub fn last_end(&self) -> Option<f64> {
        let at = self.last_end.get();
        (at > 0.0).then_some(at)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.count.set(self.count.get().saturating_sub(1));
        self.last_end.set(now_ms());
    }
}

#[cfg(target_arch = "wasm32")]
fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// `response` with `call` kept until its body is done: for an event stream the body is passed through a stream
/// that holds the call; any other answer is complete when the agent's headers arrive after its work, and the call
/// ends here.
pub fn hold_until_done(mut response: Response, call: Call) -> Result<Response> {
    let streaming =
        response.headers().get("content-type").ok().flatten().is_some_and(|t| t.starts_with("text/event-stream"));
    if !streaming {
        return Ok(response);
    }
    let (status, headers) = (response.status_code(), response.headers().clone());
    let body = response.stream()?.map(move |chunk| {
        let _held = &call;
        chunk
    });
    Ok(Response::from_stream(body)?.with_status(status).with_headers(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_count_until_dropped() {
        let in_flight = InFlight::default();
        let a = in_flight.begin();
        let b = in_flight.begin();
        assert_eq!(in_flight.count(), 2);
        assert_eq!(in_flight.last_end(), None);
        drop(a);
        assert!(in_flight.last_end().is_some_and(|at| at > 0.0), "the end of a call is noted");
        assert_eq!(in_flight.count(), 1);
        drop(b);
        assert_eq!(in_flight.count(), 0);
    }
}
