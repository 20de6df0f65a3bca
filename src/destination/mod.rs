//! Destinations: one actor per `/queue/NAME` ([`Queue`]) and per `/topic/NAME`
//! ([`Topic`]), and the messages both handle. Destinations know consumers only
//! as `Recipient<Deliver>`: nothing here knows about sockets or sessions.

mod consumer;
mod limits;
mod message;
mod policy;
mod queue;
mod topic;

use std::sync::Arc;

use actix::prelude::*;
use thiserror::Error;
use tokio::sync::OwnedSemaphorePermit;

pub use consumer::AckMode;
pub use limits::{MemoryBudget, Overflow, PolicyOverride, QueueLimits, SlowConsumer};
pub use message::{Envelope, MessageData};
pub use policy::DestinationPolicy;
pub use queue::Queue;
pub use topic::Topic;

use crate::connection::{Deliver, Fail, Receipted};

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
/// released when the destination has taken the message — or, while the queue
/// is full under the `block` policy or the memory alarm is raised, held until
/// there is room, which stops the publisher's socket from being read. Several
/// messages in one `Publish` (a COMMIT) enter the destination contiguously.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    pub messages: Vec<Arc<MessageData>>,
    pub permit: Option<OwnedSemaphorePermit>,
    /// Who to tell: the RECEIPT once the messages are taken, or an ERROR when
    /// the `reject` policy refuses them. `None` for internal publishes.
    pub origin: Option<Origin>,
}

/// The publishing connection, for a publish's outcome.
#[derive(Clone)]
pub struct Origin {
    pub receipt: Option<String>,
    pub replies: Arc<Replies>,
}

/// Where a connection takes receipts and errors; built once per session and
/// shared by its publishes (cloning it is one atomic increment).
pub struct Replies {
    pub receipted: Recipient<Receipted>,
    pub fail: Recipient<Fail>,
}

impl Origin {
    /// The messages were taken: send the RECEIPT, if one was asked for.
    pub fn accepted(self) {
        if let Some(receipt_id) = self.receipt {
            self.replies.receipted.do_send(Receipted { receipt_id });
        }
    }

    /// Reports the outcome of an ACK or NACK: RECEIPT, or ERROR and close.
    pub fn settled(self, what: &str, result: &Result<(), AckError>) {
        match result {
            Ok(()) => self.accepted(),
            Err(e) => self.replies.fail.do_send(Fail {
                message: format!("{what} failed: {e}"),
                detail: String::new(),
                receipt_id: self.receipt,
                reason: "ack",
            }),
        }
    }

    /// The messages were refused: ERROR (with the receipt id) and close.
    pub fn rejected(self, destination: &str, why: String) {
        self.replies.fail.do_send(Fail {
            message: format!("message rejected: {destination} is full"),
            detail: why,
            receipt_id: self.receipt,
            reason: "queue_full",
        });
    }
}

/// Adds a consumer. Sent by `Session` with `send`; the reply says whether it was added.
#[derive(Message)]
#[rtype(result = "Result<(), SubscribeError>")]
pub struct Subscribe {
    pub key: ConsumerKey,
    pub ack: AckMode,
    pub prefetch: u32,
    /// Most body bytes outstanding at once (the byte side of the window).
    pub window_bytes: usize,
    pub deliver: Recipient<Deliver>,
    /// Ends the subscriber's connection (topic slow-consumer policy `disconnect`).
    pub fail: Recipient<Fail>,
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

/// ACK (`cumulative` for `client` mode).
///
/// Sent by `Session`: with `do_send` and an `origin` when the subscription is
/// known (the destination then sends the RECEIPT, ahead of the deliveries the
/// ACK makes room for, or the ERROR), bounded by the ACK frame's in-flight
/// permit; with `send` and no origin when a 1.0 `message-id` must be looked
/// for across subscriptions, and from a COMMIT.
#[derive(Message)]
#[rtype(result = "Result<(), AckError>")]
pub struct Ack {
    pub key: ConsumerKey,
    pub message_id: u64,
    pub cumulative: bool,
    pub origin: Option<Origin>,
    pub permit: Option<OwnedSemaphorePermit>,
}

/// NACK: the message goes back to the head of the queue, or to the dead-letter
/// queue once it has been delivered `max_deliveries` times. Sent by `Session` with `send`.
#[derive(Message)]
#[rtype(result = "Result<(), AckError>")]
pub struct Nack {
    pub key: ConsumerKey,
    pub message_id: u64,
    pub cumulative: bool,
    /// As for [`Ack`].
    pub origin: Option<Origin>,
    pub permit: Option<OwnedSemaphorePermit>,
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
