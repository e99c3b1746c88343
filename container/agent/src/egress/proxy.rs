//! The egress proxy of one sandbox: it accepts on a listener inside the sandbox's network namespace (the only way
//! out of it), reads each connection's head (`head.rs`), judges it by the sandbox's policy (`decide.rs`), and
//! connects from outside that namespace to the addresses it allowed, passing bytes both ways. A refusal is an HTTP
//! answer the client shows (403, naming the reason), counted and logged with the sandbox's id.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::decide::{self, Target};
use super::head::{self, Ask, MAX_HEAD};
use super::intercept;
use super::record::SandboxEgress;
use super::secrets::inject;

/// How long a client may take to send its head, a name to resolve, and a connection to be made.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections through one sandbox's proxy at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 256;
/// The buffers of a connection's two directions.
const BUFFER: usize = 64 * 1024;

/// Which addresses are this machine's own.
pub type OwnAddress = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// What the proxy needs of the machine besides the policy: which addresses are its own, and the TLS it speaks to
/// a secret's hosts.
#[derive(Clone)]
pub struct Outside {
    pub own: OwnAddress,
    pub tls: Arc<rustls::ClientConfig>,
}

/// Serves `listener` for sandbox `id` until the task is aborted (the sandbox ends).
pub async fn serve(listener: TcpListener, id: Arc<str>, egress: Arc<SandboxEgress>, outside: Outside) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors for a moment: the next accept may succeed.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(
                client,
                503,
                "Service Unavailable",
                "the sandbox's proxy has as many connections as it may",
            ));
            continue;
        };
        let (id, egress, outside) = (id.clone(), egress.clone(), outside.clone());
        tokio::spawn(async move {
            let _slot = slot;
            one(client, &id, &egress, &outside).await;
        });
    }
}

async fn one(mut client: TcpStream, id: &str, egress: &SandboxEgress, outside: &Outside) {
    let _ = client.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let head_len = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client, &mut buf)).await {
        Ok(Ok(Some(n))) => n,
        Ok(Ok(None)) => {
            return refuse(client, 431, "Request Header Fields Too Large", "the request head is too large").await
        }
        Ok(Err(_)) => return,
        Err(_) => return refuse(client, 408, "Request Timeout", "the request head did not come in time").await,
    };
    let ask = match head::parse(&buf[..head_len]) {
        Ok(ask) => ask,
        Err(why) => return refuse(client, 400, "Bad Request", &why).await,
    };
    let (host, port) = match &ask {
        Ask::Tunnel { host, port } | Ask::Forward { host, port, .. } => (host.clone(), *port),
    };
    let target = match Target::parse(&host) {
        Ok(target) => target,
        Err(why) => return refuse(client, 400, "Bad Request", &why).await,
    };
    let shown = target.to_string();
    let rules = egress.rules();
    let addrs = match decide::before_lookup(&rules, &target, port) {
        Err(why) => Err(why),
        Ok(()) => match lookup(&target, port).await {
            Err(why) => {
                tracing::info!(sandbox = id, host = %shown, port, %why, "egress: the name did not resolve");
                return refuse(client, 502, "Bad Gateway", &why).await;
            }
            Ok(resolved) => decide::addresses(&rules, &target, port, &resolved, &*outside.own),
        },
    };
    let addrs = match addrs {
        Ok(addrs) => addrs,
        Err(why) => {
            egress.denied(&shown, port, &why);
            tracing::info!(sandbox = id, host = %shown, port, %why, "egress denied");
            let text = format!("the sandbox's network policy refused {shown}:{port}: {why}");
            return refuse(client, 403, "Forbidden", &text).await;
        }
    };
    let mut upstream = match connect(&addrs, port).await {
        Ok(stream) => stream,
        Err(why) => {
            tracing::info!(sandbox = id, host = %shown, port, %why, "egress: no connection");
            return refuse(client, 502, "Bad Gateway", &format!("{shown}:{port}: {why}")).await;
        }
    };
    egress.allowed(&shown);
    tracing::debug!(sandbox = id, host = %shown, port, "egress allowed");
    let _ = upstream.set_nodelay(true);
    let rest = &buf[head_len..];
    let secrets = egress.secrets.for_target(&target, port);
    if matches!(ask, Ask::Tunnel { .. }) && !secrets.is_empty() {
        // A secret's host: the tunnel is opened up to write it in (`intercept.rs`).
        let leaf = match egress.ca(id).and_then(|ca| ca.leaf(&target)) {
            Ok(leaf) => leaf,
            Err(why) => return refuse(client, 502, "Bad Gateway", &format!("no certificate for {shown}: {why}")).await,
        };
        if client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await.is_err() {
            return;
        }
        let (tls, to) = (Arc::clone(&outside.tls), target.clone());
        if let Err(why) = intercept::serve(client, upstream, &to, port, leaf, tls, &secrets).await {
            tracing::info!(sandbox = id, host = %shown, port, %why, "egress: a secret's tunnel ended early");
        }
        return;
    }
    let sent = match &ask {
        Ask::Tunnel { .. } => client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await,
        Ask::Forward { head, .. } => upstream.write_all(&inject(head, &secrets)).await,
    };
    if sent.is_err() || upstream.write_all(rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut upstream, BUFFER, BUFFER).await;
}

/// Reads until the head is whole: its length, or `None` when it passed `MAX_HEAD`.
pub async fn read_head<S: AsyncRead + Unpin>(client: &mut S, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    let mut chunk = [0u8; 4096];
    loop {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = head::end_of_head(&buf[from..]) {
            return Ok(Some(from + end));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

async fn lookup(target: &Target, port: u16) -> Result<Vec<IpAddr>, String> {
    match target {
        Target::Addr(addr) => Ok(vec![*addr]),
        Target::Name(name) => {
            let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name.as_str(), port)))
                .await
                .map_err(|_| format!("{name} did not resolve within {} s", LOOKUP_TIMEOUT.as_secs()))?
                .map_err(|e| format!("{name} does not resolve: {e}"))?;
            let mut addrs: Vec<IpAddr> = Vec::new();
            for addr in found.map(|a| a.ip()) {
                if !addrs.contains(&addr) {
                    addrs.push(addr);
                }
            }
            Ok(addrs)
        }
    }
}

async fn connect(addrs: &[IpAddr], port: u16) -> Result<TcpStream, String> {
    let mut last = String::from("no address");
    for &addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(SocketAddr::new(addr, port))).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        }
    }
    Err(last)
}

/// An answer the client shows, then the connection's end.
async fn refuse(mut client: TcpStream, status: u16, reason: &str, text: &str) {
    let body = format!("{text}\n");
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         X-Sandbox-Egress: refused\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), client.write_all(answer.as_bytes())).await;
    let _ = client.shutdown().await;
}
