//! The Worker's configuration: every variable and secret it reads, read in one place, once per request at the
//! front door and once per Durable Object instance. Nothing else calls `env.var` or `env.secret`.

use std::time::Duration;

use sandbox_protocol::{screen, NetworkPolicy};
use worker::Env;

use crate::{save_every, sleep_after};

/// Binding of the Durable Object namespace.
pub const SANDBOX_BINDING: &str = "SANDBOX";
/// Secret that, when set, every request must present as `Authorization: Bearer <token>`.
const TOKEN_SECRET: &str = "SANDBOX_API_TOKEN";
/// Comma-separated origins of web pages that may call (none by default).
const ALLOWED_ORIGINS_VAR: &str = "SANDBOX_ALLOWED_ORIGINS";
/// Comma-separated host names, besides loopback ones, that local mode answers.
const ALLOWED_HOSTS_VAR: &str = "SANDBOX_ALLOWED_HOSTS";
/// Set by `npm run dev -- --containers` and the tests that run containers locally: the Worker answers a local
/// machine's `Host` only, as it does whenever `SANDBOX_AGENT_URL` is set (DNS rebinding).
const LOCAL_DEV_VAR: &str = "SANDBOX_LOCAL_DEV";
/// Set only by the end-to-end tests: enables `GET /v1/_test/panic`, which panics, to prove that a panic still
/// reaches the caller as JSON (`src/entry.mjs`).
const TEST_HOOKS_VAR: &str = "SANDBOX_TEST_HOOKS";
/// The domain whose subdomains serve preview URLs (`{port}-{sandboxId}-{token}.<domain>`): a wildcard route or custom
/// domain of this Worker, optionally with the port browsers reach it on (`localhost:8787`). In local mode
/// `localhost` when unset (the port is then the one the call came to; a call through a service binding has none).
const PREVIEW_HOST_VAR: &str = "SANDBOX_PREVIEW_HOST";
/// The variable that selects local mode: the host agent's URL.
const AGENT_URL_VAR: &str = "SANDBOX_AGENT_URL";
/// The token the local host agent asks of its callers (set by `npm run dev` and the tests).
const AGENT_TOKEN_VAR: &str = "SANDBOX_AGENT_TOKEN";
/// Optional JSON object of extra environment variables for the container.
const CONTAINER_ENV_VAR: &str = "SANDBOX_CONTAINER_ENV";
/// The R2 bucket of backups (`createBackup`, `restoreBackup`); without it, backups are refused.
const BACKUPS_BINDING: &str = "SANDBOX_BACKUPS";
/// How often a busy sandbox's workspace is saved (with a backup bucket); `0` for never.
const SAVE_EVERY_VAR: &str = "SANDBOX_SAVE_EVERY";
/// The network policy every sandbox starts with (JSON, as `setNetworkPolicy` takes it); none: the open internet.
const NETWORK_POLICY_VAR: &str = "SANDBOX_NETWORK_POLICY";
/// How long a sandbox may go without calls before its container is stopped.
const SLEEP_AFTER_VAR: &str = "SANDBOX_SLEEP_AFTER";

/// What the Worker was deployed with.
pub struct Config {
    /// The bearer token every call must carry (none or empty: the Worker is open, kept private by its deployment).
    pub api_token: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_hosts: Vec<String>,
    /// Local development: the host agent's URL, without a trailing `/` (none: each sandbox has a container).
    pub agent_url: Option<String>,
    pub agent_token: Option<String>,
    /// Local development with or without containers: the Worker answers this machine's `Host` only.
    pub local: bool,
    pub test_hooks: bool,
    pub preview_host: Option<String>,
    /// Extra variables for every container.
    pub container_env: Vec<(String, String)>,
    pub sleep_after: Duration,
    /// The backup store, when one is bound.
    pub backups: Option<worker::Bucket>,
    /// The sandboxes' objects (a fork tells its new sandbox's object where its workspace is).
    pub sandboxes: Option<worker::ObjectNamespace>,
    /// How often a busy sandbox is saved (`None`: only before an idle stop).
    pub save_every: Option<Duration>,
    /// The policy a sandbox has until it sets its own (`None`: the open internet), or why the setting is not
    /// valid: then no sandbox runs, rather than one running open when its deployer meant it closed.
    pub network_policy: Result<Option<NetworkPolicy>, String>,
}

