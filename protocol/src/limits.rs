//! The sizes every end holds to, spelled once: the agent enforces them, the Worker refuses what is over them
//! before forwarding it, and the clients and the README show them.

/// The largest request body the agent reads and the Worker forwards: 32 MiB of JSON. `writeFile` sends bytes as
/// base64 (4 characters for 3 bytes), so about 24 MiB of a binary file fit in one call, 32 MiB of text.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The largest file `readFile` returns whole inside its JSON answer (`readFileStream` has no limit).
pub const MAX_READ_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Each output stream of a buffered `exec` is kept up to this many bytes unless `maxOutputBytes` says otherwise.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 16 * 1024 * 1024;

/// A command that runs this long is stopped (exit code 124, `ended: timedOut`) unless its call (`timeout`) or its
/// session (`commandTimeoutMs`) says otherwise; 0 in either means no limit. Ten minutes: a build or an install
/// finishes, a command that never ends does not hold its session for ever.
pub const DEFAULT_COMMAND_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// The largest `maxOutputBytes` a call may ask for.
pub const MAX_OUTPUT_BYTES: u64 = 64 * 1024 * 1024;

/// The error text of a body over `MAX_BODY_BYTES`, the same from the Worker and the agent; `size` when known.
pub fn body_too_large(size: Option<u64>) -> String {
    let size = match size {
        Some(size) => format!("{:.1} MiB", size as f64 / (1024.0 * 1024.0)),
        None => "more".to_string(),
    };
    format!(
        "the request body is {size}; a call may send at most {} MiB ({MAX_BODY_BYTES} bytes) of JSON. A writeFile of \
         bytes travels as base64, so about 24 MiB of a binary file fit in one call: send a larger file as a stream \
         (writeFile with a ReadableStream, PUT /files/content), which has no such limit",
        MAX_BODY_BYTES >> 20
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_size_and_the_limit() {
        let text = body_too_large(Some(50 * 1024 * 1024));
        assert!(text.contains("50.0 MiB") && text.contains("32 MiB (33554432 bytes)"), "{text}");
        assert!(body_too_large(None).contains("is more;"));
    }
}
