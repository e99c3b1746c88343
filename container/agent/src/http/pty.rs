//! `GET /v1/pty` (a terminal over a WebSocket), `GET /v1/ptys`, `DELETE /v1/ptys/{id}`.
//!
//! Everything is checked before the upgrade (size, session, `ptyId`), so a refusal is a JSON error with its status.
//! After it: the agent sends `ready` with the terminal's id, the scrollback, then the live output as binary frames;
//! binary frames from the client are typed into the terminal, text frames are `PtyControl` (`resize`); when the
//! shell ends the agent sends `exit` with its code and closes. A viewer that goes leaves the terminal running; one
//! that stops answering pings is let go.

use std::path::Path as FsPath;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::Path;
use axum::response::Response;
use axum::Json;
use sandbox_protocol::{DeleteResult, PtyControl, PtyList, PtyQuery, MAX_PTY_DIMENSION};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::context::TenantCtx;
use super::query::Params;
use crate::clock::iso_now;
use crate::error::{AgentError, AgentResult};
use crate::terminal::{Attached, Terminal};

/// The largest message a viewer may send (a paste of up to 4 MiB at once).
const MAX_MESSAGE: usize = 4 << 20;

pub async fn open(
    TenantCtx(sandbox): TenantCtx,
    query: Result<Params<PtyQuery>, AgentError>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AgentResult<Response> {
    // A plain GET (no upgrade) is told so as every refusal is, in JSON, before anything else.
    let upgrade = upgrade.map_err(|rejection| {
        AgentError::invalid(format!(
            "GET {} opens a terminal over a WebSocket, and this request asks for none ({rejection})",
            sandbox_protocol::routes::PTY
        ))
    })?;
    let Params(query) = query?;
    let (cols, rows) = (query.cols.unwrap_or(80), query.rows.unwrap_or(24));
    let terminal = match &query.pty_id {
        Some(id) => {
            let terminal = sandbox.terminals.get(id)?;
            if query.cols.is_some() || query.rows.is_some() {
                terminal.resize(cols, rows).map_err(|e| AgentError::internal(e.to_string()))?;
            }
            terminal
        }
        None => {
            let session = sandbox.session(query.session_id.as_deref())?;
            let cwd = session.cwd();
            let prelude = session.prelude_for(&cwd, &[]).await;
            sandbox.terminals.open(cols, rows, FsPath::new(&cwd), &prelude, Some(session.id.clone()))?
        }
    };
    let attached = terminal.attach();
    // A message is held whole before it is typed in: bounded, so no viewer can make the agent hold more.
    let upgrade = upgrade.max_message_size(MAX_MESSAGE).max_frame_size(MAX_MESSAGE);
    let ping = sandbox.terminals.ping();
    Ok(upgrade.on_upgrade(move |socket| serve(socket, terminal, attached, ping)))
}

/// Serves one viewer until it goes or the terminal ends. Every `ping` the viewer is pinged; one that has sent
/// nothing for three pings (a browser answers each with a pong) is gone without a close (its network failed) and
/// is let go, so that it holds neither the terminal's idle end nor the sandbox's.
async fn serve(mut socket: WebSocket, terminal: std::sync::Arc<Terminal>, attached: Attached, ping: Duration) {
    let Attached { scrollback, mut live, mut ended, viewer: _viewer } = attached;
    let ready = PtyControl::Ready { pty_id: terminal.id.clone() };
    if send_control(&mut socket, &ready).await.is_err() {
        return;
    }
    if !scrollback.is_empty() && socket.send(Message::Binary(scrollback.into())).await.is_err() {
        return;
    }
    let mut pings = tokio::time::interval_at(Instant::now() + ping, ping);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            _ = pings.tick() => {
                if heard.elapsed() >= ping * 3 {
                    tracing::info!(pty = %terminal.id, "a terminal viewer went silent: let go");
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() { return }
            },
            output = live.recv() => match output {
                Ok(bytes) => if socket.send(Message::Binary(bytes)).await.is_err() { return },
                // A viewer too slow for the terminal lost some output; it goes on with what comes next.
                Err(RecvError::Lagged(skipped)) => tracing::debug!(skipped, "a terminal viewer fell behind"),
                Err(RecvError::Closed) => {}
            },
            code = async { ended.wait_for(Option::is_some).await.ok().and_then(|c| *c) } => {
                let code = code.unwrap_or(-1);
                // What the terminal wrote last is sent before its end.
                while let Ok(bytes) = live.try_recv() {
                    if socket.send(Message::Binary(bytes)).await.is_err() { return }
                }
                let _ = send_control(&mut socket, &PtyControl::Exit { code }).await;
                let _ = socket.send(Message::Close(None)).await;
                return;
            },
            incoming = socket.recv() => {
                heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Binary(bytes))) => {
                        if terminal.master.write_all(&bytes).await.is_err() { return }
                    }
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<PtyControl>(text.as_str()) {
                        Ok(PtyControl::Resize { cols, rows })
                            if (1..=MAX_PTY_DIMENSION).contains(&cols) && (1..=MAX_PTY_DIMENSION).contains(&rows) =>
                        {
                            if let Err(err) = terminal.resize(cols, rows) {
                                tracing::warn!(%err, "a terminal could not be resized");
                            }
                        }
                        _ => tracing::debug!("a terminal viewer sent a control message that is not a valid resize"),
                    },
                    // The viewer closes: its close is answered with ours, which the WebSocket queued as it read the
                    // viewer's and sends at its next read (the viewer then ends the connection; one that does not
                    // is given a second). Returning at once dropped it: the viewer saw 1006, not a clean close.
                    Some(Ok(Message::Close(_))) => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), socket.recv()).await;
                        return;
                    }
                    None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            },
        }
    }
}

async fn send_control(socket: &mut WebSocket, control: &PtyControl) -> Result<(), axum::Error> {
    let text = serde_json::to_string(control).expect("a control message serialises");
    socket.send(Message::Text(text.into())).await
}

pub async fn list(TenantCtx(sandbox): TenantCtx) -> Json<PtyList> {
    let ptys: Vec<_> = sandbox.terminals.list().iter().map(|t| t.info()).collect();
    Json(PtyList { success: true, count: ptys.len(), ptys })
}

pub async fn end(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Json<DeleteResult>> {
    sandbox.terminals.end(&id)?;
    Ok(Json(DeleteResult { success: true, id, timestamp: iso_now() }))
}
