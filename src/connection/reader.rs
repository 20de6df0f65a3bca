//! The read half of a connection: decodes frames and hands them to the
//! `Connection` actor, each holding in-flight permits: one per frame, more
//! for a large one (see [`InFlight`]). When the permits run out (the broker
//! has not yet applied earlier frames), this task stops reading, and TCP
//! pushes back on the client.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use super::linger::{self, Linger};
use super::Connection;
use crate::protocol::{Command, Frame, Inbound, Limits, ProtocolError, StompCodec, Version};

/// A frame read from the socket. Sent by the reader task: CONNECT/STOMP with
/// `send` (the reply tells the reader which version to decode with), every
/// other frame with `do_send`, bounded by the frame's in-flight permit.
#[derive(actix::Message)]
#[rtype(result = "ReadControl")]
pub struct FrameReceived {
    pub frame: Frame,
    pub permit: OwnedSemaphorePermit,
}

/// The reader's next step after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, actix::MessageResponse)]
pub enum ReadControl {
    Continue,
    /// Decode the following frames with this version's escaping.
    SetVersion(Version),
    Stop,
}

/// The reader stopped. Sent once by the reader task (`do_send`).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub enum ReadEnded {
    PeerClosed,
    /// A frame begun was not whole within `limits.frame_timeout_ms` (this).
    FrameTimeout(Duration),
    /// A decode error, with the bad frame's `receipt` if it had been read.
    Malformed(ProtocolError, Option<String>),
}

/// Milliseconds since `epoch` of the last byte read: any byte counts as liveness.
#[derive(Clone)]
pub struct LastRead {
    epoch: Instant,
    ms: Arc<AtomicU64>,
    /// Set while the reader waits for an in-flight permit: the broker itself
    /// stopped reading, so bytes the client sends meanwhile are not seen.
    paused: Arc<AtomicBool>,
    /// Bytes read from the socket so far (shown by the admin API).
    bytes: Arc<AtomicU64>,
}

