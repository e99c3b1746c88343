//! Whether a connection the sandbox asks for may be made, and to which of its addresses (pure).
//!
//! The order: a `deny` rule naming the host, before anything is resolved; under `internet: false`, a name that no
//! `allow` rule names is refused before it is resolved too (a lookup of a name the sandbox makes up is a way out
//! for data); then each address the name resolved to (or the bare address asked for): a `deny` rule on it refuses
//! the connection, and it is kept when it is open (the internet, or an `allow` rule) and, for one of the machine's
//! own addresses, only when an `allow` rule names it with the port. The connection goes to the kept addresses
//! alone, so a name that resolves to loopback gets no further than its address would.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sandbox_protocol::{in_network, NetworkPolicy, NetworkRule, RuleTarget};

/// A policy's rules, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub internet: bool,
    pub allow: Vec<NetworkRule>,
    pub deny: Vec<NetworkRule>,
}

impl Rules {
    /// The rules of a policy that `NetworkPolicy::checked` passed.
    pub fn of(policy: &NetworkPolicy) -> Result<Rules, String> {
        let parse = |list: &[String]| list.iter().map(|r| NetworkRule::parse(r)).collect::<Result<Vec<_>, _>>();
        Ok(Rules { internet: policy.internet(), allow: parse(&policy.allow)?, deny: parse(&policy.deny)? })
    }
}

/// What a connection asks for: a host name (lower case, no final dot) or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Name(String),
    Addr(IpAddr),
}

impl Target {
    /// `host` as a client wrote it (`[::1]` for an IPv6 address), or why it is not a host.
    pub fn parse(host: &str) -> Result<Target, String> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(addr) = bare.parse::<IpAddr>() {
            return Ok(Target::Addr(addr));
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        sandbox_protocol::check_host_name(&name).map_err(|why| format!("{host:?}: {why}"))?;
        Ok(Target::Name(name))
    }

