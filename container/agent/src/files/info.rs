//! `FileInfo` from file metadata: type, `rwxr-xr-x` mode, owner permissions. Pure apart from the metadata given.

use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use sandbox_protocol::{FileType, Permissions};

pub fn file_type(meta: &Metadata) -> FileType {
    let t = meta.file_type();
    if t.is_symlink() {
        FileType::Symlink
    } else if t.is_dir() {
        FileType::Directory
    } else if t.is_file() {
        FileType::File
    } else {
        // FIFOs, sockets, devices.
        FileType::Other
    }
}

/// `rwxr-xr-x` for the nine permission bits of `mode`.
pub fn mode_string(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// The owner's bits, as the SDK reports them.
pub fn owner_permissions(mode: u32) -> Permissions {
    Permissions { readable: mode & 0o400 != 0, writable: mode & 0o200 != 0, executable: mode & 0o100 != 0 }
}

pub fn mode_of(meta: &Metadata) -> u32 {
    meta.permissions().mode()
}

pub fn size_of(meta: &Metadata) -> u64 {
    meta.size()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_like_ls() {
        assert_eq!(mode_string(0o755), "rwxr-xr-x");
        assert_eq!(mode_string(0o100644), "rw-r--r--");
        assert_eq!(mode_string(0o000), "---------");
        assert_eq!(owner_permissions(0o500), Permissions { readable: true, writable: false, executable: true });
    }
}
