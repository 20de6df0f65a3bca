//! `Listener`: accepts STOMP connections over TCP and over WebSocket, each
//! optionally over TLS, enforces one connection limit for all and one per
//! client address at accept (see `refuse.rs`), backs off when accepting fails
//! (see `accept.rs`), spreads connections over the worker arbiters (where
//! their TLS and WebSocket handshakes run, see `start.rs`), and on shutdown
//! tells every connection to close.

use std::collections::HashMap;
use std::net::IpAddr;
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

/// How often a shutting-down listener checks whether its connections have
/// all closed: short against `broker.shutdown_grace_ms`, long enough not to
/// spin while they flush.
const SHUTDOWN_RECHECK: Duration = Duration::from_millis(10);

mod accept;
mod refuse;
mod start;

use accept::Accepted;
pub use accept::{BACKOFF_MAX, BACKOFF_MIN, LOG_INTERVAL};

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
    accept_tls: accept::LogThrottle,
    accept_wss: accept::LogThrottle,
    refusals: accept::LogThrottle,
}

/// The STOMP listener (TCP, and WebSocket when given one).
pub struct Listener {
    shared: Arc<Shared>,
    listener: Option<TcpListener>,
    websocket: Option<TcpListener>,
    stomp_tls: Option<TcpListener>,
    websocket_tls: Option<TcpListener>,
    /// Live connections; `None` while a worker arbiter is still starting it.
    conns: HashMap<u64, Option<Addr<Connection>>>,
    /// Each live connection's client address, and how many each address has.
    addresses: HashMap<u64, IpAddr>,
    per_address: HashMap<IpAddr, usize>,
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
            stomp_tls: None,
            websocket_tls: None,
            conns: HashMap::new(),
            addresses: HashMap::new(),
            per_address: HashMap::new(),
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

    /// Also accepts STOMP over TLS and WebSocket over TLS, when given.
    pub fn with_tls(mut self, stomp: Option<TcpListener>, websocket: Option<TcpListener>) -> Self {
        self.stomp_tls = stomp;
        self.websocket_tls = websocket;
        self
    }

    /// Forgets connection `id` and its address's share.
    fn forget(&mut self, id: u64) {
        self.conns.remove(&id);
        if let Some(ip) = self.addresses.remove(&id) {
            if let Some(n) = self.per_address.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_address.remove(&ip);
                }
            }
        }
    }
}

impl Actor for Listener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let listeners = [
            (Transport::Tcp, self.listener.take()),
            (Transport::Ws, self.websocket.take()),
            (Transport::Tls, self.stomp_tls.take()),
            (Transport::Wss, self.websocket_tls.take()),
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
                    Transport::Tls => &mut self.throttles.accept_tls,
                    Transport::Wss => &mut self.throttles.accept_wss,
                };
                accept::log_failure(throttle, transport, &e);
                return;
            }
        };
        if !self.accepting {
            return;
        }
        let limits = &self.shared.settings.limits;
        let bound = if self.conns.len() >= limits.max_connections {
            Some(refuse::Bound::Total)
        } else if self.per_address.get(&peer.ip()).copied().unwrap_or(0)
            >= limits.max_connections_per_ip
        {
            Some(refuse::Bound::PerAddress)
        } else {
            None
        };
        if let Some(bound) = bound {
            let log = self.throttles.refusals.allow();
            return refuse::refuse(&self.shared, transport, stream, peer, bound, log);
        }
        let _ = stream.set_nodelay(true);
        let id = self.shared.next_id();
        // Reserve the slot now so the limits hold while a worker starts it.
        self.conns.insert(id, None);
        self.addresses.insert(id, peer.ip());
        *self.per_address.entry(peer.ip()).or_insert(0) += 1;
        let shared = self.shared.clone();
        let listener = ctx.address();
        if self.arbiters.is_empty() {
            actix_rt::spawn(start::start(id, transport, stream, peer, shared, listener));
            return;
        }
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter = self.next_arbiter.wrapping_add(1);
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot move connection to a worker");
                self.forget(id);
                return;
            }
        };
        let placed = arbiter.spawn_fn(move || match TcpStream::from_std(std_stream) {
            Ok(s) => {
                actix_rt::spawn(start::start(id, transport, s, peer, shared, listener));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot register connection on worker");
                listener.do_send(ConnectionClosed { id });
            }
        });
        if !placed {
            tracing::error!("worker arbiter is gone; connection dropped");
            self.forget(id);
        }
    }

    fn finished(&mut self, _: &mut Self::Context) {}
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
        self.forget(msg.id);
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
