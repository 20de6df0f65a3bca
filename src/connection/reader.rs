//! The read half of a connection: decodes frames and hands them to the
//! `Connection` actor, one in-flight permit per frame. When the permits run
//! out (the broker has not yet applied earlier frames), this task stops
//! reading, and TCP pushes back on the client.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix::Addr;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;

use super::{Connection, FrameReceived, ReadControl, ReadEnded};
use crate::protocol::{Command, Inbound, StompCodec};

/// Milliseconds since `epoch` of the last byte read: any byte counts as liveness.
#[derive(Clone)]
pub struct LastRead {
    epoch: Instant,
    ms: Arc<AtomicU64>,
}

impl LastRead {
    /// Starts counting now.
    pub fn new() -> Self {
        LastRead {
            epoch: Instant::now(),
            ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        self.ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Time since the last byte arrived.
    pub fn silence(&self) -> std::time::Duration {
        let last = std::time::Duration::from_millis(self.ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

impl Default for LastRead {
    fn default() -> Self {
        Self::new()
    }
}

/// Stamps `LastRead` whenever bytes arrive.
struct Liveness<R> {
    inner: R,
    last: LastRead,
}

impl<R: AsyncRead + Unpin> AsyncRead for Liveness<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.last.touch();
        }
        r
    }
}

/// Reads until the peer closes, a frame is malformed, or the actor says stop.
pub async fn read_loop<R: AsyncRead + Unpin>(
    io: R,
    codec: StompCodec,
    conn: Addr<Connection>,
    permits: Arc<Semaphore>,
    last: LastRead,
) {
    let mut framed = FramedRead::new(Liveness { inner: io, last }, codec);
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let ended = match framed.next().await {
            Some(Ok(Inbound::Heartbeat)) => continue,
            // Only the handshake needs an answer (the version decides how the
            // next frames are unescaped); every other frame is handed over
            // without waiting, bounded by its permit.
            Some(Ok(Inbound::Frame(frame)))
                if !matches!(frame.command, Command::Connect | Command::Stomp) =>
            {
                conn.do_send(FrameReceived { frame, permit });
                continue;
            }
            Some(Ok(Inbound::Frame(frame))) => {
                match conn.send(FrameReceived { frame, permit }).await {
                    Ok(ReadControl::Continue) => continue,
                    Ok(ReadControl::SetVersion(v)) => {
                        framed.decoder_mut().set_version(v);
                        continue;
                    }
                    Ok(ReadControl::Stop) | Err(_) => return,
                }
            }
            Some(Err(e)) => ReadEnded::Malformed(e, framed.decoder_mut().take_failed_receipt()),
            None => ReadEnded::PeerClosed,
        };
        conn.do_send(ended);
        return;
    }
}
