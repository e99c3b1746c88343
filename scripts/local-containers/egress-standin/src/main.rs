//! A stand-in for the "egress interceptor" sidecar that workerd starts beside every container under `wrangler dev`.
//!
//! workerd (`container-client.c++`) runs the interceptor image with `--http-egress-port P --http-ingress-address
//! 0.0.0.0:39001 --docker-gateway-cidr C --dns-enabled --tls-intercept [--disable-ipv6]`, makes the application
//! container share its network namespace, publishes 39001 on the host, and then asks three things of it there:
//!
//! - `PUT /egress` with its JSON configuration; a 2xx answer is also its readiness check;
//! - `GET /ca`, a PEM that it copies into the application container;
//! - `CONNECT 127.0.0.1:<port>` (also in `X-Dst-Addr`) for every connection to a container port: a raw tunnel into
//!   the shared namespace, or 400 when nothing listens there ("Container is not listening to port N").
//!
//! The real image also captures the container's outbound traffic and hands it to the Worker's egress handlers.
//! This one does not: a container behind it has no way out beyond what its network gives it. It exists for
//! machines that cannot pull the real image (no registry); `scripts/lib/docker.sh` uses the real one wherever it
//! can be had.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEFAULT_INGRESS: &str = "0.0.0.0:39001";
/// Largest request head or `PUT /egress` body read.
const HEAD_LIMIT: usize = 16 * 1024;
const BODY_LIMIT: usize = 1024 * 1024;
/// How long a client may take to send its request, and a tunnel's connect.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// What `GET /ca` answers: a PEM document with no certificate in it, since nothing is intercepted.
const NO_CA: &str = "# sandbox-rs egress stand-in: outbound TLS is not intercepted, so there is no CA certificate.\n";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ingress = ingress_address(&args).unwrap_or_else(|| DEFAULT_INGRESS.to_string());
    let listener = match TcpListener::bind(&ingress).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("egress stand-in: cannot listen on {ingress}: {err}");
            std::process::exit(1);
        }
    };
    eprintln!("egress stand-in: listening on {ingress} (arguments: {})", args.join(" "));
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            eprintln!("egress stand-in: cannot watch SIGTERM: {err}");
            std::process::exit(1);
        }
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(serve(stream)); }
                Err(err) => {
                    eprintln!("egress stand-in: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = term.recv() => return,
        }
    }
}

/// The value of `--http-ingress-address`.
fn ingress_address(args: &[String]) -> Option<String> {
    args.iter().position(|a| a == "--http-ingress-address").and_then(|i| args.get(i + 1)).cloned()
}

/// Answers the requests of one connection until it closes or becomes a tunnel.
async fn serve(mut stream: TcpStream) {
    let mut buffer = Vec::new();
    loop {
        let head = match tokio::time::timeout(IO_TIMEOUT, read_head(&mut stream, &mut buffer)).await {
            Ok(Ok(Some(head))) => head,
            _ => return,
        };
        let request = match Head::parse(&buffer[..head]) {
            Some(request) => request,
            None => {
                let _ = stream.write_all(&answer(400, "malformed request")).await;
                return;
            }
        };
        let rest = buffer.split_off(head);
        buffer = rest;
        if request.method == "CONNECT" {
            return tunnel(stream, &request, buffer).await;
        }
        // A body (only `PUT /egress` has one) is read and dropped: nothing here acts on the configuration.
        if request.content_length > BODY_LIMIT {
            let _ = stream.write_all(&answer(413, "body too large")).await;
            return;
        }
        while buffer.len() < request.content_length {
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout(IO_TIMEOUT, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
        buffer.drain(..request.content_length);
        let reply = match (request.method.as_str(), request.path.as_str()) {
            ("PUT", "/egress") => answer(200, ""),
            ("GET", "/ca") => answer(200, NO_CA),
            _ => answer(404, "not found"),
        };
        if stream.write_all(&reply).await.is_err() {
            return;
        }
    }
}

/// Reads until `buffer` holds a whole request head; returns its length (`None`: closed or too large).
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(end + 4));
        }
        if buffer.len() > HEAD_LIMIT {
            return Ok(None);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Connects to the destination inside the shared network namespace and joins the two streams. Only loopback
/// destinations are served: the ingress is for reaching the container, not a way out of it.
async fn tunnel(mut client: TcpStream, request: &Head, early: Vec<u8>) {
    let destination = request.dst_addr.as_deref().unwrap_or(&request.path);
    let Some(address) = loopback(destination) else {
        let _ = client.write_all(&answer(403, "only loopback destinations are tunnelled")).await;
        return;
    };
    let mut upstream = match tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(address)).await {
        Ok(Ok(upstream)) => upstream,
        // What workerd reads as "the container is not listening to this port".
        _ => {
            let _ = client.write_all(&answer(400, "nothing listens there")).await;
            return;
        }
    };
    if client.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.is_err() {
        return;
    }
    if !early.is_empty() && upstream.write_all(&early).await.is_err() {
        return;
    }
    join(client, upstream).await;
}

