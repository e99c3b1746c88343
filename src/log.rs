//! The Worker's and the Durable Objects' log: one JSON object per line, in one shape, so that an operator can
//! search a sandbox's history or follow one call (`requestId`, the same as in the agent's log and in error bodies):
//!
//! `{"level":"info","sandbox":"my-sandbox","requestId":"req-…","event":"container.start","detail":"…"}`
//!
//! `event` is a stable name for what happened (`container.start`, `container.ended`, `sessions.recreated`, …);
//! `detail` says it in words. Formatting is pure (`line`); `Log` writes through `console.log`/`console.error`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    level: Level,
    #[serde(skip_serializing_if = "str::is_empty")]
    sandbox: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    event: &'a str,
    detail: &'a str,
}

/// One log line.
pub fn line(level: Level, sandbox: &str, request_id: Option<&str>, event: &str, detail: &str) -> String {
    serde_json::to_string(&Line { level, sandbox, request_id, event, detail }).unwrap_or_default()
}

/// Where a sandbox's log lines come from: its id, and the call being served (none for the object's own alarm).
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub sandbox: String,
    pub request_id: Option<String>,
}

impl Log {
    pub fn new(sandbox: &str, request_id: Option<&str>) -> Log {
        Log { sandbox: sandbox.to_string(), request_id: request_id.map(str::to_string) }
    }

    pub fn info(&self, event: &str, detail: impl AsRef<str>) {
        worker::console_log!("{}", self.line(Level::Info, event, detail.as_ref()));
    }

    pub fn warn(&self, event: &str, detail: impl AsRef<str>) {
        worker::console_warn!("{}", self.line(Level::Warn, event, detail.as_ref()));
    }

    pub fn error(&self, event: &str, detail: impl AsRef<str>) {
        worker::console_error!("{}", self.line(Level::Error, event, detail.as_ref()));
    }

    fn line(&self, level: Level, event: &str, detail: &str) -> String {
        line(level, &self.sandbox, self.request_id.as_deref(), event, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_json_object_per_line_in_one_shape() {
        let text = line(Level::Warn, "box", Some("req-1"), "container.ended", "exit code 137\nand \"more\"");
        assert!(!text.contains('\n'), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["sandbox"], "box");
        assert_eq!(v["requestId"], "req-1");
        assert_eq!(v["event"], "container.ended");
        assert_eq!(v["detail"], "exit code 137\nand \"more\"");
        let bare: serde_json::Value = serde_json::from_str(&line(Level::Info, "", None, "e", "d")).unwrap();
        assert!(bare.get("sandbox").is_none() && bare.get("requestId").is_none());
    }
}
