//! Destinations: one actor per `/queue/NAME` ([`Queue`]) and per `/topic/NAME`
//! ([`Topic`]), and the messages both handle. Destinations know consumers only
//! as `Recipient<Deliver>`: nothing here knows about sockets or sessions.

mod consumer;
mod message;
mod policy;
mod queue;
mod topic;

use std::sync::Arc;

use actix::prelude::*;
use thiserror::Error;
use tokio::sync::OwnedSemaphorePermit;

pub use consumer::AckMode;
pub use message::{Envelope, MessageData};
pub use policy::DestinationPolicy;
pub use queue::Queue;
pub use topic::Topic;

use crate::connection::{Deliver, Receipted};

/// Identifies one subscription broker-wide: the session and its subscription number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConsumerKey {
    pub session: u64,
    pub subscription: u64,
}

/// Queue or topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Queue,
    Topic,
}

impl Kind {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Queue => "queue",
            Kind::Topic => "topic",
        }
    }
}

/// An ACK or NACK that cannot be applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AckError {
    #[error("no unacknowledged message '{0}' on this subscription")]
    Unknown(u64),
    #[error("subscription is not subscribed to this destination")]
    NoSubscription,
}

/// Publish messages to a destination.
///
/// Sent by: `Session` (and destinations, when dead-lettering). Send mode:
/// `do_send`; the mailbox cannot grow without bound because every publish
/// carries one of its connection's in-flight permits (`limits.max_inflight_frames`),
/// released when the destination has taken the message. Several messages in one
/// `Publish` (a COMMIT) enter the destination contiguously.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    pub messages: Vec<Arc<MessageData>>,
    pub permit: Option<OwnedSemaphorePermit>,
}

/// Adds a consumer. Sent by `Session` with `send`; the reply says whether it was added.
#[derive(Message)]
#[rtype(result = "Result<(), SubscribeError>")]
pub struct Subscribe {
    pub key: ConsumerKey,
    pub ack: AckMode,
    pub prefetch: u32,
    pub deliver: Recipient<Deliver>,
    /// Sent the SUBSCRIBE's RECEIPT once the consumer is added and before any
    /// delivery, through the same mailbox as the deliveries (so it arrives first).
    pub receipt: Option<(Recipient<Receipted>, String)>,
}

/// A subscription that could not be added.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SubscribeError {
    #[error("subscription already exists on this destination")]
    Duplicate,
    /// The destination retired between lookup and subscribe; look it up again.
    #[error("destination retired")]
    Retired,
}

/// Removes a consumer; its unacknowledged messages go back to the queue,
/// flagged as redelivered. Sent by `Session` with `send` (rare).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub key: ConsumerKey,
}

/// Auto-ack messages written to the consumer's socket: `count` deliveries,
/// oldest first. Sent by the connection's writer after the bytes reached the
/// socket; bounded by the subscription's prefetch window.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Settle {
    pub key: ConsumerKey,
    pub count: u32,
}

/// ACK (`cumulative` for `client` mode). Sent by `Session` with `send`.
#[derive(Message)]
#[rtype(result = "Result<(), AckError>")]
pub struct Ack {
    pub key: ConsumerKey,
    pub message_id: u64,
    pub cumulative: bool,
}

/// NACK: the message goes back to the head of the queue, or to the dead-letter
/// queue once it has been delivered `max_deliveries` times. Sent by `Session` with `send`.
#[derive(Message)]
#[rtype(result = "Result<(), AckError>")]
pub struct Nack {
    pub key: ConsumerKey,
    pub message_id: u64,
    pub cumulative: bool,
}

/// Resolves once every message sent before it has been handled (for receipts
/// that must follow earlier fire-and-forget publishes).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Sync;

/// Router → destination: stop if still idle. The reply says whether it retired;
/// a retired destination forwards anything it still receives to the router.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Retire;

/// A handle on a destination actor of either kind.
#[derive(Clone)]
pub enum DestinationRef {
    Queue(Addr<Queue>),
    Topic(Addr<Topic>),
}

impl DestinationRef {
    /// Whether both handles name the same actor.
    pub fn same(&self, other: &DestinationRef) -> bool {
        match (self, other) {
            (DestinationRef::Queue(a), DestinationRef::Queue(b)) => a == b,
            (DestinationRef::Topic(a), DestinationRef::Topic(b)) => a == b,
            _ => false,
        }
    }

    /// See [`Publish`].
    pub fn publish(&self, msg: Publish) {
        match self {
            DestinationRef::Queue(a) => a.do_send(msg),
            DestinationRef::Topic(a) => a.do_send(msg),
        }
    }

    /// Sends a lifecycle message without waiting (`do_send`: rare messages only).
    pub fn tell<M>(&self, msg: M)
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Queue: Handler<M>,
        Topic: Handler<M>,
    {
        match self {
            DestinationRef::Queue(a) => a.do_send(msg),
            DestinationRef::Topic(a) => a.do_send(msg),
        }
    }

    /// A recipient for [`Settle`], for the connection's writer.
    pub fn settle_recipient(&self) -> Recipient<Settle> {
        match self {
            DestinationRef::Queue(a) => a.clone().recipient(),
            DestinationRef::Topic(a) => a.clone().recipient(),
        }
    }

    /// Sends `msg` and waits for the reply.
    pub async fn request<M>(&self, msg: M) -> Result<M::Result, MailboxError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Queue: Handler<M>,
        Topic: Handler<M>,
    {
        match self {
            DestinationRef::Queue(a) => a.send(msg).await,
            DestinationRef::Topic(a) => a.send(msg).await,
        }
    }
}
