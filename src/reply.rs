//! Answers passed back with their headers changed. A response from `fetch` (an app's, the Durable Object's) has
//! immutable headers, so it is rebuilt around the same body stream, status and the edited headers; a WebSocket's
//! `101` passes untouched (it carries the socket, which a new response would lose).

use wasm_bindgen::prelude::*;
use worker::{js_sys, web_sys, Error as WorkerError, Response};

use crate::{cors, preview};

#[wasm_bindgen]
extern "C" {
    /// `Headers`, with `getSetCookie` (each `Set-Cookie` apart; `get` joins them with commas, which a cookie's
    /// `Expires` also contains). web-sys 0.3 has no binding for it.
    #[wasm_bindgen(extends = web_sys::Headers)]
    type CookieHeaders;

    #[wasm_bindgen(method, js_name = getSetCookie)]
    fn get_set_cookie(this: &CookieHeaders) -> js_sys::Array;
}

/// A preview's answer for the browser: its cookies host-only (`preview::host_only_cookie`) and
/// `Referrer-Policy: no-referrer` (`preview::REFERRER_POLICY`), the rest as the app sent it.
pub fn for_preview(answer: Response) -> Result<Response, WorkerError> {
    rebuild(answer, |headers| {
        let cookies = headers.unchecked_ref::<CookieHeaders>().get_set_cookie();
        headers.delete("set-cookie")?;
        for cookie in cookies.iter().filter_map(|c| c.as_string()) {
            headers.append("set-cookie", &preview::host_only_cookie(&cookie))?;
        }
        headers.set("referrer-policy", preview::REFERRER_POLICY)
    })
}

/// An answer to a page of an allowed origin, with what lets that page read it (`cors::ANSWER_HEADERS`).
pub fn for_allowed_origin(answer: Response, origin: &str) -> Result<Response, WorkerError> {
    rebuild(answer, |headers| {
        for (name, value) in cors::answer_headers(origin) {
            headers.set(name, &value)?;
        }
        Ok(())
    })
}

fn rebuild(
    answer: Response,
    edit: impl FnOnce(&web_sys::Headers) -> Result<(), JsValue>,
) -> Result<Response, WorkerError> {
    if answer.status_code() == 101 {
        return Ok(answer);
    }
    let inner: web_sys::Response = answer.into();
    let headers = web_sys::Headers::new_with_headers(&inner.headers()).map_err(WorkerError::from)?;
    edit(&headers).map_err(WorkerError::from)?;
    let init = web_sys::ResponseInit::new();
    init.set_status(inner.status());
    init.set_status_text(&inner.status_text());
    init.set_headers(&headers);
    let rebuilt = web_sys::Response::new_with_opt_readable_stream_and_init(inner.body().as_ref(), &init)
        .map_err(WorkerError::from)?;
    Ok(Response::from(rebuilt))
}
