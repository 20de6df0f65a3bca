//! The write half of a connection. The actor encodes frames into one buffer
//! per wake-up and hands the whole chunk to this task: one socket write per
//! batch. Auto-ack settlements ride with the chunk and are reported to their
//! destinations only after the bytes reached the socket.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::{Addr, Recipient};
use bytes::Bytes;
use prometheus::IntGauge;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::Connection;
use crate::messages::destination::Settle;
use crate::model::ConsumerKey;

/// The writer stopped (closed as asked, or the socket failed). Sent once by the writer task.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct WriterEnded {
    pub error: Option<String>,
}

/// Auto-ack deliveries contained in a chunk.
pub struct Settlement {
    pub to: Recipient<Settle>,
    pub key: ConsumerKey,
    pub count: u32,
}

/// What the actor sends the writer.
pub enum WriteCmd {
    /// Bytes to write (in order, with one vectored write where possible),
    /// and what they settle once written.
    Data(Vec<Bytes>, Vec<Settlement>),
    /// Flush, shut the socket's write side, and end.
    Close,
    /// Signalled once everything before it is written and settled (dropped
    /// unsignalled if the writer ends first, which the waiter sees as done too).
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// Writes chunks in order until told to close or the socket fails.
///
/// The channel is unbounded, but what can enter it is bounded: deliveries by
/// their subscriptions' prefetch windows (settled only after writing) and
/// replies by the connection's in-flight frame permits. `pending` counts the
/// bytes queued here, for the outbound-buffer bound; `total_pending` is the
/// same count summed over all connections (`stompede_outbound_pending_bytes`).
/// `written` is cancelled when this task ends, however it ends (aborted
/// included): the reader's linger is counted from then.
pub async fn write_loop<W: AsyncWrite + Unpin>(
    mut io: W,
    mut rx: UnboundedReceiver<WriteCmd>,
    pending: Arc<AtomicUsize>,
    total_pending: IntGauge,
    conn: Addr<Connection>,
    written: CancellationToken,
) {
    let _written = written.drop_guard();
    let mut failed = None;
    while let Some(cmd) = rx.recv().await {
        match cmd {
            WriteCmd::Data(segments, settlements) => {
                // The flush marks the chunk's end: a message-framed transport
                // (WebSocket) sends each chunk of whole frames as one message.
                // On a TCP socket it costs nothing.
                let written = match write_segments(&mut io, &segments).await {
                    Ok(()) => io.flush().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = written {
                    failed = Some(e.to_string());
                    break;
                }
                let len: usize = segments.iter().map(Bytes::len).sum();
                pending.fetch_sub(len, Ordering::Relaxed);
                total_pending.sub(len as i64);
                for s in settlements {
                    s.to.do_send(Settle {
                        key: s.key,
                        count: s.count,
                    });
                }
            }
            WriteCmd::Barrier(done) => {
                let _ = done.send(());
            }
            WriteCmd::Close => {
                let _ = io.flush().await;
                let _ = io.shutdown().await;
                break;
            }
        }
    }
    conn.do_send(WriterEnded { error: failed });
}

/// Writes every segment, in order, with vectored writes.
async fn write_segments<W: AsyncWrite + Unpin>(
    io: &mut W,
    segments: &[Bytes],
) -> std::io::Result<()> {
    if let [one] = segments {
        return io.write_all(one).await;
    }
    let (mut idx, mut off) = (0, 0);
    while idx < segments.len() {
        let first = segments[idx].get(off..).unwrap_or_default();
        let slices: Vec<std::io::IoSlice<'_>> = std::iter::once(first)
            .chain(segments[idx + 1..].iter().map(|b| &b[..]))
            .take(64)
            .map(std::io::IoSlice::new)
            .collect();
        let mut n = io.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 && idx < segments.len() {
            let rest = segments[idx].len() - off;
            if n >= rest {
                n -= rest;
                idx += 1;
                off = 0;
            } else {
                off += n;
                n = 0;
            }
        }
    }
    Ok(())
}
