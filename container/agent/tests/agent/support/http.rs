//! A minimal HTTP/1.1 keep-alive client over one connection, for the tests and the benchmark.

#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    sandbox: Option<String>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect to the agent");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Client { sender, sandbox: None }
    }

    /// Sends `X-Sandbox-Id: id` with every request from now on.
    pub fn for_sandbox(mut self, id: &str) -> Client {
        self.sandbox = Some(id.to_string());
        self
    }

    pub async fn send(&mut self, method: &str, path: &str, body: Vec<u8>) -> Reply {
        self.send_with(method, path, &[], body).await
    }

    /// Sends with `headers` added, each replacing a default of the same name (`host`, `content-type`).
    pub async fn send_with(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let response = self.start_with(method, path, headers, body).await;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body = Vec::from(response.into_body().collect().await.expect("body").to_bytes());
        Reply { status, content_type, body }
    }

    /// Sends a request and returns the response as soon as its head arrives (for streams).
    pub async fn start(&mut self, method: &str, path: &str, body: Vec<u8>) -> hyper::Response<Incoming> {
        self.start_with(method, path, &[], body).await
    }

    /// `start`, with `headers` added.
    pub async fn start_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> hyper::Response<Incoming> {
        self.sender.ready().await.expect("connection ready");
        let given = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let mut request = Request::builder().method(method).uri(path);
        if !given("host") {
            request = request.header("host", "127.0.0.1");
        }
        if method == "POST" && !given("content-type") {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(id) = &self.sandbox {
            request = request.header("x-sandbox-id", id);
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("request");
        self.sender.send_request(request).await.expect("response")
    }

    pub async fn post(&mut self, path: &str, json: Value) -> Reply {
        self.send("POST", path, serde_json::to_vec(&json).unwrap()).await
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, Vec::new()).await
    }

    pub async fn delete(&mut self, path: &str) -> Reply {
        self.send("DELETE", path, Vec::new()).await
    }

    /// `POST /v1/exec` and the result's JSON, which must be a 200.
    pub async fn exec(&mut self, body: Value) -> Value {
        let reply = self.post("/v1/exec", body).await;
        assert_eq!(reply.status, 200, "exec failed: {}", String::from_utf8_lossy(&reply.body));
        reply.json()
    }

    /// Runs `command` in the session `session` (or the default one) and returns the result.
    pub async fn run(&mut self, session: Option<&str>, command: &str) -> Value {
        let mut body = serde_json::json!({ "command": command });
        if let Some(s) = session {
            body["sessionId"] = s.into();
        }
        self.exec(body).await
    }
}
