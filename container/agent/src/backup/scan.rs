//! Saving: a tree read into a `Manifest` and the blobs not stored yet, each a recipe (which bytes of which files)
//! that is read again, and checked against its hash, when it is sent. A file seen changing under an earlier save
//! (`Hold`: a log being written) is instead copied into memory as it is read, up to a bound, so that its blob is
//! what the manifest says even while it goes on changing.
//!
//! What is kept: directories (empty ones too), regular files (contents, permission bits, mtimes), symlinks (their
//! targets, never followed). What is not: FIFOs, sockets and devices (listed in `skipped`), owners, extended
//! attributes, hard links (each name is saved as its own file; their shared content is stored once).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::hash::Hash;
use super::manifest::{Entry, Kind, Manifest, Part};
use super::{CHUNK, RESERVED_PREFIX};
use crate::budget::Charge;
use crate::files::walk::Walk;

/// Files up to this size are packed with others; larger ones are cut into chunks of their own.
const SMALL: u64 = 1 << 20;

/// What tells an unchanged file without reading it: it has the same size, times and inode as when it was saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatKey {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    inode: (u64, u64),
}

impl StatKey {
    pub fn of(meta: &Metadata) -> StatKey {
        StatKey {
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            inode: (meta.dev(), meta.ino()),
        }
    }
}

/// What the last committed save (or restore) stored: by path with the file's stat, by content, and the blobs.
#[derive(Debug, Default)]
pub struct Known {
    by_path: HashMap<Vec<u8>, (StatKey, Hash, Vec<Part>)>,
    by_content: HashMap<Hash, Vec<Part>>,
    blobs: HashSet<Hash>,
}

impl Known {
    /// The blobs counted as stored.
    pub fn blobs(&self) -> &HashSet<Hash> {
        &self.blobs
    }

    /// Records a stored file (as saved, or as restored).
    pub fn add(&mut self, path: &[u8], key: StatKey, hash: Hash, parts: &[Part]) {
        self.blobs.extend(parts.iter().map(|p| p.blob));
        self.by_content.entry(hash).or_insert_with(|| parts.to_vec());
        self.by_path.insert(path.to_vec(), (key, hash, parts.to_vec()));
    }
}

/// Bytes `offset..offset + len` of a file; `held`, when the scan kept a copy of them.
#[derive(Debug, Clone)]
struct Source {
    path: PathBuf,
    offset: u64,
    len: u64,
    held: Option<Arc<[u8]>>,
}

/// The files (paths from the root) that changed under an earlier save, and the memory a scan may hold of them
/// (charged to the agent's budget: a file that does not fit is read again when sent, as any other).
pub struct Hold {
    pub volatile: HashSet<Vec<u8>>,
    pub charge: Option<Charge>,
    pub at_most: usize,
}

impl Hold {
    /// Nothing is held.
    #[cfg(test)]
    pub fn none() -> Hold {
        Hold { volatile: HashSet::new(), charge: None, at_most: 0 }
    }

    /// Whether the file at `path` of `size` bytes is to be copied: it changed before, and its bytes fit.
    fn takes(&mut self, path: &[u8], size: u64) -> bool {
        if !self.volatile.contains(path) {
            return false;
        }
        let Some(charge) = self.charge.as_mut() else { return false };
        let size = size as usize;
        charge.bytes() + size <= self.at_most && charge.try_grow(size)
    }
}

/// Why a blob could not be sent: the file at `path` is not what the scan read.
#[derive(Debug)]
pub struct Changed {
    pub path: PathBuf,
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} changed while it was being saved; save again", self.path.display())
    }
}

impl std::error::Error for Changed {}

impl Changed {
    /// The changed file, when `error` says a file changed.
    pub fn of(error: &io::Error) -> Option<&Path> {
        error.get_ref().and_then(|e| e.downcast_ref::<Changed>()).map(|c| c.path.as_path())
    }
}

/// A blob to send: where its bytes are, and what they must hash to.
#[derive(Debug, Clone)]
pub struct Blob {
    pub hash: Hash,
    pub size: u64,
    sources: Vec<Source>,
}

