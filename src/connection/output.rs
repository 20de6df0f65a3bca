//! The output batch: everything the actor encodes during one wake-up, handed
//! to the writer task as one chunk (one socket write), with the auto-ack
//! deliveries it contains so they are settled only once written.

use std::sync::atomic::Ordering;
use std::time::Instant;

use actix::prelude::*;
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Encoder;

use super::writer::{Settlement, WriteCmd};
use super::{Connection, State};
use crate::messages::connection::{Drain, Fail, Receipted, Reply};
use crate::model::ConsumerKey;
use crate::protocol::{
    encode_message_head, receipt_frame, Delivery, ErrorReason, Frame, Outbound, StompCodec,
    Version, FRAME_END,
};

/// Bodies at least this large are written from their own buffer rather than
/// copied into the connection's output buffer. Smaller ones are copied once:
/// two iovecs per small message made queue and topic runs 15-20 % slower than
/// one memcpy into the batch (stompede-bench queue/topic, 256 B bodies).
const ZERO_COPY_BODY: usize = 8 * 1024;

/// Encoded output not yet handed to the writer. Plain data: no actor, no socket.
#[derive(Debug, Default)]
pub(super) struct OutputBatch {
    /// Small frames and message heads, copied in.
    out: BytesMut,
    /// Output that precedes `out` (earlier heads and shared large bodies), in order.
    segments: Vec<Bytes>,
    /// Auto-ack deliveries in this batch, per subscription.
    settlements: foldhash::HashMap<u64, u32>,
}

/// One batch, ready for the writer.
pub(super) struct Chunk {
    /// The bytes, in order.
    pub segments: Vec<Bytes>,
    /// Their total length.
    pub len: usize,
    /// Auto-ack deliveries they contain: (subscription, count).
    pub settlements: Vec<(u64, u32)>,
}

impl OutputBatch {
    /// Whether nothing is waiting to be written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty() && self.segments.is_empty()
    }

    /// Encodes a frame or heart-beat with the connection's codec.
    pub fn encode(
        &mut self,
        codec: &mut StompCodec,
        item: Outbound,
    ) -> Result<(), crate::protocol::ProtocolError> {
        codec.encode(item, &mut self.out)
    }

    /// Encodes a MESSAGE; a large body is queued as it is, not copied. An
    /// auto-ack delivery is counted for settlement once the batch is written.
    pub fn push_message(
        &mut self,
        delivery: &Delivery<'_>,
        shared: &[u8],
        body: &Bytes,
        version: Version,
        auto_ack: Option<u64>,
    ) {
        encode_message_head(delivery, shared, body.len(), version, &mut self.out);
        if body.len() >= ZERO_COPY_BODY {
            // Large bodies go to the socket from the producer's buffer as they are.
            let head = self.out.split().freeze();
            self.segments.push(head);
            self.segments.push(body.clone());
        } else {
            self.out.extend_from_slice(body);
        }
        self.out.extend_from_slice(FRAME_END);
        if let Some(sub) = auto_ack {
            *self.settlements.entry(sub).or_insert(0) += 1;
        }
    }

    /// Drops the pending settlements of a subscription that is gone.
    pub fn forget(&mut self, subscription: u64) {
        self.settlements.remove(&subscription);
    }

    /// Takes everything encoded so far, or `None` if there is nothing.
    pub fn take(&mut self) -> Option<Chunk> {
        if self.is_empty() {
            return None;
        }
        let mut segments = std::mem::take(&mut self.segments);
        if !self.out.is_empty() {
            segments.push(self.out.split().freeze());
        }
        Some(Chunk {
            len: segments.iter().map(Bytes::len).sum(),
            segments,
            settlements: self.settlements.drain().collect(),
        })
    }
}

/// Flush the output batch (self-notification, coalescing one wake-up's frames).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Flush;

impl Connection {
    pub(super) fn write(&mut self, item: Outbound, ctx: &mut Context<Self>) {
        if let Err(e) = self.output.encode(&mut self.codec, item) {
            tracing::error!(session = self.id, error = %e, "cannot encode outbound frame");
            return;
        }
        self.schedule_flush(ctx);
    }

