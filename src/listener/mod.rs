//! `Listener`: accepts STOMP connections over TCP and over WebSocket,
//! enforces one connection limit for both at accept (see `refuse.rs`), backs
//! off when accepting fails (see `accept.rs`), spreads connections over the
//! worker arbiters, and on shutdown tells every connection to close.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::net::{TcpListener, TcpStream};

use crate::connection::Connection;
use crate::messages::connection::{Fail, Shutdown};
pub use crate::messages::listener::{
    CloseConnection, ConnectionClosed, ConnectionPage, FindConnection, ListConnections,
    StopAccepting,
};
use crate::model::Transport;
use crate::protocol::ErrorReason;
use crate::shared::Shared;
use crate::websocket;

/// How often a shutting-down listener checks whether its connections have
/// all closed: short against `broker.shutdown_grace_ms`, long enough not to
/// spin while they flush.
const SHUTDOWN_RECHECK: Duration = Duration::from_millis(10);

mod accept;
mod refuse;

use accept::Accepted;
pub use accept::{BACKOFF_MAX, BACKOFF_MIN, LOG_INTERVAL};
pub use refuse::LINGER as REFUSAL_LINGER;

/// A connection actor started on a worker arbiter.
#[derive(Message)]
#[rtype(result = "()")]
struct Registered {
    id: u64,
    addr: Addr<Connection>,
}

/// Log lines clients can trigger at will, each at most once per interval.
#[derive(Debug, Default)]
struct Throttles {
    accept_tcp: accept::LogThrottle,
    accept_ws: accept::LogThrottle,
    refusals: accept::LogThrottle,
}

/// The STOMP listener (TCP, and WebSocket when given one).
pub struct Listener {
    shared: Arc<Shared>,
    listener: Option<TcpListener>,
    websocket: Option<TcpListener>,
    /// Live connections; `None` while a worker arbiter is still starting it.
    conns: HashMap<u64, Option<Addr<Connection>>>,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    accepting: bool,
    throttles: Throttles,
}

impl Listener {
    /// A listener accepting on `listener`, placing connections on `arbiters`
    /// round-robin (or on its own arbiter when the list is empty).
    pub fn new(shared: Arc<Shared>, listener: TcpListener, arbiters: Vec<ArbiterHandle>) -> Self {
        Listener {
            shared,
            listener: Some(listener),
            websocket: None,
            conns: HashMap::new(),
            arbiters,
            next_arbiter: 0,
            accepting: true,
            throttles: Throttles::default(),
        }
    }

    /// Also accepts STOMP over WebSocket on `listener`, under the same connection limit.
    pub fn with_websocket(mut self, listener: TcpListener) -> Self {
        self.websocket = Some(listener);
        self
    }
}

impl Actor for Listener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let listeners = [
            (Transport::Tcp, self.listener.take()),
            (Transport::Ws, self.websocket.take()),
        ];
        for (transport, l) in listeners {
            let Some(l) = l else { continue };
            ctx.add_stream(accept::accepts(transport, l));
        }
    }
}

impl StreamHandler<Accepted> for Listener {
    fn handle(&mut self, Accepted(transport, accepted): Accepted, ctx: &mut Self::Context) {
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                let label = accept::listener_label(transport);
                self.shared
                    .metrics
                    .accept_errors
                    .with_label_values(&[label])
                    .inc();
                let throttle = match transport {
                    Transport::Tcp => &mut self.throttles.accept_tcp,
                    Transport::Ws => &mut self.throttles.accept_ws,
                };
                accept::log_failure(throttle, transport, &e);
                return;
            }
        };
        if !self.accepting {
            return;
        }
        if self.conns.len() >= self.shared.settings.limits.max_connections {
            let log = self.throttles.refusals.allow();
            return refuse::refuse(&self.shared, transport, stream, peer, log);
        }
        let _ = stream.set_nodelay(true);
        let id = self.shared.next_id();
        let shared = self.shared.clone();
        let me = ctx.address().recipient();
        if self.arbiters.is_empty() {
            if transport == Transport::Tcp {
                let addr = Connection::start(id, stream, peer, Transport::Tcp, shared, me);
                self.conns.insert(id, Some(addr));
            } else {
                actix_rt::spawn(start_ws(id, stream, peer, shared, ctx.address()));
                self.conns.insert(id, None);
            }
            return;
        }
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter = self.next_arbiter.wrapping_add(1);
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot move connection to a worker");
                return;
            }
        };
        let listener = ctx.address();
        let placed = arbiter.spawn_fn(move || match TcpStream::from_std(std_stream) {
            Ok(s) if transport == Transport::Ws => {
                actix_rt::spawn(start_ws(id, s, peer, shared, listener));
            }
            Ok(s) => {
                let addr = Connection::start(id, s, peer, Transport::Tcp, shared, me);
                listener.do_send(Registered { id, addr });
            }
            Err(e) => tracing::warn!(error = %e, "cannot register connection on worker"),
        });
        if !placed {
            tracing::error!("worker arbiter is gone; connection dropped");
        }
        // Reserve the slot now so the limit holds while the worker starts it.
        self.conns.insert(id, None);
    }

    fn finished(&mut self, _: &mut Self::Context) {}
}