impl Blob {
    /// Reads the blob's bytes again, in pieces of at most `piece` bytes, giving each to `out`; the last piece is
    /// given only once the whole has been checked against the hash, so a reader that counts on the size sees a
    /// short blob, never a wrong one, when a file changed since the scan.
    pub fn read(&self, piece: usize, mut out: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut hasher = blake3::Hasher::new();
        let mut held: Vec<u8> = Vec::with_capacity(piece.min(self.size as usize));
        for source in &self.sources {
            // A copy the scan kept is what the manifest says, whatever the file holds now.
            let file = match &source.held {
                Some(copy) => Bytes::Copy(copy),
                None => Bytes::File(File::open(&source.path)?),
            };
            let mut at = source.offset;
            let end = source.offset + source.len;
            while at < end {
                if held.len() == piece {
                    out(&held)?;
                    held.clear();
                }
                let want = ((end - at) as usize).min(piece - held.len());
                let start = held.len();
                held.resize(start + want, 0);
                let n = file.read_at(&mut held[start..], at - source.offset, at)?;
                held.truncate(start + n);
                if n == 0 {
                    return Err(changed(&source.path));
                }
                hasher.update(&held[start..]);
                at += n as u64;
            }
        }
        if Hash::from(hasher.finalize()) != self.hash {
            return Err(changed(&self.sources[0].path));
        }
        out(&held)
    }
}

/// Where a source's bytes are read from.
enum Bytes<'a> {
    File(File),
    Copy(&'a [u8]),
}

impl Bytes<'_> {
    /// Reads into `buf` from `within` bytes into the source (`at` in its file).
    fn read_at(&self, buf: &mut [u8], within: u64, at: u64) -> io::Result<usize> {
        match self {
            Bytes::File(file) => file.read_at(buf, at),
            Bytes::Copy(copy) => {
                let from = (within as usize).min(copy.len());
                let n = buf.len().min(copy.len() - from);
                buf[..n].copy_from_slice(&copy[from..from + n]);
                Ok(n)
            }
        }
    }
}

fn changed(path: &Path) -> io::Error {
    io::Error::other(Changed { path: path.to_path_buf() })
}

/// A tree read for a save.
#[derive(Debug)]
pub struct Scan {
    pub manifest: Manifest,
    /// The blobs the manifest needs that `Known` did not have.
    pub blobs: Vec<Blob>,
    /// What is stored once this save is committed.
    pub known: Known,
    /// Entries not saved (FIFOs, sockets, devices, unreadable directories), as paths from the root.
    pub skipped: Vec<String>,
    /// The memory the copies of changing files hold, charged until the save ends.
    pub held: Option<Charge>,
}

/// Reads the tree below `root`. Files whose stat matches `known` are not read again.
pub fn scan(root: &Path, known: &Known, hold: Hold) -> io::Result<Scan> {
    let mut scanner = Scanner {
        known,
        hold,
        next: Known::default(),
        packs: Vec::new(),
        chunks: Vec::new(),
        new_chunks: HashSet::new(),
        packed: HashMap::new(),
        pack: Pack::default(),
    };
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for found in Walk::new(root)? {
        let found = match found {
            Ok(found) => found,
            Err(unreadable) => {
                skipped.push(unreadable.relative.to_string_lossy().into_owned());
                continue;
            }
        };
        let path = found.relative.as_os_str().as_bytes().to_vec();
        if !path.contains(&b'/') && path.starts_with(RESERVED_PREFIX.as_bytes()) {
            continue;
        }
        // The entry may vanish while we read: skip it rather than fail the save.
        let Ok(meta) = found.entry.metadata() else { continue };
        let mode = meta.mode() & 0o7777;
        let mtime = (meta.mtime(), meta.mtime_nsec() as u32);
        let kind = if found.kind.is_dir() {
            Kind::Dir
        } else if found.kind.is_symlink() {
            match fs::read_link(found.entry.path()) {
                Ok(target) => Kind::Symlink { target: target.into_os_string().into_vec() },
                Err(_) => continue,
            }
        } else if found.kind.is_file() {
            match scanner.file(&found.entry.path(), &path, &meta) {
                Ok(kind) => kind,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        } else {
            skipped.push(found.relative.to_string_lossy().into_owned());
            continue;
        };
        entries.push(Entry { path, mode, mtime, kind });
    }
    scanner.seal_pack();
    let Scanner { next, packs, chunks, hold, .. } = scanner;
    // Parts of packed files name their pack only once it is sealed.
    let sealed = |part: &mut Part| {
        if let Some(index) = Pack::index_of(part.blob) {
            part.blob = packs[index].hash;
        }
    };
    for entry in &mut entries {
        if let Kind::File { parts, .. } = &mut entry.kind {
            parts.iter_mut().for_each(sealed);
        }
    }
    let mut known = Known::default();
    for (path, (key, hash, mut parts)) in next.by_path {
        parts.iter_mut().for_each(sealed);
        known.add(&path, key, hash, &parts);
    }
    let blobs = packs.into_iter().chain(chunks).collect();
    Ok(Scan { manifest: Manifest { entries }, blobs, known, skipped, held: hold.charge })
}

struct Scanner<'a> {
    known: &'a Known,
    hold: Hold,
    /// The files read so far (packed ones with their pack's placeholder).
    next: Known,
    /// Sealed packs, in order: a placeholder's index is into this.
    packs: Vec<Blob>,
    /// New chunks of large files.
    chunks: Vec<Blob>,
    new_chunks: HashSet<Hash>,
    /// By content: the part of a small file packed in this save.
    packed: HashMap<Hash, Part>,
    pack: Pack,
}

