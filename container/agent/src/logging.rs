//! The agent's log: one line per event on stderr, as JSON lines (for a log collector) unless stderr is a terminal.
//! `SANDBOX_AGENT_LOG` sets the level (`error`, `warn`, `info` (the default), `debug`, `trace` or `off`),
//! `SANDBOX_AGENT_LOG_FORMAT` the format (`json` or `text`). Events happen inside the span of the request that
//! caused them (`http::trace`), so each line carries its request id.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::filter::LevelFilter;

pub const LEVEL_ENV: &str = "SANDBOX_AGENT_LOG";
pub const FORMAT_ENV: &str = "SANDBOX_AGENT_LOG_FORMAT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// The level and the format the variables ask for (unset: `info`, and JSON unless on a terminal).
pub fn choose(level: Option<&str>, format: Option<&str>, terminal: bool) -> Result<(LevelFilter, Format), String> {
    let level = match level.map(str::trim).filter(|l| !l.is_empty()) {
        None => LevelFilter::INFO,
        Some(text) => text
            .parse()
            .map_err(|_| format!("{LEVEL_ENV}={text:?}: expected one of off, error, warn, info, debug, trace"))?,
    };
    let format = match format.map(str::trim).filter(|f| !f.is_empty()) {
        None if terminal => Format::Text,
        None => Format::Json,
        Some("json") => Format::Json,
        Some("text") => Format::Text,
        Some(other) => return Err(format!("{FORMAT_ENV}={other:?}: expected json or text")),
    };
    Ok((level, format))
}

/// What this process logs, for the agents it starts (a local sandbox's own agent logs the same way).
static CHOSEN: OnceLock<(LevelFilter, Format)> = OnceLock::new();

/// The variables that give an agent this process starts the same log.
pub fn child_env() -> Vec<(&'static str, String)> {
    let (level, format) = CHOSEN.get().copied().unwrap_or((LevelFilter::INFO, Format::Json));
    let format = match format {
        Format::Json => "json",
        Format::Text => "text",
    };
    vec![(LEVEL_ENV, level.to_string().to_lowercase()), (FORMAT_ENV, format.to_string())]
}

/// Installs the log for this process, from the environment, and takes both variables out of it (the sandbox's
/// shells have no use for them).
pub fn init() -> Result<(), String> {
    let level = std::env::var(LEVEL_ENV).ok();
    let format = std::env::var(FORMAT_ENV).ok();
    std::env::remove_var(LEVEL_ENV);
    std::env::remove_var(FORMAT_ENV);
    let terminal = std::io::stderr().is_terminal();
    let (level, format) = choose(level.as_deref(), format.as_deref(), terminal)?;
    let _ = CHOSEN.set((level, format));
    let builder = tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).with_target(false);
    let installed = match format {
        Format::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        Format::Text => builder.with_ansi(terminal).try_init(),
    };
    installed.map_err(|e| format!("cannot install the log: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_and_format_from_the_environment() {
        assert_eq!(choose(None, None, false), Ok((LevelFilter::INFO, Format::Json)));
        assert_eq!(choose(None, None, true), Ok((LevelFilter::INFO, Format::Text)));
        assert_eq!(choose(Some("debug"), Some("json"), true), Ok((LevelFilter::DEBUG, Format::Json)));
        assert_eq!(choose(Some("WARN"), Some("text"), false), Ok((LevelFilter::WARN, Format::Text)));
        assert_eq!(choose(Some("off"), None, false), Ok((LevelFilter::OFF, Format::Json)));
        assert_eq!(choose(Some(" "), None, false), Ok((LevelFilter::INFO, Format::Json)));
        assert!(choose(Some("loud"), None, false).unwrap_err().contains(LEVEL_ENV));
        assert!(choose(None, Some("xml"), false).unwrap_err().contains(FORMAT_ENV));
    }
}
