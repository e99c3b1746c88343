//! Calls in flight in a sandbox's object, streamed bodies included until their last byte: the idle alarm never
//! stops a container that is still answering one. A call counts from when the object takes it until its response
//! body is done (a small answer when it is handed back; an event stream, a long download or a preview's answer
//! when its body ends or its reader goes away).
//! When the last one ended is kept too: a sandbox is idle from the end of its last call, not from its start.

use std::cell::Cell;
use std::rc::Rc;

use worker::{Response, ResponseBody, Result};

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

/// Bodies up to this size, declared by `Content-Length`, are done when handed back (their call ends there).
const SMALL_BODY: u64 = 64 * 1024;

/// Whether an answer's body may take a while to pass (so its call stays in flight until it has): any body but a
/// small one of declared length, and none at all (a WebSocket's 101, whose socket cannot be wrapped; 204; 304).
/// Pure.
pub fn body_takes_time(status: u16, content_length: Option<&str>) -> bool {
    if matches!(status, 101 | 204 | 304) {
        return false;
    }
    content_length.and_then(|n| n.trim().parse::<u64>().ok()).is_none_or(|n| n > SMALL_BODY)
}

/// `response` with `call` kept until its body is done: a body that takes time (`body_takes_time`: an event
/// stream, a download, a preview's answer) is passed on by the runtime (`body_pass`), and the call ends when that
/// pipe settles; any other answer is complete when it is handed back, and the call ends here.
pub fn hold_until_done(response: Response, call: Call) -> Result<Response> {
    let length = response.headers().get("content-length").ok().flatten();
    if !body_takes_time(response.status_code(), length.as_deref()) {
        return Ok(response);
    }
    let ResponseBody::Stream(body) = response.body() else { return Ok(response) };
    let length = length.and_then(|n| n.trim().parse::<u64>().ok());
    let (passed, done) = crate::body_pass::pass(body, length)?;
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(done).await;
        drop(call);
    });
    let (status, headers) = (response.status_code(), response.headers().clone());
    Ok(Response::from_body(ResponseBody::Stream(passed))?.with_status(status).with_headers(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_small_declared_body_or_none_ends_its_call_at_once() {
        assert!(!body_takes_time(200, Some("532")), "a JSON answer");
        assert!(!body_takes_time(200, Some("65536")));
        assert!(body_takes_time(200, Some("65537")), "a download");
        assert!(body_takes_time(200, None), "an event stream, a listing sent in parts");
        assert!(body_takes_time(200, Some("nonsense")));
        assert!(!body_takes_time(101, None), "a WebSocket");
        assert!(!body_takes_time(204, None));
        assert!(!body_takes_time(304, None));
    }

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
