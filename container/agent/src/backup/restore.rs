//! Restoring: a manifest's tree built in a staging directory inside the target (`RESERVED_PREFIX` + id), its
//! files filled as blobs arrive (each checked against its hash as it streams), and only a complete staging put in
//! place of the target's contents. Until the commit, the target is untouched; a blob that does not match its hash
//! spoils the restore, which is then abandoned (its staging removed).
//!
//! Inside the staging tree every entry is created by the restore, in the manifest's order (a directory before
//! what it holds; the manifest's own checks refuse a path that leaves the target or goes through a symlink), files
//! with `O_EXCL | O_NOFOLLOW`. Set-user-id and set-group-id bits are not restored.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

use super::hash::Hash;
use super::manifest::{Kind, Manifest};
use super::scan::{Known, StatKey};
use super::RESERVED_PREFIX;
use crate::files::tree::remove_tree;

/// Bytes of a blob that fill bytes of one file.
#[derive(Debug, Clone)]
struct Segment {
    file: PathBuf,
    blob_offset: u64,
    file_offset: u64,
    len: u64,
}

/// A restore under way.
#[derive(Debug)]
pub struct Restore {
    target: PathBuf,
    staging: PathBuf,
    trash: PathBuf,
    manifest: Manifest,
    needed: HashMap<Hash, Vec<Segment>>,
    received: HashSet<Hash>,
    /// The blobs are another sandbox's: what this restore brings is not counted as stored.
    foreign: bool,
}

impl Restore {
    /// Creates the staging tree for `manifest` inside `target` (made if absent): directories, symlinks, and files
    /// at their sizes, to be filled by `blob`.
    pub fn begin(target: &Path, manifest: Manifest, id: &str) -> io::Result<Restore> {
        // A save never holds the names the agent keeps for itself; a manifest that does was not made by one.
        if let Some(entry) = manifest.entries.iter().find(|e| e.path.starts_with(RESERVED_PREFIX.as_bytes())) {
            let name = super::manifest::show(&entry.path);
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{name} is a name the agent keeps")));
        }
        fs::create_dir_all(target)?;
        let staging = target.join(format!("{RESERVED_PREFIX}{id}"));
        let trash = target.join(format!("{RESERVED_PREFIX}{id}-replaced"));
        fs::DirBuilder::new().mode(0o700).create(&staging)?;
        let mut restore = Restore {
            target: target.into(),
            staging,
            trash,
            manifest,
            needed: HashMap::new(),
            received: HashSet::new(),
            foreign: false,
        };
        if let Err(e) = restore.lay_out() {
            restore.abandon();
            return Err(e);
        }
        Ok(restore)
    }

    fn lay_out(&mut self) -> io::Result<()> {
        for entry in &self.manifest.entries {
            let real = self.staging.join(OsStr::from_bytes(&entry.path));
            match &entry.kind {
                Kind::Dir => fs::DirBuilder::new().mode(0o700).create(&real)?,
                Kind::Symlink { target } => std::os::unix::fs::symlink(OsStr::from_bytes(target), &real)?,
                Kind::File { size, parts, .. } => {
                    let file = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .custom_flags(nix::libc::O_NOFOLLOW)
                        .open(&real)?;
                    file.set_len(*size)?;
                    let mut file_offset = 0;
                    for part in parts {
                        let segment =
                            Segment { file: real.clone(), blob_offset: part.offset, file_offset, len: part.len };
                        self.needed.entry(part.blob).or_default().push(segment);
                        file_offset += part.len;
                    }
                }
            }
        }
        Ok(())
    }

    /// Marks the blobs as another sandbox's (a fork's): the next save stores every file again.
    pub fn set_foreign(&mut self, foreign: bool) {
        self.foreign = foreign;
    }

