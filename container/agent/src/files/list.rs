//! `listFiles`: a directory's entries (and, when recursive, its subdirectories'), symlinks listed and never
//! followed, hidden entries and hidden subtrees skipped unless asked for (the walk is `walk.rs`'s). Sorted by
//! relative path.

use std::convert::Infallible;
use std::fs;
use std::path::Path;

use bytes::Bytes;

use sandbox_protocol::{ErrorCode, FileInfoRef, FileType, ListFilesResult};

use super::info::{file_type, mode_of, mode_string, owner_permissions, size_of};
use super::parallel::{as_read, in_parts};
use super::walk::{Found, Walk};
use super::Target;
use crate::clock::{epoch_ms, iso_ms};
use crate::error::{AgentError, AgentResult};

/// Most entries one listing returns (about 60 MiB of JSON): a tree of millions of files is refused, not held.
pub const MAX_ENTRIES: usize = 200_000;

pub struct ListOptions {
    pub recursive: bool,
    pub include_hidden: bool,
    /// Most entries to list (`MAX_ENTRIES` for callers): more is refused.
    pub limit: usize,
}

/// A listing, sorted: each entry as compact as its JSON needs (its relative path, its name the path's tail, and
/// its metadata); the strings of the answer are built only as it is written.
pub struct Listing {
    /// The listed directory as callers see it (the result's `path`).
    path: String,
    /// `path` without a trailing `/`: absolute paths are this, `/`, the relative.
    base: String,
    entries: Vec<Entry>,
}

struct Entry {
    relative: String,
    name_at: usize,
    kind: FileType,
    size: u64,
    modified_ms: i64,
    mode: u32,
}

impl Entry {
    fn name(&self) -> &str {
        &self.relative[self.name_at..]
    }
}

/// Lists `dir`. `shown_root` is the directory as callers see it: absolute paths in the result start with it.
pub fn list(dir: &Target, shown_root: &Path, options: &ListOptions) -> AgentResult<Listing> {
    let meta = fs::metadata(&dir.real).map_err(|e| AgentError::from_io(&e, &dir.shown))?;
    if !meta.is_dir() {
        return Err(AgentError::new(ErrorCode::NotDirectory, format!("{}: not a directory", dir.shown)));
    }
    let walk = Walk::new(&dir.real).map_err(|e| AgentError::from_io(&e, &dir.shown))?;
    let walk = walk.recursive(options.recursive).hidden(options.include_hidden);
    // A subdirectory that cannot be read is listed but not entered. One entry past the limit is enough to know the
    // listing is refused: read no further.
    let found = walk.filter_map(Result::ok).take(options.limit.saturating_add(1)).map(Ok::<_, Infallible>);
    // Entries are described while the tree is still being read. Each `stat` is relative to the directory read
    // (the entry's own handle on it), never a path walked again.
    let described = match as_read(found, |batch| batch.into_iter().filter_map(describe).collect::<Vec<_>>()) {
        Ok(described) => described,
        Err(never) => match never {},
    };
    let mut entries: Vec<Entry> = described.into_iter().flatten().collect();
    if entries.len() > options.limit {
        return Err(AgentError::new(
            ErrorCode::FileTooLarge,
            format!(
                "{}: more than {} entries; list a subdirectory, or without recursive",
                crate::error::short(&dir.shown),
                options.limit
            ),
        ));
    }
    // Relative paths are unique: no order among equals to keep.
    entries.sort_unstable_by(|a, b| a.relative.cmp(&b.relative));
    let path = shown_root.to_string_lossy().into_owned();
    let base = path.trim_end_matches('/').to_string();
    Ok(Listing { path, base, entries })
}

/// An entry with its metadata; `None` when it vanished while the tree was read (skipped rather than failing).
fn describe(found: Found) -> Option<Entry> {
    let meta = found.entry.metadata().ok()?;
    // Itself when it is UTF-8 (no copy), with U+FFFD for each invalid sequence otherwise.
    let relative = found.relative.into_os_string().into_string().unwrap_or_else(|p| p.to_string_lossy().into_owned());
    let name_at = relative.rfind('/').map_or(0, |slash| slash + 1);
    Some(Entry {
        relative,
        name_at,
        kind: file_type(&meta),
        size: size_of(&meta),
        modified_ms: meta.modified().map(epoch_ms).unwrap_or_default(),
        mode: mode_of(&meta),
    })
}

