//! A request body read chunk by chunk within its bounds: at most `limit` bytes, every chunk by the request's
//! deadline, and what is read charged to the memory budget before it is kept (the declared length is reserved
//! first, so a body that cannot fit is refused before a byte of it is read). A body refused on the way is read on
//! and dropped (up to `DRAIN_LIMIT`), so the caller, still sending, gets the answer rather than a cut connection.
//! The JSON reader (`body::JsonBody`) is one consumer. A streamed upload (`BoundedBody::streamed`) is the other:
//! no limit on its size and no deadline for the whole, but each chunk within the idle time of the one before, and
//! nothing charged per chunk (it passes the chunks on, and charges what it holds at once).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use sandbox_protocol::{limits, ErrorCode};
use tokio::time::Instant;

use crate::budget::{Budget, Charge};
use crate::error::{AgentError, AgentResult};

/// How much of a refused body is read and dropped before the answer; past this the connection is let go.
const DRAIN_LIMIT: u64 = 256 * 1024 * 1024;

/// The charge grows by at least this much at a time.
const CHARGE_STEP: usize = 64 * 1024;

pub struct BoundedBody {
    body: Option<Body>,
    deadline: Instant,
    io_timeout: Duration,
    /// Each chunk has `io_timeout` from the one before (an upload) rather than the whole body from its start.
    idle: bool,
    limit: usize,
    read: usize,
    charge: Charge,
    charged: usize,
    budget: Arc<Budget>,
}

impl BoundedBody {
    /// Starts reading `body`, whose declared length (`Content-Length`) is `declared`: one over `limit`, or one the
    /// memory budget cannot hold, is refused at once.
    pub async fn begin(
        mut body: Body,
        declared: Option<u64>,
        limit: usize,
        io_timeout: Duration,
        budget: &Arc<Budget>,
    ) -> AgentResult<BoundedBody> {
        // A body that trickles in must not hold the request (and what it has read so far) for ever.
        let deadline = Instant::now() + io_timeout;
        if declared.is_some_and(|n| n > limit as u64) {
            tokio::spawn(async move { discard(&mut body, deadline).await });
            return Err(too_large(declared));
        }
        let reserved = (declared.unwrap_or(0) as usize).max(1);
        let Some(charge) = budget.try_charge(reserved) else {
            discard(&mut body, deadline).await;
            return Err(budget.exhausted("request body"));
        };
        Ok(BoundedBody {
            body: Some(body),
            deadline,
            io_timeout,
            idle: false,
            limit,
            read: 0,
            charge,
            charged: reserved,
            budget: Arc::clone(budget),
        })
    }

    /// An upload's body: any size, each chunk within `idle` of the last, nothing charged per chunk.
    pub fn streamed(body: Body, idle: Duration, budget: &Arc<Budget>) -> BoundedBody {
        BoundedBody {
            body: Some(body),
            deadline: Instant::now() + idle,
            io_timeout: idle,
            idle: true,
            limit: usize::MAX,
            read: 0,
            charge: budget.try_charge(0).expect("an empty charge fits"),
            charged: usize::MAX,
            budget: Arc::clone(budget),
        }
    }

    /// How many bytes have arrived.
    pub fn read(&self) -> usize {
        self.read
    }

    /// Reads the rest of the body and drops it (in the background), so that an answer sent before its end arrives.
    pub fn discard_rest(mut self) {
        if let Some(mut body) = self.body.take() {
            let deadline = Instant::now() + self.io_timeout;
            tokio::spawn(async move { discard(&mut body, deadline).await });
        }
    }

    /// The next chunk, charged; `None` at the end. A body over its limit or its budget is drained (see the module)
    /// and refused; one that stops arriving is refused at the deadline.
    pub async fn next_chunk(&mut self) -> AgentResult<Option<Bytes>> {
        let Some(body) = self.body.as_mut() else { return Ok(None) };
        if self.idle {
            self.deadline = Instant::now() + self.io_timeout;
        }
        loop {
            let frame = tokio::time::timeout_at(self.deadline, body.frame()).await.map_err(|_| {
                AgentError::new(
                    ErrorCode::RequestTimeout,
                    match self.idle {
                        true => format!("the request body stopped arriving for {} ms", self.io_timeout.as_millis()),
                        false => format!("the request body did not arrive within {} ms", self.io_timeout.as_millis()),
                    },
                )
            })?;
            let Some(frame) = frame else {
                self.body = None;
                return Ok(None);
            };
            let frame = frame.map_err(|e| {
                AgentError::new(ErrorCode::InvalidJson, format!("could not read the request body: {e}"))
            })?;
            let Ok(data) = frame.into_data() else { continue };
            if self.read.saturating_add(data.len()) > self.limit {
                let (mut body, deadline) = (self.body.take().expect("a body being read"), self.deadline);
                tokio::spawn(async move { discard(&mut body, deadline).await });
                return Err(too_large(None));
            }
            if self.read.saturating_add(data.len()) > self.charged {
                let more = (self.read + data.len() - self.charged).max(CHARGE_STEP);
                if !self.charge.try_grow(more) {
                    let mut body = self.body.take().expect("a body being read");
                    discard(&mut body, self.deadline).await;
                    return Err(self.budget.exhausted("request body"));
                }
                self.charged += more;
            }
            self.read += data.len();
            return Ok(Some(data));
        }
    }

    /// The charge of what was read, for the caller to hold while what it made of the chunks lives.
    pub fn into_charge(self) -> Charge {
        self.charge
    }
}

/// Reads the rest of a body and drops it, until `deadline` or `DRAIN_LIMIT` bytes.
pub async fn discard(body: &mut Body, deadline: Instant) {
    let mut read = 0u64;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, body.frame()).await {
        read += frame.data_ref().map_or(0, |d| d.len() as u64);
        if read > DRAIN_LIMIT {
            return;
        }
    }
}

fn too_large(declared: Option<u64>) -> AgentError {
    crate::metrics::METRICS.limit_hit(crate::metrics::Limit::Body);
    AgentError::new(ErrorCode::BodyTooLarge, limits::body_too_large(declared))
}