impl LastRead {
    /// Starts counting now.
    pub fn new() -> Self {
        LastRead {
            epoch: Instant::now(),
            ms: Arc::new(AtomicU64::new(0)),
            paused: Arc::new(AtomicBool::new(false)),
            bytes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes read from the socket so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn touch(&self) {
        self.ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Time since the last byte arrived; zero while the broker has paused
    /// reading (a publisher held back by flow control is not silent).
    pub fn silence(&self) -> std::time::Duration {
        if self.paused.load(Ordering::Relaxed) {
            return std::time::Duration::ZERO;
        }
        let last = std::time::Duration::from_millis(self.ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

impl Default for LastRead {
    fn default() -> Self {
        Self::new()
    }
}

/// One connection's bound on what it has read but the broker has not yet
/// applied, in frames and in bytes: a frame takes one permit per
/// `bytes_per_permit` of body (at least one, at most all of them), so
/// `limits.max_inflight_frames` small frames or about
/// `limits.max_inflight_bytes` of large ones are in flight, never more (a
/// count of frames alone let 256 large SENDs past every byte limit).
pub struct InFlight {
    permits: Arc<Semaphore>,
    capacity: u32,
    bytes_per_permit: usize,
}

impl InFlight {
    /// A bound of `max_frames` frames and about `max_bytes` bytes.
    pub fn new(max_frames: usize, max_bytes: usize) -> Self {
        let capacity = u32::try_from(max_frames.max(1)).unwrap_or(u32::MAX);
        InFlight {
            permits: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            bytes_per_permit: (max_bytes / capacity as usize).max(1),
        }
    }

    /// The permits a frame with a body of `len` bytes takes.
    pub fn weight(&self, len: usize) -> u32 {
        let n = u32::try_from(len / self.bytes_per_permit).unwrap_or(u32::MAX);
        n.clamp(1, self.capacity)
    }

    /// Takes `n` permits, waiting (and marking the reader paused, so the
    /// client's silence is not held against it) while they are in use.
    /// `None` once the connection is closing.
    async fn acquire(&self, n: u32, last: &LastRead) -> Option<OwnedSemaphorePermit> {
        match self.permits.clone().try_acquire_many_owned(n) {
            Ok(p) => Some(p),
            Err(TryAcquireError::Closed) => None,
            Err(TryAcquireError::NoPermits) => {
                last.paused.store(true, Ordering::Relaxed);
                let p = self.permits.clone().acquire_many_owned(n).await;
                last.touch();
                last.paused.store(false, Ordering::Relaxed);
                p.ok()
            }
        }
    }
}

/// Bytes asked of the socket per read while a connection is quiet (idle
/// connections are the common case, and each holds its read buffer).
const QUIET_READ: usize = 256;
/// Bytes asked per read once reads come back full (a busy producer).
const BUSY_READ: usize = 16 * 1024;

/// How the reader ends: told by the connection, bounded by the settings.
pub struct Ending {
    /// Cancelled by the connection when it closes: stop decoding, linger.
    pub stop: CancellationToken,
    /// Cancelled when the writer has ended (its write side shut, or failed).
    pub written: CancellationToken,
    /// What the reader discards before the socket is closed.
    pub linger: Linger,
    /// `limits.frame_timeout_ms`: a frame begun must be whole within this.
    pub frame_timeout: Duration,
}

/// Reads until the peer closes, a frame is malformed or too slow, or the
/// actor says stop; then, unless the peer has closed, keeps reading and
/// discarding (see `linger.rs`) so that the close does not reset the
/// connection before the client has read the broker's last frames. This
/// task, holding the read half, outlives the actor by at most the linger.
/// `codec` starts with the limits for a connection not yet accepted; once
/// CONNECT is, it takes `connected_limits`.
pub async fn read_loop<R: AsyncRead + Unpin>(
    mut io: R,
    codec: StompCodec,
    connected_limits: Limits,
    conn: Addr<Connection>,
    inflight: InFlight,
    last: LastRead,
    ending: Ending,
) {
    let frames = read_frames(
        &mut io,
        codec,
        connected_limits,
        &conn,
        &inflight,
        &last,
        ending.frame_timeout,
    );
    let peer_closed = tokio::select! {
        biased;
        () = ending.stop.cancelled() => false,
        closed = frames => closed,
    };
    if !peer_closed {
        linger::discard(&mut io, ending.written.cancelled(), ending.linger).await;
    }
}

/// Decodes frames and hands them over; true when it ended because the peer
/// closed (nothing left to discard).
///
/// The read buffer starts small and grows only while reads fill it, so a
/// thousand idle connections do not each hold a large buffer; the codec
/// itself reserves room for a large frame once its content-length is known.
async fn read_frames<R: AsyncRead + Unpin>(
    io: &mut R,
    mut codec: StompCodec,
    connected_limits: Limits,
    conn: &Addr<Connection>,
    inflight: &InFlight,
    last: &LastRead,
    frame_timeout: Duration,
) -> bool {
    let mut buf = BytesMut::new();
    let (mut busy, mut eof) = (false, false);
    // When the frame being read began to arrive.
    let mut frame_began: Option<tokio::time::Instant> = None;
    loop {
        let Some(mut permit) = inflight.acquire(1, last).await else {
            return false;
        };
        let decoded = loop {
            let step = if eof {
                codec.decode_eof(&mut buf)
            } else {
                codec.decode(&mut buf)
            };
            match step {
                Ok(None) if !eof => {}
                other => break other,
            }
            let began = if codec.in_frame() || !buf.is_empty() {
                Some(*frame_began.get_or_insert_with(tokio::time::Instant::now))
            } else {
                frame_began = None;
                None
            };
            buf.reserve(if busy { BUSY_READ } else { QUIET_READ });
            let spare = buf.capacity() - buf.len();
            let read = io.read_buf(&mut buf);
            let read = match began {
                Some(t) => match tokio::time::timeout_at(t + frame_timeout, read).await {
                    Ok(r) => r,
                    Err(_) => {
                        conn.do_send(ReadEnded::FrameTimeout(frame_timeout));
                        return false;
                    }
                },
                None => read.await,
            };
            match read {
                Ok(0) | Err(_) => eof = true,
                Ok(n) => {
                    last.touch();
                    last.bytes.fetch_add(n as u64, Ordering::Relaxed);
                    busy = n >= spare;
                }
            }
        };
        frame_began = None;
        if let Ok(Some(Inbound::Frame(frame))) = &decoded {
            let more = inflight.weight(frame.body.len()) - 1;
            if more > 0 {
                match inflight.acquire(more, last).await {
                    Some(p) => permit.merge(p),
                    None => return false,
                }
            }
        }
        let ended = match decoded {
            Ok(Some(Inbound::Heartbeat)) => continue,
            // The client's last word: whatever follows it, even in the same
            // write, must take no effect, so it is not even decoded.
            Ok(Some(Inbound::Frame(frame))) if frame.command == Command::Disconnect => {
                conn.do_send(FrameReceived { frame, permit });
                discard_until_closed(io).await;
                conn.do_send(ReadEnded::PeerClosed);
                return true;
            }
            // Only the handshake needs an answer (the version decides how the
            // next frames are unescaped); every other frame is handed over
            // without waiting, bounded by its permit.
            Ok(Some(Inbound::Frame(frame)))
                if !matches!(frame.command, Command::Connect | Command::Stomp) =>
            {
                conn.do_send(FrameReceived { frame, permit });
                continue;
            }
            Ok(Some(Inbound::Frame(frame))) => {
                match conn.send(FrameReceived { frame, permit }).await {
                    Ok(ReadControl::Continue) => continue,
                    Ok(ReadControl::SetVersion(v)) => {
                        codec.set_version(v);
                        codec.set_limits(connected_limits);
                        continue;
                    }
                    Ok(ReadControl::Stop) | Err(_) => return false,
                }
            }
            Err(e) => ReadEnded::Malformed(e, codec.take_failed_receipt()),
            Ok(None) => {
                conn.do_send(ReadEnded::PeerClosed);
                return true;
            }
        };
        conn.do_send(ended);
        return false;
    }
}

/// Reads and drops bytes until the peer closes. Closing a socket with unread
/// bytes makes the kernel send a reset, which can destroy the DISCONNECT's
/// RECEIPT before the client reads it; once the connection has closed, it
/// stops this and the bounded linger follows.
async fn discard_until_closed<R: AsyncRead + Unpin>(io: &mut R) {
    let mut scratch = [0u8; QUIET_READ];
    while let Ok(n) = io.read(&mut scratch).await {
        if n == 0 {
            return;
        }
    }
}
