//! File operations: requests and results with the SDK's field names.

use serde::{Deserialize, Serialize};

use crate::Encoding;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListFilesRequest {
    pub path: String,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default)]
    pub include_hidden: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    File,
    Directory,
    Symlink,
    Other,
}

/// The owner's permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Permissions {
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    pub name: String,
    pub absolute_path: String,
    /// Relative to the listed directory.
    pub relative_path: String,
    #[serde(rename = "type")]
    pub kind: FileType,
    pub size: u64,
    /// ISO 8601 with zone.
    pub modified_at: String,
    /// `rwxr-xr-x` style.
    pub mode: String,
    pub permissions: Permissions,
}

/// A `FileInfo` that borrows its text, written the same way (tested): the agent writes each entry of a large
/// listing from one of these without building its strings.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfoRef<'a> {
    pub name: &'a str,
    pub absolute_path: &'a str,
    pub relative_path: &'a str,
    #[serde(rename = "type")]
    pub kind: FileType,
    pub size: u64,
    pub modified_at: &'a str,
    pub mode: &'a str,
    pub permissions: Permissions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ListFilesResult {
    pub success: bool,
    /// The listed directory, absolute.
    pub path: String,
    pub files: Vec<FileInfo>,
    pub count: usize,
    pub timestamp: String,
}

impl ListFilesResult {
    /// The JSON of a successful result around entries written elsewhere: the text before the first entry and the
    /// text after the last. Between them go the entries (each a serialized `FileInfo` or `FileInfoRef`), separated
    /// by commas; the whole equals the serialized result (tested). This lets a large listing be written in parts,
    /// on several threads, and sent without joining them.
    pub fn envelope(path: &str, count: usize, timestamp: &str) -> (Vec<u8>, Vec<u8>) {
        let mut head = br#"{"success":true,"path":"#.to_vec();
        write_str(&mut head, path);
        head.extend_from_slice(br#","files":["#);
        let mut tail = format!(r#"],"count":{count},"timestamp":"#).into_bytes();
        write_str(&mut tail, timestamp);
        tail.push(b'}');
        (head, tail)
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(out, text);
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteFileRequest {
    pub path: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadFileRequest {
    pub path: String,
    /// When absent: UTF-8 text for text files, base64 for binary ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReadFileResult {
    pub success: bool,
    pub path: String,
    pub content: String,
    pub timestamp: String,
    pub encoding: Encoding,
    pub is_binary: bool,
    pub mime_type: String,
    pub size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MkdirRequest {
    pub path: String,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MkdirResult {
    pub success: bool,
    pub path: String,
    pub recursive: bool,
    pub timestamp: String,
}

/// `deleteFile`: removes a file or symlink; a directory is refused with `IS_DIRECTORY`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteFileRequest {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameFileRequest {
    pub old_path: String,
    pub new_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveFileRequest {
    pub source_path: String,
    pub destination_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExistsRequest {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Result of write and delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileOpResult {
    pub success: bool,
    pub path: String,
    pub timestamp: String,
}

/// Result of rename and move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RenameResult {
    pub success: bool,
    pub path: String,
    pub new_path: String,
    pub timestamp: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExistsResult {
    pub success: bool,
    pub path: String,
    pub exists: bool,
    pub timestamp: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> FileInfo {
        FileInfo {
            name: name.to_string(),
            absolute_path: format!("/workspace/\"q\"/{name}"),
            relative_path: format!("d/{name}"),
            kind: FileType::Symlink,
            size: 42,
            modified_at: "2026-11-27T10:00:00.000Z".into(),
            mode: "rwxr-x---".into(),
            permissions: Permissions { readable: true, writable: false, executable: true },
        }
    }

    #[test]
    fn a_borrowed_entry_is_written_as_the_owned_one() {
        let owned = entry("caf\u{e9} \\ \n");
        let borrowed = FileInfoRef {
            name: &owned.name,
            absolute_path: &owned.absolute_path,
            relative_path: &owned.relative_path,
            kind: owned.kind,
            size: owned.size,
            modified_at: &owned.modified_at,
            mode: &owned.mode,
            permissions: owned.permissions,
        };
        assert_eq!(serde_json::to_string(&borrowed).unwrap(), serde_json::to_string(&owned).unwrap());
    }

    #[test]
    fn the_envelope_around_its_entries_is_the_whole_result() {
        for files in [vec![], vec![entry("a")], vec![entry("a"), entry("b"), entry("c")]] {
            let result = ListFilesResult {
                success: true,
                path: "/workspace/\"odd\" [path]".into(),
                count: files.len(),
                files: files.clone(),
                timestamp: "2026-11-27T10:00:00.000Z".into(),
            };
            let (head, tail) = ListFilesResult::envelope(&result.path, result.count, &result.timestamp);
            let entries: Vec<String> = files.iter().map(|f| serde_json::to_string(f).unwrap()).collect();
            let whole = [head, entries.join(",").into_bytes(), tail].concat();
            assert_eq!(String::from_utf8(whole).unwrap(), serde_json::to_string(&result).unwrap());
        }
    }
}
