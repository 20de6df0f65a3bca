//! `Connection`: one actor per client connection. It owns the socket (through
//! its reader and writer tasks), the codec state, heart-beats and the CONNECT
//! handshake; once connected it hands every frame to its supervised `Session`
//! and renders what destinations deliver. It knows bytes and frames, not routing.

mod handshake;
mod heartbeat;
mod reader;
mod writer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::codec::Encoder;

pub use heartbeat::Heartbeats;
use reader::LastRead;
use writer::{Settlement, WriteCmd};

pub use crate::messages::connection::{
    Close, ConnectionHandle, Deliver, Drain, Fail, Receipted, Reply, Shutdown, Subscribed,
    Unsubscribed,
};
use crate::messages::destination::Settle;
use crate::messages::listener::ConnectionClosed;
use crate::messages::session::{ClientFrame, ConnectionLost};
use crate::model::{AckMode, ConsumerKey, Transport};
use crate::protocol::{
    encode_message_head, error_frame, receipt_frame, Command, Delivery, ErrorReason, ErrorVersion,
    Frame, Outbound, ProtocolError, StompCodec, Version, FRAME_END,
};
use crate::session::Session;
use crate::shared::Shared;

/// A frame read from the socket. Sent by the reader task: CONNECT/STOMP with
/// `send` (the reply tells the reader which version to decode with), every
/// other frame with `do_send`, bounded by the frame's in-flight permit.
#[derive(Message)]
#[rtype(result = "ReadControl")]
pub struct FrameReceived {
    pub frame: Frame,
    pub permit: OwnedSemaphorePermit,
}

/// The reader's next step after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, MessageResponse)]
pub enum ReadControl {
    Continue,
    /// Decode the following frames with this version's escaping.
    SetVersion(Version),
    Stop,
}

/// The reader stopped. Sent once by the reader task (`do_send`).
#[derive(Message)]
#[rtype(result = "()")]
pub enum ReadEnded {
    PeerClosed,
    /// A decode error, with the bad frame's `receipt` if it had been read.
    Malformed(ProtocolError, Option<String>),
}

/// The writer stopped (closed as asked, or the socket failed). Sent once by the writer task.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WriterEnded {
    pub error: Option<String>,
}

struct SubInfo {
    id: String,
    ack: AckMode,
    settle: Recipient<Settle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingConnect,
    Connected(Version),
    Closing,
}

/// One client connection.
pub struct Connection {
    id: u64,
    peer: SocketAddr,
    transport: Transport,
    shared: Arc<Shared>,
    state: State,
    session: Option<Addr<Session>>,
    codec: StompCodec,
    out: BytesMut,
    /// Encoded output not yet handed to the writer that precedes `out`
    /// (headers and shared large bodies, in order).
    segments: Vec<Bytes>,
    settlements: HashMap<u64, u32>,
    flush_scheduled: bool,
    tx: UnboundedSender<WriteCmd>,
    pending: Arc<AtomicUsize>,
    /// The `connections{transport,version}` gauge this connection raised;
    /// lowered when it stops, whatever state it is in by then.
    open_gauge: Option<prometheus::IntGauge>,
    last_write: Instant,
    last_read: LastRead,
    subs: HashMap<u64, SubInfo>,
    listener: Recipient<ConnectionClosed>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Connection {
    /// Starts a connection actor on the current arbiter for `io`.
    pub fn start<T>(
        id: u64,
        io: T,
        peer: SocketAddr,
        transport: Transport,
        shared: Arc<Shared>,
        listener: Recipient<ConnectionClosed>,
    ) -> Addr<Connection>
    where
        T: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let limits = shared.settings.codec_limits();
        let permits = Arc::new(Semaphore::new(shared.settings.limits.max_inflight_frames));
        let (r, w) = tokio::io::split(io);
        let (tx, rx) = unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let last_read = LastRead::new();
        Connection::create(|ctx| {
            let me = ctx.address();
            let reader = actix_rt::spawn(reader::read_loop(
                r,
                StompCodec::new(limits),
                me.clone(),
                permits,
                last_read.clone(),
            ));
            let writer = actix_rt::spawn(writer::write_loop(
                w,
                rx,
                pending.clone(),
                shared.metrics.outbound_pending_bytes.clone(),
                me,
            ));
            Connection {
                id,
                peer,
                transport,
                shared,
                state: State::AwaitingConnect,
                session: None,
                codec: StompCodec::new(limits),
                out: BytesMut::new(),
                segments: Vec::new(),
                settlements: HashMap::new(),
                flush_scheduled: false,
                tx,
                pending,
                open_gauge: None,
                last_write: Instant::now(),
                last_read,
                subs: HashMap::new(),
                listener,
                tasks: vec![reader, writer],
            }
        })
    }

