//! `listFiles`: a directory's entries (and, when recursive, its subdirectories'), symlinks listed and never
//! followed, hidden entries and hidden subtrees skipped unless asked for. Sorted by relative path.

use std::fs;
use std::io;
use std::path::Path;

use sandbox_protocol::{ErrorCode, FileInfo, FileType, ListFilesResult};

use super::info::{file_type, mode_of, mode_string, owner_permissions, size_of};
use super::Target;
use crate::clock::{iso, iso_now};
use crate::error::{AgentError, AgentResult};

pub struct ListOptions {
    pub recursive: bool,
    pub include_hidden: bool,
}

/// Lists `dir`. `shown_root` is the directory as callers see it: absolute paths in the result start with it.
pub fn list(dir: &Target, shown_root: &Path, options: &ListOptions) -> AgentResult<ListFilesResult> {
    let meta = fs::metadata(&dir.real).map_err(|e| AgentError::from_io(&e, &dir.shown))?;
    if !meta.is_dir() {
        return Err(AgentError::new(ErrorCode::NotDirectory, format!("{}: not a directory", dir.shown)));
    }
    let mut files = Vec::new();
    walk(&dir.real, shown_root, "", options, &mut files).map_err(|e| AgentError::from_io(&e, &dir.shown))?;
    files.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
    Ok(ListFilesResult {
        success: true,
        path: shown_root.to_string_lossy().into_owned(),
        count: files.len(),
        files,
        timestamp: iso_now(),
    })
}

fn walk(real: &Path, shown: &Path, prefix: &str, options: &ListOptions, out: &mut Vec<FileInfo>) -> io::Result<()> {
    for entry in fs::read_dir(real)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !options.include_hidden && name.starts_with('.') {
            continue;
        }
        // The entry may vanish while we list: skip it rather than fail the listing.
        let Ok(meta) = entry.metadata() else { continue };
        let relative = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let absolute = shown.join(&name);
        let mode = mode_of(&meta);
        let kind = file_type(&meta);
        out.push(FileInfo {
            name,
            absolute_path: absolute.to_string_lossy().into_owned(),
            relative_path: relative.clone(),
            kind,
            size: size_of(&meta),
            modified_at: meta.modified().map(iso).unwrap_or_default(),
            mode: mode_string(mode),
            permissions: owner_permissions(mode),
        });
        if options.recursive && kind == FileType::Directory {
            // A subdirectory that cannot be read is listed but not entered.
            let _ = walk(&entry.path(), &absolute, &relative, options, out);
        }
    }
    Ok(())
}
