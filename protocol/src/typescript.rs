//! The JavaScript client's copy of the protocol's tables, generated: `clients/js/src/protocol.ts` holds the routes,
//! the error codes with their HTTP statuses, how a command can end, and the constants both ends share. The test
//! here fails when that file differs from what this crate generates; `SANDBOX_WRITE_GENERATED=1 cargo test -p
//! sandbox-protocol` writes it anew.

use std::fmt::Write;

use crate::{limits, routes};
use crate::{Ended, ErrorCode, BINDING_ORIGIN, DEFAULT_SESSION_ID, PAGE_HOST_HEADER, SESSIONS_RECREATED_HEADER};

/// Where the generated module lives, from this crate's folder.
pub const MODULE_PATH: &str = "../clients/js/src/protocol.ts";

/// The module's text.
pub fn module() -> String {
    let mut out = String::new();
    out.push_str(
        "// Generated from the protocol crate (protocol/src/typescript.rs): do not edit. `cargo test -p sandbox-protocol`\n\
         // fails when this file and the crate differ; `SANDBOX_WRITE_GENERATED=1 cargo test -p sandbox-protocol`\n\
         // writes it anew.\n\n",
    );
    out.push_str("/** Each route, as a path under `/v1/sandboxes/{sandboxId}`; `{id}` is a session id. */\n");
    out.push_str("export const ROUTES = {\n");
    for route in routes::ALL {
        let _ = writeln!(out, "  /** {} */", route.methods.join(", "));
        let _ = writeln!(out, "  {}: {},", route.name, quote(routes::under_sandbox(route.path)));
    }
    out.push_str("} as const;\n\n");
    let _ = writeln!(
        out,
        "/** The prefix of one sandbox's routes. */\nexport const SANDBOXES_PREFIX = {};\n",
        quote(routes::SANDBOXES_PREFIX)
    );
    out.push_str("/** Every error code a server sends, with the HTTP status it comes with. */\n");
    out.push_str("export const ERROR_STATUS = {\n");
    for &code in ErrorCode::ALL {
        let _ = writeln!(out, "  {}: {},", code.as_str(), code.http_status());
    }
    out.push_str("} as const;\n\n");
    out.push_str("/** An error code a server sends. */\nexport type ServerErrorCode = keyof typeof ERROR_STATUS;\n\n");
    out.push_str("/** How a command ended (`ExecResult.ended`). */\nexport type CommandEnd =");
    for ended in Ended::ALL {
        let text = serde_json::to_value(ended).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let _ = write!(out, "\n  | {}", quote(&text));
    }
    out.push_str(";\n\n");
    let _ = writeln!(
        out,
        "/** The session that calls without a `sessionId` use. */\nexport const DEFAULT_SESSION_ID = {};\n",
        quote(DEFAULT_SESSION_ID)
    );
    let _ = writeln!(
        out,
        "/** Response header listing the sessions the Worker re-created after the agent restarted. */\nexport const SESSIONS_RECREATED_HEADER = {};\n",
        quote(SESSIONS_RECREATED_HEADER)
    );
    let _ = writeln!(
        out,
        "/** Request header with the `Host` a browser page named, when a caller hands its WebSocket on. */\nexport const PAGE_HOST_HEADER = {};\n",
        quote(PAGE_HOST_HEADER)
    );
    let _ = writeln!(
        out,
        "/** The `Content-Type` of an upload sent as frames (`protocol/src/frames.rs`): 4 bytes of length, big-endian, then the bytes; a frame of length 0 ends it. */\nexport const FRAMED_CONTENT_TYPE = {};\n",
        quote(crate::frames::FRAMED_CONTENT_TYPE)
    );
    let _ = writeln!(
        out,
        "/** The largest frame of a framed upload. */\nexport const MAX_FRAME = {};\n",
        crate::frames::MAX_FRAME
    );
    let _ = writeln!(out, "/** The origin of requests through a service binding (the binding ignores it). */\nexport const BINDING_ORIGIN = {};\n", quote(BINDING_ORIGIN));
    out.push_str("/** The sizes the servers hold to (`protocol/src/limits.rs`). */\nexport const LIMITS = {\n");
    let _ = writeln!(out, "  /** The largest JSON request body, in bytes (a writeFile of bytes or a stream has no limit). */\n  maxBodyBytes: {},", limits::MAX_BODY_BYTES);
    let _ = writeln!(
        out,
        "  /** The largest file (or range) readFile returns in JSON (readFileStream has no limit). */\n  maxReadFileBytes: {},",
        limits::MAX_READ_FILE_BYTES
    );
    let _ = writeln!(out, "  /** Each output stream of exec is kept up to this unless maxOutputBytes says otherwise. */\n  defaultMaxOutputBytes: {},", limits::DEFAULT_MAX_OUTPUT_BYTES);
    let _ = writeln!(out, "  /** The largest maxOutputBytes. */\n  maxOutputBytes: {},", limits::MAX_OUTPUT_BYTES);
    let _ = writeln!(
        out,
        "  /** A command's timeout, in ms, when neither its call nor its session sets one (0 in either: none). */\n  defaultCommandTimeoutMs: {},",
        limits::DEFAULT_COMMAND_TIMEOUT_MS
    );
    out.push_str("} as const;\n");
    out
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Fails when the committed file at `relative` (from this crate's folder) is not `generated`; with
/// `SANDBOX_WRITE_GENERATED` set, writes it first. Every generated file of the crate is checked so.
pub fn check_generated(relative: &str, generated: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("SANDBOX_WRITE_GENERATED").is_some() {
        std::fs::write(&path, generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from what the protocol crate generates: run `SANDBOX_WRITE_GENERATED=1 cargo test -p \
         sandbox-protocol` and commit it",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_javascript_clients_tables_are_the_crates() {
        check_generated(MODULE_PATH, &module());
    }
}
