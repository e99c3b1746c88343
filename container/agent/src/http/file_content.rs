//! `GET` and `PUT /v1/files/content`: a file's bytes as the body, streamed at any size (`files::stream`). A
//! download answers 200 with the whole file, or 206 with `Content-Range` for a range; both carry the file's size
//! (`X-File-Size`) and type. An upload answers once the file is in place: a raw body (of declared length, which
//! every hop holds to), or a framed one (`sandbox_protocol::frames`: a stream, whose end is a frame of its own).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use sandbox_protocol::frames::{Unframer, FRAMED_CONTENT_TYPE};
use sandbox_protocol::{FileContentQuery, FileUploadQuery, UploadResult, FILE_SIZE_HEADER};
use tokio::sync::mpsc;

use super::bounded_body::BoundedBody;
use super::context::TenantCtx;
use super::files::{blocking, target};
use super::query::Params;
use super::AppState;
use crate::clock::iso_now;
use crate::error::{AgentError, AgentResult};
use crate::files::ops;
use crate::files::stream::{self, Piece, CHANNEL_CHUNKS, HELD_BYTES};
use crate::gathered_body::Gathered;

pub async fn download(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
    Params(query): Params<FileContentQuery>,
) -> AgentResult<Response> {
    let file = target(&sandbox, query.session_id.as_deref(), &query.path, "path")?;
    let charge = state.budget.charge(HELD_BYTES, "readFileStream")?;
    let mime = mime_guess::from_path(&file.real).first_or_octet_stream().essence_str().to_string();
    let shown = file.shown.clone();
    let download = blocking(move || stream::open(&file, query.offset, query.length)).await?;
    let (range, size) = (download.range, download.size);
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || download.send(sender));
    tracing::debug!(path = %shown, start = range.start, len = range.len, "file download");
    let chunks = futures_util::stream::unfold((receiver, charge), |(mut receiver, charge)| async move {
        receiver.recv().await.map(|chunk| (chunk, (receiver, charge)))
    });
    let mut response = Body::from_stream(chunks.boxed()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_LENGTH, range.len.into());
    headers.insert(FILE_SIZE_HEADER, size.into());
    headers.insert(CONTENT_TYPE, mime.parse().unwrap_or_else(|_| "application/octet-stream".parse().expect("a type")));
    if range.partial {
        let last = (range.start + range.len).saturating_sub(1);
        let value = format!("bytes {}-{last}/{size}", range.start);
        headers.insert(CONTENT_RANGE, value.parse().expect("an ASCII header"));
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(response)
}

pub async fn upload(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
    Params(query): Params<FileUploadQuery>,
    req: Request,
) -> AgentResult<Json<UploadResult>> {
    // A stream of unknown length comes framed (`frames`), so that a body cut off on the way is never taken whole.
    let framed =
        req.headers().get(CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(FRAMED_CONTENT_TYPE.as_bytes()));
    let mut unframer = framed.then(Unframer::default);
    // Small chunks (a proxy may pass a body on a few KiB at a time) arrive gathered: one hand-over and one write each.
    let body = Body::new(Gathered::new(req.into_body()));
    let mut body = BoundedBody::streamed(body, state.io_timeout, &state.budget);
    // Everything that can be refused is, before a byte is read (the rest is then read and dropped, so that the
    // caller, still sending, gets the answer): the path, the budget, the file's replacement (a directory, a device,
    // a parent that cannot be made).
    let begun = async {
        let file = target(&sandbox, query.session_id.as_deref(), &query.path, "path")?;
        let held = state.budget.charge(HELD_BYTES, "writeFile (stream)")?;
        let (replacement, file) = blocking(move || Ok((ops::replacement(&file)?, file))).await?;
        Ok::<_, AgentError>((file, replacement, held))
    };
    let (file, replacement, _held) = match begun.await {
        Ok(begun) => begun,
        Err(err) => {
            body.discard_rest();
            return Err(err);
        }
    };
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let shown = file.shown.clone();
    let writer = tokio::spawn(blocking(move || stream::receive(&file, replacement, receiver)));
    let arrived = async {
        while let Some(chunk) = body.next_chunk().await? {
            let pieces = match unframer.as_mut() {
                Some(unframer) => {
                    unframer.feed(&chunk).map_err(AgentError::invalid)?.into_iter().map(|r| chunk.slice(r)).collect()
                }
                None => vec![chunk],
            };
            for piece in pieces {
                if sender.send(Piece::Chunk(piece)).await.is_err() {
                    // The writer stopped (its error is below): the rest of the body is not wanted.
                    return Ok(());
                }
            }
        }
        if unframer.as_ref().is_some_and(|u| !u.ended()) {
            return Err(AgentError::invalid("the upload was cut off before its end frame; the file is unchanged"));
        }
        let _ = sender.send(Piece::End).await;
        Ok(())
    }
    .await;
    drop(sender);
    let read = body.read();
    body.discard_rest();
    let written = writer.await.map_err(|e| AgentError::internal(format!("upload: {e}")))?;
    // A body that failed is the cause; the writer's own complaint (the channel closed early) follows from it.
    arrived?;
    let size = written?;
    tracing::info!(path = %shown, bytes = size, received = read, "file uploaded");
    Ok(Json(UploadResult { success: true, path: shown, size, timestamp: iso_now() }))
}
