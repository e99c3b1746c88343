//! A host of the test's own: a network namespace joined to this one by a veth pair, with a server in it. Needs
//! root; removed when dropped. Each host of a test process (at most 100) has its own name and /30
//! in 10.199.0.0/16.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// What the server says to each connection.
#[derive(Clone, Copy)]
pub enum Speaks {
    /// "hello from outside", at once, then the close.
    Hello,
    /// An HTTP/1.1 answer whose body is "hello from outside", after the request's head.
    Http,
    /// An HTTP/1.1 answer whose body is the request's head, as it arrived.
    Echo,
    /// `Echo` over TLS, with a certificate for its address from a CA of its own (`TestHost::ca_pem`).
    TlsEcho,
}

pub const HELLO: &str = "hello from outside";

pub struct TestHost {
    pub name: String,
    pub addr: Ipv4Addr,
    pub port: u16,
    /// With `Speaks::TlsEcho`: the CA its certificate is from, PEM.
    pub ca_pem: String,
}

static NEXT_HOST: AtomicU32 = AtomicU32::new(0);

impl TestHost {
    pub fn start(speaks: Speaks) -> TestHost {
        let n = NEXT_HOST.fetch_add(1, Ordering::SeqCst);
        assert!(n < 100, "a test process makes at most 100 hosts (their names and addresses are its own)");
        let slot = (std::process::id() % 160) * 100 + n;
        let id = format!("{}{n:02}", std::process::id() % 1000);
        let name = format!("sbx-out-{id}");
        let (near, far) = (format!("sbxo{id}h"), format!("sbxo{id}n"));
        let base = u32::from(Ipv4Addr::new(10, 199, 0, 0)) + slot * 4;
        let (near_addr, addr) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("ip");
            assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        ip(&["link", "add", &near, "type", "veth", "peer", "name", &far, "netns", &name]);
        ip(&["addr", "add", &format!("{near_addr}/30"), "dev", &near]);
        ip(&["link", "set", &near, "up"]);
        ip(&["-n", &name, "addr", "add", &format!("{addr}/30"), "dev", &far]);
        ip(&["-n", &name, "link", "set", &far, "up"]);
        // The server's socket is made in the namespace (by a thread that joins it) and served from there.
        let ns = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
        let listener = std::thread::spawn(move || {
            // SAFETY: setns changes this thread's network namespace only.
            assert_eq!(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
            std::net::TcpListener::bind((addr, 0)).unwrap()
        })
        .join()
        .unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tls, ca_pem) = match speaks {
            Speaks::TlsEcho => {
                let (config, ca) = tls_config(addr);
                (Some(config), ca)
            }
            _ => (None, String::new()),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                        answer(rustls::StreamOwned::new(conn, stream), Speaks::Echo);
                    }
                    None => answer(stream, speaks),
                });
            }
        });
        TestHost { name, addr, port, ca_pem }
    }
}

/// A server configuration with a certificate for `addr` from a new CA, and that CA's certificate (PEM).
fn tls_config(addr: Ipv4Addr) -> (std::sync::Arc<rustls::ServerConfig>, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Names of their own (rcgen's default is one for all): OpenSSL finds an issuer by name.
    ca_params.distinguished_name.push(DnType::CommonName, format!("test CA of {addr}"));
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![SanType::IpAddress(addr.into())];
    params.distinguished_name.push(DnType::CommonName, addr.to_string());
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone(), ca.der().clone()], der)
        .unwrap();
    (std::sync::Arc::new(config), ca.pem())
}

fn answer(mut stream: impl std::io::Read + std::io::Write, speaks: Speaks) {
    use std::io::{Read, Write};
    if let Speaks::Http | Speaks::Echo = speaks {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        if let Speaks::Echo = speaks {
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", head.len());
            let _ = stream.write_all(&head);
            let _ = stream.flush();
            return;
        }
        let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", HELLO.len());
    }
    let _ = stream.write_all(HELLO.as_bytes());
}

impl Drop for TestHost {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}
