//! `listFiles`: a directory's entries (and, when recursive, its subdirectories'), symlinks listed and never
//! followed, hidden entries and hidden subtrees skipped unless asked for. Sorted by relative path.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sandbox_protocol::{ErrorCode, FileInfo, FileType, ListFilesResult};

use super::info::{file_type, mode_of, mode_string, owner_permissions, size_of};
use super::Target;
use crate::clock::{iso, iso_now};
use crate::error::{AgentError, AgentResult};

/// Most entries one listing returns (about 60 MiB of JSON): a tree of millions of files is refused, not held.
pub const MAX_ENTRIES: usize = 200_000;

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
    // An explicit stack, not recursion: the sandbox chooses how deep its trees go.
    let mut pending = vec![(dir.real.clone(), shown_root.to_path_buf(), String::new())];
    let mut first = true;
    while let Some((real, shown, prefix)) = pending.pop() {
        match list_one(&real, &shown, &prefix, options, &mut files, &mut pending) {
            Ok(()) => {}
            Err(e) if first => return Err(AgentError::from_io(&e, &dir.shown)),
            // A subdirectory that cannot be read is listed but not entered.
            Err(_) => {}
        }
        first = false;
        if files.len() > MAX_ENTRIES {
            return Err(AgentError::new(
                ErrorCode::FileTooLarge,
                format!(
                    "{}: more than {MAX_ENTRIES} entries; list a subdirectory, or without recursive",
                    crate::error::short(&dir.shown)
                ),
            ));
        }
    }
    files.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
    Ok(ListFilesResult {
        success: true,
        path: shown_root.to_string_lossy().into_owned(),
        count: files.len(),
        files,
        timestamp: iso_now(),
    })
}

/// Lists one directory into `out`; with `recursive`, queues its subdirectories on `pending`.
fn list_one(
    real: &Path,
    shown: &Path,
    prefix: &str,
    options: &ListOptions,
    out: &mut Vec<FileInfo>,
    pending: &mut Vec<(PathBuf, PathBuf, String)>,
) -> io::Result<()> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(real)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if options.include_hidden || !name.starts_with('.') {
            entries.push((entry, name));
        }
        if out.len() + entries.len() > MAX_ENTRIES {
            // Enough to know the listing is refused: read no further.
            break;
        }
    }
    let base = shown.to_string_lossy();
    let base = base.trim_end_matches('/');
    let infos = stat_all(entries, |(entry, name)| {
        // The entry may vanish while we list: skip it rather than fail the listing.
        let meta = entry.metadata().ok()?;
        let mode = mode_of(&meta);
        Some(FileInfo {
            absolute_path: format!("{base}/{name}"),
            relative_path: if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") },
            name,
            kind: file_type(&meta),
            size: size_of(&meta),
            modified_at: meta.modified().map(iso).unwrap_or_default(),
            mode: mode_string(mode),
            permissions: owner_permissions(mode),
        })
    });
    for info in infos {
        if options.recursive && info.kind == FileType::Directory {
            pending.push((real.join(&info.name), PathBuf::from(&info.absolute_path), info.relative_path.clone()));
        }
        out.push(info);
    }
    Ok(())
}

/// Entries of one directory beyond which their `stat` calls are spread over the machine's cores.
const PARALLEL_FROM: usize = 512;

/// Maps `describe` over `items`, on several threads when there are many (a `stat` per entry dominates a large
/// listing), keeping the order.
fn stat_all<T: Send, U: Send>(items: Vec<T>, describe: impl Fn(T) -> Option<U> + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    if items.len() < PARALLEL_FROM || threads < 2 {
        return items.into_iter().filter_map(describe).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(chunk).collect());
    }
    let describe = &describe;
    std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().filter_map(describe).collect::<Vec<U>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    })
}
