//! The one directory walker: every entry below a root, each with its path relative to the root, for listing,
//! copying, and what else reads a whole tree (snapshots, recursive watches). The depth of a tree is the sandbox's
//! to choose (a loop of `mkdir a; cd a` makes a chain tens of thousands deep), so the walk does not recurse: it
//! keeps a stack of directories still to read and holds one open directory at a time, so it costs neither thread
//! stack nor descriptors, whatever the depth. Symlinks are entries, never followed: a directory is entered only
//! when the entry itself is one (`lstat`'s type).
//!
//! Order: a directory's entries come in the order the directory gives them, each directory after the one that
//! holds it (so a copy makes a parent before its children); sort what needs sorting.
//!
//! What it does not protect against: a directory replaced by a symlink between its entry being read and it being
//! entered is entered through the link. The agent sees no more of the machine than the sandbox's own code (a
//! container, or the local jail), so such a race reaches nothing that code could not read itself.
//! Removal (`tree::remove_tree`) does not use this walk: it works on descriptors and climbs back with `..`.

use std::fs::{self, DirEntry, FileType, ReadDir};
use std::io;
use std::path::{Path, PathBuf};

/// One entry found by the walk.
#[derive(Debug)]
pub struct Found {
    /// The entry as the directory gave it: its `metadata()` is an `lstat` relative to the directory being read,
    /// its `path()` the real path.
    pub entry: DirEntry,
    /// Its type, not following a symlink.
    pub kind: FileType,
    /// Its path from the root (`a/b/name`; just `name` in the root).
    pub relative: PathBuf,
}

/// A directory that could not be read below the root (unreadable, or gone meanwhile): not entered.
#[derive(Debug)]
pub struct Unreadable {
    pub relative: PathBuf,
    pub error: io::Error,
}

/// Which subdirectories (by their path from the root) a walk does not enter.
type Prune = Box<dyn Fn(&Path) -> bool + Send>;

/// Walks the tree below a root; an iterator of `Found` entries and `Unreadable` subdirectories.
pub struct Walk {
    /// The directory being read, and its path from the root.
    current: Option<(ReadDir, PathBuf)>,
    /// Directories found and not yet read: their real paths and their paths from the root.
    pending: Vec<(PathBuf, PathBuf)>,
    recursive: bool,
    hidden: bool,
    /// Subdirectories (by their path from the root) not to enter.
    prune: Option<Prune>,
}

impl Walk {
    /// Begins a walk below `root`, which must be a readable directory (else the error is returned here).
    pub fn new(root: &Path) -> io::Result<Self> {
        let read = fs::read_dir(root)?;
        Ok(Walk {
            current: Some((read, PathBuf::new())),
            pending: Vec::new(),
            recursive: true,
            hidden: true,
            prune: None,
        })
    }

    /// Only the root's own entries (`false`), or everything below it (the default).
    pub fn recursive(mut self, recursive: bool) -> Self {
        self.recursive = recursive;
        self
    }

    /// Whether entries whose name starts with `.` (and everything below a hidden directory) are walked; they are
    /// by default.
    pub fn hidden(mut self, hidden: bool) -> Self {
        self.hidden = hidden;
        self
    }

    /// Subdirectories for which `prune` (given their path from the root) says yes are found but not entered.
    pub fn prune(mut self, prune: impl Fn(&Path) -> bool + Send + 'static) -> Self {
        self.prune = Some(Box::new(prune));
        self
    }

    fn is_hidden(entry: &DirEntry) -> bool {
        entry.file_name().as_encoded_bytes().first() == Some(&b'.')
    }
}

impl Iterator for Walk {
    type Item = Result<Found, Unreadable>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((read, parent)) = &mut self.current else {
                let (real, relative) = self.pending.pop()?;
                match fs::read_dir(&real) {
                    Ok(read) => self.current = Some((read, relative)),
                    Err(error) => return Some(Err(Unreadable { relative, error })),
                }
                continue;
            };
            let entry = match read.next() {
                None => {
                    self.current = None;
                    continue;
                }
                Some(Err(error)) => return Some(Err(Unreadable { relative: parent.clone(), error })),
                Some(Ok(entry)) => entry,
            };
            if !self.hidden && Self::is_hidden(&entry) {
                continue;
            }
            // The entry may vanish while we walk: skip it rather than fail.
            let Ok(kind) = entry.file_type() else { continue };
            let relative = if parent.as_os_str().is_empty() {
                PathBuf::from(entry.file_name())
            } else {
                parent.join(entry.file_name())
            };
            if self.recursive && kind.is_dir() && !self.prune.as_ref().is_some_and(|prune| prune(&relative)) {
                self.pending.push((entry.path(), relative.clone()));
            }
            return Some(Ok(Found { entry, kind, relative }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("walk-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn walked(walk: Walk) -> Vec<String> {
        let mut all: Vec<String> =
            walk.filter_map(Result::ok).map(|f| f.relative.to_string_lossy().into_owned()).collect();
        all.sort();
        all
    }

    #[test]
    fn every_entry_below_the_root_with_its_relative_path_links_not_followed() {
        let root = scratch("all");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join(".git/objects")).unwrap();
        fs::write(root.join("a/b/f"), "x").unwrap();
        fs::write(root.join(".env"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("a/etc")).unwrap();
        assert_eq!(walked(Walk::new(&root).unwrap()), [".env", ".git", ".git/objects", "a", "a/b", "a/b/f", "a/etc"]);
        assert_eq!(walked(Walk::new(&root).unwrap().hidden(false)), ["a", "a/b", "a/b/f", "a/etc"]);
        assert_eq!(walked(Walk::new(&root).unwrap().recursive(false)), [".env", ".git", "a"]);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_parent_comes_before_its_children() {
        let root = scratch("order");
        fs::create_dir_all(root.join("a/b/c")).unwrap();
        fs::create_dir_all(root.join("d/e")).unwrap();
        let order: Vec<PathBuf> = Walk::new(&root).unwrap().filter_map(Result::ok).map(|f| f.relative).collect();
        for (i, path) in order.iter().enumerate() {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                assert!(order[..i].iter().any(|p| p == parent), "{path:?} before {parent:?}: {order:?}");
            }
        }
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_chain_deeper_than_any_stack_is_walked_on_a_small_one() {
        let root = scratch("deep");
        let mut dir = root.clone();
        // 1,500 levels: 3,000 bytes of path, inside PATH_MAX; a frame per level would not fit in 64 KiB.
        for _ in 0..1500 {
            dir.push("a");
        }
        fs::create_dir_all(&dir).unwrap();
        let top = root.clone();
        let count = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || Walk::new(&top).unwrap().filter(Result::is_ok).count())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(count, 1500);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_unreadable_root_is_an_error_and_an_unreadable_subdirectory_an_item() {
        assert!(Walk::new(Path::new("/nonexistent-walk-root")).is_err());
        let root = scratch("gone");
        fs::create_dir_all(root.join("sub")).unwrap();
        let mut walk = Walk::new(&root).unwrap();
        let found = walk.next().unwrap().unwrap();
        assert_eq!(found.relative, Path::new("sub"));
        fs::remove_dir(root.join("sub")).unwrap();
        let gone = walk.next().unwrap().unwrap_err();
        assert_eq!((gone.relative, gone.error.kind()), (PathBuf::from("sub"), io::ErrorKind::NotFound));
        assert!(walk.next().is_none());
        fs::remove_dir_all(&root).unwrap();
    }
}
