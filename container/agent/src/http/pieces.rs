//! A response body already in memory as several pieces (a large listing written on several threads), sent one
//! after another with its exact length, each piece holding the memory budget's charge for them all until the
//! last of them is written out or dropped.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

use crate::budget::{charged, Charge};

pub fn body(pieces: Vec<Bytes>, charge: Charge) -> Body {
    let charge = Arc::new(charge);
    let pieces = pieces.into_iter().filter(|p| !p.is_empty()).map(|p| charged(p, Arc::clone(&charge))).collect();
    Body::new(Pieces { pieces })
}

struct Pieces {
    pieces: VecDeque<Bytes>,
}

impl hyper::body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.pieces.pop_front().map(|piece| Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.pieces.iter().map(|p| p.len() as u64).sum())
    }
}
