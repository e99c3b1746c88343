//! The sandbox's secrets (`setSecret`): made here with a placeholder of the object's own (random, kept for the
//! secret's name, so what the sandbox holds stays valid across updates and restarts), given to the agent, and
//! remembered with their values in the object's storage (one key each) for a new agent (`recovery.rs`, after the
//! policy). The value is never answered, logged or sent anywhere but to the agent that holds the proxy.

use sandbox_protocol::routes::SECRETS;
use sandbox_protocol::{ErrorBody, ErrorCode, SetSecretRequest};
use worker::{ListOptions, Request, Response, Storage};

use super::request::{small_body, storage_failed};
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;
use crate::forward::json_put;

const SECRET_PREFIX: &str = "secret:";

impl SandboxObject {
    pub(super) async fn set_secret(
        &self,
        req: Request,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let text = small_body(req, "secret").await?;
        let asked: SetSecretRequest = serde_json::from_str(&text)
            .map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, format!("secret: {e}")))?;
        let asked = asked.checked().map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, e))?;
        let storage = self.state.storage();
        let kept = stored(&storage, &asked.name).await.map_err(storage_failed)?;
        let placeholder = match kept.and_then(|k| k.placeholder) {
            Some(placeholder) => placeholder,
            None => new_placeholder(&asked.name)?,
        };
        let secret = SetSecretRequest { placeholder: Some(placeholder), ..asked };
        let body =
            serde_json::to_string(&secret).map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
        let response = self.send(|| Ok(json_put(SECRETS, &body)?), SECRETS, link).await?;
        if response.status_code() == 200 {
            storage.put(&key(&secret.name), body).await.map_err(storage_failed)?;
            link.log.info("secret.set", format!("secret {} for {:?}", secret.name, secret.hosts));
        }
        Ok(response)
    }

    pub(super) async fn delete_secret(
        &self,
        req: Request,
        path: &str,
        name: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let response = self.forward(req, path, link).await?;
        if matches!(response.status_code(), 200 | 404) {
            self.state.storage().delete(&key(name)).await.map_err(storage_failed)?;
        }
        Ok(response)
    }

    /// Gives the agent `boot` every remembered secret.
    pub(super) async fn replay_secrets(&self, boot: &str, link: &AgentLink) -> std::result::Result<(), WorkerError> {
        for body in all(&self.state.storage()).await.map_err(storage_failed)? {
            let mut answer = link.send_bounded(&json_put(SECRETS, &body)?, SECRETS, Some(boot)).await?;
            match answer.status_code() {
                200 => {}
                412 => return Err(WorkerError::unavailable("the sandbox's agent restarted again; retry", 1)),
                status => {
                    let said: Option<ErrorBody> = answer.json().await.ok();
                    let (code, message) =
                        said.map_or((ErrorCode::InternalError, format!("HTTP {status}")), |b| (b.code, b.message));
                    link.log.error("secret.replay", format!("a secret was not taken: {message}"));
                    return Err(WorkerError::new(
                        code,
                        format!("the sandbox's secrets could not be put in place: {message}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn key(name: &str) -> String {
    format!("{SECRET_PREFIX}{name}")
}

/// The stored secret of that name.
async fn stored(storage: &Storage, name: &str) -> worker::Result<Option<SetSecretRequest>> {
    let text: Option<String> = storage.get(&key(name)).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Every stored secret, as the body that gives it to an agent.
async fn all(storage: &Storage) -> worker::Result<Vec<String>> {
    let listed = storage.list_with_options(ListOptions::new().prefix(SECRET_PREFIX)).await?;
    let mut bodies = Vec::new();
    for entry in listed.entries() {
        let pair = worker::js_sys::Array::from(&entry?);
        if let Some(text) = pair.get(1).as_string() {
            bodies.push(text);
        }
    }
    Ok(bodies)
}

/// `sandbox-secret-<name>-` and 24 random characters of `[a-z0-9]`: what the sandbox holds in the secret's place.
fn new_placeholder(name: &str) -> std::result::Result<String, WorkerError> {
    let mut random = [0u8; 24];
    getrandom::fill(&mut random).map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = random.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    Ok(format!("sandbox-secret-{}-{tail}", name.to_ascii_lowercase().replace('_', "-")))
}