/// Runs the WebSocket handshake on the current arbiter, then starts the
/// connection there; a failed handshake frees the connection's slot.
async fn start_ws(
    id: u64,
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    listener: Addr<Listener>,
) {
    match websocket::accept(stream, peer, &shared).await {
        Some(io) => {
            let me = listener.clone().recipient();
            let addr = Connection::start(id, io, peer, Transport::Ws, shared, me);
            listener.do_send(Registered { id, addr });
        }
        None => listener.do_send(ConnectionClosed { id }),
    }
}

impl Handler<Registered> for Listener {
    type Result = ();

    fn handle(&mut self, msg: Registered, _: &mut Self::Context) {
        if let Some(slot) = self.conns.get_mut(&msg.id) {
            if !self.accepting {
                msg.addr.do_send(Shutdown);
            }
            *slot = Some(msg.addr);
        }
    }
}

impl Handler<ConnectionClosed> for Listener {
    type Result = ();

    fn handle(&mut self, msg: ConnectionClosed, _: &mut Self::Context) {
        self.conns.remove(&msg.id);
    }
}

impl Handler<ListConnections> for Listener {
    type Result = MessageResult<ListConnections>;

    fn handle(&mut self, msg: ListConnections, _: &mut Self::Context) -> Self::Result {
        // Only started ones: a connection still starting on its worker has nothing to show yet.
        let mut ids: Vec<(&u64, &Addr<Connection>)> = self
            .conns
            .iter()
            .filter_map(|(id, a)| Some((id, a.as_ref()?)))
            .collect();
        ids.sort_unstable_by_key(|(id, _)| **id);
        let total = ids.len();
        let items = ids
            .into_iter()
            .skip(msg.offset)
            .take(msg.limit)
            .map(|(id, a)| (*id, a.clone().recipient()))
            .collect();
        MessageResult(ConnectionPage { total, items })
    }
}

impl Handler<FindConnection> for Listener {
    type Result = Option<Recipient<crate::messages::connection::Describe>>;

    fn handle(&mut self, msg: FindConnection, _: &mut Self::Context) -> Self::Result {
        let addr = self.conns.get(&msg.id)?.as_ref()?;
        Some(addr.clone().recipient())
    }
}

impl Handler<CloseConnection> for Listener {
    type Result = bool;

    fn handle(&mut self, msg: CloseConnection, _: &mut Self::Context) -> bool {
        let Some(Some(addr)) = self.conns.get(&msg.id) else {
            return false;
        };
        tracing::info!(session = msg.id, reason = %msg.reason, "connection closed by an operator");
        addr.do_send(Fail {
            message: format!("connection closed by an operator: {}", msg.reason),
            detail: msg.reason,
            receipt_id: None,
            reason: ErrorReason::Admin,
        });
        true
    }
}

impl Handler<StopAccepting> for Listener {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: StopAccepting, _: &mut Self::Context) -> Self::Result {
        self.accepting = false;
        for c in self.conns.values().flatten() {
            c.do_send(Shutdown);
        }
        let deadline = tokio::time::Instant::now() + msg.grace;
        Box::pin(
            async move {}
                .into_actor(self)
                .then(move |_, _, _| wait_until_empty(deadline)),
        )
    }
}

fn wait_until_empty(deadline: tokio::time::Instant) -> impl ActorFuture<Listener, Output = ()> {
    actix::fut::wrap_future::<_, Listener>(tokio::time::sleep(SHUTDOWN_RECHECK)).then(
        move |_,
              l: &mut Listener,
              _|
              -> std::pin::Pin<Box<dyn ActorFuture<Listener, Output = ()>>> {
            if l.conns.is_empty() || tokio::time::Instant::now() >= deadline {
                Box::pin(actix::fut::ready(()))
            } else {
                Box::pin(wait_until_empty(deadline))
            }
        },
    )
}
