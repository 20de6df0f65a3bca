//! What the `Listener` actor handles from connections and the broker.

use std::time::Duration;

use actix::prelude::*;

use super::connection::Describe;

/// A connection actor stopped. Sent by `Connection` with `do_send`, once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConnectionClosed {
    pub id: u64,
}

/// Stop accepting, tell every client, and resolve once all connections are
/// closed (or `grace` has passed). Sent by the broker with `send`, once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopAccepting {
    pub grace: Duration,
}

/// A page of the open connections, by id. Sent by the admin API with `send`,
/// once per request; `limit` is capped by the API (`admin.max_list`).
#[derive(Message)]
#[rtype(result = "ConnectionPage")]
pub struct ListConnections {
    pub offset: usize,
    pub limit: usize,
}

/// The answer to [`ListConnections`].
pub struct ConnectionPage {
    /// How many connections are open, in all.
    pub total: usize,
    /// At most `limit` of them, by id, each to be asked to [`Describe`] itself.
    pub items: Vec<(u64, Recipient<Describe>)>,
}

/// Closes connection `id`: its client gets ERROR `reason`. The reply says
/// whether there was such a connection. Sent by the admin API with `send`,
/// once per request.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct CloseConnection {
    pub id: u64,
    pub reason: String,
}

/// Connection `id`, to be asked to [`Describe`] itself; `None` if it is not
/// open. Sent by the admin API with `send`, once per request.
#[derive(Message)]
#[rtype(result = "Option<Recipient<Describe>>")]
pub struct FindConnection {
    pub id: u64,
}
