//! File watch: a path's changes, from inotify. One inotify instance per watch, closed when the watch is dropped
//! (its reader gone: the kernel removes every inotify watch with it). A recursive watch watches every directory
//! below its root (excluded ones aside) and each directory created or moved in later, whose entries made before
//! its watch was in place are reported as created. Nothing is queued here: events wait in the kernel's queue
//! (bounded, `fs.inotify.max_queued_events`) until the reader takes them, and what a slow reader made overflow is
//! reported as `overflow`. A sandbox has at most `MAX_WATCHES`; the kernel's own limits are `WATCH_LIMIT` too.
//!
//! The pure parts: `filter` (which paths), `changes` (renames joined, writes coalesced).

pub mod changes;
pub mod filter;
mod journal;
pub mod journals;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use sandbox_protocol::{ErrorCode, WatchEvent, WatchEventType};
use tokio::io::unix::AsyncFd;
use tokio::sync::watch as signal;

use self::changes::{Change, Raw, RawKind};
use self::filter::Filter;
use crate::clock::iso_now;
use crate::error::{short, AgentError, AgentResult};
use crate::files::walk::Walk;

/// The most watches a sandbox holds at once.
pub const MAX_WATCHES: usize = 32;

/// How long a rename's first half waits for its second (they are queued together; a read may fall between).
const RENAME_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// The most directories one recursive watch follows (each is an inotify watch of the kernel's).
const MAX_DIRS: usize = 65_536;

/// The open watches of a sandbox by key: each one's `watchId` (if given) and the signal that ends it.
type Table = Arc<Mutex<HashMap<u64, (Option<String>, signal::Sender<bool>)>>>;

/// A sandbox's watches open: each one's id (the caller's `watchId`, if it gave one) and the signal that ends it.
#[derive(Clone, Default)]
pub struct Watches {
    open: Table,
    next_key: Arc<AtomicU64>,
    /// The watches kept for `checkChanges` (each holds one of the places above).
    pub journals: journals::Journals,
}

impl Watches {
    /// How many are open.
    pub fn count(&self) -> usize {
        self.open.lock().expect("watches").len()
    }

    /// Ends every open watch (their streams close): the sandbox is destroyed.
    pub fn end_all(&self) {
        for (_, stop) in self.open.lock().expect("watches").values() {
            stop.send_replace(true);
        }
    }

    /// Ends the watch a caller named `id`; says whether one was open.
    pub fn stop(&self, id: &str) -> bool {
        let open = self.open.lock().expect("watches");
        let mut stopped = false;
        for (_, stop) in open.values().filter(|(given, _)| given.as_deref() == Some(id)) {
            stop.send_replace(true);
            stopped = true;
        }
        stopped
    }

    fn slot(&self, id: Option<String>) -> AgentResult<Slot> {
        let mut open = self.open.lock().expect("watches");
        if open.len() >= MAX_WATCHES {
            return Err(AgentError::new(
                ErrorCode::WatchLimit,
                format!("the sandbox has {MAX_WATCHES} watches open, as many as it may; stop one first"),
            ));
        }
        if id.is_some() && open.values().any(|(given, _)| *given == id) {
            return Err(AgentError::invalid(format!("watchId {} is in use by an open watch", id.unwrap_or_default())));
        }
        let key = self.next_key.fetch_add(1, Ordering::SeqCst);
        let (stop, stopped) = signal::channel(false);
        open.insert(key, (id, stop));
        Ok(Slot { open: Arc::clone(&self.open), key, stopped })
    }
}

/// A watch's place among its sandbox's.
struct Slot {
    open: Table,
    key: u64,
    stopped: signal::Receiver<bool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.lock().expect("watches").remove(&self.key);
    }
}

/// What to watch.
pub struct Spec {
    /// The caller's name for it (`watchId`).
    pub id: Option<String>,
    /// The path on this machine, and as callers see it.
    pub real: PathBuf,
    pub shown: String,
    pub recursive: bool,
    pub filter: Filter,
}

