//! A sandbox's backups, as its object keeps them: one storage key per backup, holding what `listBackups` shows and
//! where its manifest is in the store. The checks of a `createBackup` request and the expiry arithmetic are pure.

use sandbox_protocol::{
    Backup, CreateBackupRequest, ErrorCode, DEFAULT_BACKUP_TTL_SECONDS, MAX_BACKUP_NAME_BYTES, MAX_BACKUP_TTL_SECONDS,
};
use serde::{Deserialize, Serialize};
use worker::{ListOptions, Storage};

use crate::errors::WorkerError;

const BACKUP_PREFIX: &str = "backup:";

/// A backup as stored: what callers see, and its expiry in milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupRecord {
    pub backup: Backup,
    pub expires_ms: f64,
}

/// The store's key of a backup's manifest.
pub fn manifest_key(sandbox: &str, id: &str) -> String {
    format!("manifests/{sandbox}/{id}")
}

/// The store's key of the list of blobs a manifest names (beside it; a manifest is stored only after its list, so
/// a collection of the store keeps what every kept manifest lists).
pub fn refs_key(manifest_key: &str) -> String {
    format!("refs/{}", manifest_key.strip_prefix("manifests/").unwrap_or(manifest_key))
}

/// The prefix of a sandbox's blobs in the store.
pub fn blobs_prefix(sandbox: &str) -> String {
    format!("blobs/{sandbox}/")
}

/// The store's key of a blob: by its hash, shared by every backup of the sandbox that holds the same bytes (and
/// by no other sandbox's: its agent stores what it says is a blob's bytes).
pub fn blob_key(sandbox: &str, hash: &str) -> String {
    format!("blobs/{sandbox}/{hash}")
}

/// A backup id: `bk-` and 32 random hex digits (128 bits: not guessable).
pub fn new_id() -> Result<String, WorkerError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
    Ok(format!("bk-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// Whether `id` has the shape of a backup id (anything else is no backup of this sandbox).
pub fn is_id(id: &str) -> bool {
    id.len() == 35 && id.starts_with("bk-") && id[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The seconds a backup is kept, from the request; refuses a name or a ttl out of bounds.
pub fn check(request: &CreateBackupRequest) -> Result<u64, WorkerError> {
    if let Some(name) = &request.name {
        if name.len() > MAX_BACKUP_NAME_BYTES || name.contains('\0') {
            return Err(WorkerError::new(
                ErrorCode::ValidationFailed,
                format!("name must be at most {MAX_BACKUP_NAME_BYTES} bytes, without NUL"),
            ));
        }
    }
    match request.ttl {
        None => Ok(DEFAULT_BACKUP_TTL_SECONDS),
        Some(ttl) if (1..=MAX_BACKUP_TTL_SECONDS).contains(&ttl) => Ok(ttl),
        Some(ttl) => Err(WorkerError::new(
            ErrorCode::ValidationFailed,
            format!("ttl {ttl} is not a number of seconds from 1 to {MAX_BACKUP_TTL_SECONDS} (30 days)"),
        )),
    }
}

fn key(id: &str) -> String {
    format!("{BACKUP_PREFIX}{id}")
}

pub async fn put(storage: &Storage, record: &BackupRecord) -> worker::Result<()> {
    storage.put(&key(&record.backup.id), serde_json::to_string(record)?).await
}

pub async fn get(storage: &Storage, id: &str) -> worker::Result<Option<BackupRecord>> {
    let text: Option<String> = storage.get(&key(id)).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

pub async fn remove(storage: &Storage, id: &str) -> worker::Result<bool> {
    storage.delete(&key(id)).await
}

/// Every backup record, newest first.
pub async fn all(storage: &Storage) -> worker::Result<Vec<BackupRecord>> {
    let listed = storage.list_with_options(ListOptions::new().prefix(BACKUP_PREFIX)).await?;
    let mut records = Vec::new();
    for entry in listed.entries() {
        let pair = worker::js_sys::Array::from(&entry?);
        if let Some(record) = pair.get(1).as_string().and_then(|t| serde_json::from_str::<BackupRecord>(&t).ok()) {
            records.push(record);
        }
    }
    records.sort_by(|a, b| b.backup.created_at.cmp(&a.backup.created_at));
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_hex_and_recognised() {
        let (a, b) = (new_id().unwrap(), new_id().unwrap());
        assert_ne!(a, b);
        assert!(is_id(&a) && is_id(&b), "{a} {b}");
        for not in ["", "bk-", "bk-xyz", "../manifests", &format!("bk-{}", "g".repeat(32)), &a[..34]] {
            assert!(!is_id(not), "{not}");
        }
    }

    #[test]
    fn names_and_ttls_are_bounded() {
        let request = |name: Option<&str>, ttl| CreateBackupRequest { dir: None, name: name.map(str::to_string), ttl };
        assert_eq!(check(&request(None, None)).unwrap(), DEFAULT_BACKUP_TTL_SECONDS);
        assert_eq!(check(&request(Some("nightly"), Some(60))).unwrap(), 60);
        for (name, ttl) in [(None, Some(0)), (None, Some(MAX_BACKUP_TTL_SECONDS + 1)), (Some("a\0b"), None)] {
            assert_eq!(check(&request(name, ttl)).unwrap_err().code, ErrorCode::ValidationFailed);
        }
        let long = "x".repeat(MAX_BACKUP_NAME_BYTES + 1);
        assert!(check(&request(Some(&long), None)).is_err());
    }
}
