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

impl FileInfoRef<'_> {
    /// This entry's JSON, the bytes serde writes (tested), into `out`: a listing writes ten thousand of these, and
    /// its names and paths are scanned for escapes eight bytes at a time (`json::write_str`).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::json::write_str;
        use std::io::Write;
        out.extend_from_slice(br#"{"name":"#);
        write_str(out, self.name);
        out.extend_from_slice(br#","absolutePath":"#);
        write_str(out, self.absolute_path);
        out.extend_from_slice(br#","relativePath":"#);
        write_str(out, self.relative_path);
        out.extend_from_slice(match self.kind {
            FileType::File => br#","type":"file","size":"#.as_slice(),
            FileType::Directory => br#","type":"directory","size":"#,
            FileType::Symlink => br#","type":"symlink","size":"#,
            FileType::Other => br#","type":"other","size":"#,
        });
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{}", self.size);
        out.extend_from_slice(br#","modifiedAt":"#);
        write_str(out, self.modified_at);
        out.extend_from_slice(br#","mode":"#);
        write_str(out, self.mode);
        let flag = |on: bool| if on { "true" } else { "false" };
        let Permissions { readable, writable, executable } = self.permissions;
        out.extend_from_slice(br#","permissions":{"readable":"#);
        out.extend_from_slice(flag(readable).as_bytes());
        out.extend_from_slice(br#","writable":"#);
        out.extend_from_slice(flag(writable).as_bytes());
        out.extend_from_slice(br#","executable":"#);
        out.extend_from_slice(flag(executable).as_bytes());
        out.extend_from_slice(b"}}");
    }
}

impl ListFilesResult {
    /// The JSON of a successful result around entries written elsewhere: the text before the first entry and the
    /// text after the last. Between them go the entries (each a serialized `FileInfo` or `FileInfoRef`), separated
    /// by commas; the whole equals the serialized result (tested). This lets a large listing be written in parts,
    /// on several threads, and sent without joining them.
    pub fn envelope(path: &str, count: usize, timestamp: &str) -> (Vec<u8>, Vec<u8>) {
        use crate::json::write_str;
        let mut head = br#"{"success":true,"path":"#.to_vec();
        write_str(&mut head, path);
        head.extend_from_slice(br#","files":["#);
        let mut tail = format!(r#"],"count":{count},"timestamp":"#).into_bytes();
        write_str(&mut tail, timestamp);
        tail.push(b'}');
        (head, tail)
    }
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
    /// A range: the first byte returned (at or past the end: `RANGE_NOT_SATISFIABLE`) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// ... and how many bytes at most. The range, not the file, is what must fit in the 32 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
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

    proptest::proptest! {
        #[test]
        fn an_entry_written_by_hand_is_what_serde_writes(
            name: String,
            path in "[a-z/\"\\\u{0}-\u{1f}\u{e9}]{0,30}",
            kind in proptest::sample::select(vec![FileType::File, FileType::Directory, FileType::Symlink, FileType::Other]),
            size: u64,
            bits in 0u8..8,
        ) {
            let entry = FileInfoRef {
                name: &name,
                absolute_path: &path,
                relative_path: &name,
                kind,
                size,
                modified_at: "+275760-09-13T00:00:00.000Z",
                mode: "rwxr-x---",
                permissions: Permissions { readable: bits & 4 != 0, writable: bits & 2 != 0, executable: bits & 1 != 0 },
            };
            let mut ours = Vec::new();
            entry.write_json(&mut ours);
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&entry).unwrap());
        }
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
