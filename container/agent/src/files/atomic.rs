//! One way to replace a file whole: the bytes go, in as many chunks as they come, to a new file beside the target,
//! which `commit` then puts in the target's place in one `rename`. A reader sees the old file or the new one,
//! never part of one; a write that fails (a full disk) or is abandoned (its writer dropped: a caller gone, an
//! error) leaves the old file as it was and no temporary file behind.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::names::random_id;

/// A replacement of `dest` being written.
pub struct AtomicFile {
    dest: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    /// The replaced file's permissions, kept by the new one.
    permissions: Option<Permissions>,
}

impl AtomicFile {
    /// Starts a replacement of `dest` (whose directory exists), keeping `permissions` when given.
    pub fn create(dest: &Path, permissions: Option<Permissions>) -> io::Result<AtomicFile> {
        let temp = dest.with_file_name(format!(".{}.partial", random_id("sandbox-write")));
        let file = fs::OpenOptions::new().write(true).create_new(true).mode(0o666).open(&temp)?;
        Ok(AtomicFile { dest: dest.to_path_buf(), temp, file: Some(file), permissions })
    }

    /// Appends a chunk.
    pub fn write_chunk(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(bytes),
            None => Err(io::Error::other("the replacement is closed")),
        }
    }

    /// Puts the new file in the target's place.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().ok_or_else(|| io::Error::other("the replacement is closed"))?;
        if let Some(permissions) = self.permissions.take() {
            file.set_permissions(permissions)?;
        }
        drop(file);
        fs::rename(&self.temp, &self.dest)?;
        // Renamed: nothing is left to remove.
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Drop for AtomicFile {
    /// Not committed: the partial file goes, and the target stays as it was.
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut all: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        all.sort();
        all
    }

    #[test]
    fn chunks_replace_the_file_whole_at_commit_keeping_its_permissions() {
        let dir = scratch("commit");
        let dest = dir.join("notes.txt");
        fs::write(&dest, "old").unwrap();
        fs::set_permissions(&dest, Permissions::from_mode(0o600)).unwrap();
        let mode = fs::metadata(&dest).unwrap().permissions();
        let mut file = AtomicFile::create(&dest, Some(mode)).unwrap();
        file.write_chunk(b"new ").unwrap();
        file.write_chunk(b"text").unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "old", "nothing shows before the commit");
        file.commit().unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "new text");
        assert_eq!(fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(names(&dir), ["notes.txt"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_abandoned_replacement_leaves_the_old_file_and_nothing_else() {
        let dir = scratch("drop");
        let dest = dir.join("notes.txt");
        fs::write(&dest, "old").unwrap();
        let mut file = AtomicFile::create(&dest, None).unwrap();
        file.write_chunk(b"half of it").unwrap();
        drop(file);
        assert_eq!(fs::read_to_string(&dest).unwrap(), "old");
        assert_eq!(names(&dir), ["notes.txt"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
