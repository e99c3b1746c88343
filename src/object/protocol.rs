//! The call protocol: a call goes to the agent whose sessions are in place (`X-Agent-Boot-Expected`); one that
//! met a restarted agent, or reached none, is sent once more after the new agent got back what the sandbox had
//! (`recovery`), and its answer names the sessions re-created for it.

use std::cell::RefCell;

use sandbox_protocol::{ErrorCode, SESSIONS_RECREATED_HEADER};
use worker::{Request, Response};

use super::SandboxObject;
use crate::agent_link::{boot_of, AgentLink, Sent};
use crate::errors::WorkerError;
use crate::forward::retryable;

impl SandboxObject {
    /// Forwards a call as it came (its body streamed). A call small enough to keep a copy of is sent again after
    /// a restarted agent got its sessions back; a larger one learns the agent's boot id first.
    pub(super) async fn forward(
        &self,
        req: Request,
        path: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        if retryable(&req) {
            // The call itself goes first; a copy (its body teed, buffered only if read) is kept for a second send.
            let copy = req.clone()?;
            let first = RefCell::new(Some(req));
            let make = || match first.borrow_mut().take() {
                Some(req) => Ok(req),
                None => copy.clone().map_err(WorkerError::from),
            };
            return self.send(make, path, link).await;
        }
        if let Some(boot) = link.current_boot().await? {
            self.adopt(&boot, link).await?;
        }
        let once = RefCell::new(Some(req));
        self.send(
            || {
                once.borrow_mut()
                    .take()
                    .ok_or_else(|| WorkerError::unavailable("the sandbox's agent restarted; retry", 1))
            },
            path,
            link,
        )
        .await
    }

    /// Sends a call to the agent whose sessions are in place. If the agent restarted meanwhile it does nothing and
    /// says so; the sessions are then created again and the call is sent once more (`make` gives a fresh copy),
    /// answered with `X-Sandbox-Sessions-Recreated`. A call that reached no agent at all (its container starting,
    /// restarting, or gone) waits for one that answers and is sent once more the same way.
    pub(super) async fn send(
        &self,
        make: impl Fn() -> std::result::Result<Request, WorkerError>,
        path: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let mut expected = self.known_boot().await?;
        let mut recreated = Vec::new();
        let mut response = match link.try_send(&make()?, path, expected.as_deref()).await? {
            Sent::Answered(response) => response,
            Sent::Unreached(message) => {
                link.log
                    .info("call.unreached", format!("no agent took the call ({message}); starting or waiting for one"));
                recreated = self.recover(link).await?;
                expected = self.known_boot().await?;
                link.send(&make()?, path, expected.as_deref()).await?
            }
        };
        let boot = boot_of(&response);
        if response.status_code() == ErrorCode::AgentRestarted.http_status() {
            let boot = boot.ok_or_else(|| WorkerError::unavailable("the sandbox's agent restarted; retry", 1))?;
            let boot = if link.accepts(&boot) {
                recreated.extend(self.adopt(&boot, link).await?);
                Some(boot)
            } else {
                // Not an agent of the latest start (a copy Docker restarted in place): wait for one that is.
                link.log.info(
                    "call.other_start",
                    format!("{boot} answered and is not of the latest start; starting or waiting"),
                );
                recreated.extend(self.recover(link).await?);
                self.known_boot().await?
            };
            response = link.send(&make()?, path, boot.as_deref()).await?;
            if response.status_code() == ErrorCode::AgentRestarted.http_status() {
                return Err(WorkerError::unavailable("the sandbox's agent restarted again; retry", 1));
            }
        } else if let (None, Some(boot)) = (expected, boot) {
            self.adopt(&boot, link).await?;
        }
        with_recreated(response, &recreated)
    }
}

/// Names the sessions re-created for this call in `X-Sandbox-Sessions-Recreated` (when there are any).
pub(super) fn with_recreated(response: Response, recreated: &[String]) -> std::result::Result<Response, WorkerError> {
    // An accepted WebSocket (101) is passed on as it is: a new response made of it would lose its socket.
    if recreated.is_empty() || response.status_code() == 101 {
        return Ok(response);
    }
    let mut names = response.headers().get(SESSIONS_RECREATED_HEADER)?.map(|n| vec![n]).unwrap_or_default();
    names.extend(recreated.iter().cloned());
    // A fetched response's headers are immutable: answer with a copy.
    let headers = response.headers().clone();
    headers.set(SESSIONS_RECREATED_HEADER, &names.join(","))?;
    Ok(response.with_headers(headers))
}