    fn write(&mut self, item: Outbound, ctx: &mut Context<Self>) {
        if let Err(e) = self.codec.encode(item, &mut self.out) {
            tracing::error!(session = self.id, error = %e, "cannot encode outbound frame");
            return;
        }
        self.schedule_flush(ctx);
    }

    fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            ctx.notify(Flush);
        }
    }

    fn write_frame(&mut self, frame: Frame, ctx: &mut Context<Self>) {
        self.shared.metrics.frame_sent(frame.command).inc();
        self.write(Outbound::Frame(frame), ctx);
    }

    /// Hands everything encoded since the last flush to the writer as one chunk.
    fn flush(&mut self) {
        self.flush_scheduled = false;
        if self.out.is_empty() && self.segments.is_empty() {
            return;
        }
        let mut chunk = std::mem::take(&mut self.segments);
        if !self.out.is_empty() {
            chunk.push(self.out.split().freeze());
        }
        let len: usize = chunk.iter().map(Bytes::len).sum();
        let settlements = self
            .settlements
            .drain()
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
        self.pending.fetch_add(len, Ordering::Relaxed);
        self.shared.metrics.outbound_pending_bytes.add(len as i64);
        self.last_write = Instant::now();
        let _ = self.tx.send(WriteCmd::Data(chunk, settlements));
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

    /// ERROR frame, then close once it is written.
    fn fail(&mut self, ctx: &mut Context<Self>, f: Fail) {
        if self.state == State::Closing {
            return;
        }
        let version = match self.state {
            State::Connected(v) => ErrorVersion::Negotiated(v),
            _ => ErrorVersion::None,
        };
        self.send_error(ctx, f, version);
    }

    /// Counts, logs and writes the ERROR, then closes once it is written.
    fn send_error(&mut self, ctx: &mut Context<Self>, f: Fail, version: ErrorVersion) {
        let reason = f.reason.label();
        tracing::info!(session = self.id, peer = %self.peer, reason, error = %f.message, "closing connection with ERROR");
        self.shared
            .metrics
            .errors
            .with_label_values(&[reason])
            .inc();
        let frame = error_frame(f.message, f.detail, f.receipt_id, version);
        self.write_frame(frame, ctx);
        self.close(ctx);
    }

    /// Flushes, closes the write side, and stops reading.
    fn close(&mut self, ctx: &mut Context<Self>) {
        if self.state == State::Closing {
            return;
        }
        self.state = State::Closing;
        self.flush();
        let _ = self.tx.send(WriteCmd::Close);
        if let Some(reader) = self.tasks.first() {
            reader.abort();
        }
        self.end_session();
        // If the peer never reads, the writer could block forever: bound the wait.
        ctx.run_later(Duration::from_secs(5), |_, ctx| ctx.stop());
    }

    fn end_session(&mut self) {
        if let Some(s) = self.session.take() {
            s.do_send(ConnectionLost);
        }
    }

    fn start_heartbeats(&mut self, hb: Heartbeats, ctx: &mut Context<Self>) {
        if let Some(every) = hb.send {
            // Clients allow little slack past the agreed interval (stompit:
            // 100 ms), so gaps must stay well below it: ticking at a quarter
            // and sending after half of it idle keeps them near 3/4.
            let tick = (every / 4).max(Duration::from_millis(1));
            let idle = every / 2;
            ctx.run_interval(tick, move |c, ctx| {
                if c.state != State::Closing
                    && c.last_write.elapsed() >= idle
                    && c.out.is_empty()
                    && c.segments.is_empty()
                {
                    c.write(Outbound::Heartbeat, ctx);
                }
            });
        }
        if let Some(every) = hb.receive {
            let limit = every.mul_f64(self.shared.settings.heartbeat.grace);
            let tick = (every / 2).max(Duration::from_millis(1));
            ctx.run_interval(tick, move |c, ctx| {
                if c.state != State::Closing && c.last_read.silence() > limit {
                    c.shared.metrics.heartbeat_timeouts.inc();
                    tracing::info!(session = c.id, peer = %c.peer, "heart-beat timeout");
                    let ms = limit.as_millis();
                    c.fail(
                        ctx,
                        Fail {
                            message: "heart-beat timeout".into(),
                            detail: format!("nothing received for more than {ms} ms"),
                            receipt_id: None,
                            reason: ErrorReason::HeartbeatTimeout,
                        },
                    );
                }
            });
        }
    }

    fn on_connect(&mut self, frame: Frame, ctx: &mut Context<Self>) -> ReadControl {
        match handshake::accept(&frame, &self.shared, self.id) {
            Ok(ok) => {
                self.state = State::Connected(ok.version);
                self.codec.set_version(ok.version);
                let open = self
                    .shared
                    .metrics
                    .connections
                    .with_label_values(&[self.transport.label(), ok.version.as_str()]);
                open.inc();
                self.open_gauge = Some(open);
                tracing::info!(session = self.id, peer = %self.peer, transport = self.transport.label(), version = %ok.version, login = ok.login.as_deref().unwrap_or(""), "connected");
                self.write_frame(ok.connected, ctx);
                self.start_heartbeats(ok.heartbeats, ctx);
                let (conn, shared, id, version) = (
                    ConnectionHandle::of(&ctx.address()),
                    self.shared.clone(),
                    self.id,
                    ok.version,
                );
                self.session = Some(Supervisor::start(move |_| {
                    Session::new(id, version, conn, shared)
                }));
                ReadControl::SetVersion(ok.version)
            }
            Err(e) => {
                if e.is_auth() {
                    self.shared.metrics.auth_failures.inc();
                    tracing::warn!(session = self.id, peer = %self.peer, login = frame.header("login").unwrap_or(""), "authentication failed");
                }
                let mut fail = Fail {
                    message: e.to_string(),
                    detail: e.detail(),
                    receipt_id: frame.header("receipt").map(str::to_string),
                    reason: e.reason(),
                };
                if let handshake::HandshakeError::NoCommonVersion(_) = e {
                    // The spec wants the supported versions in a `version` header.
                    fail.detail = format!("supported versions are {}", Version::supported_list());
                    self.fail_with_versions(ctx, fail);
                } else {
                    self.fail(ctx, fail);
                }
                ReadControl::Stop
            }
        }
    }

    fn fail_with_versions(&mut self, ctx: &mut Context<Self>, f: Fail) {
        if self.state == State::Closing {
            return;
        }
        self.send_error(ctx, f, ErrorVersion::Supported);
    }
}