    pub fn foreign(&self) -> bool {
        self.foreign
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    pub fn files(&self) -> usize {
        self.manifest.files()
    }

    pub fn size(&self) -> u64 {
        self.manifest.size()
    }

    /// The blobs still to receive.
    pub fn missing(&self) -> Vec<Hash> {
        let mut missing: Vec<Hash> = self.needed.keys().filter(|h| !self.received.contains(h)).copied().collect();
        missing.sort();
        missing
    }

    /// A writer for blob `hash`'s bytes, if the manifest needs it.
    pub fn blob(&self, hash: Hash) -> Option<BlobWriter> {
        let segments = self.needed.get(&hash)?.clone();
        Some(BlobWriter { hash, hasher: blake3::Hasher::new(), at: 0, segments, open: None })
    }

    /// Records a blob written whole and verified.
    pub fn received(&mut self, hash: Hash) {
        self.received.insert(hash);
    }

    /// Puts the staging tree in place of the target's contents (what was there is removed), once every blob has
    /// come; returns what the restored files are, for the next save to start from.
    pub fn commit(self) -> io::Result<Known> {
        let missing = self.missing();
        if !missing.is_empty() {
            let message = format!("{} blobs of the backup have not been received", missing.len());
            self.abandon();
            return Err(io::Error::other(message));
        }
        if let Err(e) = self.finish_entries() {
            self.abandon();
            return Err(e);
        }
        self.swap()?;
        let mut known = Known::default();
        for entry in &self.manifest.entries {
            if let Kind::File { hash, parts, .. } = &entry.kind {
                let real = self.target.join(OsStr::from_bytes(&entry.path));
                if let Ok(meta) = fs::symlink_metadata(&real) {
                    known.add(&entry.path, StatKey::of(&meta), *hash, parts);
                }
            }
        }
        Ok(known)
    }

    /// Modes and mtimes, what a directory holds before the directory itself.
    fn finish_entries(&self) -> io::Result<()> {
        for entry in self.manifest.entries.iter().rev() {
            let real = self.staging.join(OsStr::from_bytes(&entry.path));
            if !matches!(entry.kind, Kind::Symlink { .. }) {
                fs::set_permissions(&real, fs::Permissions::from_mode(entry.mode & 0o1777))?;
            }
            let at = TimeSpec::new(entry.mtime.0, i64::from(entry.mtime.1.min(999_999_999)));
            utimensat(nix::fcntl::AT_FDCWD, &real, &at, &at, UtimensatFlags::NoFollowSymlink)?;
        }
        Ok(())
    }

    /// Moves the target's entries aside, the staging's in, then removes what was replaced; on a failure midway,
    /// moves back what it can.
    fn swap(&self) -> io::Result<()> {
        fs::DirBuilder::new().mode(0o700).create(&self.trash)?;
        let mut moved_out = Vec::new();
        let mut moved_in = Vec::new();
        let result = (|| -> io::Result<()> {
            for entry in fs::read_dir(&self.target)? {
                let name = entry?.file_name();
                if !name.as_bytes().starts_with(RESERVED_PREFIX.as_bytes()) {
                    fs::rename(self.target.join(&name), self.trash.join(&name))?;
                    moved_out.push(name);
                }
            }
            for entry in fs::read_dir(&self.staging)? {
                let name = entry?.file_name();
                fs::rename(self.staging.join(&name), self.target.join(&name))?;
                moved_in.push(name);
            }
            Ok(())
        })();
        if let Err(e) = result {
            for name in moved_in {
                let _ = fs::rename(self.target.join(&name), self.staging.join(&name));
            }
            for name in moved_out {
                let _ = fs::rename(self.trash.join(&name), self.target.join(&name));
            }
            let _ = remove_tree(&self.trash);
            self.abandon();
            return Err(e);
        }
        let _ = fs::remove_dir(&self.staging);
        remove_tree(&self.trash)
    }

    /// Removes the staging tree; the target is as it was.
    pub fn abandon(&self) {
        if let Err(e) = remove_tree(&self.staging) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(staging = %self.staging.display(), error = %e, "a restore's staging was not removed");
            }
        }
    }
}

/// Writes one blob's bytes where they belong as they arrive, hashing them; `finish` checks the whole.
pub struct BlobWriter {
    hash: Hash,
    hasher: blake3::Hasher,
    at: u64,
    segments: Vec<Segment>,
    /// The file written last, kept open for the next piece (a large file's chunk comes in many).
    open: Option<(usize, fs::File)>,
}

