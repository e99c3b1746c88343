//! A sandbox's own certificate authority, for the proxy's TLS toward the sandbox on a secret's hosts: made when
//! the sandbox's egress is, trusted by that sandbox alone (its jail's bundle, `trust_bundle`), never by the
//! machine. A certificate per host is made from it on first use and kept (a few hundred hosts at most).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::decide::Target;

/// Hosts whose certificates are kept; past it the kept ones are dropped and made again as asked.
const KEPT_LEAVES: usize = 256;

pub struct SandboxCa {
    cert: Certificate,
    key: KeyPair,
    leaves: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl SandboxCa {
    /// A new CA for the sandbox `id`, valid from a day ago for a year.
    pub fn new(id: &str) -> Result<SandboxCa, String> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name = name(&format!("sandbox-rs egress CA for sandbox {id}"));
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        Ok(SandboxCa { cert, key, leaves: Mutex::new(HashMap::new()) })
    }

    /// The CA's certificate, PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// The certificate (and its key) the proxy shows the sandbox for `host`.
    pub fn leaf(&self, host: &Target) -> Result<Arc<CertifiedKey>, String> {
        let shown = host.to_string();
        if let Some(kept) = self.leaves.lock().unwrap_or_else(|e| e.into_inner()).get(&shown) {
            return Ok(Arc::clone(kept));
        }
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        params.subject_alt_names = vec![match host {
            Target::Name(name) => SanType::DnsName(name.clone().try_into().map_err(|e| format!("{e}"))?),
            Target::Addr(addr) => SanType::IpAddress(*addr),
        }];
        params.distinguished_name = name(&shown);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(30);
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params.signed_by(&key, &self.cert, &self.key).map_err(|e| e.to_string())?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signer = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| e.to_string())?;
        let leaf = Arc::new(CertifiedKey::new(vec![cert.der().clone(), self.cert.der().clone()], signer));
        let mut leaves = self.leaves.lock().unwrap_or_else(|e| e.into_inner());
        if leaves.len() >= KEPT_LEAVES {
            leaves.clear();
        }
        leaves.insert(shown, Arc::clone(&leaf));
        Ok(leaf)
    }
}

fn name(common: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common);
    name
}

/// What a jail's `/etc/ssl/certs/ca-certificates.crt` holds: the host's bundle (when it has one) and the
/// sandbox's CA.
pub fn trust_bundle(host_bundle: Option<&[u8]>, ca_pem: &str) -> Vec<u8> {
    let mut bundle = host_bundle.map(<[u8]>::to_vec).unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with(b"\n") {
        bundle.push(b'\n');
    }
    bundle.extend_from_slice(ca_pem.as_bytes());
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leaf_is_made_once_per_host_and_chains_to_the_ca() {
        use rustls::client::danger::ServerCertVerifier;
        let ca = SandboxCa::new("box").unwrap();
        let host = Target::parse("api.github.com").unwrap();
        let first = ca.leaf(&host).unwrap();
        assert!(Arc::ptr_eq(&first, &ca.leaf(&host).unwrap()), "kept");
        assert_eq!(first.cert.len(), 2);
        assert_eq!(first.cert[1], *ca.cert.der());
        assert!(ca.leaf(&Target::parse("10.1.2.3").unwrap()).is_ok());
        // A client that trusts the CA accepts the leaf for its host, and only for it.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert.der().clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder(Arc::new(roots)).build().unwrap();
        let now = rustls::pki_types::UnixTime::now();
        let name = |n: &str| rustls::pki_types::ServerName::try_from(n.to_string()).unwrap();
        assert!(verifier
            .verify_server_cert(&first.cert[0], &first.cert[1..], &name("api.github.com"), &[], now)
            .is_ok());
        assert!(verifier.verify_server_cert(&first.cert[0], &first.cert[1..], &name("github.com"), &[], now).is_err());
    }

    #[test]
    fn the_bundle_keeps_the_hosts_roots_and_adds_the_ca() {
        assert_eq!(trust_bundle(Some(b"HOST"), "CA\n"), b"HOST\nCA\n");
        assert_eq!(trust_bundle(None, "CA\n"), b"CA\n");
    }
}
