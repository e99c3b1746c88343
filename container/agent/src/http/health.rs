//! `GET /v1/health`: the agent is up and serving.

use axum::extract::State;
use axum::Json;
use sandbox_protocol::Health;

use super::AppState;

pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_ms: state.started.elapsed().as_millis() as u64,
        boot_id: state.boot_id.to_string(),
    })
}
