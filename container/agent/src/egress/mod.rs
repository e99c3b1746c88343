//! Egress control (`setNetworkPolicy`): what a sandbox's code may reach. A local sandbox's jail has a network
//! namespace of its own whose one way out under a policy that restricts anything is this proxy: its listener is
//! made on the jail's loopback and handed to the host agent (`handoff.rs`), which judges each connection by the
//! sandbox's policy (`decide.rs`, pure; the request's head in `head.rs`, pure) and makes the allowed ones from
//! outside the jail (`proxy.rs`). What it decided is counted per sandbox (`record.rs`). The sandbox's programs
//! find the proxy through the usual variables (`PROXY_ENV`); a program that ignores them gets nowhere but where
//! the direct way out allows: none under a restricting policy (the jail's user-mode network is ended, so it has
//! its loopback alone), the open internet otherwise.

pub mod ca;
pub mod decide;
pub mod handoff;
pub mod head;
pub mod intercept;
pub mod proxy;
pub mod record;
pub mod secrets;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use record::SandboxEgress;

/// Where the proxy listens inside a sandbox.
pub const PROXY_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3128);
pub const PROXY_URL: &str = "http://127.0.0.1:3128";

/// The variables that point a sandbox's programs at the proxy (curl, git, pip, npm, apt, Python's requests, Go;
/// Node's own `fetch` from version 24 with `NODE_USE_ENV_PROXY`). The sandbox's own loopback is not proxied.
pub const PROXY_ENV: [(&str, &str); 7] = [
    ("HTTP_PROXY", PROXY_URL),
    ("HTTPS_PROXY", PROXY_URL),
    ("http_proxy", PROXY_URL),
    ("https_proxy", PROXY_URL),
    ("NO_PROXY", "localhost,127.0.0.1,::1"),
    ("no_proxy", "localhost,127.0.0.1,::1"),
    ("NODE_USE_ENV_PROXY", "1"),
];

/// Where a jail's trust bundle is (the system's, replaced in the jail by the host's and the sandbox's CA), and
/// the variables that point programs with bundles of their own at it.
pub const TRUST_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
pub const TRUST_ENV: [(&str, &str); 4] = [
    ("SSL_CERT_FILE", TRUST_BUNDLE),
    ("REQUESTS_CA_BUNDLE", TRUST_BUNDLE),
    ("NODE_EXTRA_CA_CERTS", TRUST_BUNDLE),
    ("PIP_CERT", TRUST_BUNDLE),
];

/// Every local sandbox's egress, kept from its first policy until it is destroyed (a stopped jail's policy
/// holds for its next start).
#[derive(Default)]
pub struct Egress {
    sandboxes: Mutex<HashMap<String, Arc<SandboxEgress>>>,
}

impl Egress {
    /// The sandbox's egress, made (with the open policy) on first use.
    pub fn of(&self, id: &str) -> Arc<SandboxEgress> {
        let mut all = self.sandboxes.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(all.entry(id.to_string()).or_default())
    }

    /// The sandbox's egress if it has one (a read makes none).
    pub fn get(&self, id: &str) -> Option<Arc<SandboxEgress>> {
        self.sandboxes.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    pub fn forget(&self, id: &str) {
        self.sandboxes.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// A running proxy, ended when dropped.
pub struct Serving(tokio::task::AbortHandle);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves the sandbox `id`'s proxy on `listener` (made in its namespace) until the returned handle drops.
pub fn serve(
    listener: std::net::TcpListener,
    id: &str,
    egress: Arc<SandboxEgress>,
    outside: proxy::Outside,
) -> std::io::Result<Serving> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let task = tokio::spawn(proxy::serve(listener, Arc::from(id), egress, outside));
    Ok(Serving(task.abort_handle()))
}
