//! The native transport: plain HTTP/1.1 to the sandbox Worker's URL from a tokio program, one connection per call
//! (calls are few and long next to a connection on the same network). HTTPS is left to a `Transport` over an HTTP
//! client with TLS.

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::Frame;
use hyper::Request;
use hyper_util::rt::TokioIo;
use sandbox_protocol::frames::FRAMED_CONTENT_TYPE;
use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::transport::{Answer, Body, Call, Chunks, Detached, Transport};

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
        let (json, chunks) = match call.body {
            Some(Body::Framed(chunks)) => (None, Some(chunks)),
            Some(Body::Json(json)) => (Some(json), None),
            None => (None, None),
        };
        if let Some(chunks) = chunks {
            let stream = self.connect().await?;
            let request = self.request(call.method, call.path, call.token).header("content-type", FRAMED_CONTENT_TYPE);
            return upload(stream, request, chunks, &self.authority).await;
        }
        self.send_json(call.method, call.path, json, call.token).await
    }

    /// Spawned on the current tokio runtime; outside one, nothing is sent.
    fn send_detached(&self, call: Detached) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let transport = NativeUrl { authority: self.authority.clone() };
        runtime.spawn(async move {
            let _ = transport.send_json(call.method, &call.path, call.body.as_deref(), call.token.as_deref()).await;
        });
    }
}

impl NativeUrl {
    async fn connect(&self) -> Result<TcpStream> {
        TcpStream::connect(&self.authority).await.map_err(|e| Error::Network(format!("{}: {e}", self.authority)))
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>) -> hyper::http::request::Builder {
        let request = Request::builder().method(method).uri(path).header("host", &self.authority);
        match token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// A call with a JSON body (or none); its answer's body streams from a connection of its own.
    async fn send_json(&self, method: &str, path: &str, json: Option<&str>, token: Option<&str>) -> Result<Answer> {
        let network = |e: &dyn std::fmt::Display| Error::Network(format!("{}: {e}", self.authority));
        let stream = self.connect().await?;
        let mut request = self.request(method, path, token);
        if json.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = Full::new(Bytes::from(json.unwrap_or_default().to_string()));
        let request = request.body(body).map_err(|e| network(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| network(&e))?;
        tokio::spawn(connection);
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
}

/// Sends an upload's chunks as the body of `request` over `stream` and returns the (small, JSON) answer whole. The
/// chunks need not be `Send`, so the connection is driven here, beside the exchange, rather than spawned.
async fn upload(
    stream: TcpStream,
    request: hyper::http::request::Builder,
    chunks: Chunks,
    authority: &str,
) -> Result<Answer> {
    let network = |e: &dyn std::fmt::Display| Error::Network(format!("{authority}: {e}"));
    let body = StreamBody::new(chunks.map(|chunk| chunk.map(|bytes| Frame::data(Bytes::from(bytes)))));
    let request = request.body(body).map_err(|e| network(&e))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| network(&e))?;
    let exchange = async {
        let response = sender.send_request(request).await.map_err(|e| network(&e))?;
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = response.into_body().collect().await.map_err(|e| network(&e))?.to_bytes();
        Ok::<_, Error>((status, retry_after, body))
    };
    let exchange = std::pin::pin!(exchange);
    let (status, retry_after, body) = match futures_util::future::select(connection, exchange).await {
        futures_util::future::Either::Right((answered, _)) => answered?,
        // The connection ended first: the exchange has what it will get.
        futures_util::future::Either::Left((_, exchange)) => exchange.await?,
    };
    let body = futures_util::stream::once(async move { Ok(body.to_vec()) });
    Ok(Answer { status, retry_after, body: Box::pin(body) })
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
