//! A response body already in memory as several pieces (a large listing written on several threads), sent one
//! after another with its exact length, holding the memory budget's charge for it until it is sent or dropped.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

use crate::budget::Charge;

pub fn body(pieces: Vec<Bytes>, charge: Charge) -> Body {
    Body::new(Pieces { pieces: pieces.into_iter().filter(|p| !p.is_empty()).collect(), _charge: charge })
}

struct Pieces {
    pieces: VecDeque<Bytes>,
    _charge: Charge,
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
