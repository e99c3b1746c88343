//! How a request reaches the sandbox Worker. The client speaks JSON over HTTP to `/v1/sandboxes/{id}/...`; a
//! `Transport` carries one request and hands back the status and the body as it arrives. Implemented for a service
//! binding and for a URL (feature `worker`); a native program can implement it over its own HTTP client.

use std::pin::Pin;

use futures_util::Stream;

use crate::error::Result;

/// A request's body.
pub enum Body<'a> {
    /// A JSON document (`Content-Type: application/json`).
    Json(&'a str),
    /// A file's bytes of any length as frames (`sandbox_protocol::frames`, `Content-Type: FRAMED_CONTENT_TYPE`):
    /// already framed, chunk by chunk.
    Framed(Chunks),
}

/// One request: `path` starts with `/v1/`.
pub struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: Option<Body<'a>>,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<&'a str>,
    /// The `Host` of the browser page whose WebSocket is handed on (`PAGE_HOST_HEADER`), for a terminal.
    pub page_host: Option<&'a str>,
}

/// The body of an answer, chunk by chunk.
pub type Chunks = Pin<Box<dyn Stream<Item = Result<Vec<u8>>>>>;

pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Chunks,
}

/// A call sent without anyone waiting for its answer: it owns its parts, as it outlives the code that made it.
pub struct Detached {
    pub method: &'static str,
    pub path: String,
    pub body: Option<String>,
    pub token: Option<String>,
}

impl Detached {
    pub fn call(&self) -> Call<'_> {
        Call {
            method: self.method,
            path: &self.path,
            body: self.body.as_deref().map(Body::Json),
            token: self.token.as_deref(),
            page_host: None,
        }
    }
}

#[allow(async_fn_in_trait)]
pub trait Transport {
    async fn send(&self, call: Call<'_>) -> Result<Answer>;

    /// Sends `call` in the background, from code that cannot wait for it: a dropped `exec_stream` telling the
    /// sandbox to stop its command. The crate's transports spawn it (workers-rs: on the Worker's event loop while
    /// its handler runs; native: on the current tokio runtime). The default sends nothing: with a transport of your
    /// own that cannot spawn, stop a command with an explicit `cancel`.
    fn send_detached(&self, call: Detached) {
        let _ = call;
    }
}

#[cfg(feature = "worker")]
mod workers {
    use futures_util::StreamExt;
    use sandbox_protocol::BINDING_ORIGIN;
    use worker::{Fetch, Fetcher, Headers, Method, Request, RequestInit, Response};

    use super::{Answer, Body, Call, Detached, Transport};
    use crate::error::{Error, Result};

    /// A transport that can ask for a WebSocket (a terminal's): `Upgrade: websocket` is sent, and the answer is
    /// handed back whole (a `101` carries the socket), unread.
    #[allow(async_fn_in_trait)]
    pub trait Upgrade {
        async fn upgrade(&self, call: Call<'_>) -> Result<Response>;
    }

    /// A service binding to the sandbox Worker (`env.service("SANDBOX")?`).
    impl Transport for Fetcher {
        async fn send(&self, call: Call<'_>) -> Result<Answer> {
            let request = request(BINDING_ORIGIN, call)?;
            answer(self.fetch_request(request).await.map_err(network)?)
        }

        fn send_detached(&self, call: Detached) {
            let fetcher = self.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = fetcher.send(call.call()).await;
            });
        }
    }

    impl Upgrade for Fetcher {
        async fn upgrade(&self, call: Call<'_>) -> Result<Response> {
            self.fetch_request(upgrading(request(BINDING_ORIGIN, call)?)?).await.map_err(network)
        }
    }

    /// The sandbox Worker by URL, through the calling Worker's own `fetch`.
    #[derive(Debug, Clone)]
    pub struct RemoteUrl {
        base: String,
    }

    impl RemoteUrl {
        /// `url` is the Worker's origin, for example `https://sandbox.example.com`.
        pub fn new(url: &str) -> RemoteUrl {
            RemoteUrl { base: url.trim_end_matches('/').to_string() }
        }
    }

    impl Transport for RemoteUrl {
        async fn send(&self, call: Call<'_>) -> Result<Answer> {
            let request = request(&self.base, call)?;
            answer(Fetch::Request(request).send().await.map_err(network)?)
        }

        fn send_detached(&self, call: Detached) {
            let remote = RemoteUrl { base: self.base.clone() };
            wasm_bindgen_futures::spawn_local(async move {
                let _ = remote.send(call.call()).await;
            });
        }
    }

    impl Upgrade for RemoteUrl {
        async fn upgrade(&self, call: Call<'_>) -> Result<Response> {
            Fetch::Request(upgrading(request(&self.base, call)?)?).send().await.map_err(network)
        }
    }

    fn upgrading(request: Request) -> Result<Request> {
        request.headers().set("upgrade", "websocket").map_err(|e| Error::InvalidResponse(e.to_string()))?;
        Ok(request)
    }

    fn request(origin: &str, call: Call<'_>) -> Result<Request> {
        let headers = Headers::new();
        let invalid = |e: worker::Error| Error::InvalidResponse(e.to_string());
        match &call.body {
            Some(Body::Json(_)) => headers.set("content-type", "application/json").map_err(invalid)?,
            Some(Body::Framed(_)) => {
                headers.set("content-type", sandbox_protocol::frames::FRAMED_CONTENT_TYPE).map_err(invalid)?
            }
            None => {}
        }
        if let Some(token) = call.token {
            headers.set("authorization", &format!("Bearer {token}")).map_err(invalid)?;
        }
        if let Some(host) = call.page_host {
            headers.set(sandbox_protocol::PAGE_HOST_HEADER, host).map_err(invalid)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(call.method.to_string())).with_headers(headers);
        match call.body {
            Some(Body::Json(body)) => {
                init.with_body(Some(wasm_bindgen::JsValue::from_str(body)));
            }
            Some(Body::Framed(chunks)) => {
                // The runtime's own stream of the chunks (a response made of them lends its body).
                let chunks = chunks.map(|chunk| chunk.map_err(|e| worker::Error::RustError(e.to_string())));
                let carrier = Response::from_stream(chunks).map_err(invalid)?;
                if let worker::ResponseBody::Stream(stream) = carrier.body() {
                    init.with_body(Some(stream.clone().into()));
                }
            }
            None => {}
        }
        Request::new_with_init(&format!("{origin}{}", call.path), &init).map_err(invalid)
    }

    fn answer(mut response: Response) -> Result<Answer> {
        let status = response.status_code();
        let retry_after = response.headers().get("retry-after").ok().flatten();
        let body = response.stream().map_err(network)?.map(|chunk| chunk.map_err(network));
        Ok(Answer { status, retry_after, body: Box::pin(body) })
    }

    fn network(e: worker::Error) -> Error {
        Error::Network(e.to_string())
    }
}

#[cfg(feature = "worker")]
pub use workers::{RemoteUrl, Upgrade};
