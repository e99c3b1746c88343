//! `GET /v1/watch` (`watch`): a path's changes as server-sent events, `ready` first, each a `WatchEvent` in JSON.
//! The stream lasts until its reader goes (the watch and its inotify instance go with it), its root is removed, or
//! its sandbox is destroyed; heartbeats keep it open through quiet spells.

use axum::extract::Path;
use axum::response::sse::Event;
use axum::response::Response;
use axum::Json;
use sandbox_protocol::{CheckChangesRequest, CheckChangesResult, StopWatchResult, WatchEvent, WatchQuery};

use super::body::JsonBody;
use super::context::TenantCtx;
use super::files::{blocking, target};
use super::query::Params;
use crate::clock::iso_now;
use crate::error::{AgentError, AgentResult};
use crate::names::check_watch_id;
use crate::watch::filter::Filter;
use crate::watch::{Spec, Watch};

pub async fn watch(TenantCtx(sandbox): TenantCtx, Params(query): Params<WatchQuery>) -> AgentResult<Response> {
    let filter = Filter::new(query.include.as_deref(), query.exclude.as_deref()).map_err(AgentError::invalid)?;
    if let Some(id) = query.watch_id.as_deref() {
        check_watch_id(id).map_err(AgentError::invalid)?;
    }
    let target = target(&sandbox, query.session_id.as_deref(), &query.path, "path")?;
    let recursive = query.recursive.unwrap_or(false);
    let spec = Spec { id: query.watch_id, real: target.real, shown: target.shown, recursive, filter };
    let watches = sandbox.watches.clone();
    let watch = blocking(move || Watch::start(spec, &watches)).await?;
    tracing::info!(path = %watch.ready().path, open = sandbox.watches.count(), "watch started");
    let heartbeat = sandbox.processes.settings().heartbeat;
    Ok(super::sse::response(WatchEvents { watch, ready: false }, Some(heartbeat)))
}

/// `DELETE /v1/watch/{id}`: ends the watch of that `watchId` (its stream closes).
pub async fn stop(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Json<StopWatchResult>> {
    check_watch_id(&id).map_err(AgentError::invalid)?;
    let stopped = sandbox.watches.stop(&id);
    tracing::info!(watch = %id, stopped, "watch stop");
    Ok(Json(StopWatchResult { success: true, watch_id: id, stopped }))
}

/// `POST /v1/watch/changes` (`checkChanges`): the changes after a cursor, from a watch kept for the path.
pub async fn changes(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<CheckChangesRequest>,
) -> AgentResult<Json<CheckChangesResult>> {
    let filter = Filter::new(req.include.as_deref(), req.exclude.as_deref()).map_err(AgentError::invalid)?;
    let target = target(&sandbox, req.session_id.as_deref(), &req.path, "path")?;
    let key = format!("{}\n{}\n{:?}\n{:?}", target.real.display(), req.recursive, req.include, req.exclude);
    let shown = target.shown.clone();
    let kept = match sandbox.watches.journals.get(&key) {
        Some(kept) => kept,
        None => {
            let spec = Spec { id: None, real: target.real, shown: target.shown, recursive: req.recursive, filter };
            let watches = sandbox.watches.clone();
            let watch = blocking(move || Watch::start(spec, &watches)).await?;
            tracing::info!(path = %shown, "checkChanges watch kept");
            sandbox.watches.journals.keep(key, watch)
        }
    };
    let (changes, overflow, cursor) = kept.since(req.since.as_deref());
    Ok(Json(CheckChangesResult { success: true, path: shown, cursor, changes, overflow, timestamp: iso_now() }))
}

struct WatchEvents {
    watch: Watch,
    ready: bool,
}

impl super::sse::Events for WatchEvents {
    async fn next_events(&mut self) -> Option<Vec<Event>> {
        if !self.ready {
            self.ready = true;
            return Some(vec![event(&self.watch.ready())]);
        }
        let batch = self.watch.next().await?;
        Some(batch.iter().map(event).collect())
    }
}

fn event(change: &WatchEvent) -> Event {
    Event::default().data(serde_json::to_string(change).unwrap_or_default())
}
