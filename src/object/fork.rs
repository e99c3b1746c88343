//! `fork`: a new sandbox whose workspace starts as this one's (as it is now, saved first, or as a backup of it).
//! The origin copies the manifest into the new sandbox's name and tells the new sandbox's object where it is
//! (`/v1/fork/adopt`, a route the Worker serves to no caller); the new sandbox restores it on its first call, from
//! the origin's blobs, and its first save stores every file under its own name, so from then on the two share
//! nothing. A fork onto a sandbox that is in use (anything in its object's storage) is refused.

use sandbox_protocol::ids::check_sandbox_id;
use sandbox_protocol::routes::FORK_ADOPT;
use sandbox_protocol::{ErrorCode, ForkAdopt, ForkRequest, ForkResult, SANDBOX_ID_HEADER};
use worker::{Headers, ListOptions, Method, Request, RequestInit, Response};

use super::autosave::{LatestSave, LATEST_SAVE_KEY};
use super::backup_registry::{self as registry, manifest_key, refs_key};
use super::backup_transfer::{copy_object, drop_manifest};
use super::request::{small_body, storage_failed};
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

fn invalid(message: impl Into<String>) -> WorkerError {
    WorkerError::new(ErrorCode::ValidationFailed, message)
}

impl SandboxObject {
    /// `fork`.
    pub(super) async fn fork(&self, req: Request, link: &AgentLink) -> Result<Response, WorkerError> {
        let bucket = self.bucket()?;
        let text = small_body(req, "fork").await?;
        let asked: ForkRequest = serde_json::from_str(&text).map_err(|e| invalid(format!("fork: {e}")))?;
        check_sandbox_id(&asked.new_id).map_err(|e| invalid(format!("newId: {e}")))?;
        let origin = link.sandbox_id().to_string();
        if asked.new_id == origin {
            return Err(invalid("newId is this sandbox's own id: a fork needs a new one"));
        }
        if asked.backup.is_none() {
            // The workspace as it is now: saved first (a sandbox never started is forked from its last save). A
            // sandbox whose workspace still names another's blobs (a fork not saved yet) is started and saved, so
            // that the new fork names this one's blobs only.
            let _call = self.in_flight.begin();
            self.keep_awake(&link.log).await;
            if link.running() {
                self.autosave(link).await;
            }
            if self.latest_save().await.is_some_and(|l| l.blobs_of.is_some()) {
                self.ready_agent(link).await?;
                self.autosave(link).await;
            }
        }
        // The copy and its record take their turn with saves and collections (`collect.rs`).
        let _turn = self.transfers.lock().await;
        let (source, dir) = match &asked.backup {
            Some(id) => {
                let record = self.live_backup(id).await?;
                (manifest_key(&origin, id), record.backup.dir)
            }
            None => {
                let latest = self.latest_save().await.ok_or_else(|| {
                    WorkerError::new(ErrorCode::BackupNotFound, "this sandbox has no saved workspace to fork yet")
                })?;
                if latest.blobs_of.is_some() {
                    return Err(WorkerError::unavailable("the workspace could not be saved before the fork; retry", 1));
                }
                (latest.manifest_key, latest.dir)
            }
        };
        let key = manifest_key(&asked.new_id, &format!("fork-{}", registry::new_id()?));
        // The list first, as a save stores them: a manifest is never without its list.
        copy_object(&bucket, &refs_key(&source), &refs_key(&key)).await?;
        copy_object(&bucket, &source, &key).await?;
        // Recorded before the new sandbox hears of it: a collection here keeps the blobs its copy names.
        self.record_fork_ref(&key).await?;
        let adopt = ForkAdopt { manifest_key: key.clone(), dir: dir.clone(), blobs_of: origin.clone() };
        if let Err(e) = self.tell_new_sandbox(&asked.new_id, &adopt).await {
            let _ = drop_manifest(&bucket, &key).await;
            return Err(e);
        }
        link.log.info("sandbox.forked", format!("forked into {} ({dir}, from {source})", asked.new_id));
        Ok(Response::from_json(&ForkResult {
            success: true,
            id: asked.new_id,
            from: origin,
            dir,
            backup: asked.backup,
        })?)
    }

    /// Sends `adopt` to the new sandbox's object; its refusal (in use already) is passed on.
    async fn tell_new_sandbox(&self, new_id: &str, adopt: &ForkAdopt) -> Result<(), WorkerError> {
        let namespace = self.config.sandboxes.as_ref().ok_or_else(|| {
            WorkerError::new(ErrorCode::InternalError, "the Worker has no SANDBOX binding to reach the new sandbox")
        })?;
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        headers.set(SANDBOX_ID_HEADER, new_id)?;
        let body =
            serde_json::to_string(adopt).map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
        let req = Request::new_with_init(&format!("https://sandbox.internal{FORK_ADOPT}"), &init)?;
        let mut answer = namespace.get_by_name(new_id)?.fetch_with_request(req).await?;
        let text = answer.text().await.unwrap_or_default();
        match answer.status_code() {
            200..=299 => Ok(()),
            status => Err(match serde_json::from_str::<sandbox_protocol::ErrorBody>(&text) {
                Ok(body) => WorkerError::new(body.code, body.message),
                Err(_) => WorkerError::new(ErrorCode::InternalError, format!("the new sandbox answered {status}")),
            }),
        }
    }

    /// `/v1/fork/adopt`: this new sandbox's first workspace is a fork's. Refused when the sandbox is in use.
    pub(super) async fn adopt_fork(&self, req: Request, link: &AgentLink) -> Result<Response, WorkerError> {
        let text = small_body(req, "adopt").await?;
        let adopt: ForkAdopt = serde_json::from_str(&text).map_err(|e| invalid(format!("adopt: {e}")))?;
        let storage = self.state.storage();
        let used = storage.list_with_options(ListOptions::new().limit(1)).await.map_err(storage_failed)?;
        if used.size() > 0 || link.running() && link.mode() == sandbox_protocol::SandboxMode::Container {
            return Err(WorkerError::new(
                ErrorCode::SandboxAlreadyExists,
                format!("sandbox {} is in use already: fork to a new id", link.sandbox_id()),
            ));
        }
        let latest = LatestSave { manifest_key: adopt.manifest_key, dir: adopt.dir, blobs_of: Some(adopt.blobs_of) };
        storage.put(LATEST_SAVE_KEY, latest).await.map_err(storage_failed)?;
        link.log.info("sandbox.fork_adopted", "its workspace comes from a fork, on its first call");
        Ok(Response::from_json(&serde_json::json!({ "success": true }))?)
    }
}
