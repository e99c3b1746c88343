//! The single-file operations: write, read, mkdir, delete, rename, move, exists. Blocking; callers run them on
//! the blocking pool.

use std::fs;
use std::io::{self, Read};
use std::sync::Arc;

use base64::Engine;
use sandbox_protocol::{Encoding, ErrorCode, ReadFileResult};

use super::atomic::AtomicFile;
use super::tree::{copy_tree, remove_tree};
use super::Target;
use crate::budget::{Budget, Charge};
use crate::clock::iso_now;
use crate::error::{short, AgentError, AgentResult};

/// Largest file `readFile` returns (its JSON result is bigger still).
pub const READ_LIMIT: u64 = sandbox_protocol::limits::MAX_READ_FILE_BYTES;

pub fn io_err(target: &Target) -> impl Fn(io::Error) -> AgentError + '_ {
    move |e| AgentError::from_io(&e, &target.shown)
}

/// Writes `content` (decoded per `encoding`), creating missing parent directories: `replacement`, written whole.
pub fn write(target: &Target, content: &str, encoding: Encoding) -> AgentResult<()> {
    let bytes = match encoding {
        Encoding::Utf8 => content.as_bytes().to_vec(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|e| AgentError::invalid(format!("content is not valid base64: {e}")))?,
    };
    let mut file = replacement(target)?;
    file.write_chunk(&bytes).and_then(|()| file.commit()).map_err(io_err(target))
}

/// Starts replacing the file at `target` (`writeFile`, whole or streamed), creating missing parent directories.
/// Atomic (`AtomicFile`): a reader sees the old file or the new one, never part of one, and a write that fails (a
/// full disk) or is abandoned leaves the old file as it was. A symlink at the path is written through, as
/// `echo > link` would; the permissions of a replaced file are kept; a directory or a device is refused.
pub fn replacement(target: &Target) -> AgentResult<AtomicFile> {
    if let Some(parent) = target.real.parent() {
        fs::create_dir_all(parent).map_err(io_err(target))?;
    }
    let dest = match fs::symlink_metadata(&target.real) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(&target.real).unwrap_or_else(|_| target.real.clone())
        }
        _ => target.real.clone(),
    };
    let permissions = match fs::metadata(&dest) {
        Ok(meta) if meta.is_dir() => {
            return Err(AgentError::new(ErrorCode::IsDirectory, format!("{}: is a directory", short(&target.shown))))
        }
        Ok(meta) if !meta.is_file() => return Err(not_regular(target)),
        Ok(meta) => Some(meta.permissions()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(AgentError::from_io(&e, &target.shown)),
    };
    AtomicFile::create(&dest, permissions).map_err(io_err(target))
}

/// Reads a file. Without an encoding, text comes back as UTF-8 and anything else as base64. Regular files only: a
/// device (`/dev/zero`) or a FIFO would never end, or never answer. The read is bounded by what it actually reads,
/// not by what `stat` said (files under `/proc` say 0 and are not).
/// The result holds up to about three times the file's size (bytes, text, JSON): that is charged to `budget` and
/// returned with it.
pub fn read(
    target: &Target,
    encoding: Option<Encoding>,
    range: (Option<u64>, Option<u64>),
    budget: &Arc<Budget>,
) -> AgentResult<(ReadFileResult, Charge)> {
    // Opened non-blocking (a FIFO put at the path does not hold the open) and checked once open.
    let mut file = super::stream::open(target, range.0, range.1)?;
    let wanted = file.range.len;
    if wanted > READ_LIMIT {
        return Err(too_large(target, &wanted.to_string()));
    }
    let mut charge = budget.charge(wanted as usize * 3 + 4096, "readFile")?;
    let mut bytes = Vec::with_capacity(wanted as usize);
    // Bounded by what is read, not by what `stat` said (files under /proc say 0 and are not): a whole file is read
    // to its end, a range to its length.
    let cap = if file.range.partial { wanted } else { READ_LIMIT + 1 };
    file.reader().map_err(io_err(target))?.take(cap).read_to_end(&mut bytes).map_err(io_err(target))?;
    if bytes.len() as u64 > READ_LIMIT {
        return Err(too_large(target, "more"));
    }
    // The file grew since `stat` (or `stat` said 0, as files under /proc do).
    if bytes.len() as u64 > wanted && !charge.try_grow((bytes.len() - wanted as usize) * 3) {
        return Err(budget.exhausted("readFile"));
    }
    let is_binary = bytes.contains(&0) || std::str::from_utf8(&bytes).is_err();
    let encoding = encoding.unwrap_or(if is_binary { Encoding::Base64 } else { Encoding::Utf8 });
    let content = match encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(&bytes),
        Encoding::Utf8 => String::from_utf8_lossy(&bytes).into_owned(),
    };
    let mime_type = mime_guess::from_path(&target.real)
        .first()
        .map(|m| m.essence_str().to_string())
        .unwrap_or_else(|| if is_binary { "application/octet-stream" } else { "text/plain" }.to_string());
    let result = ReadFileResult {
        success: true,
        path: target.shown.clone(),
        content,
        timestamp: iso_now(),
        encoding,
        is_binary,
        mime_type,
        size: bytes.len() as u64,
    };
    Ok((result, charge))
}

