//! A `CONNECT` tunnel to one of a secret's hosts, opened up so the secret can be written in: the proxy answers
//! the sandbox's TLS with a certificate of the sandbox's own CA for that host (`ca.rs`), reads the request's head
//! (HTTP/1.1: only that is offered), writes the secrets in (`secrets::inject`, with `Connection: close`, so each
//! request on its own connection is judged and written anew), and sends it over TLS of its own to the real host,
//! whose certificate it checks against the machine's roots (and `--egress-trust`'s). The sandbox's code never
//! sees the real host's certificate, nor the host the secret's value in anything but the request.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::decide::Target;
use super::head;
use super::proxy::read_head;
use super::secrets::{inject, Secret};

/// How long each side's handshake and the request's head may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
const BUFFER: usize = 64 * 1024;

/// The TLS the proxy speaks to real hosts: the machine's roots, and those of `extra` (a PEM file), HTTP/1.1.
pub fn upstream_config(extra: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = extra {
        let text = std::fs::read(path).map_err(|e| format!("--egress-trust {}: {e}", path.display()))?;
        for cert in rustls_pemfile::certs(&mut text.as_slice()) {
            let cert = cert.map_err(|e| format!("--egress-trust {}: {e}", path.display()))?;
            roots.add(cert).map_err(|e| format!("--egress-trust {}: {e}", path.display()))?;
        }
    }
    let mut config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// One certificate, whatever the client asks for (the tunnel named its host already).
#[derive(Debug)]
struct Leaf(Arc<CertifiedKey>);

impl ResolvesServerCert for Leaf {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

/// Serves the tunnel `client` (its `200` already sent) to `host`:`port`, reached at `upstream` (connected).
pub async fn serve(
    client: TcpStream,
    upstream: TcpStream,
    host: &Target,
    port: u16,
    leaf: Arc<CertifiedKey>,
    tls: Arc<ClientConfig>,
    secrets: &[Arc<Secret>],
) -> Result<(), String> {
    let mut server = ServerConfig::builder().with_no_client_auth().with_cert_resolver(Arc::new(Leaf(leaf)));
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let accepted = tokio::time::timeout(HANDSHAKE_TIMEOUT, TlsAcceptor::from(Arc::new(server)).accept(client))
        .await
        .map_err(|_| "the sandbox's TLS handshake did not finish in time".to_string())?
        .map_err(|e| format!("the sandbox's TLS handshake: {e}"))?;
    let mut client = accepted;
    let mut buf = Vec::with_capacity(4096);
    let head_len = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client, &mut buf)).await {
        Ok(Ok(Some(n))) => n,
        Ok(Ok(None)) => return answer(&mut client, 431, "the request head is too large").await,
        Ok(Err(_)) => return Ok(()),
        Err(_) => return answer(&mut client, 408, "the request head did not come in time").await,
    };
    let closing = match head::closing(&buf[..head_len]) {
        Ok(closing) => closing,
        Err(why) => return answer(&mut client, 400, &why).await,
    };
    let name = match host {
        Target::Name(name) => ServerName::try_from(name.clone()).map_err(|e| e.to_string())?,
        Target::Addr(addr) => ServerName::IpAddress((*addr).into()),
    };
    let connected = tokio::time::timeout(HANDSHAKE_TIMEOUT, TlsConnector::from(tls).connect(name, upstream)).await;
    let mut upstream = match connected {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return answer(&mut client, 502, &format!("{host}:{port}: its TLS: {e}")).await,
        Err(_) => return answer(&mut client, 502, &format!("{host}:{port}: its TLS handshake did not finish")).await,
    };
    upstream.write_all(&inject(&closing, secrets)).await.map_err(|e| e.to_string())?;
    upstream.write_all(&buf[head_len..]).await.map_err(|e| e.to_string())?;
    let _ = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut upstream, BUFFER, BUFFER).await;
    Ok(())
}

/// An answer the sandbox's client reads inside the tunnel, then the end.
async fn answer<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, text: &str) -> Result<(), String> {
    let body = format!("{text}\n");
    let answer = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         X-Sandbox-Egress: refused\r\nConnection: close\r\n\r\n{body}",
        if status == 502 { "Bad Gateway" } else { "Bad Request" },
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
    Err(text.to_string())
}
