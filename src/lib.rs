//! stompede: a STOMP 1.0/1.1/1.2 message broker on actix actors.
//!
//! # Layout
//! - [`protocol`]: frames, versions and the codec — bytes in, frames out; no actors.
//! - [`model`]: the broker's vocabulary (ids, ack modes, message data, limits); no actors.
//! - [`messages`]: the actor message catalogue and the handles actors hold of each other.
//! - [`connection`]: one actor per client connection: socket, codec, heart-beats, handshake.
//! - [`session`]: the supervised actor holding a client's subscriptions and transactions.
//! - [`router`]: the destination registry; [`destination`]: queue and topic actors.
//! - [`transaction`]: one actor per open transaction.
//! - [`listener`], [`broker`], [`http`]: accepting connections, start/stop, metrics endpoint.
//! - [`websocket`]: STOMP over WebSocket, an adapter in front of the same connection actor;
//!   [`chat`]: the demo chat page the HTTP listener can serve.
//! - [`store`]: the durable journal for persistent messages, behind the `Store` trait.
//! - [`settings`], [`metrics`], [`telemetry`], [`auth`]: configuration and operations.
//! - [`admin`]: the admin API and status page on the HTTP listener.
//! - [`cluster`]: cluster mode, several nodes sharing destinations through NATS.
//! - [`systemd`]: readiness notifications to the service manager (`Type=notify`).

pub mod admin;
pub mod auth;
pub mod broker;
pub mod chat;
pub mod cluster;
pub mod connection;
pub mod destination;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod http;
pub mod listener;
pub mod messages;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod router;
pub mod session;
pub mod settings;
pub mod shared;
pub mod store;
pub mod supervision;
pub mod systemd;
pub mod telemetry;
pub mod tls;
pub mod transaction;
pub mod websocket;

pub use broker::{BoundAddrs, BrokerHandle};
pub use settings::Settings;
