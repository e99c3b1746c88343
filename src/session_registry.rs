//! The sessions created through a sandbox's object, with the options they were created with, kept in Durable
//! Object storage: when the agent restarts (a new container, or a restarted local agent), the object creates them
//! again before the caller notices.

use std::collections::BTreeMap;

use sandbox_protocol::SessionOptions;
use worker::Storage;

const KEY: &str = "sessions";
const BOOT_KEY: &str = "agent-boot";

pub async fn all(storage: &Storage) -> BTreeMap<String, SessionOptions> {
    storage.get(KEY).await.ok().flatten().unwrap_or_default()
}

/// Records a created session; `options.id` is its id.
pub async fn remember(storage: &Storage, options: SessionOptions) -> worker::Result<()> {
    let Some(id) = options.id.clone() else { return Ok(()) };
    let mut sessions = all(storage).await;
    sessions.insert(id, options);
    storage.put(KEY, sessions).await
}

/// Records variables set on a session after its creation (`setEnvVars`), so that a re-created session has them;
/// the default session gets an entry of its own here. A `None` value removes the variable.
pub async fn add_env(storage: &Storage, session: &str, vars: &BTreeMap<String, Option<String>>) -> worker::Result<()> {
    let mut sessions = all(storage).await;
    let options = sessions
        .entry(session.to_string())
        .or_insert_with(|| SessionOptions { id: Some(session.to_string()), ..SessionOptions::default() });
    let env = options.env.get_or_insert_with(BTreeMap::new);
    for (name, value) in vars {
        match value {
            Some(_) => env.insert(name.clone(), value.clone()),
            None => env.remove(name),
        };
    }
    storage.put(KEY, sessions).await
}

pub async fn forget(storage: &Storage, id: &str) -> worker::Result<()> {
    let mut sessions = all(storage).await;
    if sessions.remove(id).is_some() {
        storage.put(KEY, sessions).await?;
    }
    Ok(())
}

/// The boot id of the agent last seen, if any.
pub async fn last_boot(storage: &Storage) -> Option<String> {
    storage.get(BOOT_KEY).await.ok().flatten()
}

pub async fn set_boot(storage: &Storage, boot: &str) -> worker::Result<()> {
    storage.put(BOOT_KEY, boot).await
}
