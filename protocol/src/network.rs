//! Egress: what a sandbox's code may reach (`setNetworkPolicy`). The policy's shape and its rules' grammar are
//! here, pure, so the Worker checks a policy (its own default included) with the same words the agent enforces.
//!
//! A rule is a host name (`api.github.com`), a wildcard of its subdomains (`*.github.com`, which does not match
//! `github.com` itself), an address (`10.1.2.3`, `::1`) or a network (`10.0.0.0/8`, `fd00::/8`), optionally with a
//! port (`localhost:8080`, `[::1]:8080`, `10.0.0.0/8:5432`). Names are matched without case and without a final dot.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Most rules in each of `allow` and `deny`.
pub const MAX_NETWORK_RULES: usize = 256;
/// Most denials a sandbox's policy state lists (the latest).
pub const RECENT_DENIALS: usize = 20;

/// `PUT /v1/network/policy`: the whole policy, replacing the one in effect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicy {
    /// Whether hosts no rule names are reachable. Left out: `true` when `allow` is empty, `false` when it names
    /// hosts (an allow-list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet: Option<bool>,
    /// Reachable even when `internet` is false. The machine's own addresses (loopback, link-local, the host's)
    /// are reachable only through a rule here that names them with a port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Never reachable, whatever `allow` says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl NetworkPolicy {
    /// Whether hosts no rule names are reachable.
    pub fn internet(&self) -> bool {
        self.internet.unwrap_or(self.allow.is_empty())
    }

    /// Whether the policy stops anything the open internet would reach: where it cannot be enforced, such a
    /// policy is refused rather than pretended.
    pub fn restricts(&self) -> bool {
        !self.internet() || !self.deny.is_empty()
    }

    /// The policy with `internet` spelled out and every rule in its canonical form, or why it is not valid.
    pub fn checked(&self) -> Result<NetworkPolicy, String> {
        let canon = |list: &[String], what: &str| -> Result<Vec<String>, String> {
            if list.len() > MAX_NETWORK_RULES {
                return Err(format!("{what} has {} rules; at most {MAX_NETWORK_RULES}", list.len()));
            }
            list.iter()
                .map(|r| NetworkRule::parse(r).map(|r| r.to_string()).map_err(|e| format!("{what}: {e}")))
                .collect()
        };
        Ok(NetworkPolicy {
            internet: Some(self.internet()),
            allow: canon(&self.allow, "allow")?,
            deny: canon(&self.deny, "deny")?,
        })
    }
}

/// One rule of a policy, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRule {
    pub target: RuleTarget,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTarget {
    /// A host name, lower case, no final dot.
    Name(String),
    /// `*.suffix`: any name ending in `.suffix`.
    Subdomains(String),
    /// An address and the length of its prefix (32 or 128 for one address).
    Network(IpAddr, u8),
}

impl NetworkRule {
    pub fn parse(text: &str) -> Result<NetworkRule, String> {
        let text = text.trim();
        if text.is_empty() || text.len() > 300 {
            return Err(format!("a rule must be 1 to 300 characters, got {}", text.len()));
        }
        let (host, port) = split_port(text)?;
        if let Some((addr, prefix)) = parse_network(host)? {
            return Ok(NetworkRule { target: RuleTarget::Network(addr, prefix), port });
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        let (wild, name) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, name),
        };
        check_name(&name).map_err(|why| format!("{text:?}: {why}"))?;
        let target = if wild { RuleTarget::Subdomains(name) } else { RuleTarget::Name(name) };
        Ok(NetworkRule { target, port })
    }

    /// Whether a connection to the name `host` (lower case, no final dot; `None` for a bare address) at `addr`
    /// and `port` is this rule's.
    pub fn matches(&self, host: Option<&str>, addr: Option<IpAddr>, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.target {
            RuleTarget::Name(name) => host == Some(name.as_str()),
            RuleTarget::Subdomains(suffix) => host.is_some_and(|h| {
                h.len() > suffix.len() + 1 && h.ends_with(suffix.as_str()) && {
                    h.as_bytes()[h.len() - suffix.len() - 1] == b'.'
                }
            }),
            RuleTarget::Network(net, prefix) => addr.is_some_and(|a| in_network(a, *net, *prefix)),
        }
    }
}