/// Copies both ways until the destination's side ends, then closes the tunnel. A destination that closed its
/// connection (its program exited, or died) closes the caller's too, at once: a tunnel left half open is a
/// kept-alive connection that the caller may send its next request on and never hear from again. The caller's
/// end of sending is passed on, and the answer still flows back; a caller that fails ends the tunnel.
async fn join(mut client: TcpStream, mut upstream: TcpStream) {
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let to_upstream = async {
        if tokio::io::copy(&mut client_read, &mut upstream_write).await.is_ok() {
            let _ = upstream_write.shutdown().await;
            std::future::pending::<()>().await;
        }
    };
    let to_client = async {
        let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        () = to_upstream => {}
        () = to_client => {}
    }
}

/// `host:port` when the host is a loopback address.
fn loopback(destination: &str) -> Option<SocketAddr> {
    let address: SocketAddr = match destination.parse() {
        Ok(address) => address,
        Err(_) => {
            let (host, port) = destination.rsplit_once(':')?;
            if host != "localhost" {
                return None;
            }
            SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port.parse().ok()?)
        }
    };
    address.ip().is_loopback().then_some(address)
}

/// A request head, as far as this program needs it.
#[derive(Debug, PartialEq)]
struct Head {
    method: String,
    path: String,
    content_length: usize,
    dst_addr: Option<String>,
}

impl Head {
    fn parse(bytes: &[u8]) -> Option<Head> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.split("\r\n");
        let mut parts = lines.next()?.split(' ');
        let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
        let mut head = Head { method, path, content_length: 0, dst_addr: None };
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':')?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                head.content_length = value.parse().ok()?;
            } else if name.eq_ignore_ascii_case("x-dst-addr") {
                head.dst_addr = Some(value.to_string());
            }
        }
        Some(head)
    }
}

fn answer(status: u16, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Payload Too Large",
    };
    format!("HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}", body.len())
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_of_what_workerd_sends() {
        let connect = b"CONNECT 127.0.0.1:3000 HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nX-Dst-Addr: 127.0.0.1:3000\r\n\r\n";
        assert_eq!(
            Head::parse(connect),
            Some(Head {
                method: "CONNECT".into(),
                path: "127.0.0.1:3000".into(),
                content_length: 0,
                dst_addr: Some("127.0.0.1:3000".into())
            })
        );
        let put = b"PUT /egress HTTP/1.1\r\nContent-Length: 12\r\n\r\n";
        assert_eq!(
            Head::parse(put).map(|h| (h.method, h.path, h.content_length)),
            Some(("PUT".into(), "/egress".into(), 12))
        );
        assert_eq!(Head::parse(b"garbage\r\n\r\n"), None);
        assert_eq!(Head::parse(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), None);
    }

    #[test]
    fn only_loopback_is_tunnelled() {
        assert_eq!(loopback("127.0.0.1:3000"), Some("127.0.0.1:3000".parse().unwrap()));
        assert_eq!(loopback("localhost:80"), Some("127.0.0.1:80".parse().unwrap()));
        assert_eq!(loopback("[::1]:80"), Some("[::1]:80".parse().unwrap()));
        assert_eq!(loopback("10.0.0.1:3000"), None);
        assert_eq!(loopback("example.com:443"), None);
        assert_eq!(loopback("127.0.0.1"), None);
    }

    /// Two ends of a loopback connection.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        (near, listener.accept().await.unwrap().0)
    }

    #[tokio::test]
    async fn a_tunnel_closes_when_its_destination_does_even_if_the_caller_keeps_it_open() {
        let (mut caller, client) = pair().await;
        let (upstream, mut destination) = pair().await;
        let tunnel = tokio::spawn(join(client, upstream));
        caller.write_all(b"request").await.unwrap();
        let mut got = [0u8; 7];
        destination.read_exact(&mut got).await.unwrap();
        destination.write_all(b"answer").await.unwrap();
        drop(destination);
        let mut answer = Vec::new();
        caller.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"answer", "what the destination sent arrives before the end");
        tokio::time::timeout(Duration::from_secs(5), tunnel)
            .await
            .expect("the tunnel ended while the caller still held its connection")
            .unwrap();
    }

    #[tokio::test]
    async fn the_answer_still_flows_after_the_caller_ends_its_sending() {
        let (mut caller, client) = pair().await;
        let (upstream, mut destination) = pair().await;
        let tunnel = tokio::spawn(join(client, upstream));
        caller.write_all(b"ask").await.unwrap();
        caller.shutdown().await.unwrap();
        let mut asked = Vec::new();
        destination.read_to_end(&mut asked).await.unwrap();
        assert_eq!(asked, b"ask");
        destination.write_all(b"late answer").await.unwrap();
        drop(destination);
        let mut answer = Vec::new();
        caller.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"late answer");
        tokio::time::timeout(Duration::from_secs(5), tunnel).await.unwrap().unwrap();
    }

    #[test]
    fn the_ingress_address_argument() {
        let args: Vec<String> = ["--http-egress-port", "1", "--http-ingress-address", "0.0.0.0:39001", "--dns-enabled"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(ingress_address(&args).as_deref(), Some("0.0.0.0:39001"));
        assert_eq!(ingress_address(&[]), None);
    }
}
