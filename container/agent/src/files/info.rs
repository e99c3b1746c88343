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

/// `rwxr-xr-x` for the nine permission bits of `mode`, without allocating.
#[derive(Clone, Copy)]
pub struct ModeString([u8; 9]);

impl ModeString {
    pub fn as_str(&self) -> &str {
        // Only `r`, `w`, `x` and `-` are written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

pub fn mode_string(mode: u32) -> ModeString {
    let mut out = [b'-'; 9];
    for (i, shift) in [6, 3, 0].into_iter().enumerate() {
        let bits = (mode >> shift) & 0o7;
        for (j, (bit, letter)) in [(4, b'r'), (2, b'w'), (1, b'x')].into_iter().enumerate() {
            if bits & bit != 0 {
                out[i * 3 + j] = letter;
            }
        }
    }
    ModeString(out)
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
        assert_eq!(mode_string(0o755).as_str(), "rwxr-xr-x");
        assert_eq!(mode_string(0o100644).as_str(), "rw-r--r--");
        assert_eq!(mode_string(0o000).as_str(), "---------");
        assert_eq!(mode_string(0o4777).as_str(), "rwxrwxrwx");
        assert_eq!(owner_permissions(0o500), Permissions { readable: true, writable: false, executable: true });
    }
}
