//! What the `Router` handles: look-ups from sessions, and lifecycle events
//! and forwarded messages from destinations.

use std::sync::Arc;

use actix::prelude::*;
use thiserror::Error;

use super::destination::{DestinationRef, Publish, StoreFailed};
use crate::model::selector::Selector;
use crate::model::{DestinationId, DurableKey, MessageData};

/// A destination name the broker does not serve.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RouteError {
    #[error("unknown destination '{name}': destinations must start with {queue} or {topic}")]
    BadPrefix {
        name: String,
        queue: String,
        topic: String,
    },
    /// The name is longer than `limits.max_destination_length` (not quoted:
    /// it is the long part).
    #[error(
        "destination name is {len} bytes long; the limit is {max} (limits.max_destination_length)"
    )]
    NameTooLong { len: usize, max: usize },
    /// The name holds a control character (a line feed, say), which would
    /// break log lines and could not be written to a 1.0 subscriber as it is.
    #[error("destination names may not contain control characters (such as CR, LF or TAB)")]
    ControlCharacter,
    /// A new destination would exceed `limits.max_destinations`.
    #[error("too many destinations: the broker serves at most {max} (limits.max_destinations); existing destinations still work")]
    TooManyDestinations { max: usize },
    /// A SEND to a wildcard topic (`/topic/a.*`), which only subscriptions use.
    #[error("cannot SEND to the wildcard destination {name}: a destination with a '*', '#' or '>' segment is a subscription pattern")]
    WildcardSend { name: String },
    /// A temporary queue whose connection is gone (or never was): it was
    /// deleted with its connection and is not created again.
    #[error("temporary queue '{name}' no longer exists: its connection has gone")]
    TempQueueGone { name: String },
    /// A client named a durable subscription's queue directly.
    #[error("'{name}' is a durable subscription's queue: subscribe to its topic with the durable subscription headers instead")]
    DurableQueue { name: String },
}

/// Opens (creating it if new) the durable subscription `key` on `topic`,
/// returning its queue for the subscriber to consume from. Sent by `Session`
/// with `send`, once per durable SUBSCRIBE; the reply comes once a new
/// subscription's registration is on disk (when storage is enabled).
#[derive(Message)]
#[rtype(result = "Result<DestinationRef, DurableError>")]
pub struct OpenDurable {
    pub key: DurableKey,
    /// The topic or topic pattern, prefix included (`/topic/a.*`).
    pub topic: String,
    /// Only messages this selects enter the subscription's queue.
    pub selector: Option<Arc<Selector>>,
}

/// Removes the durable subscription `key` and discards its queue's backlog;
/// the reply says whether it existed. Sent by `Session` with `send`, once per
/// UNSUBSCRIBE carrying durable headers.
#[derive(Message)]
#[rtype(result = "Result<bool, DurableError>")]
pub struct RemoveDurable {
    pub key: DurableKey,
}

/// A durable subscription that could not be opened or removed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DurableError {
    /// A new one beyond `destinations.max_durable_subscriptions`.
    #[error("too many durable subscriptions: the broker keeps at most {max} (destinations.max_durable_subscriptions)")]
    TooMany { max: usize },
    /// The name exists for another topic or selector.
    #[error("durable subscription {what} already exists on {topic}{selector}; UNSUBSCRIBE it with its durable headers before changing its destination or selector")]
    Conflict {
        what: String,
        topic: String,
        selector: String,
    },
    /// The topic, or the queue named after the subscription, is not acceptable.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The registration could not be written to disk.
    #[error("durable subscription not recorded: {0}")]
    Registry(String),
}

/// Where sessions open and remove durable subscriptions.
#[derive(Clone)]
pub struct DurableHandle {
    pub open: Recipient<OpenDurable>,
    pub remove: Recipient<RemoveDurable>,
}

