//! The single-file operations: write, read, mkdir, delete, rename, move, exists. Blocking; callers run them on
//! the blocking pool.

use std::fs;
use std::io;

use base64::Engine;
use sandbox_protocol::{Encoding, ErrorCode, ReadFileResult};

use super::Target;
use crate::clock::iso_now;
use crate::error::{AgentError, AgentResult};

/// Largest file `readFile` returns (its JSON result is bigger still).
pub const READ_LIMIT: u64 = 32 * 1024 * 1024;

fn io_err(target: &Target) -> impl Fn(io::Error) -> AgentError + '_ {
    move |e| AgentError::from_io(&e, &target.shown)
}

/// Writes `content` (decoded per `encoding`), creating missing parent directories.
pub fn write(target: &Target, content: &str, encoding: Encoding) -> AgentResult<()> {
    let bytes = match encoding {
        Encoding::Utf8 => content.as_bytes().to_vec(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|e| AgentError::invalid(format!("content is not valid base64: {e}")))?,
    };
    if let Some(parent) = target.real.parent() {
        fs::create_dir_all(parent).map_err(io_err(target))?;
    }
    fs::write(&target.real, bytes).map_err(io_err(target))
}

/// Reads a file. Without an encoding, text comes back as UTF-8 and anything else as base64.
pub fn read(target: &Target, encoding: Option<Encoding>) -> AgentResult<ReadFileResult> {
    let meta = fs::metadata(&target.real).map_err(io_err(target))?;
    if meta.is_dir() {
        return Err(AgentError::new(ErrorCode::IsDirectory, format!("{}: is a directory", target.shown)));
    }
    if meta.len() > READ_LIMIT {
        return Err(AgentError::new(
            ErrorCode::FileTooLarge,
            format!("{}: {} bytes is more than the {} bytes readFile returns", target.shown, meta.len(), READ_LIMIT),
        ));
    }
    let bytes = fs::read(&target.real).map_err(io_err(target))?;
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
    Ok(ReadFileResult {
        success: true,
        path: target.shown.clone(),
        content,
        timestamp: iso_now(),
        encoding,
        is_binary,
        mime_type,
        size: bytes.len() as u64,
    })
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
            format!("{}: is a directory; deleteFile removes files only", target.shown),
        ));
    }
    fs::remove_file(&target.real).map_err(io_err(target))
}

/// Renames `from` to `to`; refuses to replace an existing `to` with `FILE_EXISTS`.
pub fn rename(from: &Target, to: &Target) -> AgentResult<()> {
    fs::symlink_metadata(&from.real).map_err(io_err(from))?;
    if fs::symlink_metadata(&to.real).is_ok() {
        return Err(AgentError::new(ErrorCode::FileExists, format!("{}: already exists", to.shown)));
    }
    fs::rename(&from.real, &to.real).map_err(io_err(from))
}

/// Moves `from` to `to` as `mv` does: into `to` when it is a directory, replacing a file at `to`, across
/// filesystems by copy and delete. Returns where it went.
pub fn move_to(from: &Target, to: &Target) -> AgentResult<Target> {
    fs::symlink_metadata(&from.real).map_err(io_err(from))?;
    let mut dest = to.clone();
    if fs::metadata(&to.real).map(|m| m.is_dir()).unwrap_or(false) {
        let name = from.real.file_name().ok_or_else(|| AgentError::invalid(format!("{}: cannot move a root", from.shown)))?;
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

fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)
    } else if meta.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        fs::copy(from, to).map(|_| ())
    }
}

fn remove_tree(path: &std::path::Path) -> io::Result<()> {
    if fs::symlink_metadata(path)?.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// Whether anything (a dangling symlink included) is at the path.
pub fn exists(target: &Target) -> bool {
    fs::symlink_metadata(&target.real).is_ok()
}
