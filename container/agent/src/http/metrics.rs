//! `GET /v1/metrics`: the agent's counters in the Prometheus text format (`crate::metrics`), with the sessions
//! and processes alive counted now; in brief as JSON (`MetricsSummary`) for a caller that accepts
//! `application/json` and not text (a sandbox's status asks so).

use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::AppState;
use crate::metrics::{render, summary, METRICS};
use crate::tenant::Tenants;
use sandbox_protocol::SessionUsage;

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let sandboxes = state.sandboxes.clone();
    let counted = tokio::task::spawn_blocking(move || match &*sandboxes {
        // As PID 1 of a container, every other process is the sandbox's; elsewhere they cannot be told apart.
        Tenants::Single(sandbox) => {
            let processes = (std::process::id() == 1).then(|| crate::process::tree::snapshot().len().saturating_sub(1));
            let sessions = sandbox.sessions();
            let usage: Vec<SessionUsage> = sessions
                .iter()
                .filter_map(|s| s.usage().map(|usage| SessionUsage { session_id: s.id.clone(), usage }))
                .collect();
            (sessions.len(), processes, usage)
        }
        Tenants::Multi { .. } => (sandboxes.session_count(), None, Vec::new()),
    })
    .await;
    let (sessions, processes, usage) = counted.unwrap_or((0, None, Vec::new()));
    let mut snapshot = METRICS.snapshot(sessions, processes, state.started.elapsed());
    snapshot.session_usage = usage;
    if wants_json(headers.get(ACCEPT).and_then(|v| v.to_str().ok())) {
        return Json(summary(&snapshot)).into_response();
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&snapshot)).into_response()
}

/// JSON only for a reader that names it and not text (a scraper's `Accept` names text, or nothing).
fn wants_json(accept: Option<&str>) -> bool {
    let accept = accept.unwrap_or("").to_ascii_lowercase();
    accept.contains("application/json") && !accept.contains("text/plain")
}

#[cfg(test)]
mod tests {
    use super::wants_json;

    #[test]
    fn json_only_when_asked_for_and_text_is_not() {
        assert!(wants_json(Some("application/json")));
        assert!(wants_json(Some("Application/JSON; charset=utf-8")));
        assert!(!wants_json(None));
        assert!(!wants_json(Some("*/*")));
        assert!(!wants_json(Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1")));
        assert!(!wants_json(Some("application/json, text/plain")));
    }
}
