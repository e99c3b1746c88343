//! The shapes of every body on the wire, generated from this crate's types: `protocol/schema.json` (JSON Schema,
//! draft 2020-12, for any language) and `clients/js/src/wire.ts` (the same as TypeScript interfaces, which the
//! JavaScript client's own types are checked against in `clients/js/src/wire-check.ts`). Both are committed; the
//! tests here fail when either differs from what the crate generates (`SANDBOX_WRITE_GENERATED=1 cargo test -p
//! sandbox-protocol` writes them anew). The schema follows serde's attributes (renames, optional fields), so it
//! is what the agent and the Worker really send and accept.

use std::fmt::Write;

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::*;

/// Where the generated files live, from this crate's folder.
pub const SCHEMA_PATH: &str = "schema.json";
pub const WIRE_TS_PATH: &str = "../clients/js/src/wire.ts";

/// The definitions of every wire type (and what they use), by name.
fn definitions() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( generator.subschema_for::<$t>(); )* };
    }
    all!(
        ErrorBody,
        ExecRequest,
        ExecResult,
        ExecEvent,
        CancelExecRequest,
        CancelExecResult,
        CommandList,
        CommandsQuery,
        SessionOptions,
        SessionInfo,
        SessionList,
        SessionHistory,
        DeleteResult,
        SetEnvVarsRequest,
        SetEnvVarsResult,
        SandboxStatus,
        DestroyResult,
        Health,
        MetricsSummary,
        ListFilesRequest,
        ListFilesResult,
        WriteFileRequest,
        ReadFileRequest,
        ReadFileResult,
        MkdirRequest,
        MkdirResult,
        DeleteFileRequest,
        RenameFileRequest,
        MoveFileRequest,
        RenameResult,
        ExistsRequest,
        ExistsResult,
        FileOpResult,
        FileContentQuery,
        FileUploadQuery,
        UploadResult,
        GitCheckoutRequest,
        GitCheckoutResult,
        WatchQuery,
        WatchEvent,
        StopWatchResult,
        NetworkPolicy,
        NetworkState,
        SetSecretRequest,
        SecretInfo,
        SecretList,
        CheckChangesRequest,
        CheckChangesResult,
        StartProcessRequest,
        ProcessInfo,
        ProcessList,
        ProcessListQuery,
        LogQuery,
        KillQuery,
        KillAllResult,
        ProcessLogs,
        ProcessEvent,
        StdinRequest,
        StdinResult,
        WaitRequest,
        WaitResult,
        ExposePortRequest,
        ExposedPort,
        ExposedPortList,
        UnexposePortResult,
        PtyControl,
        PtyInfo,
        PtyList,
        PtyQuery,
        CreateBackupRequest,
        Backup,
        BackupList,
        RestoreBackupRequest,
        RestoreBackupResult,
        ForkRequest,
        ForkResult,
        SleepRequest,
        SleepSettings,
        BackupScanRequest,
        BackupScan,
        BackupKnown,
        BackupRestoreQuery,
        BackupRestore,
        BackupRestored,
    );
    let mut defs = generator.take_definitions(true);
    defs.sort_keys();
    defs
}

/// `schema.json`: one document whose `$defs` are the wire types.
pub fn schema_json() -> String {
    let doc = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "sandbox-rs protocol v1: every request and response body",
        "$defs": definitions(),
    });
    serde_json::to_string_pretty(&doc).expect("a schema serialises") + "\n"
}

/// `wire.ts`: the definitions as TypeScript.
pub fn wire_ts() -> String {
    let mut out = String::from(
        "// Generated from the protocol crate (protocol/src/schema.rs): do not edit. The shapes of the bodies on the\n\
         // wire, as the agent and the Worker send and accept them; the client's own types (types.ts) are checked\n\
         // against them in wire-check.ts. `SANDBOX_WRITE_GENERATED=1 cargo test -p sandbox-protocol` writes it anew.\n",
    );
    for (name, schema) in definitions() {
        out.push('\n');
        doc_comment(&mut out, "", &schema);
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let _ = writeln!(out, "export interface {name} {{");
            for (field, property) in properties {
                doc_comment(&mut out, "  ", property);
                // An optional field is left out rather than sent as `null` (serde's `skip_serializing_if`), and a
                // client leaves it out too: `x?: T`, not `x?: T | null`.
                let (optional, ty) = if required.contains(&field.as_str()) {
                    ("", ts_type(property))
                } else {
                    ("?", without_null(&ts_type(property)))
                };
                let _ = writeln!(out, "  {field}{optional}: {ty};");
            }
            out.push_str("}\n");
        } else {
            let _ = writeln!(out, "export type {name} = {};", ts_type(&schema));
        }
    }
    out
}

