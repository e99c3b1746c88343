//! The sessions created through a sandbox's object, with the options they were created with (and variables set on
//! them since), kept in Durable Object storage, one key per session: when the agent restarts (a new container, or
//! a restarted local agent), the object creates them again before any call reaches it. Records are checked
//! against `RECORD_LIMIT` before anything is created, so storage never refuses one after the agent made the
//! session.

use std::collections::BTreeMap;

use sandbox_protocol::SessionOptions;
use worker::{ListOptions, Storage};

const SESSION_PREFIX: &str = "session:";
const BOOT_KEY: &str = "agent-boot";
/// The largest record a session may have (its options as JSON); storage takes values of up to 2 MB.
pub const RECORD_LIMIT: usize = 1024 * 1024;

fn key(id: &str) -> String {
    format!("{SESSION_PREFIX}{id}")
}

/// A session's record as stored: its options as JSON text.
pub fn record(options: &SessionOptions) -> Result<String, String> {
    let text = serde_json::to_string(options).map_err(|e| e.to_string())?;
    if text.len() > RECORD_LIMIT {
        return Err(format!(
            "the session's options are {} bytes; a session's options and variables may hold at most {RECORD_LIMIT}",
            text.len()
        ));
    }
    Ok(text)
}

/// Every remembered session, by id.
pub async fn all(storage: &Storage) -> worker::Result<BTreeMap<String, SessionOptions>> {
    let listed = storage.list_with_options(ListOptions::new().prefix(SESSION_PREFIX)).await?;
    let mut sessions = BTreeMap::new();
    for entry in listed.entries() {
        let pair = worker::js_sys::Array::from(&entry?);
        let (Some(key), Some(text)) = (pair.get(0).as_string(), pair.get(1).as_string()) else { continue };
        if let (Some(id), Ok(options)) = (key.strip_prefix(SESSION_PREFIX), serde_json::from_str(&text)) {
            sessions.insert(id.to_string(), options);
        }
    }
    Ok(sessions)
}

pub async fn get(storage: &Storage, id: &str) -> worker::Result<Option<SessionOptions>> {
    let text: Option<String> = storage.get(&key(id)).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Stores a session's record (made by `record`).
pub async fn put(storage: &Storage, id: &str, record: String) -> worker::Result<()> {
    storage.put(&key(id), record).await
}

/// The options with variables set since (`setEnvVars`) applied: `None` removes a variable.
pub fn with_env(mut options: SessionOptions, vars: &BTreeMap<String, Option<String>>) -> SessionOptions {
    let env = options.env.get_or_insert_with(BTreeMap::new);
    for (name, value) in vars {
        match value {
            Some(_) => env.insert(name.clone(), value.clone()),
            None => env.remove(name),
        };
    }
    options
}

pub async fn forget(storage: &Storage, id: &str) -> worker::Result<()> {
    storage.delete(&key(id)).await.map(|_| ())
}

/// The boot id of the agent whose sessions are in place, if any.
pub async fn last_boot(storage: &Storage) -> worker::Result<Option<String>> {
    storage.get(BOOT_KEY).await
}

pub async fn set_boot(storage: &Storage, boot: &str) -> worker::Result<()> {
    storage.put(BOOT_KEY, boot).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_set_later_join_the_options_and_null_removes() {
        let options = SessionOptions {
            id: Some("s".into()),
            env: Some(BTreeMap::from([("A".into(), Some("1".into())), ("B".into(), Some("2".into()))])),
            ..Default::default()
        };
        let vars = BTreeMap::from([("B".to_string(), None), ("C".to_string(), Some("3".to_string()))]);
        let merged = with_env(options, &vars);
        let env = merged.env.unwrap();
        assert_eq!(env.get("A"), Some(&Some("1".to_string())));
        assert!(!env.contains_key("B"));
        assert_eq!(env.get("C"), Some(&Some("3".to_string())));
    }

    #[test]
    fn records_over_the_limit_are_refused_before_anything_is_made() {
        let small = SessionOptions { id: Some("s".into()), ..Default::default() };
        assert!(record(&small).is_ok());
        let big = SessionOptions { name: Some("n".repeat(RECORD_LIMIT)), ..Default::default() };
        assert!(record(&big).unwrap_err().contains("at most"));
    }
}
