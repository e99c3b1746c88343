//! The ports a sandbox exposes, kept in its Durable Object's storage (one key each, with its name, token and when
//! it was exposed): they outlive the object, the Worker and the container, so a preview URL stays the same until
//! the port is unexposed or the sandbox destroyed.

use serde::{Deserialize, Serialize};
use worker::{ListOptions, Storage};

const PORT_PREFIX: &str = "port:";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRecord {
    pub name: Option<String>,
    pub token: String,
    pub exposed_at: String,
}

fn key(port: u16) -> String {
    format!("{PORT_PREFIX}{port:05}")
}

/// Every exposed port, in port order.
pub async fn all(storage: &Storage) -> worker::Result<Vec<(u16, PortRecord)>> {
    let listed = storage.list_with_options(ListOptions::new().prefix(PORT_PREFIX)).await?;
    let mut ports = Vec::new();
    for entry in listed.entries() {
        let pair = worker::js_sys::Array::from(&entry?);
        let (Some(key), Some(text)) = (pair.get(0).as_string(), pair.get(1).as_string()) else { continue };
        let port = key.strip_prefix(PORT_PREFIX).and_then(|p| p.parse().ok());
        if let (Some(port), Ok(record)) = (port, serde_json::from_str(&text)) {
            ports.push((port, record));
        }
    }
    Ok(ports)
}

pub async fn get(storage: &Storage, port: u16) -> worker::Result<Option<PortRecord>> {
    let text: Option<String> = storage.get(&key(port)).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

pub async fn put(storage: &Storage, port: u16, record: &PortRecord) -> worker::Result<()> {
    let text = serde_json::to_string(record).map_err(|e| worker::Error::RustError(e.to_string()))?;
    storage.put(&key(port), text).await
}

/// Whether the port was exposed.
pub async fn remove(storage: &Storage, port: u16) -> worker::Result<bool> {
    storage.delete(&key(port)).await
}
