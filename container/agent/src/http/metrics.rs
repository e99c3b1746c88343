//! `GET /v1/metrics`: the agent's counters in the Prometheus text format (`crate::metrics`), with the sessions
//! and processes alive counted now.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::{render, METRICS};
use crate::sandbox::Sandboxes;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let sandboxes = state.sandboxes.clone();
    let counted = tokio::task::spawn_blocking(move || match &*sandboxes {
        // As PID 1 of a container, every other process is the sandbox's; elsewhere they cannot be told apart.
        Sandboxes::Single(sandbox) => {
            let processes = (std::process::id() == 1).then(|| crate::process::tree::snapshot().len().saturating_sub(1));
            (sandbox.sessions().len(), processes)
        }
        Sandboxes::Multi { .. } => (sandboxes.session_count(), None),
    })
    .await;
    let (sessions, processes) = counted.unwrap_or((0, None));
    let text = render(&METRICS.snapshot(sessions, processes, state.started.elapsed()));
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