pub fn not_regular(target: &Target) -> AgentError {
    AgentError::new(
        ErrorCode::UnsupportedFileType,
        format!(
            "{}: not a regular file (a device, FIFO or socket); the file API reads and writes regular files",
            short(&target.shown)
        ),
    )
}

fn too_large(target: &Target, size: &str) -> AgentError {
    AgentError::new(
        ErrorCode::FileTooLarge,
        format!(
            "{}: {size} bytes is more than the {READ_LIMIT} bytes readFile returns in JSON: read it as a stream \
             (readFileStream, or readFile with offset and length; GET /files/content), which has no such limit",
            short(&target.shown)
        ),
    )
}

pub fn mkdir(target: &Target, recursive: bool) -> AgentResult<()> {
    let made = if recursive { fs::create_dir_all(&target.real) } else { fs::create_dir(&target.real) };
    made.map_err(io_err(target))
}

/// Deletes a file or symlink; a directory is refused with `IS_DIRECTORY`.
pub fn delete(target: &Target) -> AgentResult<()> {
    let meta = fs::symlink_metadata(&target.real).map_err(io_err(target))?;
    if meta.is_dir() {
        return Err(AgentError::new(
            ErrorCode::IsDirectory,
            format!("{}: is a directory; deleteFile removes files only", short(&target.shown)),
        ));
    }
    fs::remove_file(&target.real).map_err(io_err(target))
}

/// Renames `from` to `to`; refuses to replace an existing `to` with `FILE_EXISTS`.
pub fn rename(from: &Target, to: &Target) -> AgentResult<()> {
    fs::symlink_metadata(&from.real).map_err(io_err(from))?;
    if fs::symlink_metadata(&to.real).is_ok() {
        return Err(AgentError::new(ErrorCode::FileExists, format!("{}: already exists", short(&to.shown))));
    }
    fs::rename(&from.real, &to.real).map_err(io_err(from))
}

/// Moves `from` to `to` as `mv` does: into `to` when it is a directory, replacing a file at `to`, across
/// filesystems by copy and delete. Returns where it went.
pub fn move_to(from: &Target, to: &Target) -> AgentResult<Target> {
    fs::symlink_metadata(&from.real).map_err(io_err(from))?;
    let mut dest = to.clone();
    if fs::metadata(&to.real).map(|m| m.is_dir()).unwrap_or(false) {
        let name = from
            .real
            .file_name()
            .ok_or_else(|| AgentError::invalid(format!("{}: cannot move a root", short(&from.shown))))?;
        dest.real = to.real.join(name);
        dest.shown = format!("{}/{}", to.shown.trim_end_matches('/'), name.to_string_lossy());
    }
    if let Some(parent) = dest.real.parent() {
        fs::create_dir_all(parent).map_err(io_err(&dest))?;
    }
    match fs::rename(&from.real, &dest.real) {
        Ok(()) => Ok(dest),
        Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
            copy_tree(&from.real, &dest.real).map_err(io_err(&dest))?;
            remove_tree(&from.real).map_err(io_err(from))?;
            Ok(dest)
        }
        Err(e) => Err(AgentError::from_io(&e, &from.shown)),
    }
}

/// Whether anything (a dangling symlink included) is at the path.
pub fn exists(target: &Target) -> bool {
    fs::symlink_metadata(&target.real).is_ok()
}