/// An inotify instance, as tokio registers it.
struct Instance(Inotify);

impl std::os::fd::AsRawFd for Instance {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

/// A watch in place.
pub struct Watch {
    inotify: AsyncFd<Instance>,
    /// Each watched directory's path from the root (`""`: the root).
    dirs: HashMap<WatchDescriptor, String>,
    spec: Spec,
    root_is_dir: bool,
    slot: Slot,
    /// Changes found while setting up a new directory, reported with the next batch.
    found: Vec<Change>,
    ended: bool,
}

const DIR_EVENTS: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_MODIFY)
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF)
    .union(AddWatchFlags::IN_DONT_FOLLOW)
    .union(AddWatchFlags::IN_ONLYDIR);

const FILE_EVENTS: AddWatchFlags = AddWatchFlags::IN_MODIFY
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF);

impl Watch {
    /// Puts a watch on `spec.real` (which must exist), counted among `watches`. Blocking: a recursive watch reads
    /// the tree below its root.
    pub fn start(spec: Spec, watches: &Watches) -> AgentResult<Watch> {
        let slot = watches.slot(spec.id.clone())?;
        let meta = std::fs::metadata(&spec.real).map_err(|e| AgentError::from_io(&e, &spec.shown))?;
        let inotify =
            Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).map_err(|e| limit(e, &spec.shown))?;
        // SAFETY: the instance owns its descriptor, which nothing replaces or closes while the `AsyncFd` holds it.
        let inotify = unsafe { AsyncFd::register(Instance(inotify)) }
            .map_err(|e| AgentError::internal(format!("watch: {}", e.into_parts().1)))?;
        let mut watch = Watch {
            inotify,
            dirs: HashMap::new(),
            spec,
            root_is_dir: meta.is_dir(),
            slot,
            found: Vec::new(),
            ended: false,
        };
        if !watch.root_is_dir {
            let wd = watch
                .inotify
                .get_ref()
                .0
                .add_watch(&watch.spec.real, FILE_EVENTS)
                .map_err(|e| limit(e, &watch.spec.shown))?;
            watch.dirs.insert(wd, String::new());
            return Ok(watch);
        }
        watch.add_dir(String::new(), false)?;
        Ok(watch)
    }

    /// Watches the directory `relative` (and, recursively, those below it); with `report`, its entries are
    /// reported as created (they were made before its watch was in place).
    fn add_dir(&mut self, relative: String, report: bool) -> AgentResult<()> {
        let real = self.real(&relative);
        let wd = match self.inotify.get_ref().0.add_watch(&real, DIR_EVENTS) {
            Ok(wd) => wd,
            // Gone (or not a directory) already: nothing to watch.
            Err(Errno::ENOENT | Errno::ENOTDIR) if !relative.is_empty() => return Ok(()),
            Err(e) => return Err(limit(e, &self.spec.shown)),
        };
        self.dirs.insert(wd, relative.clone());
        if !self.spec.recursive && !report {
            return Ok(());
        }
        let Ok(walk) = Walk::new(&real) else { return Ok(()) };
        let filter = self.spec.filter.clone();
        let base = relative.clone();
        let prune = move |below: &Path| filter.excluded(&join(&base, &below.to_string_lossy()));
        for found in walk.recursive(self.spec.recursive).prune(prune).flatten() {
            let path = join(&relative, &found.relative.to_string_lossy());
            let is_dir = found.kind.is_dir();
            if report {
                self.found.push(Change::Create { path: path.clone(), is_dir });
            }
            if is_dir && self.spec.recursive && !self.spec.filter.excluded(&path) {
                if self.dirs.len() >= MAX_DIRS {
                    return Err(AgentError::new(
                        ErrorCode::WatchLimit,
                        format!("{}: more than {MAX_DIRS} directories to watch; exclude some", short(&self.spec.shown)),
                    ));
                }
                match self.inotify.get_ref().0.add_watch(&self.real(&path), DIR_EVENTS) {
                    Ok(wd) => {
                        self.dirs.insert(wd, path);
                    }
                    Err(Errno::ENOENT | Errno::ENOTDIR) => {}
                    Err(e) => return Err(limit(e, &self.spec.shown)),
                }
            }
        }
        Ok(())
    }

    fn real(&self, relative: &str) -> PathBuf {
        if relative.is_empty() {
            self.spec.real.clone()
        } else {
            self.spec.real.join(relative)
        }
    }

    /// The next changes (with `ready` first), `None` once the watch has ended (its root gone, its sandbox
    /// destroyed).
    pub async fn next(&mut self) -> Option<Vec<WatchEvent>> {
        loop {
            if self.ended {
                return None;
            }
            if !self.found.is_empty() {
                let found = std::mem::take(&mut self.found);
                return Some(self.events(found));
            }
            let (inotify, stopped) = (&self.inotify, &mut self.slot.stopped);
            let raw = tokio::select! {
                _ = stopped.wait_for(|stopped| *stopped) => None,
                raw = read(inotify) => Some(raw),
            };
            let raw = match raw {
                None => {
                    self.ended = true;
                    return None;
                }
                Some(Ok(raw)) => raw,
                Some(Err(e)) => {
                    tracing::warn!(path = %self.spec.shown, err = %e, "watch read failed; ending it");
                    self.ended = true;
                    return None;
                }
            };
            let raw = self.with_rename_halves(raw).await;
            let changes = changes::changes(self.place(raw));
            // A directory created or moved in below a recursive watch is watched from now on.
            if self.spec.recursive {
                for change in &changes {
                    if let Change::Create { path, is_dir: true } | Change::Rename { to: path, is_dir: true, .. } =
                        change
                    {
                        if !self.spec.filter.excluded(path) {
                            if let Err(e) = self.add_dir(path.clone(), true) {
                                tracing::warn!(path = %self.spec.shown, err = %e.message, "watch could not follow a new directory");
                            }
                        }
                    }
                }
            }
            let mut changes = changes;
            changes.append(&mut self.found);
            let events = self.events(changes);
            if !events.is_empty() {
                return Some(events);
            }
        }
    }

    /// `raw`, and when it ends with the first half of a rename (`MOVED_FROM`) whose second half it lacks, what the
    /// next reads bring within `RENAME_WAIT`: the kernel queues a rename's halves one after the other, and a read
    /// that fell between them would report a delete and a create instead of the rename.
    async fn with_rename_halves(&self, mut raw: Vec<InotifyEvent>) -> Vec<InotifyEvent> {
        while let Some(last) = raw.last().filter(|_| raw.len() < 16_384) {
            let half = last.mask.contains(AddWatchFlags::IN_MOVED_FROM)
                && !raw.iter().any(|e| e.mask.contains(AddWatchFlags::IN_MOVED_TO) && e.cookie == last.cookie);
            if !half {
                break;
            }
            match tokio::time::timeout(RENAME_WAIT, read(&self.inotify)).await {
                Ok(Ok(more)) if !more.is_empty() => raw.extend(more),
                _ => break,
            }
        }
        raw
    }

    /// The first event: the watch is in place.
    pub fn ready(&self) -> WatchEvent {
        self.event(WatchEventType::Ready, self.spec.shown.clone(), None, self.root_is_dir)
    }

    /// Each event's path from the root; events of a forgotten directory are dropped, the root's own end ends the
    /// watch.
    fn place(&mut self, events: Vec<InotifyEvent>) -> Vec<Raw> {
        let mut raw = Vec::with_capacity(events.len());
        for event in events {
            let mask = event.mask;
            if mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                raw.push(Raw { path: String::new(), is_dir: self.root_is_dir, kind: RawKind::Overflow });
                continue;
            }
            if mask.contains(AddWatchFlags::IN_IGNORED) {
                self.dirs.remove(&event.wd);
                continue;
            }
            let Some(dir) = self.dirs.get(&event.wd).cloned() else { continue };
            if mask.intersects(AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF) {
                if dir.is_empty() {
                    // The watched path itself is gone (or moved away): reported, and the watch ends.
                    raw.push(Raw { path: String::new(), is_dir: self.root_is_dir, kind: RawKind::Deleted });
                    self.ended = true;
                }
                continue;
            }
            let name = event.name.as_deref().map(|n| OsStr::from_bytes(n.as_bytes()).to_string_lossy().into_owned());
            let path = match name {
                Some(name) => join(&dir, &name),
                None => dir,
            };
            let is_dir = mask.contains(AddWatchFlags::IN_ISDIR);
            let kind = if mask.contains(AddWatchFlags::IN_CREATE) {
                RawKind::Created
            } else if mask.intersects(AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_ATTRIB) {
                RawKind::Modified
            } else if mask.contains(AddWatchFlags::IN_DELETE) {
                RawKind::Deleted
            } else if mask.contains(AddWatchFlags::IN_MOVED_FROM) {
                RawKind::MovedFrom(event.cookie)
            } else if mask.contains(AddWatchFlags::IN_MOVED_TO) {
                RawKind::MovedTo(event.cookie)
            } else {
                continue;
            };
            raw.push(Raw { path, is_dir, kind });
        }
        raw
    }

    /// The changes the filter lets through, as events.
    fn events(&self, changes: Vec<Change>) -> Vec<WatchEvent> {
        let shown = |relative: &str| {
            if relative.is_empty() {
                self.spec.shown.clone()
            } else {
                format!("{}/{relative}", self.spec.shown.trim_end_matches('/'))
            }
        };
        let reports = |relative: &str| relative.is_empty() || self.spec.filter.reports(relative);
        let mut events = Vec::with_capacity(changes.len());
        for change in changes {
            let event = match change {
                Change::Create { path, is_dir } if reports(&path) => {
                    self.event(WatchEventType::Create, shown(&path), None, is_dir)
                }
                Change::Modify { path } if reports(&path) => {
                    self.event(WatchEventType::Modify, shown(&path), None, path.is_empty() && self.root_is_dir)
                }
                Change::Delete { path, is_dir } if reports(&path) => {
                    self.event(WatchEventType::Delete, shown(&path), None, is_dir)
                }
                Change::Rename { from, to, is_dir } if reports(&from) || reports(&to) => {
                    self.event(WatchEventType::Rename, shown(&to), Some(shown(&from)), is_dir)
                }
                Change::Overflow => {
                    self.event(WatchEventType::Overflow, self.spec.shown.clone(), None, self.root_is_dir)
                }
                _ => continue,
            };
            events.push(event);
        }
        events
    }

    fn event(&self, kind: WatchEventType, path: String, old_path: Option<String>, is_directory: bool) -> WatchEvent {
        WatchEvent { kind, path, old_path, is_directory, timestamp: iso_now() }
    }
}

/// The events inotify has, once it has some.
async fn read(inotify: &AsyncFd<Instance>) -> std::io::Result<Vec<InotifyEvent>> {
    loop {
        let mut ready = inotify.readable().await?;
        match ready.try_io(|inner| inner.get_ref().0.read_events().map_err(std::io::Error::from)) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// An inotify failure: the kernel's limits are `WATCH_LIMIT`, with the setting to raise.
fn limit(e: Errno, shown: &str) -> AgentError {
    match e {
        Errno::EMFILE => AgentError::new(
            ErrorCode::WatchLimit,
            "the kernel's limit of inotify instances is reached (fs.inotify.max_user_instances); stop a watch first",
        ),
        Errno::ENOSPC => AgentError::new(
            ErrorCode::WatchLimit,
            format!(
                "{}: the kernel's limit of inotify watches is reached (fs.inotify.max_user_watches); watch less \
                 (exclude directories, or not recursively)",
                short(shown)
            ),
        ),
        other => AgentError::from_io(&std::io::Error::from(other), shown),
    }
}
