//! What the `Listener` actor handles from connections and the broker.

use std::time::Duration;

use actix::prelude::*;

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
