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