impl Listing {
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// The listing as the JSON of a `ListFilesResult`, in pieces to send one after another: a large one is
    /// written in contiguous parts on several threads, and never joined into one buffer.
    pub fn to_json(&self, timestamp: &str) -> Vec<Bytes> {
        let (head, tail) = ListFilesResult::envelope(&self.path, self.entries.len(), timestamp);
        let parts = in_parts(self.entries.iter().collect(), |part| self.write_entries(&part));
        let mut pieces = vec![Bytes::from(head)];
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let part = Bytes::from(part);
            // Every entry is written after a comma; the first of all has none.
            pieces.push(if pieces.len() == 1 { part.slice(1..) } else { part });
        }
        pieces.push(Bytes::from(tail));
        pieces
    }

    /// Entries as JSON objects, each after a comma.
    fn write_entries(&self, entries: &[&Entry]) -> Vec<u8> {
        // The entry's text and about 180 bytes of names, punctuation and metadata.
        let size = entries.iter().map(|e| 180 + self.base.len() + 2 * e.relative.len()).sum();
        let mut out = Vec::with_capacity(size);
        let mut absolute = String::new();
        for entry in entries {
            out.push(b',');
            absolute.clear();
            absolute.push_str(&self.base);
            absolute.push('/');
            absolute.push_str(&entry.relative);
            let mode = mode_string(entry.mode);
            let modified = iso_ms(entry.modified_ms);
            let info = FileInfoRef {
                name: entry.name(),
                absolute_path: &absolute,
                relative_path: &entry.relative,
                kind: entry.kind,
                size: entry.size,
                modified_at: modified.as_str(),
                mode: mode.as_str(),
                permissions: owner_permissions(entry.mode),
            };
            info.write_json(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    use sandbox_protocol::FileInfo;

    #[test]
    fn a_file_dated_beyond_any_calendar_is_listed_not_a_failure() {
        // Code in a sandbox can date a file on a tmpfs to year 3,170,843 (`touch -d @99999999999999`); ext4 clamps
        // such dates, so this needs the machine's tmpfs.
        let root = Path::new("/dev/shm");
        if !root.is_dir() {
            eprintln!("skipped: no /dev/shm here");
            return;
        }
        let dir = root.join(format!("sandbox-agent-list-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (name, secs) in [("far", 99_999_999_999_999), ("past", -99_999_999_999), ("now", 1_764_140_791)] {
            let file = dir.join(name);
            fs::write(&file, name).unwrap();
            let at = TimeSpec::new(secs, 0);
            utimensat(nix::fcntl::AT_FDCWD, &file, &at, &at, UtimensatFlags::NoFollowSymlink).unwrap();
        }
        let target = Target { real: dir.clone(), shown: "/workspace/d".into() };
        let options = ListOptions { recursive: false, include_hidden: false, limit: MAX_ENTRIES };
        let listed = list(&target, Path::new("/workspace/d"), &options).unwrap();
        let json = listed.to_json("2026-11-27T10:00:00.000Z").concat();
        let _ = fs::remove_dir_all(&dir);
        let result: ListFilesResult = serde_json::from_slice(&json).unwrap();
        let dates: Vec<(&str, &str)> =
            result.files.iter().map(|f: &FileInfo| (f.name.as_str(), f.modified_at.as_str())).collect();
        assert_eq!(
            dates,
            [
                ("far", "+275760-09-13T00:00:00.000Z"),
                ("now", "2025-11-26T07:06:31.000Z"),
                ("past", "-001199-02-15T14:13:21.000Z")
            ]
        );
        assert_eq!(result.files[0].absolute_path, "/workspace/d/far");
    }

    #[test]
    fn a_listing_past_its_limit_is_refused_and_one_at_it_is_whole() {
        let dir = std::env::temp_dir().join(format!("sandbox-agent-limit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        for i in 0..700 {
            fs::write(dir.join(format!("f{i:03}")), "").unwrap();
        }
        for i in 0..300 {
            fs::write(dir.join("sub").join(format!("g{i:03}")), "").unwrap();
        }
        let target = Target { real: dir.clone(), shown: "/workspace".into() };
        let listed = |recursive, limit| {
            let options = ListOptions { recursive, include_hidden: false, limit };
            list(&target, Path::new("/workspace"), &options).map(|l| l.count())
        };
        // 701 entries here (700 files and `sub`), 1,001 with `sub`'s.
        assert_eq!(listed(false, 701).unwrap(), 701);
        assert_eq!(listed(false, 700).unwrap_err().code, ErrorCode::FileTooLarge);
        assert_eq!(listed(true, 1001).unwrap(), 1001);
        let refused = listed(true, 1000).unwrap_err();
        assert_eq!(refused.code, ErrorCode::FileTooLarge);
        assert!(refused.message.contains("more than 1000 entries"), "{}", refused.message);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_root_lists_as_itself_with_absolute_paths_below_it() {
        let dir = std::env::temp_dir().join(format!("sandbox-agent-root-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("etc")).unwrap();
        let target = Target { real: dir.clone(), shown: "/".into() };
        let options = ListOptions { recursive: true, include_hidden: false, limit: MAX_ENTRIES };
        let json = list(&target, Path::new("/"), &options).unwrap().to_json("2026-11-27T10:00:00.000Z").concat();
        let _ = fs::remove_dir_all(&dir);
        let result: ListFilesResult = serde_json::from_slice(&json).unwrap();
        assert_eq!(result.path, "/");
        assert_eq!(result.files[0].absolute_path, "/etc");
        assert_eq!(result.files[0].relative_path, "etc");
    }
}
