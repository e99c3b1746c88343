//! A response body that holds something until it is sent or dropped: a relayed connection (`relay.rs`), a
//! request's place among those in flight (`open_connections.rs`).

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, SizeHint};

pub struct Holding<B, H> {
    pub body: B,
    /// Kept for its `Drop` alone.
    #[allow(dead_code)]
    pub held: H,
}

impl<B: Body + Unpin, H: Unpin> Body for Holding<B, H> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