impl DurableHandle {
    /// The handle of the router actor at `addr`.
    pub fn of<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<OpenDurable> + Handler<RemoveDurable>,
    {
        DurableHandle {
            open: addr.clone().recipient(),
            remove: addr.clone().recipient(),
        }
    }
}

/// Looks a destination up, creating it if needed. Sent by `Session` with `send`
/// (once per destination per session; sessions cache the answer).
#[derive(Message)]
#[rtype(result = "Result<DestinationRef, RouteError>")]
pub struct Resolve {
    pub name: String,
}

/// A connection's temporary queues. Sent by `Session` with `do_send`: `Claim`
/// once, before its first use of `/temp-queue/`; `Release` once, when it
/// ends (its temporary queues are deleted, waiting messages dropped).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum TempQueues {
    Claim { owner: u64 },
    Release { owner: u64 },
}

/// A destination has been idle for its idle timeout. Sent by destinations with
/// `do_send` (at most one per idle check interval).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DestinationIdle {
    pub name: Arc<str>,
}

/// A message that a retired destination received; the router forwards it to
/// the live destination of that name. `do_send`, bounded like the original `Publish`.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Reroute {
    Publish { destination: Arc<str>, msg: Publish },
}

/// A dead-lettered message for `destination`. Sent by destinations with
/// `do_send`; bounded by the messages the sending destination held.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeadLetter {
    pub destination: String,
    pub data: Arc<MessageData>,
}

/// A destination gave up after a restart storm; forget it so the name gets a
/// fresh actor. Sent by destinations with `do_send` (rare).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DestinationFailed {
    pub name: Arc<str>,
    pub id: DestinationId,
}

/// A page of the live destinations, by name. Sent by the admin API with
/// `send`, once per request; `limit` is capped by the API (`admin.max_list`).
#[derive(Message)]
#[rtype(result = "DestinationPage")]
pub struct ListDestinations {
    /// Names matching this glob only (`*` = any characters); `None` = all.
    pub pattern: Option<String>,
    pub offset: usize,
    pub limit: usize,
}

/// The answer to [`ListDestinations`].
pub struct DestinationPage {
    /// How many live destinations match, in all.
    pub total: usize,
    /// At most `limit` of them, sorted by name.
    pub items: Vec<(Arc<str>, DestinationRef)>,
}

/// The live destination called `name`, if there is one (never creates it).
/// Sent by the admin API with `send`, once per request.
#[derive(Message)]
#[rtype(result = "Option<DestinationRef>")]
pub struct FindDestination {
    pub name: String,
}

/// Deletes the live destination called `name` (see
/// [`Remove`](super::destination::Remove)); the reply is how many messages
/// were discarded. Sent by the admin API with `send`, once per request.
#[derive(Message)]
#[rtype(result = "Result<usize, DeleteError>")]
pub struct DeleteDestination {
    pub name: String,
    pub reason: String,
}

/// A deletion that did not (fully) happen.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DeleteError {
    #[error("no live destination {0}")]
    NotFound(String),
    /// The destination is gone, but its messages' removal may not be durable.
    #[error(transparent)]
    Store(#[from] StoreFailed),
    #[error("the destination stopped before answering")]
    Stopped,
}

/// What a destination may tell the router.
#[derive(Clone)]
pub struct RouterHandle {
    pub idle: Recipient<DestinationIdle>,
    pub reroute: Recipient<Reroute>,
    pub dead_letter: Recipient<DeadLetter>,
    pub failed: Recipient<DestinationFailed>,
}

impl RouterHandle {
    /// The handle of the router actor at `addr`.
    pub fn of<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<DestinationIdle>
            + Handler<Reroute>
            + Handler<DeadLetter>
            + Handler<DestinationFailed>,
    {
        RouterHandle {
            idle: addr.clone().recipient(),
            reroute: addr.clone().recipient(),
            dead_letter: addr.clone().recipient(),
            failed: addr.clone().recipient(),
        }
    }
}