impl BlobWriter {
    pub fn write(&mut self, piece: &[u8]) -> io::Result<()> {
        self.hasher.update(piece);
        let (start, end) = (self.at, self.at + piece.len() as u64);
        for (index, segment) in self.segments.iter().enumerate() {
            let from = segment.blob_offset.max(start);
            let to = (segment.blob_offset + segment.len).min(end);
            if from < to {
                let file = match &mut self.open {
                    Some((open, file)) if *open == index => file,
                    open => {
                        let file =
                            OpenOptions::new().write(true).custom_flags(nix::libc::O_NOFOLLOW).open(&segment.file)?;
                        &mut open.insert((index, file)).1
                    }
                };
                let bytes = &piece[(from - start) as usize..(to - start) as usize];
                file.write_all_at(bytes, segment.file_offset + (from - segment.blob_offset))?;
            }
        }
        self.at = end;
        Ok(())
    }

    /// Whether the bytes written were the blob: its hash, and enough of them for every file range it fills.
    pub fn finish(self) -> Result<Hash, String> {
        let needed = self.segments.iter().map(|s| s.blob_offset + s.len).max().unwrap_or(0);
        if self.at < needed {
            return Err(format!(
                "blob {} ended after {} bytes, short of the {needed} it must hold",
                self.hash, self.at
            ));
        }
        if Hash::from(self.hasher.finalize()) != self.hash {
            return Err(format!("blob {} does not match its hash: it is corrupt or not this backup's", self.hash));
        }
        Ok(self.hash)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::super::scan::{scan, Blob, Hold};
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("backup-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn bytes_of(blob: &Blob) -> Vec<u8> {
        let mut all = Vec::new();
        blob.read(1000, |piece| {
            all.extend_from_slice(piece);
            Ok(())
        })
        .unwrap();
        all
    }

    /// Sends every missing blob from `blobs` in pieces and commits.
    fn restore(target: &Path, manifest: Manifest, blobs: &HashMap<Hash, Vec<u8>>) -> io::Result<Known> {
        let mut restore = Restore::begin(target, manifest, "t").unwrap();
        for hash in restore.missing() {
            let mut writer = restore.blob(hash).unwrap();
            for piece in blobs[&hash].chunks(777) {
                writer.write(piece).unwrap();
            }
            restore.received(writer.finish().unwrap());
        }
        restore.commit()
    }

    fn tree_of(root: &Path) -> Vec<(String, String, u32, i64)> {
        let mut all: Vec<_> = crate::files::walk::Walk::new(root)
            .unwrap()
            .map(|found| {
                let found = found.unwrap();
                let meta = found.entry.metadata().unwrap();
                let what = if found.kind.is_symlink() {
                    format!("-> {}", fs::read_link(found.entry.path()).unwrap().display())
                } else if found.kind.is_file() {
                    format!("{:?}", fs::read(found.entry.path()).unwrap())
                } else {
                    "dir".into()
                };
                let mode = if found.kind.is_symlink() { 0 } else { meta.mode() & 0o7777 };
                (found.relative.to_string_lossy().into_owned(), what, mode, meta.mtime())
            })
            .collect();
        all.sort();
        all
    }

    fn sample(root: &Path) {
        fs::create_dir_all(root.join("src/empty")).unwrap();
        fs::write(root.join("src/bin"), b"\0\x01\x02\xff binary\0").unwrap();
        fs::write(root.join("src/zero"), b"").unwrap();
        fs::write(root.join("src/ünï cödé ☃"), "unicode").unwrap();
        fs::write(root.join("secret"), "mine").unwrap();
        fs::set_permissions(root.join("secret"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(root.join("same-a"), "twin").unwrap();
        fs::write(root.join("same-b"), "twin").unwrap();
        std::os::unix::fs::symlink("../outside", root.join("src/link")).unwrap();
        let big: Vec<u8> = (0..(super::super::CHUNK as usize * 2 + 12_345)).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(root.join("big"), big).unwrap();
    }

    #[test]
    fn a_tree_comes_back_byte_for_byte_with_modes_links_and_mtimes() {
        let root = scratch("round");
        let (from, to) = (root.join("from"), root.join("to"));
        sample(&from);
        let saved = scan(&from, &Known::default(), Hold::none()).unwrap();
        // The twins are stored once; the big file in three chunks; the small files in one pack.
        assert_eq!(saved.blobs.len(), 4, "{:?}", saved.blobs.iter().map(|b| b.size).collect::<Vec<_>>());
        let blobs: HashMap<Hash, Vec<u8>> = saved.blobs.iter().map(|b| (b.hash, bytes_of(b))).collect();
        let manifest = Manifest::decode(&saved.manifest.encode()).unwrap();
        fs::create_dir_all(&to).unwrap();
        fs::write(to.join("stale"), "replaced by the restore").unwrap();
        restore(&to, manifest, &blobs).unwrap();
        assert_eq!(tree_of(&to), tree_of(&from));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_save_after_one_change_sends_about_that_change() {
        let root = scratch("incremental");
        let from = root.join("from");
        sample(&from);
        let first = scan(&from, &Known::default(), Hold::none()).unwrap();
        let again = scan(&from, &first.known, Hold::none()).unwrap();
        assert!(again.blobs.is_empty(), "nothing changed, nothing to send");
        fs::write(from.join("src/zero"), "now it has bytes").unwrap();
        let changed = scan(&from, &again.known, Hold::none()).unwrap();
        let sizes: Vec<u64> = changed.blobs.iter().map(|b| b.size).collect();
        assert_eq!(sizes, [16], "only the changed file");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_corrupt_blob_is_caught_and_leaves_the_target_as_it_was() {
        let root = scratch("corrupt");
        let (from, to) = (root.join("from"), root.join("to"));
        sample(&from);
        fs::create_dir_all(&to).unwrap();
        fs::write(to.join("keep"), "before").unwrap();
        let saved = scan(&from, &Known::default(), Hold::none()).unwrap();
        let restore = Restore::begin(&to, saved.manifest, "c").unwrap();
        let blob = &saved.blobs[0];
        let mut bytes = bytes_of(blob);
        bytes[3] ^= 0x40;
        let mut writer = restore.blob(blob.hash).unwrap();
        writer.write(&bytes).unwrap();
        assert!(writer.finish().unwrap_err().contains("does not match its hash"));
        let short = restore.blob(blob.hash).unwrap();
        assert!(short.finish().unwrap_err().contains("ended after 0 bytes"));
        assert!(restore.commit().unwrap_err().to_string().contains("have not been received"));
        let names: Vec<_> = fs::read_dir(&to).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["keep"]);
        assert_eq!(fs::read_to_string(to.join("keep")).unwrap(), "before");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_manifest_with_a_reserved_name_is_refused() {
        let root = scratch("reserved");
        let entry = super::super::manifest::Entry {
            path: format!("{RESERVED_PREFIX}t").into_bytes(),
            mode: 0o755,
            mtime: (0, 0),
            kind: Kind::Dir,
        };
        let err = Restore::begin(&root, Manifest { entries: vec![entry] }, "t").unwrap_err();
        assert!(err.to_string().contains("a name the agent keeps"), "{err}");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_file_changed_after_the_scan_is_not_sent_as_the_blob() {
        let root = scratch("changed");
        fs::write(root.join("f"), "first").unwrap();
        let saved = scan(&root, &Known::default(), Hold::none()).unwrap();
        fs::write(root.join("f"), "other").unwrap();
        let mut sent = Vec::new();
        let err = saved.blobs[0].read(1000, |piece| {
            sent.extend_from_slice(piece);
            Ok(())
        });
        assert!(err.unwrap_err().to_string().contains("changed while it was being saved"));
        assert!(sent.len() < saved.blobs[0].size as usize, "the last piece is held back");
        fs::remove_dir_all(&root).unwrap();
    }
}
