//! One sandbox's egress: its policy in effect and what the proxy decided under it (counts by host, the latest
//! refusals). Shared by the proxy's connections and the policy's routes; a new policy applies to connections
//! that begin after it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use sandbox_protocol::{EgressDenial, HostCount, NetworkPolicy, NetworkState, RECENT_DENIALS};

use super::ca::SandboxCa;
use super::decide::Rules;
use super::secrets::Secrets;
use crate::clock::iso_now;

/// Hosts counted one by one per sandbox; the rest are counted together under `OTHER_HOSTS`.
const COUNTED_HOSTS: usize = 1000;
const OTHER_HOSTS: &str = "(other hosts)";
/// Hosts a state lists, most connections first.
const LISTED_HOSTS: usize = 50;

#[derive(Default)]
struct Tally {
    allowed: u64,
    denied: u64,
    hosts: HashMap<String, (u64, u64)>,
    recent: VecDeque<EgressDenial>,
}

pub struct SandboxEgress {
    /// The policy as given (checked, canonical) and its parsed rules.
    policy: RwLock<(NetworkPolicy, Arc<Rules>)>,
    tally: Mutex<Tally>,
    /// What its proxy writes into requests to their hosts.
    pub secrets: Secrets,
    /// Its own CA, made on first use (a jail's start), for the proxy's TLS on a secret's hosts.
    ca: Mutex<Option<Arc<SandboxCa>>>,
}

impl Default for SandboxEgress {
    fn default() -> Self {
        let open = NetworkPolicy::default().checked().expect("the open policy is valid");
        let rules = Rules::of(&open).expect("the open policy parses");
        SandboxEgress {
            policy: RwLock::new((open, Arc::new(rules))),
            tally: Mutex::new(Tally::default()),
            secrets: Secrets::default(),
            ca: Mutex::new(None),
        }
    }
}

impl SandboxEgress {
    /// Puts `policy` in effect, or says why it is not valid.
    pub fn set(&self, policy: &NetworkPolicy) -> Result<NetworkPolicy, String> {
        let checked = policy.checked()?;
        let rules = Rules::of(&checked)?;
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = (checked.clone(), Arc::new(rules));
        Ok(checked)
    }

