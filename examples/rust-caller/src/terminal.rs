//! A terminal of the Worker's own: type a command, read the screen until its answer, close.

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use sandbox_client::{get_sandbox, TerminalOptions};
use serde_json::{json, Value};
use worker::{Delay, Env, WebsocketEvent};

use crate::Failure;

pub async fn command(env: &Env) -> Result<Value, Failure> {
    let sandbox = get_sandbox(env.service("SANDBOX")?, crate::SANDBOX_ID);
    let socket =
        sandbox.open_terminal(TerminalOptions { cols: Some(80), rows: Some(24), ..Default::default() }).await?;
    let mut events = socket.events()?;
    socket.send_with_bytes(b"echo \"$((6*7)) from Rust\"\r")?;
    let mut screen = Vec::new();
    let mut ready = None;
    let read = async {
        while let Some(event) = events.next().await {
            match event? {
                WebsocketEvent::Message(message) => match message.text() {
                    // Control messages: `ready` (with the terminal's id) first.
                    Some(text) => {
                        ready.get_or_insert(text);
                    }
                    None => screen.extend(message.bytes().unwrap_or_default()),
                },
                WebsocketEvent::Close(_) => break,
            }
            if String::from_utf8_lossy(&screen).contains("42 from Rust") {
                return Ok(true);
            }
        }
        Ok::<bool, worker::Error>(false)
    };
    let answered = match select(Box::pin(read), Delay::from(std::time::Duration::from_secs(10))).await {
        Either::Left((answered, _)) => answered?,
        Either::Right(_) => false,
    };
    socket.close(Some(1000), Some("done"))?;
    let ready: Option<Value> = ready.and_then(|text| serde_json::from_str(&text).ok());
    Ok(json!({ "answered": answered, "ready": ready.map(|r| r["type"].clone()) }))
}
