//! A file's bytes as the body of a call, streamed both ways at any size: `GET /v1/files/content` answers them
//! (`readFileStream`, and `readFile` with a range), `PUT` takes them (`writeFile` with a stream). The JSON file
//! routes carry a file inside a JSON body, 32 MiB at most; these carry it raw, with no limit but the disk.

use serde::{Deserialize, Serialize};

/// The whole file's size in bytes, on an answer of `GET /v1/files/content` (its `Content-Length` is the range's).
pub const FILE_SIZE_HEADER: &str = "x-file-size";

/// The query of `GET /v1/files/content`: which file, and optionally which bytes of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileContentQuery {
    pub path: String,
    /// The first byte sent; 0 when absent. At or past the end of the file: `RANGE_NOT_SATISFIABLE` (an empty file
    /// answers offset 0 with no bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// How many bytes at most; to the end of the file when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The query of `PUT /v1/files/content`, whose body (any type but a page's: `application/octet-stream`) is the
/// file's new content. Missing parent directories are made; the file is replaced whole when the body has
/// arrived, and a body cut off half way leaves the old file as it was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileUploadQuery {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The answer to an upload: where it went and how many bytes it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadResult {
    pub success: bool,
    pub path: String,
    pub size: u64,
    pub timestamp: String,
}