fn without_null(ty: &str) -> String {
    let kept: Vec<&str> = ty.split(" | ").filter(|t| *t != "null").collect();
    kept.join(" | ")
}

fn doc_comment(out: &mut String, indent: &str, schema: &Value) {
    if let Some(text) = schema.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{indent}/**");
        for line in text.lines() {
            let _ = writeln!(out, "{}", format!("{indent} * {}", line.replace("*/", "* /")).trim_end());
        }
        let _ = writeln!(out, "{indent} */");
    }
}

/// The TypeScript of one schema. Panics on a construct it does not know, so a new kind of field is noticed here
/// rather than typed wrongly.
fn ts_type(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().expect("a reference names a type").to_string();
    }
    if let Some(value) = schema.get("const") {
        return literal(value);
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.iter().map(literal).collect::<Vec<_>>().join(" | ");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            return options.iter().map(ts_type).collect::<Vec<_>>().join(" | ");
        }
    }
    match schema.get("type") {
        Some(Value::Array(types)) => {
            types.iter().map(|t| one_type(t.as_str().unwrap_or(""), schema)).collect::<Vec<_>>().join(" | ")
        }
        Some(Value::String(t)) => one_type(t, schema),
        _ => panic!("no TypeScript for the schema {schema}"),
    }
}

fn one_type(name: &str, schema: &Value) -> String {
    match name {
        "string" => "string".into(),
        "integer" | "number" => "number".into(),
        "boolean" => "boolean".into(),
        "null" => "null".into(),
        "array" => {
            let items = schema.get("items").map(ts_type).unwrap_or_else(|| "unknown".into());
            if items.contains(' ') {
                format!("({items})[]")
            } else {
                format!("{items}[]")
            }
        }
        "object" => match (schema.get("properties").and_then(Value::as_object), schema.get("additionalProperties")) {
            // An inline object (a variant of a tagged enum): its fields on one line.
            (Some(properties), _) => {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let fields: Vec<String> = properties
                    .iter()
                    .map(|(field, property)| {
                        if required.contains(&field.as_str()) {
                            format!("{field}: {}", ts_type(property))
                        } else {
                            format!("{field}?: {}", without_null(&ts_type(property)))
                        }
                    })
                    .collect();
                format!("{{ {} }}", fields.join("; "))
            }
            (None, Some(values)) if values.is_object() => format!("Record<string, {}>", ts_type(values)),
            _ => panic!("no TypeScript for the object schema {schema}"),
        },
        other => panic!("no TypeScript for the type {other:?} in {schema}"),
    }
}

fn literal(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typescript::check_generated;

    #[test]
    fn the_committed_schema_is_the_crates() {
        check_generated(SCHEMA_PATH, &schema_json());
    }

    #[test]
    fn the_javascript_clients_wire_types_are_the_crates() {
        check_generated(WIRE_TS_PATH, &wire_ts());
    }

    #[test]
    fn optional_fields_are_optional_and_renames_are_followed() {
        let defs = definitions();
        let result = &defs["ExecResult"];
        let required: Vec<&str> = result["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(required.contains(&"exitCode"));
        // `ended` is sent by every agent of this version, and read as optional (an older agent did not send it).
        assert!(result["properties"].get("ended").is_some() && !required.contains(&"ended"));
        assert!(result["properties"].get("endedAs").is_none());
        let ts = wire_ts();
        assert!(ts.contains("export interface ExecResult {"));
        assert!(ts.contains("  exitCode: number;"));
        assert!(ts.contains("export type Ended = "));
    }
}
