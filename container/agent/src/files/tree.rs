//! Whole directory trees: removing and copying. The depth of a tree is the sandbox's to choose (a loop of
//! `mkdir a; cd a` makes a chain tens of thousands deep), so nothing here recurses: copying reads the tree with the
//! one walker (`walk.rs`), and removal keeps its own stack of names, holding one open directory at a time, so
//! neither costs thread stack nor descriptors, whatever the depth. Removal works relative to directory descriptors, so it reaches depths whose paths are longer than
//! `PATH_MAX`, and it climbs back with `..` only after checking it lands in the directory it came from.

use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{open, openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::walk::{Unreadable, Walk};

/// How often a directory is read again because something kept adding to it while it was being removed.
const RESCANS: usize = 64;

/// Removes `path`: a file or symlink, or a directory with everything in it.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    if !fs::symlink_metadata(path)?.is_dir() {
        return fs::remove_file(path);
    }
    let root = open(path, dir_flags(), Mode::empty()).map_err(io::Error::from)?;
    empty_dir(root)?;
    fs::remove_dir(path)
}

/// One directory on the way down: its name in its parent, the parent's identity (to check the climb back), and
/// its subdirectories still to remove.
struct Level {
    name: CString,
    parent: (u64, u64),
    pending: Vec<CString>,
}

/// Removes everything inside the directory `root`, leaving it empty.
fn empty_dir(root: OwnedFd) -> io::Result<()> {
    let mut current = root;
    let mut current_id = identity(&current)?;
    let mut root_pending = scan(&current)?;
    let mut levels: Vec<Level> = Vec::new();
    let mut rescans = 0;
    loop {
        let pending = match levels.last_mut() {
            Some(level) => &mut level.pending,
            None => &mut root_pending,
        };
        if let Some(name) = pending.pop() {
            match openat(current.as_fd(), name.as_c_str(), dir_flags(), Mode::empty()) {
                Ok(child) => {
                    let pending = scan(&child)?;
                    levels.push(Level { name, parent: current_id, pending });
                    current_id = identity(&child)?;
                    current = child;
                }
                Err(Errno::ENOENT) => {}
                // It is no longer a directory (replaced by a file or a symlink): remove it as one.
                Err(Errno::ENOTDIR | Errno::ELOOP) => {
                    ignore_gone(unlinkat(current.as_fd(), name.as_c_str(), UnlinkatFlags::NoRemoveDir))?
                }
                Err(e) => return Err(e.into()),
            }
            continue;
        }
        let Some(level) = levels.pop() else { return Ok(()) };
        let parent = openat(current.as_fd(), c"..", dir_flags(), Mode::empty()).map_err(io::Error::from)?;
        if identity(&parent)? != level.parent {
            return Err(io::Error::other("a directory was moved while it was being removed"));
        }
        match unlinkat(parent.as_fd(), level.name.as_c_str(), UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {
                current = parent;
                current_id = level.parent;
            }
            // Something wrote into it meanwhile: read it again and go on from there.
            Err(Errno::ENOTEMPTY | Errno::EEXIST) if rescans < RESCANS => {
                rescans += 1;
                let pending = scan(&current)?;
                levels.push(Level { pending, ..level });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Removes the entries of `dir` that are not directories; returns the names of those that are.
fn scan(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    let mut listing = Dir::openat(dir.as_fd(), c".", dir_flags(), Mode::empty()).map_err(io::Error::from)?;
    let mut subdirs = Vec::new();
    for entry in listing.iter() {
        let entry = entry.map_err(io::Error::from)?;
        let name: &CStr = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            Some(kind) => kind == Type::Directory,
            None => match fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(stat) => stat.st_mode & nix::libc::S_IFMT == nix::libc::S_IFDIR,
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            },
        };
        if is_dir {
            subdirs.push(name.to_owned());
        } else {
            ignore_gone(unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir))?;
        }
    }
    Ok(subdirs)
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn identity(fd: &OwnedFd) -> io::Result<(u64, u64)> {
    let stat = fstat(fd.as_fd()).map_err(io::Error::from)?;
    Ok((stat.st_dev, stat.st_ino))
}

fn ignore_gone(result: nix::Result<()>) -> io::Result<()> {
    match result {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Copies `from` to `to` (which must not exist): files, directories and symlinks (copied as links, never followed);
/// devices, FIFOs and sockets are refused. The tree is read by the one walker (`walk.rs`).
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    let kind = fs::symlink_metadata(from)?.file_type();
    copy_one(from, to, kind)?;
    if kind.is_dir() {
        for found in Walk::new(from)? {
            let found = found.map_err(|Unreadable { relative, error }| {
                io::Error::new(error.kind(), format!("{}: {error}", from.join(relative).display()))
            })?;
            copy_one(&found.entry.path(), &to.join(&found.relative), found.kind)?;
        }
    }
    Ok(())
}

/// Copies one entry; a directory is made empty (the walk brings its entries after it).
fn copy_one(from: &Path, to: &Path, kind: fs::FileType) -> io::Result<()> {
    if kind.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)
    } else if kind.is_dir() {
        fs::create_dir_all(to)
    } else if kind.is_file() {
        fs::copy(from, to).map(drop)
    } else {
        // Opening a FIFO would wait for a writer, a device would never end.
        Err(io::Error::new(io::ErrorKind::Unsupported, format!("{}: not a regular file", from.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tree-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn removes_a_chain_deeper_than_path_max_without_recursion() {
        let root = scratch("deep");
        let top = root.join("chain");
        fs::create_dir(&top).unwrap();
        // 5,000 levels: a path of 10,000 bytes, past PATH_MAX; made relative to descriptors.
        let mut dir = open(&top, dir_flags(), Mode::empty()).unwrap();
        for _ in 0..5000 {
            nix::sys::stat::mkdirat(dir.as_fd(), c"a", Mode::from_bits_truncate(0o755)).unwrap();
            let file =
                openat(dir.as_fd(), c"f", OFlag::O_CREAT | OFlag::O_WRONLY, Mode::from_bits_truncate(0o644)).unwrap();
            drop(file);
            dir = openat(dir.as_fd(), c"a", dir_flags(), Mode::empty()).unwrap();
        }
        drop(dir);
        // Run on a thread with a small stack: a recursive walk would overflow it.
        let path = top.clone();
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || remove_tree(&path))
            .unwrap()
            .join()
            .unwrap()
            .unwrap();
        assert!(!top.exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn removes_wide_trees_files_and_symlinks_without_following_them() {
        let root = scratch("wide");
        let outside = root.join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), "x").unwrap();
        let tree = root.join("tree");
        for i in 0..50 {
            fs::create_dir_all(tree.join(format!("d{i}/e"))).unwrap();
            fs::write(tree.join(format!("d{i}/e/f")), "x").unwrap();
        }
        std::os::unix::fs::symlink(&outside, tree.join("link")).unwrap();
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
        assert!(outside.join("keep").exists());
        fs::write(root.join("file"), "x").unwrap();
        remove_tree(&root.join("file")).unwrap();
        assert!(!root.join("file").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn copies_trees_with_links_as_links() {
        let root = scratch("copy");
        fs::create_dir_all(root.join("a/b/c")).unwrap();
        fs::write(root.join("a/b/c/f"), "data").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("a/link")).unwrap();
        copy_tree(&root.join("a"), &root.join("copy")).unwrap();
        assert_eq!(fs::read_to_string(root.join("copy/b/c/f")).unwrap(), "data");
        assert_eq!(fs::read_link(root.join("copy/link")).unwrap(), PathBuf::from("/etc/hostname"));
        fs::remove_dir_all(&root).unwrap();
    }
}