/// Bodies at least this large are written from their own buffer rather than
/// copied into the connection's output buffer. Smaller ones are copied once:
/// two iovecs per small message made queue and topic runs 15-20 % slower than
/// one memcpy into the batch (stompede-bench queue/topic, 256 B bodies).
const ZERO_COPY_BODY: usize = 8 * 1024;

/// Flush the output buffer (self-notification, coalescing one wake-up's frames).
#[derive(Message)]
#[rtype(result = "()")]
struct Flush;

impl Actor for Connection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.shared
            .metrics
            .connections_opened
            .with_label_values(&[self.transport.label()])
            .inc();
        tracing::debug!(session = self.id, peer = %self.peer, transport = self.transport.label(), "connection opened");
        let timeout = self.shared.settings.connect_timeout();
        ctx.run_later(timeout, move |c, ctx| {
            if c.state == State::AwaitingConnect {
                c.fail(
                    ctx,
                    Fail {
                        message: "no CONNECT frame received in time".into(),
                        detail: format!(
                            "a connection must send CONNECT within {} ms",
                            timeout.as_millis()
                        ),
                        receipt_id: None,
                        reason: ErrorReason::ConnectTimeout,
                    },
                );
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // `close()` moves the state to Closing before the actor stops, so the
        // gauge handle, not the state, says whether this connection was counted.
        if let Some(open) = self.open_gauge.take() {
            open.dec();
        }
        for t in &self.tasks {
            t.abort();
        }
        // The writer is aborted (same thread, so not mid-update): whatever it
        // had not written leaves the broker-wide total with it.
        let unwritten = self.pending.swap(0, Ordering::Relaxed);
        self.shared
            .metrics
            .outbound_pending_bytes
            .sub(unwritten as i64);
        self.end_session();
        tracing::info!(session = self.id, peer = %self.peer, transport = self.transport.label(), "connection closed");
        self.listener.do_send(ConnectionClosed { id: self.id });
    }
}

impl Handler<Flush> for Connection {
    type Result = ();

    fn handle(&mut self, _: Flush, ctx: &mut Self::Context) {
        self.flush();
        self.check_outbound(ctx);
    }
}

impl Handler<FrameReceived> for Connection {
    type Result = ReadControl;

    fn handle(&mut self, msg: FrameReceived, ctx: &mut Self::Context) -> ReadControl {
        let frame = msg.frame;
        self.shared.metrics.frame_received(frame.command).inc();
        match self.state {
            State::Closing => ReadControl::Stop,
            State::AwaitingConnect => match frame.command {
                Command::Connect | Command::Stomp => self.on_connect(frame, ctx),
                other => {
                    self.fail(
                        ctx,
                        Fail {
                            message: format!("expected CONNECT or STOMP, got {}", other.as_str()),
                            detail: "the first frame on a connection must be CONNECT or STOMP"
                                .into(),
                            receipt_id: frame.header("receipt").map(str::to_string),
                            reason: ErrorReason::NotConnected,
                        },
                    );
                    ReadControl::Stop
                }
            },
            State::Connected(_) => {
                if frame.command == Command::Unsubscribe {
                    // Stop rendering deliveries for it right now, before the
                    // session and destination hear about it.
                    self.stop_rendering(&frame);
                }
                match &self.session {
                    Some(s) => {
                        s.do_send(ClientFrame {
                            frame,
                            permit: msg.permit,
                        });
                        ReadControl::Continue
                    }
                    None => ReadControl::Stop,
                }
            }
        }
    }
}

impl Connection {
    fn stop_rendering(&mut self, frame: &Frame) {
        let Some(id) = frame.header("id").or_else(|| frame.header("destination")) else {
            return;
        };
        // Settle what was already written for it before forgetting it.
        self.flush();
        self.subs.retain(|_, s| s.id != id);
    }
}

impl Handler<ReadEnded> for Connection {
    type Result = ();

    fn handle(&mut self, msg: ReadEnded, ctx: &mut Self::Context) {
        match msg {
            ReadEnded::PeerClosed => {
                self.state = State::Closing;
                self.end_session();
                ctx.stop();
            }
            ReadEnded::Malformed(e, receipt_id) => {
                let reason = e.reason();
                self.fail(
                    ctx,
                    Fail {
                        message: e.to_string(),
                        detail: "the frame could not be read; see the STOMP specification".into(),
                        receipt_id,
                        reason,
                    },
                );
            }
        }
    }
}

impl Handler<WriterEnded> for Connection {
    type Result = ();

    fn handle(&mut self, msg: WriterEnded, ctx: &mut Self::Context) {
        if let Some(e) = msg.error {
            tracing::debug!(session = self.id, error = %e, "write failed");
        }
        ctx.stop();
    }
}

impl Handler<Deliver> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        let State::Connected(version) = self.state else {
            return;
        };
        // Unknown subscription: unsubscribed while this was in flight. The
        // destination takes it back when it processes the UNSUBSCRIBE.
        let Some(sub) = self.subs.get(&msg.subscription) else {
            return;
        };
        // Only client-acknowledged 1.2 subscriptions need an ack id to echo.
        let ack = (sub.ack != AckMode::Auto && version >= Version::V1_2)
            .then(|| format!("{}:{}", msg.subscription, msg.data.id));
        let delivery = Delivery {
            subscription: &sub.id,
            message_id: msg.data.id,
            ack: ack.as_deref(),
            redelivered: (msg.delivery_count > 1).then_some(msg.delivery_count),
        };
        let auto = sub.ack == AckMode::Auto;
        let body = &msg.data.body;
        let shared = msg.data.encoded_headers(version);
        encode_message_head(&delivery, shared, body.len(), version, &mut self.out);
        if body.len() >= ZERO_COPY_BODY {
            // Large bodies go to the socket from the producer's buffer as they are.
            let head = self.out.split().freeze();
            self.segments.push(head);
            self.segments.push(body.clone());
        } else {
            self.out.extend_from_slice(body);
        }
        self.out.extend_from_slice(FRAME_END);
        if auto {
            *self.settlements.entry(msg.subscription).or_insert(0) += 1;
        }
        self.shared.metrics.frame_sent(Command::Message).inc();
        self.schedule_flush(ctx);
    }
}

impl Handler<Subscribed> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Subscribed, _: &mut Self::Context) {
        self.subs.insert(
            msg.subscription,
            SubInfo {
                id: msg.id,
                ack: msg.ack,
                settle: msg.settle,
            },
        );
    }
}

impl Handler<Unsubscribed> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribed, _: &mut Self::Context) {
        self.subs.remove(&msg.subscription);
        self.settlements.remove(&msg.subscription);
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

impl Handler<Fail> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Fail, ctx: &mut Self::Context) {
        self.fail(ctx, msg);
    }
}

impl Handler<Close> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Close, ctx: &mut Self::Context) {
        if let Some(r) = msg.receipt_id {
            self.write_frame(receipt_frame(r), ctx);
        }
        self.close(ctx);
    }
}

impl Handler<Shutdown> for Connection {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        self.fail(
            ctx,
            Fail {
                message: "broker shutting down".into(),
                detail: "the broker is stopping; reconnect later".into(),
                receipt_id: None,
                reason: ErrorReason::Shutdown,
            },
        );
    }
}
