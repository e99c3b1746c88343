//! Exposed ports and their preview URLs: the sandbox Worker serves a port of the sandbox to browsers at
//! `{port}-{sandboxId}-{token}.{preview host}`, the token random and unguessable.

use serde::{Deserialize, Serialize};

/// `POST /v1/sandboxes/{id}/ports` (the Worker's own route).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExposePortRequest {
    /// 1024-65535, not the agent's own port.
    pub port: u16,
    /// A label of the caller's (at most 256 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The SDK's: the domain the caller expects preview URLs under; refused unless it is the one they are served
    /// under (`SANDBOX_PREVIEW_HOST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// An exposed port and the URL a browser opens it at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExposedPort {
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub url: String,
    /// ISO 8601.
    pub exposed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExposedPortList {
    pub success: bool,
    pub ports: Vec<ExposedPort>,
    pub count: usize,
}

/// `DELETE /v1/sandboxes/{id}/ports/{port}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UnexposePortResult {
    pub success: bool,
    pub port: u16,
}

/// The lowest port a sandbox may expose (below it, ports are the system's).
pub const MIN_EXPOSED_PORT: u16 = 1024;
/// The agent's port in the sandbox's container: never exposed.
pub const AGENT_PORT: u16 = 3000;
/// Request header the Worker sets on a sandbox's calls when preview URLs are served: their origin with `*` for the
/// label (`https://*.preview.example.com`, `http://*.localhost:8787`).
pub const PREVIEW_ORIGIN_HEADER: &str = "x-sandbox-preview-origin";
/// Request header the Worker sets on a preview request it hands to a sandbox's object: `<port>.<token>`. A
/// caller's own is replaced, never trusted.
pub const PREVIEW_HEADER: &str = "x-sandbox-preview";