/// `SANDBOX_NETWORK_POLICY`'s policy, checked as the agent checks one.
fn network_policy(text: &str) -> Result<NetworkPolicy, String> {
    serde_json::from_str::<NetworkPolicy>(text)
        .map_err(|e| e.to_string())
        .and_then(|p| p.checked())
        .map_err(|e| format!("{NETWORK_POLICY_VAR} is not a valid network policy: {e}"))
}

impl Config {
    pub fn read(env: &Env) -> Config {
        let text = |name: &str| text(env, name).filter(|t| !t.is_empty());
        let agent_url = text(AGENT_URL_VAR).map(|url| url.trim_end_matches('/').to_string()).filter(|u| !u.is_empty());
        let local = agent_url.is_some() || text(LOCAL_DEV_VAR).as_deref() == Some("1");
        Config {
            api_token: text(TOKEN_SECRET),
            allowed_origins: screen::parse_list(&text(ALLOWED_ORIGINS_VAR).unwrap_or_default()),
            allowed_hosts: screen::parse_list(&text(ALLOWED_HOSTS_VAR).unwrap_or_default()),
            agent_url,
            agent_token: text(AGENT_TOKEN_VAR),
            local,
            test_hooks: text(TEST_HOOKS_VAR).as_deref() == Some("1"),
            preview_host: text(PREVIEW_HOST_VAR),
            container_env: text(CONTAINER_ENV_VAR)
                .and_then(|v| serde_json::from_str::<std::collections::BTreeMap<String, String>>(&v).ok())
                .map(|m| m.into_iter().collect())
                .unwrap_or_default(),
            sleep_after: text(SLEEP_AFTER_VAR).and_then(|v| sleep_after::parse(&v)).unwrap_or(sleep_after::DEFAULT),
            backups: env.bucket(BACKUPS_BINDING).ok(),
            sandboxes: env.durable_object(SANDBOX_BINDING).ok(),
            save_every: text(SAVE_EVERY_VAR).and_then(|v| save_every::parse(&v)).unwrap_or(Some(save_every::DEFAULT)),
            network_policy: text(NETWORK_POLICY_VAR).map_or(Ok(None), |v| network_policy(&v).map(Some)),
        }
    }

    /// The domain preview URLs are served under, and the port given with it, if any.
    pub fn preview_domain(&self) -> Option<(String, Option<u16>)> {
        let host = self.preview_host.clone().or_else(|| self.local.then(|| "localhost".to_string()))?;
        match host.rsplit_once(':') {
            Some((domain, port)) => Some((domain.to_string(), Some(port.parse().ok()?))),
            None => Some((host, None)),
        }
    }
}

/// A secret or variable of the Worker's configuration.
fn text(env: &Env, name: &str) -> Option<String> {
    env.secret(name).ok().map(|s| s.to_string()).or_else(|| env.var(name).ok().map(|v| v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_network_policy_is_checked_and_a_bad_one_named() {
        let policy = network_policy(r#"{"allow":["API.example.com"]}"#).unwrap();
        assert_eq!((policy.internet, policy.allow), (Some(false), vec!["api.example.com".to_string()]));
        for bad in [r#"{"allow":["a b"]}"#, "not json", r#"{"allowed":[]}"#] {
            let why = network_policy(bad).unwrap_err();
            assert!(why.starts_with("SANDBOX_NETWORK_POLICY is not a valid network policy"), "{why}");
        }
    }
}