    fn name(&self) -> Option<&str> {
        match self {
            Target::Name(name) => Some(name),
            Target::Addr(_) => None,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Name(name) => f.write_str(name),
            Target::Addr(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Target::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// Before a name is resolved: refused (and why), or to be looked up.
pub fn before_lookup(rules: &Rules, target: &Target, port: u16) -> Result<(), String> {
    let name = target.name();
    let addr = match target {
        Target::Addr(a) => Some(*a),
        Target::Name(_) => None,
    };
    if let Some(rule) = rules.deny.iter().find(|r| r.matches(name, addr, port)) {
        return Err(format!("denied by the rule {rule}"));
    }
    if name.is_some() && !rules.internet && !rules.allow.iter().any(|r| names_it(r, name, port)) {
        return Err("not allowed: no allow rule names this host".into());
    }
    Ok(())
}

/// Whether `rule` names the host (not an address of it).
fn names_it(rule: &NetworkRule, name: Option<&str>, port: u16) -> bool {
    !matches!(rule.target, RuleTarget::Network(..)) && rule.matches(name, None, port)
}

/// The addresses of `target` the connection may go to, in their order, or why none.
pub fn addresses(
    rules: &Rules,
    target: &Target,
    port: u16,
    resolved: &[IpAddr],
    own: &dyn Fn(IpAddr) -> bool,
) -> Result<Vec<IpAddr>, String> {
    before_lookup(rules, target, port)?;
    let name = target.name();
    let mut kept = Vec::new();
    let mut why = None;
    for &addr in resolved {
        if let Some(rule) = rules.deny.iter().find(|r| r.matches(name, Some(addr), port)) {
            return Err(format!("{addr} is denied by the rule {rule}"));
        }
        let allowed_by = |explicit_port: bool| {
            rules.allow.iter().any(|r| (!explicit_port || r.port.is_some()) && r.matches(name, Some(addr), port))
        };
        let machine = is_machine_address(addr) || own(addr);
        let open = if machine { allowed_by(true) } else { rules.internet || allowed_by(false) };
        if open {
            kept.push(addr);
        } else if why.is_none() {
            why = Some(match machine {
                true => format!("{addr} is this machine's own address: allow it with its port (host:port) to reach it"),
                false => format!("{addr} is not allowed"),
            });
        }
    }
    match (kept.is_empty(), why) {
        (false, _) => Ok(kept),
        (true, Some(why)) => Err(why),
        (true, None) => Err("the name has no address".into()),
    }
}

/// Loopback, unspecified, link-local (cloud metadata services live there), multicast and broadcast addresses:
/// never the internet, and a way into the machine's own services.
pub fn is_machine_address(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => v4_machine(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4_machine(v4),
            None => v6_machine(a),
        },
    }
}

fn v4_machine(a: Ipv4Addr) -> bool {
    a.is_loopback()
        || a.is_unspecified()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || in_network(IpAddr::V4(a), IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)), 8)
}

fn v6_machine(a: Ipv6Addr) -> bool {
    let link_local = IpAddr::V6(a);
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || in_network(link_local, IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(internet: Option<bool>, allow: &[&str], deny: &[&str]) -> Rules {
        let policy = NetworkPolicy {
            internet,
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        };
        Rules::of(&policy.checked().unwrap()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn name(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    const PUBLIC: &str = "93.184.216.34";
    const NOT_OURS: &dyn Fn(IpAddr) -> bool = &|_| false;

    #[test]
    fn the_open_internet_takes_every_public_address_and_no_machine_address() {
        let open = rules(None, &[], &[]);
        assert_eq!(addresses(&open, &name("example.com"), 443, &[ip(PUBLIC)], NOT_OURS), Ok(vec![ip(PUBLIC)]));
        for machine in ["127.0.0.1", "::1", "169.254.169.254", "0.0.0.0", "::ffff:127.0.0.1", "fe80::1", "224.0.0.1"] {
            let got = addresses(&open, &Target::Addr(ip(machine)), 80, &[ip(machine)], NOT_OURS);
            assert!(got.is_err(), "{machine} was let through");
        }
        // A name that resolves to loopback (DNS rebinding) fares as the address would.
        assert!(addresses(&open, &name("evil.example"), 80, &[ip("127.0.0.1")], NOT_OURS).is_err());
        // The host's own address (a LAN one).
        let own = |a: IpAddr| a == ip("192.168.1.5");
        assert!(addresses(&open, &Target::Addr(ip("192.168.1.5")), 80, &[ip("192.168.1.5")], &own).is_err());
        assert!(addresses(&open, &Target::Addr(ip("192.168.1.6")), 80, &[ip("192.168.1.6")], &own).is_ok());
    }

    #[test]
    fn a_machine_address_opens_only_to_a_rule_with_its_port() {
        let policy = rules(Some(true), &["localhost:8080", "127.0.0.2"], &[]);
        assert!(addresses(&policy, &name("localhost"), 8080, &[ip("127.0.0.1")], NOT_OURS).is_ok());
        assert!(addresses(&policy, &name("localhost"), 8081, &[ip("127.0.0.1")], NOT_OURS).is_err());
        assert!(addresses(&policy, &Target::Addr(ip("127.0.0.2")), 80, &[ip("127.0.0.2")], NOT_OURS).is_err());
        let by_addr = rules(None, &["127.0.0.1:9000"], &[]);
        assert!(addresses(&by_addr, &Target::Addr(ip("127.0.0.1")), 9000, &[ip("127.0.0.1")], NOT_OURS).is_ok());
        // A name whose addresses are partly the machine's keeps only the others.
        let open = rules(None, &[], &[]);
        let got = addresses(&open, &name("mixed.example"), 80, &[ip("127.0.0.1"), ip(PUBLIC)], NOT_OURS);
        assert_eq!(got, Ok(vec![ip(PUBLIC)]));
    }

    #[test]
    fn an_allow_list_names_hosts_and_nothing_else_is_looked_up() {
        let list = rules(None, &["api.github.com", "*.pypi.org", "10.0.0.0/8"], &[]);
        assert!(before_lookup(&list, &name("api.github.com"), 443).is_ok());
        assert!(before_lookup(&list, &name("files.pypi.org"), 443).is_ok());
        assert!(before_lookup(&list, &name("pypi.org"), 443).is_err());
        assert!(before_lookup(&list, &name("secret-data.evil.com"), 443).is_err(), "an unnamed host is not resolved");
        assert!(before_lookup(&list, &name("db.internal"), 5432).is_err(), "a network rule resolves no names");
        assert!(addresses(&list, &Target::Addr(ip("10.1.1.1")), 5432, &[ip("10.1.1.1")], NOT_OURS).is_ok());
        assert!(addresses(&list, &Target::Addr(ip(PUBLIC)), 443, &[ip(PUBLIC)], NOT_OURS).is_err(), "raw IP");
    }

    #[test]
    fn deny_wins_by_name_and_by_address() {
        let policy = rules(Some(true), &["evil.com"], &["evil.com", "*.tracker.io", "203.0.113.0/24"]);
        assert!(before_lookup(&policy, &name("evil.com"), 443).is_err());
        assert!(before_lookup(&policy, &name("a.tracker.io"), 443).is_err());
        assert!(addresses(&policy, &name("fine.com"), 443, &[ip("203.0.113.9")], NOT_OURS).is_err());
        assert!(addresses(&policy, &Target::Addr(ip("203.0.113.9")), 443, &[ip("203.0.113.9")], NOT_OURS).is_err());
        assert!(addresses(&policy, &name("fine.com"), 443, &[ip(PUBLIC)], NOT_OURS).is_ok());
    }

    #[test]
    fn targets_parse_as_clients_write_them() {
        assert_eq!(Target::parse("[::1]"), Ok(Target::Addr(ip("::1"))));
        assert_eq!(Target::parse("Example.COM."), Ok(name("example.com")));
        assert!(Target::parse("a b").is_err() && Target::parse("").is_err());
        assert_eq!(Target::Addr(ip("::1")).to_string(), "[::1]");
    }
}
