//! Saving a directory tree and putting it back, content-addressed: the agent's half of backups, restores and forks
//! (the Durable Object moves the bytes between the agent and R2; the sandbox never sees a credential).
//!
//! A save is a `Manifest` (every entry of the tree: directories, files, symlinks, with modes and mtimes; a file's
//! content as parts of blobs) and the blobs it needs that are not stored yet. A blob is named by the BLAKE3 hash of
//! its bytes: a large file is cut into `CHUNK`-sized blobs, small files are packed together into blobs of up to
//! `CHUNK`, so a tree of 20,000 files is tens of objects, not 20,000. What did not change since the last committed
//! save (same size, mtime, ctime and inode; or the same content hash) keeps its parts and is not read or sent
//! again.
//!
//! A restore writes a manifest's tree into a staging directory as the blobs arrive (each verified against its
//! hash), and only a complete, verified staging replaces the target's contents; a failed restore leaves the
//! target as it was.

pub mod hash;
pub mod manifest;
pub mod restore;
pub mod scan;
pub mod state;

/// The most bytes of one blob: a large file's chunk, or a pack of small files.
pub const CHUNK: u64 = 4 << 20;

/// Names the agent keeps for itself at the top of a restored directory (the staging tree and what it replaces,
/// while a restore commits); never saved.
pub const RESERVED_PREFIX: &str = ".sandbox-backup-";
