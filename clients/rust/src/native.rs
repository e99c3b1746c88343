//! The native transport: plain HTTP/1.1 to the sandbox Worker's URL from a tokio program, one connection per call
//! (calls are few and long next to a connection on the same network). HTTPS is left to a `Transport` over an HTTP
//! client with TLS.

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyStream, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::transport::{Answer, Call, Detached, Transport};

#[derive(Debug, Clone)]
pub struct NativeUrl {
    /// `host:port`.
    authority: String,
}

impl NativeUrl {
    /// `url` is `http://host[:port]` (a trailing `/` is fine).
    pub fn new(url: &str) -> Result<NativeUrl> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| Error::Network(format!("{url}: the native transport speaks plain http:// only")))?;
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            return Err(Error::Network(format!("{url}: give the origin only, like http://127.0.0.1:8787")));
        }
        let authority = if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        Ok(NativeUrl { authority })
    }
}

impl Transport for NativeUrl {
    async fn send(&self, call: Call<'_>) -> Result<Answer> {
        let network = |e: &dyn std::fmt::Display| Error::Network(format!("{}: {e}", self.authority));
        let stream = TcpStream::connect(&self.authority).await.map_err(|e| network(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| network(&e))?;
        tokio::spawn(connection);
        let mut request = Request::builder().method(call.method).uri(call.path).header("host", &self.authority);
        if call.body.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some(token) = call.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = Full::new(Bytes::from(call.body.unwrap_or_default().to_string()));
        let request = request.body(body).map_err(|e| network(&e))?;
        let response = sender.send_request(request).await.map_err(|e| network(&e))?;
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let authority = self.authority.clone();
        let chunks = BodyStream::new(response.into_body()).filter_map(move |frame| {
            let item = match frame {
                Ok(frame) => frame.into_data().ok().map(|data| Ok(data.to_vec())),
                Err(e) => Some(Err(Error::Network(format!("{authority}: {e}")))),
            };
            std::future::ready(item)
        });
        Ok(Answer { status, retry_after, body: Box::pin(chunks) })
    }

    /// Spawned on the current tokio runtime; outside one, nothing is sent.
    fn send_detached(&self, call: Detached) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let transport = NativeUrl { authority: self.authority.clone() };
        runtime.spawn(async move {
            let _ = transport.send(call.call()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_authorities() {
        assert_eq!(NativeUrl::new("http://127.0.0.1:8787/").unwrap().authority, "127.0.0.1:8787");
        assert_eq!(NativeUrl::new("http://sandbox.internal").unwrap().authority, "sandbox.internal:80");
        assert!(NativeUrl::new("https://x").is_err());
        assert!(NativeUrl::new("http://x/path").is_err());
    }
}
