//! `Connection`: one actor per client connection. It owns the socket (through
//! its reader and writer tasks), the codec state, heart-beats and the CONNECT
//! handshake; once connected it hands every frame to its supervised `Session`
//! and renders what destinations deliver. It knows bytes and frames, not routing.
//!
//! - `lifecycle`: the handshake, frames passed on, and every way it ends;
//! - `output`: the batch encoded per wake-up and handed to the writer;
//! - `delivery`: MESSAGE frames for the connection's subscriptions;
//! - `heartbeat`: negotiation and the timers;
//! - `reader`, `writer`: the socket tasks, and what they tell the actor.

mod delivery;
mod describe;
mod handshake;
mod heartbeat;
mod lifecycle;
mod output;
mod reader;
mod writer;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use delivery::SubInfo;
pub use heartbeat::Heartbeats;
use output::OutputBatch;
use reader::LastRead;
pub use reader::{FrameReceived, ReadControl, ReadEnded};
use writer::WriteCmd;
pub use writer::WriterEnded;

pub use crate::messages::connection::{
    Close, ConnectionHandle, Deliver, Describe, Drain, Fail, Receipted, Reply, Shutdown,
    Subscribed, Unsubscribed,
};
use crate::messages::listener::ConnectionClosed;
use crate::model::Transport;
use crate::protocol::{ErrorReason, StompCodec, Version};
use crate::session::Session;
use crate::shared::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingConnect,
    /// CONNECT received; its login is being checked.
    Authenticating,
    Connected(Version),
    Closing,
}

/// One client connection.
pub struct Connection {
    id: u64,
    peer: SocketAddr,
    transport: Transport,
    shared: Arc<Shared>,
    /// The common name of the client's verified TLS certificate: its login.
    certificate_login: Option<String>,
    state: State,
    /// DISCONNECT was handed to the session: nothing after it is.
    disconnecting: bool,
    session: Option<Addr<Session>>,
    codec: StompCodec,
    output: OutputBatch,
    flush_scheduled: bool,
    tx: UnboundedSender<WriteCmd>,
    pending: Arc<AtomicUsize>,
    /// The `connections{transport,version}` gauge this connection raised;
    /// lowered when it stops, whatever state it is in by then.
    open_gauge: Option<prometheus::IntGauge>,
    last_write: Instant,
    last_read: LastRead,
    subs: foldhash::HashMap<u64, SubInfo>,
    listener: Recipient<ConnectionClosed>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The CONNECT `login`, once connected (shown by the admin API).
    login: Option<String>,
    /// Bytes handed to the writer so far.
    bytes_out: u64,
    connected_since: std::time::SystemTime,
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
        Self::start_as(id, io, peer, transport, None, shared, listener)
    }

    /// As [`Connection::start`], for a client whose TLS certificate named
    /// `certificate_login`.
    pub fn start_as<T>(
        id: u64,
        io: T,
        peer: SocketAddr,
        transport: Transport,
        certificate_login: Option<String>,
        shared: Arc<Shared>,
        listener: Recipient<ConnectionClosed>,
    ) -> Addr<Connection>
    where
        T: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let limits = shared.settings.codec_limits();
        let first_limits = shared.settings.pre_connect_limits();
        let lim = &shared.settings.limits;
        let inflight = reader::InFlight::new(lim.max_inflight_frames, lim.max_inflight_bytes);
        let (r, w) = tokio::io::split(io);
        let (tx, rx) = unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let last_read = LastRead::new();
        Connection::create(|ctx| {
            let me = ctx.address();
            let reader = actix_rt::spawn(reader::read_loop(
                r,
                StompCodec::new(first_limits),
                limits,
                me.clone(),
                inflight,
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
                certificate_login,
                state: State::AwaitingConnect,
                disconnecting: false,
                session: None,
                codec: StompCodec::new(limits),
                output: OutputBatch::default(),
                flush_scheduled: false,
                tx,
                pending,
                open_gauge: None,
                last_write: Instant::now(),
                last_read,
                subs: foldhash::HashMap::default(),
                listener,
                tasks: vec![reader, writer],
                login: None,
                bytes_out: 0,
                connected_since: std::time::SystemTime::now(),
            }
        })
    }
}

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