    /// The sandbox's CA (`id` names it), made now if it has none.
    pub fn ca(&self, id: &str) -> Result<Arc<SandboxCa>, String> {
        let mut ca = self.ca.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ca) = ca.as_ref() {
            return Ok(Arc::clone(ca));
        }
        let made = Arc::new(SandboxCa::new(id)?);
        *ca = Some(Arc::clone(&made));
        Ok(made)
    }

    pub fn policy(&self) -> NetworkPolicy {
        self.policy.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// The rules a connection beginning now is judged by.
    pub fn rules(&self) -> Arc<Rules> {
        self.policy.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    pub fn allowed(&self, host: &str) {
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        tally.allowed += 1;
        count(&mut tally.hosts, host).0 += 1;
    }

    pub fn denied(&self, host: &str, port: u16, reason: &str) {
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        tally.denied += 1;
        count(&mut tally.hosts, host).1 += 1;
        if tally.recent.len() == RECENT_DENIALS {
            tally.recent.pop_front();
        }
        tally.recent.push_back(EgressDenial { host: host.into(), port, reason: reason.into(), at: iso_now() });
    }

    /// The answer of the policy's routes: `enforced`, `reason` and `proxy` as the caller knows them.
    pub fn state(&self, enforced: Result<String, String>) -> NetworkState {
        let tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        let mut hosts: Vec<HostCount> = tally
            .hosts
            .iter()
            .map(|(host, (allowed, denied))| HostCount { host: host.clone(), allowed: *allowed, denied: *denied })
            .collect();
        hosts.sort_by(|a, b| (b.allowed + b.denied).cmp(&(a.allowed + a.denied)).then(a.host.cmp(&b.host)));
        hosts.truncate(LISTED_HOSTS);
        let (proxy, reason) = match enforced {
            Ok(proxy) => (Some(proxy), None),
            Err(reason) => (None, Some(reason)),
        };
        NetworkState {
            success: true,
            policy: self.policy(),
            enforced: proxy.is_some(),
            reason,
            proxy,
            allowed: tally.allowed,
            denied: tally.denied,
            hosts,
            recent_denials: tally.recent.iter().cloned().collect(),
        }
    }
}

impl SandboxEgress {
    /// The proxy's decisions as Prometheus lines (appended to the sandbox's `GET /v1/metrics`): every counted host.
    pub fn prometheus(&self) -> String {
        let tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::from(
            "# HELP sandbox_egress_connections_total Connections the sandbox's egress proxy allowed and denied, by host.\n\
             # TYPE sandbox_egress_connections_total counter\n",
        );
        let mut hosts: Vec<_> = tally.hosts.iter().collect();
        hosts.sort();
        for (host, (allowed, denied)) in hosts {
            let host = host.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str(&format!(
                "sandbox_egress_connections_total{{host=\"{host}\",decision=\"allowed\"}} {allowed}\n"
            ));
            out.push_str(&format!(
                "sandbox_egress_connections_total{{host=\"{host}\",decision=\"denied\"}} {denied}\n"
            ));
        }
        out
    }
}

fn count<'a>(hosts: &'a mut HashMap<String, (u64, u64)>, host: &str) -> &'a mut (u64, u64) {
    let key = if hosts.contains_key(host) || hosts.len() < COUNTED_HOSTS { host } else { OTHER_HOSTS };
    hosts.entry(key.to_string()).or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_counted_by_host_and_the_latest_refusals_kept() {
        let egress = SandboxEgress::default();
        egress.allowed("a.com");
        egress.allowed("a.com");
        for i in 0..(RECENT_DENIALS + 5) {
            egress.denied("b.com", 443, &format!("no {i}"));
        }
        let state = egress.state(Ok("http://127.0.0.1:3128".into()));
        assert_eq!((state.allowed, state.denied), (2, RECENT_DENIALS as u64 + 5));
        assert_eq!(state.hosts[0].host, "b.com");
        assert_eq!(state.recent_denials.len(), RECENT_DENIALS);
        assert_eq!(state.recent_denials.last().unwrap().reason, format!("no {}", RECENT_DENIALS + 4));
        assert!(state.enforced && state.policy.internet == Some(true));
    }

    #[test]
    fn decisions_are_metrics_by_host() {
        let egress = SandboxEgress::default();
        egress.allowed("a.com");
        egress.denied("b.com", 443, "no");
        let text = egress.prometheus();
        assert!(text.contains("sandbox_egress_connections_total{host=\"a.com\",decision=\"allowed\"} 1\n"), "{text}");
        assert!(text.contains("sandbox_egress_connections_total{host=\"b.com\",decision=\"denied\"} 1\n"), "{text}");
    }

    #[test]
    fn hosts_past_the_bound_are_counted_together() {
        let egress = SandboxEgress::default();
        for i in 0..(COUNTED_HOSTS + 10) {
            egress.allowed(&format!("h{i}.com"));
        }
        let tally = egress.tally.lock().unwrap();
        assert_eq!(tally.hosts.len(), COUNTED_HOSTS + 1);
        assert_eq!(tally.hosts[OTHER_HOSTS].0, 10);
    }

    #[test]
    fn a_new_policy_replaces_the_rules_and_a_bad_one_changes_nothing() {
        let egress = SandboxEgress::default();
        assert!(egress.rules().internet);
        let list = NetworkPolicy { allow: vec!["A.com".into()], ..Default::default() };
        assert_eq!(egress.set(&list).unwrap().allow, vec!["a.com".to_string()]);
        assert!(!egress.rules().internet);
        assert!(egress.set(&NetworkPolicy { deny: vec!["bad host".into()], ..Default::default() }).is_err());
        assert_eq!(egress.policy().allow, vec!["a.com".to_string()]);
    }
}