impl std::fmt::Display for NetworkRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = match &self.target {
            RuleTarget::Name(name) => name.clone(),
            RuleTarget::Subdomains(suffix) => format!("*.{suffix}"),
            RuleTarget::Network(addr, prefix) => {
                let full = if addr.is_ipv4() { 32 } else { 128 };
                match (addr, *prefix == full) {
                    (IpAddr::V6(a), true) if self.port.is_some() => format!("[{a}]"),
                    (a, true) => a.to_string(),
                    (a, false) => format!("{a}/{prefix}"),
                }
            }
        };
        match self.port {
            Some(port) => write!(f, "{host}:{port}"),
            None => f.write_str(&host),
        }
    }
}

/// `host` and its port: `name:port`, `[v6]:port`, `net/len:port`; a bare IPv6 address has no port.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    let parse = |p: &str| match p.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Some(port)),
        _ => Err(format!("{text:?}: the port must be 1 to 65535")),
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| format!("{text:?}: no closing ']'"))?;
        return match after {
            "" => Ok((host, None)),
            p => Ok((host, parse(p.strip_prefix(':').ok_or_else(|| format!("{text:?}: ':' must follow ']'"))?)?)),
        };
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => {
            let (host, port) = text.split_once(':').expect("one colon");
            Ok((host, parse(port)?))
        }
        // An IPv6 address or network, bare.
        _ => Ok((text, None)),
    }
}

/// An address or network (`a`, `a/len`), `None` when `text` is not one.
fn parse_network(text: &str) -> Result<Option<(IpAddr, u8)>, String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return match prefix {
            Some(_) => Err(format!("{text:?} is not a network (address/length)")),
            None => Ok(None),
        };
    };
    let full = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => full,
        Some(p) => {
            p.parse::<u8>().ok().filter(|p| *p <= full).ok_or_else(|| format!("{text:?}: length 0 to {full}"))?
        }
    };
    Ok(Some((masked(addr, prefix), prefix)))
}

fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// Whether `addr` lies in `net/prefix` (an IPv4-mapped IPv6 address counts as its IPv4 one).
pub fn in_network(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let addr = match addr {
        IpAddr::V6(a) => a.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        a => a,
    };
    addr.is_ipv4() == net.is_ipv4() && masked(addr, prefix) == net
}

/// A host name by DNS's rules: labels of letters, digits, `-` and `_`, 1 to 63 each, 253 in all.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("a host name is 1 to 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each part of a host name is 1 to 63 characters".into());
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') || label.starts_with('-') {
            return Err("a host name has only letters, digits, '-' and '_' between its dots".into());
        }
    }
    Ok(())
}