    pub(super) fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            ctx.notify(Flush);
        }
    }

    pub(super) fn write_frame(&mut self, frame: Frame, ctx: &mut Context<Self>) {
        self.shared.metrics.frame_sent(frame.command).inc();
        self.write(Outbound::Frame(frame), ctx);
    }

    /// Hands everything encoded since the last flush to the writer as one chunk.
    pub(super) fn flush(&mut self) {
        self.flush_scheduled = false;
        let Some(chunk) = self.output.take() else {
            return;
        };
        let settlements = chunk
            .settlements
            .into_iter()
            .filter_map(|(sub, count)| {
                let info = self.subs.get(&sub)?;
                Some(Settlement {
                    to: info.settle.clone(),
                    key: ConsumerKey {
                        session: self.id,
                        subscription: sub,
                    },
                    count,
                })
            })
            .collect();
        self.pending.fetch_add(chunk.len, Ordering::Relaxed);
        self.bytes_out += chunk.len as u64;
        self.shared
            .metrics
            .outbound_pending_bytes
            .add(chunk.len as i64);
        self.last_write = Instant::now();
        let _ = self.tx.send(WriteCmd::Data(chunk.segments, settlements));
    }

    /// A client that is not reading lets bytes pile up here; past the bound
    /// it is disconnected rather than allowed to hold the broker's memory.
    fn check_outbound(&mut self, ctx: &mut Context<Self>) {
        let max = self.shared.settings.limits.max_outbound_bytes;
        if self.state != State::Closing && self.pending.load(Ordering::Relaxed) > max {
            self.fail(
                ctx,
                Fail {
                    message: "slow consumer".into(),
                    detail: format!(
                        "more than {max} bytes waited to be written to this connection"
                    ),
                    receipt_id: None,
                    reason: ErrorReason::SlowConsumer,
                },
            );
        }
    }
}

impl Handler<Flush> for Connection {
    type Result = ();

    fn handle(&mut self, _: Flush, ctx: &mut Self::Context) {
        self.flush();
        self.check_outbound(ctx);
    }
}

impl Handler<Reply> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Reply, ctx: &mut Self::Context) {
        if self.state != State::Closing {
            self.write_frame(msg.0, ctx);
        }
    }
}

impl Handler<Receipted> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Receipted, ctx: &mut Self::Context) {
        if self.state != State::Closing {
            self.write_frame(receipt_frame(msg.receipt_id), ctx);
        }
    }
}

impl Handler<Drain> for Connection {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, _: &mut Self::Context) -> Self::Result {
        self.flush();
        let (done, written) = tokio::sync::oneshot::channel();
        // A writer that has ended drops `done`, which also resolves the wait.
        let _ = self.tx.send(WriteCmd::Barrier(done));
        Box::pin(async move {
            let _ = written.await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery<'static> {
        Delivery {
            subscription: "s",
            message_id: 1,
            ack: None,
            redelivered: None,
        }
    }

    #[test]
    fn small_bodies_are_copied_large_ones_kept_in_order_and_settled_once_taken() {
        let mut batch = OutputBatch::default();
        assert!(batch.take().is_none());
        let large = Bytes::from(vec![b'x'; ZERO_COPY_BODY]);
        batch.push_message(
            &delivery(),
            &[],
            &Bytes::from_static(b"ab"),
            Version::V1_2,
            Some(3),
        );
        batch.push_message(&delivery(), &[], &large, Version::V1_2, Some(3));
        batch.push_message(&delivery(), &[], &Bytes::new(), Version::V1_2, None);
        let chunk = batch.take().expect("a chunk");
        assert!(batch.is_empty() && batch.take().is_none());
        // head+small body+head, the large body as it is, then the rest.
        assert_eq!(chunk.segments.len(), 3);
        assert_eq!(chunk.segments[1].as_ptr(), large.as_ptr(), "not copied");
        let all: Vec<u8> = chunk.segments.concat();
        assert_eq!(all.len(), chunk.len);
        assert_eq!(all.iter().filter(|&&b| b == 0).count(), 3, "three frames");
        assert!(all.ends_with(b"content-length:0\n\n\0\n"));
        assert_eq!(chunk.settlements, vec![(3, 2)]);
    }

    #[test]
    fn a_forgotten_subscription_settles_nothing() {
        let mut batch = OutputBatch::default();
        batch.push_message(
            &delivery(),
            &[],
            &Bytes::from_static(b"a"),
            Version::V1_2,
            Some(9),
        );
        batch.forget(9);
        assert!(batch.take().expect("a chunk").settlements.is_empty());
    }
}