/// Small files gathered into one blob; until it is sealed, its files' parts name it by a placeholder hash that
/// holds its index in `packs`.
#[derive(Default)]
struct Pack {
    hasher: blake3::Hasher,
    size: u64,
    sources: Vec<Source>,
}

impl Pack {
    const PLACEHOLDER: [u8; 24] = *b"sandbox-rs pack, unseal ";

    fn placeholder(index: usize) -> Hash {
        let mut bytes = [0u8; 32];
        bytes[..24].copy_from_slice(&Self::PLACEHOLDER);
        bytes[24..].copy_from_slice(&(index as u64).to_le_bytes());
        Hash(bytes)
    }

    fn index_of(hash: Hash) -> Option<usize> {
        (hash.0[..24] == Self::PLACEHOLDER).then(|| u64::from_le_bytes(hash.0[24..].try_into().unwrap()) as usize)
    }
}

impl Scanner<'_> {
    fn file(&mut self, real: &Path, path: &[u8], meta: &Metadata) -> io::Result<Kind> {
        let key = StatKey::of(meta);
        if let Some((known_key, hash, parts)) = self.known.by_path.get(path) {
            if *known_key == key {
                self.next.add(path, key, *hash, parts);
                return Ok(Kind::File { size: key.size, hash: *hash, parts: parts.clone() });
            }
        }
        let mut file = File::open(real)?;
        let (hash, parts, size) =
            if key.size <= SMALL { self.small(&mut file, real, path)? } else { self.large(&file, real, path)? };
        self.next.add(path, key, hash, &parts);
        Ok(Kind::File { size, hash, parts })
    }

    fn small(&mut self, file: &mut File, real: &Path, path: &[u8]) -> io::Result<(Hash, Vec<Part>, u64)> {
        let mut bytes = Vec::new();
        file.take(SMALL + 1).read_to_end(&mut bytes)?;
        let size = bytes.len() as u64;
        let hash = Hash::of(&bytes);
        if size == 0 {
            return Ok((hash, Vec::new(), 0));
        }
        if let Some(parts) = self.known.by_content.get(&hash) {
            return Ok((hash, parts.clone(), size));
        }
        if let Some(part) = self.packed.get(&hash) {
            return Ok((hash, vec![*part], size));
        }
        if self.pack.size + size > CHUNK {
            self.seal_pack();
        }
        let part = Part { blob: Pack::placeholder(self.packs.len()), offset: self.pack.size, len: size };
        self.pack.hasher.update(&bytes);
        let held = self.hold.takes(path, size).then(|| Arc::from(bytes));
        self.pack.sources.push(Source { path: real.to_path_buf(), offset: 0, len: size, held });
        self.pack.size += size;
        self.packed.insert(hash, part);
        Ok((hash, vec![part], size))
    }

    fn large(&mut self, file: &File, real: &Path, path: &[u8]) -> io::Result<(Hash, Vec<Part>, u64)> {
        let mut whole = blake3::Hasher::new();
        let mut parts = Vec::new();
        let mut buf = vec![0u8; CHUNK as usize];
        let mut at = 0u64;
        loop {
            let mut filled = 0;
            while filled < buf.len() {
                let n = file.read_at(&mut buf[filled..], at + filled as u64)?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            let chunk = &buf[..filled];
            whole.update(chunk);
            let blob = Hash::of(chunk);
            let len = filled as u64;
            if !self.known.blobs.contains(&blob) && self.new_chunks.insert(blob) {
                let held = self.hold.takes(path, len).then(|| Arc::from(chunk));
                let source = Source { path: real.to_path_buf(), offset: at, len, held };
                self.chunks.push(Blob { hash: blob, size: len, sources: vec![source] });
            }
            parts.push(Part { blob, offset: 0, len });
            at += len;
        }
        Ok((whole.finalize().into(), parts, at))
    }

    /// Ends the pack being filled: it becomes a blob with its hash.
    fn seal_pack(&mut self) {
        let pack = std::mem::take(&mut self.pack);
        if pack.size > 0 {
            self.packs.push(Blob { hash: pack.hasher.finalize().into(), size: pack.size, sources: pack.sources });
        }
    }
}