/// The policy in effect and what it has decided (`GET` and `PUT /v1/network/policy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NetworkState {
    pub success: bool,
    /// The policy, `internet` spelled out and its rules in canonical form.
    pub policy: NetworkPolicy,
    /// Whether the sandbox's code can reach the network only as the policy says. `false` where this agent cannot
    /// give its sandboxes a network namespace of their own; `reason` says why, and a policy that restricts
    /// anything is refused there (`EGRESS_UNAVAILABLE`).
    pub enforced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The address of the egress proxy inside the sandbox (`HTTP_PROXY`, `HTTPS_PROXY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Connections the proxy made, and refused, since the agent started.
    pub allowed: u64,
    pub denied: u64,
    /// Connections by host, most first (at most 50).
    #[serde(default)]
    pub hosts: Vec<HostCount>,
    /// The latest refusals, newest last.
    #[serde(default)]
    pub recent_denials: Vec<EgressDenial>,
}

/// The connections to one host the proxy made and refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HostCount {
    pub host: String,
    pub allowed: u64,
    pub denied: u64,
}

/// One refused connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EgressDenial {
    /// The host as the sandbox named it (a name or an address).
    pub host: String,
    pub port: u16,
    /// Why: the rule that denied it, `not allowed` (no rule and no internet), or the machine's own address.
    pub reason: String,
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> NetworkRule {
        NetworkRule::parse(text).unwrap()
    }

    #[test]
    fn rules_parse_to_one_canonical_form() {
        for (given, canon) in [
            ("API.GitHub.com.", "api.github.com"),
            ("*.github.com", "*.github.com"),
            ("localhost:8080", "localhost:8080"),
            ("10.1.2.3", "10.1.2.3"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("10.0.0.0/8:5432", "10.0.0.0/8:5432"),
            ("::1", "::1"),
            ("[::1]:8080", "[::1]:8080"),
            ("fd00::/8", "fd00::/8"),
        ] {
            assert_eq!(rule(given).to_string(), canon, "{given}");
            assert_eq!(rule(canon).to_string(), canon, "{canon} again");
        }
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for bad in [
            "",
            "a b",
            "host:0",
            "host:99999",
            "host:x",
            "10.0.0.0/33",
            "x/8",
            "-bad.com",
            "a..b",
            "[::1",
            "*.",
            "ex*.com",
        ] {
            assert!(NetworkRule::parse(bad).is_err(), "{bad:?} was taken");
        }
        assert!(NetworkRule::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn names_wildcards_networks_and_ports_match_as_written() {
        let any = 443;
        assert!(rule("api.github.com").matches(Some("api.github.com"), None, any));
        assert!(!rule("api.github.com").matches(Some("github.com"), None, any));
        assert!(rule("*.github.com").matches(Some("api.github.com"), None, any));
        assert!(rule("*.github.com").matches(Some("a.b.github.com"), None, any));
        assert!(!rule("*.github.com").matches(Some("github.com"), None, any));
        assert!(!rule("*.github.com").matches(Some("evilgithub.com"), None, any));
        assert!(rule("localhost:8080").matches(Some("localhost"), None, 8080));
        assert!(!rule("localhost:8080").matches(Some("localhost"), None, 8081));
        let v4 = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(rule("10.0.0.0/8").matches(None, v4("10.9.8.7"), any));
        assert!(rule("10.0.0.0/8").matches(Some("db.internal"), v4("10.9.8.7"), any));
        assert!(!rule("10.0.0.0/8").matches(None, v4("11.0.0.1"), any));
        assert!(rule("10.0.0.0/8").matches(None, v4("::ffff:10.0.0.1"), any), "a mapped address is its IPv4 one");
        assert!(rule("0.0.0.0/0").matches(None, v4("1.2.3.4"), any));
        assert!(!rule("0.0.0.0/0").matches(None, v4("::1"), any));
        assert!(!rule("api.github.com").matches(None, v4("140.82.1.1"), any), "a name never matches an address");
    }

    #[test]
    fn internet_follows_the_allow_list_unless_given() {
        let policy = |internet, allow: &[&str], deny: &[&str]| NetworkPolicy {
            internet,
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        };
        assert!(policy(None, &[], &[]).internet() && !policy(None, &[], &[]).restricts());
        assert!(!policy(None, &["a.com"], &[]).internet() && policy(None, &["a.com"], &[]).restricts());
        assert!(policy(Some(true), &["localhost:1"], &[]).internet());
        assert!(policy(None, &[], &["a.com"]).restricts());
        let checked = policy(None, &["A.com"], &[]).checked().unwrap();
        assert_eq!(checked, policy(Some(false), &["a.com"], &[]));
        let many: Vec<String> = (0..=MAX_NETWORK_RULES).map(|i| format!("h{i}.com")).collect();
        assert!(NetworkPolicy { deny: many, ..Default::default() }.checked().is_err());
    }
}
