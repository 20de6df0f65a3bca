//! What a `Connection` actor handles from the rest of the broker, and the
//! handle its session and destinations hold instead of its address.

use std::sync::Arc;

use actix::prelude::*;

use super::destination::Settle;
use crate::model::{AckMode, ConnectionView, MessageData};
use crate::protocol::{ErrorReason, Frame};

/// A message for one of this connection's subscriptions.
///
/// Sent by: `Queue`, `Topic` with `do_send`. Bounded: a destination sends at
/// most `prefetch` of these per subscription before a settle or ACK.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub subscription: u64,
    pub data: Arc<MessageData>,
    /// 1 on first delivery; more means redelivered.
    pub delivery_count: u32,
}

/// The session opened a subscription; deliveries for it may follow.
/// Sent by `Session` with `do_send` before it subscribes at the destination
/// (once per SUBSCRIBE, which holds an in-flight permit).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribed {
    pub subscription: u64,
    pub id: String,
    pub ack: AckMode,
    pub settle: Recipient<Settle>,
}

/// The session closed a subscription (or failed to open it). Sent by
/// `Session` with `do_send`, once per subscription.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribed {
    pub subscription: u64,
}

/// A frame the session wants written (RECEIPT). Sent by `Session` with
/// `do_send`, one per client frame at most.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reply(pub Frame);

/// A client frame's effect is in place: send its RECEIPT. Sent by destinations
/// (for SUBSCRIBE, ahead of the subscription's first delivery) with `do_send`,
/// one per receipted frame.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Receipted {
    pub receipt_id: String,
}

/// Resolves once everything already handed to the writer is on the socket and
/// its auto-ack settlements have been sent to their destinations. Sent by
/// `Session` with `send` before it takes an auto-ack subscription off its
/// destination, so that the destination counts as consumed exactly what was
/// written (rare: once per UNSUBSCRIBE or disconnect).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

/// Send an ERROR frame and close. Sent by `Session` and destinations with
/// `do_send`; rare (a connection closes after its first).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Fail {
    pub message: String,
    pub detail: String,
    pub receipt_id: Option<String>,
    /// Counted in `stompede_errors_total{reason}`.
    pub reason: ErrorReason,
}

/// Close after flushing, with an optional RECEIPT first (DISCONNECT). Sent by
/// `Session` with `do_send`, once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close {
    pub receipt_id: Option<String>,
}

/// The broker is stopping: tell the client and close. Sent by the listener
/// with `do_send`, once per connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Describes the connection for an operator, listing at most
/// `subscriptions` of its subscriptions. Sent by the admin API with `send`,
/// one per connection shown (the API caps how many it shows per request).
#[derive(Message)]
#[rtype(result = "ConnectionView")]
pub struct Describe {
    pub subscriptions: usize,
}

/// What a session may tell its connection: one recipient per message, so the
/// session never names the connection's actor type.
#[derive(Clone)]
pub struct ConnectionHandle {
    pub deliver: Recipient<Deliver>,
    pub subscribed: Recipient<Subscribed>,
    pub unsubscribed: Recipient<Unsubscribed>,
    pub reply: Recipient<Reply>,
    pub receipted: Recipient<Receipted>,
    pub drain: Recipient<Drain>,
    pub fail: Recipient<Fail>,
    pub close: Recipient<Close>,
}

impl ConnectionHandle {
    /// The handle of the connection actor at `addr`.
    pub fn of<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<Deliver>
            + Handler<Subscribed>
            + Handler<Unsubscribed>
            + Handler<Reply>
            + Handler<Receipted>
            + Handler<Drain>
            + Handler<Fail>
            + Handler<Close>,
    {
        ConnectionHandle {
            deliver: addr.clone().recipient(),
            subscribed: addr.clone().recipient(),
            unsubscribed: addr.clone().recipient(),
            reply: addr.clone().recipient(),
            receipted: addr.clone().recipient(),
            drain: addr.clone().recipient(),
            fail: addr.clone().recipient(),
            close: addr.clone().recipient(),
        }
    }
}
