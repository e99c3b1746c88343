//! A sandbox's backups in progress: saves read and not yet committed or dropped, restores begun, and what the last
//! committed save or restore of each directory stored (so the next save sends only what changed).

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use sandbox_protocol::ErrorCode;

use super::hash::Hash;
use super::restore::Restore;
use super::scan::{Blob, Known, Scan};
use crate::budget::Charge;
use crate::error::{AgentError, AgentResult};

/// Saves or restores a sandbox may have under way at once.
const MAX_PENDING: usize = 4;
/// Files of one directory remembered as changing under saves.
const MAX_VOLATILE: usize = 1024;

/// A save read and not yet committed.
pub struct PendingScan {
    pub dir: PathBuf,
    pub manifest: Vec<u8>,
    blobs: HashMap<Hash, Blob>,
    known: Mutex<Option<Known>>,
    /// A file (its path from `dir`) found changed while a blob was sent: the save cannot be stored any more.
    changed: Mutex<Option<Vec<u8>>>,
    _held: Option<Charge>,
}

impl PendingScan {
    pub fn new(dir: PathBuf, scan: Scan) -> PendingScan {
        PendingScan {
            dir,
            manifest: scan.manifest.encode(),
            blobs: scan.blobs.into_iter().map(|b| (b.hash, b)).collect(),
            known: Mutex::new(Some(scan.known)),
            changed: Mutex::new(None),
            _held: scan.held,
        }
    }

    pub fn blob(&self, hash: &str) -> AgentResult<Blob> {
        if let Some(path) = lock(&self.changed).as_ref() {
            return Err(file_changed(path));
        }
        Hash::parse(hash)
            .and_then(|hash| self.blobs.get(&hash))
            .cloned()
            .ok_or_else(|| AgentError::new(ErrorCode::BackupNotFound, format!("the save has no new blob {hash:?}")))
    }
}

pub fn file_changed(path: &[u8]) -> AgentError {
    AgentError::new(
        ErrorCode::FileChanged,
        format!("{} changed while the save was sending it; save again", String::from_utf8_lossy(path)),
    )
}

/// A restore under way; `None` once committed or abandoned.
pub type PendingRestore = Arc<tokio::sync::Mutex<Option<Restore>>>;

#[derive(Default)]
pub struct Backups {
    scans: Mutex<HashMap<String, Arc<PendingScan>>>,
    restores: Mutex<HashMap<String, PendingRestore>>,
    known: Mutex<HashMap<PathBuf, Arc<Known>>>,
    /// By directory: files seen changing under a save, which the next saves copy as they read them.
    volatile: Mutex<HashMap<PathBuf, HashSet<Vec<u8>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_found(what: &str, id: &str) -> AgentError {
    AgentError::new(ErrorCode::BackupNotFound, format!("no {what} {id:?} is under way"))
}

fn too_many() -> AgentError {
    AgentError::new(ErrorCode::ResourceExhausted, format!("{MAX_PENDING} saves or restores are under way already"))
}

impl Backups {
    /// What the last committed save or restore of `dir` stored.
    pub fn known(&self, dir: &Path) -> Arc<Known> {
        lock(&self.known).get(dir).cloned().unwrap_or_default()
    }

    pub fn add_scan(&self, id: &str, scan: PendingScan) -> AgentResult<Arc<PendingScan>> {
        let mut scans = lock(&self.scans);
        if scans.len() + lock(&self.restores).len() >= MAX_PENDING {
            return Err(too_many());
        }
        let scan = Arc::new(scan);
        scans.insert(id.to_string(), Arc::clone(&scan));
        Ok(scan)
    }

    pub fn scan(&self, id: &str) -> AgentResult<Arc<PendingScan>> {
        lock(&self.scans).get(id).cloned().ok_or_else(|| not_found("save", id))
    }

    /// The save is stored: the next save of its directory starts from it.
    pub fn commit_scan(&self, id: &str) -> AgentResult<()> {
        let scan = lock(&self.scans).remove(id).ok_or_else(|| not_found("save", id))?;
        if let Some(known) = lock(&scan.known).take() {
            lock(&self.known).insert(scan.dir.clone(), Arc::new(known));
        }
        Ok(())
    }

    /// A blob of save `id` could not be sent, because the file at `real` changed: the save can no longer be
    /// stored, and the next saves of its directory copy that file as they read it.
    pub fn file_changed(&self, scan: &PendingScan, real: &Path) {
        let path = real.strip_prefix(&scan.dir).unwrap_or(real).as_os_str().as_bytes().to_vec();
        let mut volatile = lock(&self.volatile);
        let files = volatile.entry(scan.dir.clone()).or_default();
        if files.len() < MAX_VOLATILE {
            files.insert(path.clone());
        }
        *lock(&scan.changed) = Some(path);
    }

    /// Every blob counted as stored, in every directory (a save sends none of them again).
    pub fn known_blobs(&self) -> Vec<Hash> {
        let known = lock(&self.known);
        let mut blobs: Vec<Hash> = known.values().flat_map(|k| k.blobs().iter().copied()).collect();
        blobs.sort_unstable_by_key(|h| h.0);
        blobs.dedup();
        blobs
    }

    /// The files of `dir` seen changing under its saves.
    pub fn volatile(&self, dir: &Path) -> HashSet<Vec<u8>> {
        lock(&self.volatile).get(dir).cloned().unwrap_or_default()
    }

    pub fn drop_scan(&self, id: &str) -> AgentResult<()> {
        lock(&self.scans).remove(id).map(drop).ok_or_else(|| not_found("save", id))
    }

    pub fn add_restore(&self, id: &str, restore: Restore) -> AgentResult<()> {
        let mut restores = lock(&self.restores);
        if lock(&self.scans).len() + restores.len() >= MAX_PENDING {
            restore.abandon();
            return Err(too_many());
        }
        restores.insert(id.to_string(), Arc::new(tokio::sync::Mutex::new(Some(restore))));
        Ok(())
    }

    pub fn restore(&self, id: &str) -> AgentResult<PendingRestore> {
        lock(&self.restores).get(id).cloned().ok_or_else(|| not_found("restore", id))
    }

    /// Takes the restore out (to commit or abandon it).
    pub fn take_restore(&self, id: &str) -> AgentResult<PendingRestore> {
        lock(&self.restores).remove(id).ok_or_else(|| not_found("restore", id))
    }

    /// A restored directory: the next save starts from what it holds.
    pub fn restored(&self, dir: &Path, known: Known) {
        lock(&self.known).insert(dir.to_path_buf(), Arc::new(known));
    }

    /// Ends everything under way (the sandbox's end): restores' staging trees are removed.
    pub fn end_all(&self) {
        lock(&self.scans).clear();
        let restores: Vec<PendingRestore> = lock(&self.restores).drain().map(|(_, r)| r).collect();
        for restore in restores {
            if let Ok(mut held) = restore.try_lock() {
                if let Some(restore) = held.take() {
                    restore.abandon();
                }
            }
        }
        lock(&self.known).clear();
        lock(&self.volatile).clear();
    }
}
