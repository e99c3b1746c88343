//! A sandbox's secrets, as its proxy holds them: each with the hosts it goes to, the header it goes into, and
//! the placeholder the sandbox uses in its place. `inject` (pure) writes them into a request's head: the header
//! set to the value (the sandbox's own of that name dropped), and a placeholder anywhere in another header of a
//! request to one of the secret's hosts replaced by the value. A request to any other host goes as the sandbox
//! wrote it: with the placeholder.

use std::sync::{Arc, RwLock};

use sandbox_protocol::{NetworkRule, SecretInfo, SetSecretRequest, MAX_SECRETS};

use super::decide::Target;

pub struct Secret {
    name: String,
    value: String,
    placeholder: String,
    hosts: Vec<NetworkRule>,
    header: String,
    format: String,
}

impl Secret {
    /// A secret from a request that `SetSecretRequest::checked` passed and that carries its placeholder.
    pub fn new(req: &SetSecretRequest) -> Result<Secret, String> {
        let req = req.checked()?;
        let placeholder = req.placeholder.clone().ok_or("the secret's placeholder is missing")?;
        let hosts = req.hosts.iter().map(|h| NetworkRule::parse(h)).collect::<Result<Vec<_>, _>>()?;
        Ok(Secret {
            name: req.name.clone(),
            value: req.value.clone(),
            placeholder,
            hosts,
            header: req.header.clone().unwrap_or_default(),
            format: req.format.clone().unwrap_or_default(),
        })
    }

    pub fn info(&self) -> SecretInfo {
        SecretInfo {
            name: self.name.clone(),
            placeholder: self.placeholder.clone(),
            hosts: self.hosts.iter().map(|h| h.to_string()).collect(),
            header: self.header.clone(),
            format: self.format.clone(),
        }
    }

    /// Whether a request to `target` at `port` gets this secret: one of its hosts names it (a name rule the name,
    /// an address rule the address asked for; never what a name resolved to).
    pub fn applies(&self, target: &Target, port: u16) -> bool {
        let (name, addr) = match target {
            Target::Name(name) => (Some(name.as_str()), None),
            Target::Addr(addr) => (None, Some(*addr)),
        };
        self.hosts.iter().any(|rule| rule.matches(name, addr, port))
    }
}

/// A sandbox's secrets, by name.
#[derive(Default)]
pub struct Secrets(RwLock<Vec<Arc<Secret>>>);

impl Secrets {
    /// Makes or replaces (by name) a secret; `Err(true)` when the sandbox has as many as it may.
    pub fn set(&self, secret: Secret) -> Result<(), bool> {
        let mut all = self.0.write().unwrap_or_else(|e| e.into_inner());
        match all.iter().position(|s| s.name == secret.name) {
            Some(i) => all[i] = Arc::new(secret),
            None if all.len() >= MAX_SECRETS => return Err(true),
            None => all.push(Arc::new(secret)),
        }
        Ok(())
    }

    /// Whether a secret of that name was there.
    pub fn delete(&self, name: &str) -> bool {
        let mut all = self.0.write().unwrap_or_else(|e| e.into_inner());
        let before = all.len();
        all.retain(|s| s.name != name);
        all.len() != before
    }

    pub fn list(&self) -> Vec<SecretInfo> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).iter().map(|s| s.info()).collect()
    }

    /// The secrets a request to `target` at `port` gets.
    pub fn for_target(&self, target: &Target, port: u16) -> Vec<Arc<Secret>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).iter().filter(|s| s.applies(target, port)).cloned().collect()
    }
}

/// `head` (a whole request head, its blank line included) with `secrets` written in. Header lines are kept as
/// they came but for those named by a secret's header, which are replaced.
pub fn inject(head: &[u8], secrets: &[Arc<Secret>]) -> Vec<u8> {
    if secrets.is_empty() {
        return head.to_vec();
    }
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut out = String::with_capacity(head.len() + 256);
    out.push_str(lines.next().unwrap_or_default());
    out.push_str("\r\n");
    for line in lines.take_while(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim();
        if secrets.iter().any(|s| s.header.eq_ignore_ascii_case(name)) {
            continue;
        }
        let mut line = line.to_string();
        for secret in secrets {
            if line.contains(&secret.placeholder) {
                line = line.replace(&secret.placeholder, &secret.value);
            }
        }
        out.push_str(&line);
        out.push_str("\r\n");
    }
    for secret in secrets {
        out.push_str(&secret.header);
        out.push_str(": ");
        out.push_str(&secret.format.replacen("{}", &secret.value, 1));
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, hosts: &[&str], header: Option<&str>, format: Option<&str>) -> Secret {
        Secret::new(&SetSecretRequest {
            name: name.into(),
            value: format!("{name}-real"),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            header: header.map(str::to_string),
            format: format.map(str::to_string),
            placeholder: Some(format!("sandbox-secret-{name}-0123456789")),
        })
        .unwrap()
    }

    fn target(host: &str) -> Target {
        Target::parse(host).unwrap()
    }

    #[test]
    fn a_secret_goes_to_its_hosts_only() {
        let s = secret("GH", &["api.github.com", "*.example.com:8443", "10.0.0.0/8"], None, None);
        assert!(s.applies(&target("api.github.com"), 443));
        assert!(!s.applies(&target("github.com"), 443));
        assert!(s.applies(&target("a.example.com"), 8443));
        assert!(!s.applies(&target("a.example.com"), 443));
        assert!(s.applies(&target("10.1.2.3"), 80));
        assert!(!s.applies(&target("11.1.2.3"), 80));
    }

    #[test]
    fn the_header_is_set_and_placeholders_replaced_in_a_request_to_its_host() {
        let gh = Arc::new(secret("GH", &["api.github.com"], None, None));
        let key = Arc::new(secret("KEY", &["api.github.com"], Some("X-Api-Key"), Some("{}")));
        let head = b"GET /user HTTP/1.1\r\nHost: api.github.com\r\nauthorization: Bearer sandbox-secret-GH-0123456789\r\n\
                     X-Note: sandbox-secret-KEY-0123456789 and sandbox-secret-GH-0123456789\r\nConnection: close\r\n\r\n";
        let out = String::from_utf8(inject(head, &[gh, key])).unwrap();
        assert_eq!(
            out,
            "GET /user HTTP/1.1\r\nHost: api.github.com\r\nX-Note: KEY-real and GH-real\r\nConnection: close\r\n\
             Authorization: Bearer GH-real\r\nX-Api-Key: KEY-real\r\n\r\n"
        );
        assert_eq!(inject(head, &[]), head.to_vec(), "no secret for the host: the head as it came");
    }

    #[test]
    fn secrets_are_replaced_by_name_and_bounded() {
        let all = Secrets::default();
        for i in 0..MAX_SECRETS {
            all.set(secret(&format!("S{i}"), &["a.com"], None, None)).unwrap();
        }
        assert_eq!(all.set(secret("ONE_MORE", &["a.com"], None, None)), Err(true));
        assert_eq!(all.set(secret("S0", &["b.com"], None, None)), Ok(()), "a name already there is replaced");
        assert_eq!(all.list()[0].hosts, vec!["b.com".to_string()]);
        assert!(all.delete("S0") && !all.delete("S0"));
        assert_eq!(all.for_target(&target("a.com"), 443).len(), MAX_SECRETS - 1);
    }
}
