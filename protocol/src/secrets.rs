//! Secrets a sandbox's code uses without seeing them (`setSecret`): the sandbox sees a placeholder; its egress
//! proxy puts the real value into the requests it sends to the secret's hosts, and nowhere else. What a secret
//! is, and the checks on each of its parts, are here (pure): the Worker and the agent apply the same.

use serde::{Deserialize, Serialize};

use crate::NetworkRule;

/// Most secrets a sandbox may have.
pub const MAX_SECRETS: usize = 32;
/// The longest value a secret may have.
pub const MAX_SECRET_BYTES: usize = 8 * 1024;
/// The header a secret goes into unless it says, and how it is written there (`{}` is the value).
pub const DEFAULT_SECRET_HEADER: &str = "Authorization";
pub const DEFAULT_SECRET_FORMAT: &str = "Bearer {}";

/// `PUT /v1/network/secrets`: a secret made or replaced (by name).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetSecretRequest {
    /// Letters, digits and `_`, not starting with a digit (a variable's name), at most 64.
    pub name: String,
    /// The secret itself: never answered, logged or shown to the sandbox.
    pub value: String,
    /// The hosts it is sent to (names, `*.` subdomains, addresses; a port optional): at least one.
    pub hosts: Vec<String>,
    /// The request header it goes into (`Authorization` by default), replacing one the sandbox sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// How it is written there: `{}` stands for the value (`Bearer {}` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// What the sandbox sees in its place (made by the sandbox's object, kept across restarts; a caller leaves
    /// it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
}

impl std::fmt::Debug for SetSecretRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetSecretRequest").field("name", &self.name).field("hosts", &self.hosts).finish_non_exhaustive()
    }
}

impl SetSecretRequest {
    /// Checks every part; `header` and `format` are filled in with their defaults.
    pub fn checked(&self) -> Result<SetSecretRequest, String> {
        check_secret_name(&self.name)?;
        if self.value.is_empty() || self.value.len() > MAX_SECRET_BYTES {
            return Err(format!("a secret's value is 1 to {MAX_SECRET_BYTES} bytes"));
        }
        if self.value.bytes().any(|b| b.is_ascii_control()) {
            return Err("a secret's value has no control characters (it goes into a header)".into());
        }
        if self.hosts.is_empty() || self.hosts.len() > 64 {
            return Err("a secret names 1 to 64 hosts it is sent to".into());
        }
        let hosts = self
            .hosts
            .iter()
            .map(|h| NetworkRule::parse(h).map(|r| r.to_string()).map_err(|e| format!("hosts: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let header = self.header.clone().unwrap_or_else(|| DEFAULT_SECRET_HEADER.into());
        if header.is_empty() || header.len() > 64 || !header.bytes().all(is_token_byte) {
            return Err(format!("{header:?} is not a header name"));
        }
        let format = self.format.clone().unwrap_or_else(|| DEFAULT_SECRET_FORMAT.into());
        if format.matches("{}").count() != 1 || format.len() > 256 || format.bytes().any(|b| b.is_ascii_control()) {
            return Err("format has exactly one {} (the value) and no control characters, at most 256 bytes".into());
        }
        if let Some(placeholder) = &self.placeholder {
            if placeholder.len() < 16 || placeholder.len() > 128 || !placeholder.bytes().all(is_token_byte) {
                return Err("a placeholder is 16 to 128 letters, digits, '-' and '_'".into());
            }
        }
        Ok(SetSecretRequest { hosts, header: Some(header), format: Some(format), ..self.clone() })
    }
}

/// A secret's name: a variable's (letters, digits, `_`, not starting with a digit), 1 to 64.
pub fn check_secret_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a secret's name (letters, digits and '_', 1 to 64, not starting with a digit)"))
    }
}

/// The characters of an HTTP token (a header's name), and of a placeholder.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A secret as it is shown: everything but its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecretInfo {
    pub name: String,
    /// What the sandbox uses in its place: in a header to one of `hosts`, the proxy puts the value instead.
    pub placeholder: String,
    pub hosts: Vec<String>,
    pub header: String,
    pub format: String,
}

/// `GET /v1/network/secrets`, and the answer to `PUT` and `DELETE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecretList {
    pub success: bool,
    pub secrets: Vec<SecretInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SetSecretRequest {
        SetSecretRequest {
            name: "GITHUB_TOKEN".into(),
            value: "ghp_real".into(),
            hosts: vec!["API.github.com".into()],
            header: None,
            format: None,
            placeholder: None,
        }
    }

    #[test]
    fn a_secret_is_checked_and_its_defaults_spelled_out() {
        let checked = secret().checked().unwrap();
        assert_eq!(checked.hosts, vec!["api.github.com".to_string()]);
        assert_eq!((checked.header.as_deref(), checked.format.as_deref()), (Some("Authorization"), Some("Bearer {}")));
        assert!(!format!("{checked:?}").contains("ghp_real"), "a secret's value is never in its debug form");
    }

    #[test]
    fn each_bad_part_is_refused() {
        let bad = [
            SetSecretRequest { name: "1X".into(), ..secret() },
            SetSecretRequest { name: "A-B".into(), ..secret() },
            SetSecretRequest { value: String::new(), ..secret() },
            SetSecretRequest { value: "a\r\nX-Injected: 1".into(), ..secret() },
            SetSecretRequest { value: "x".repeat(MAX_SECRET_BYTES + 1), ..secret() },
            SetSecretRequest { hosts: vec![], ..secret() },
            SetSecretRequest { hosts: vec!["a b".into()], ..secret() },
            SetSecretRequest { header: Some("X Bad".into()), ..secret() },
            SetSecretRequest { format: Some("token".into()), ..secret() },
            SetSecretRequest { format: Some("{} {}".into()), ..secret() },
            SetSecretRequest { placeholder: Some("short".into()), ..secret() },
        ];
        for request in bad {
            assert!(request.checked().is_err(), "{request:?} was taken");
        }
    }
}
