//! What a destination actor (queue or topic) handles, and the handle that
//! sessions, transactions and the router hold instead of its address.

use std::sync::Arc;

use actix::prelude::*;
use thiserror::Error;
use tokio::sync::OwnedSemaphorePermit;

use super::connection::{Deliver, Fail, Receipted};
use crate::model::selector::Selector;
use crate::model::{
    AckMode, ConsumerKey, DestinationId, DestinationView, Kind, MessageData, ReplayOutcome,
};
use crate::protocol::ErrorReason;

/// An ACK or NACK that cannot be applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AckError {
    #[error("no unacknowledged message '{0}' on this subscription")]
    Unknown(u64),
    #[error("subscription is not subscribed to this destination")]
    NoSubscription,
}

/// The message store could not make something durable (see `crate::store`).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("message store failed: {0}")]
pub struct StoreFailed(pub String);

/// Publish messages to a destination.
///
/// Sent by: `Session` (and the router, when dead-lettering or rerouting).
/// Send mode: `do_send`; the mailbox cannot grow without bound because every
/// publish carries one of its connection's in-flight permits
/// (`limits.max_inflight_frames`), released when the destination has taken
/// the message — or, while the queue is full under the `block` policy or the
/// memory alarm is raised, held until there is room, which stops the
/// publisher's socket from being read. Several messages in one `Publish` (a
/// COMMIT) enter the destination contiguously.
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
                reason: ErrorReason::Ack,
            }),
        }
    }

    /// The messages were taken but the store could not make them durable:
    /// ERROR (with the receipt id) and close, so nothing is reported durable
    /// that is not.
    pub fn store_failed(self, destination: &str, failed: StoreFailed) {
        self.replies.fail.do_send(Fail {
            message: format!("{failed} ({destination})"),
            detail: "the persistent message may not survive a restart".into(),
            receipt_id: self.receipt,
            reason: ErrorReason::Store,
        });
    }

    /// The destination takes no SEND at all (a wildcard topic): ERROR
    /// (with the receipt id) and close.
    pub fn not_sendable(self, destination: &str) {
        self.replies.fail.do_send(Fail {
            message: format!("cannot SEND to the wildcard destination {destination}"),
            detail: "a destination with a '*', '#' or '>' segment is a subscription pattern; send to a destination it matches".into(),
            receipt_id: self.receipt,
            reason: ErrorReason::Destination,
        });
    }

    /// The messages were refused: ERROR (with the receipt id) and close.
    pub fn rejected(self, destination: &str, why: String) {
        self.replies.fail.do_send(Fail {
            message: format!("message rejected: {destination} is full"),
            detail: why,
            receipt_id: self.receipt,
            reason: ErrorReason::QueueFull,
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
    /// Only messages this selects are delivered to the consumer.
    pub selector: Option<Arc<Selector>>,
    /// An exclusive consumer: on a queue, the first of them gets every
    /// message while the others (exclusive or not) wait. Topics ignore it.
    pub exclusive: bool,
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
/// queue once it has been delivered `max_deliveries` times. Sent by `Session`
/// as [`Ack`] is.
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

/// One staged ACK or NACK, as a COMMIT's check phase asks about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StagedSettle {
    pub how: super::transaction::Settlement,
    pub key: ConsumerKey,
    pub message_id: u64,
    pub cumulative: bool,
}

/// The check phase of a COMMIT (or of staging one ACK/NACK): could this
/// destination take `count` more messages of `bytes` body bytes now, under
/// its limits and overflow policy, and do its consumers hold every message
/// that `settles` name, applied in order? Changes nothing.
///
/// Sent by `Session` with `send`, once per destination a COMMIT touches (and
/// again while a `block` queue is full); the session is blocked meanwhile, so
/// nothing it could do invalidates the answer before it applies the COMMIT.
#[derive(Message)]
#[rtype(result = "Result<Prepared, PrepareRefused>")]
pub struct Prepare {
    pub count: usize,
    pub bytes: usize,
    pub settles: Vec<StagedSettle>,
}

/// A destination's yes to [`Prepare`].
pub struct Prepared {
    /// The destination's name.
    pub name: Arc<str>,
    /// The journaled messages the ACKs would remove: the COMMIT acknowledges
    /// them in its own journal batch, with its persistent SENDs.
    pub journaled_acks: Vec<Arc<MessageData>>,
}

/// Why a destination cannot take its share of a COMMIT.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PrepareRefused {
    /// A staged ACK or NACK names a message its subscription does not hold.
    #[error(transparent)]
    Ack(#[from] AckError),
    /// The messages do not fit (`reject`), or never can (`block`).
    #[error("{0}")]
    Full(String),
    /// A `block` queue is full for now: ask again once consumers made room.
    #[error("queue is full for now")]
    Busy,
}

/// Resolves once every message sent before it has been handled and whatever
/// they journaled is durable (for receipts that must follow earlier
/// fire-and-forget publishes, and COMMIT). Sent by `Session` with `send`,
/// once per receipted frame at most.
#[derive(Message)]
#[rtype(result = "Result<(), StoreFailed>")]
pub struct Sync;

/// The wildcard topics whose patterns match this topic (`/topic/a.*` for
/// `/topic/a.b`): the topic hands each a copy of every message it takes, so a
/// message is matched against the patterns once per topic, not once per
/// publish. Sent by the router with `do_send` whenever the set changes (a
/// wildcard topic created or retired), replacing the previous set.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetForwards {
    pub to: Vec<Forward>,
}

/// Where a topic hands a copy of what it takes: a wildcard topic matching it,
/// or the queue of a durable subscription whose topic (or pattern) matches
/// it, which takes only what its selector selects.
#[derive(Clone)]
pub struct Forward {
    pub to: DestinationRef,
    pub selector: Option<Arc<Selector>>,
}

impl Forward {
    /// A forward taking everything (a wildcard topic).
    pub fn all(to: DestinationRef) -> Self {
        Forward { to, selector: None }
    }

    /// Whether `data` goes this way.
    pub fn accepts(&self, data: &MessageData) -> bool {
        self.selector
            .as_ref()
            .is_none_or(|s| s.matches(&data.headers))
    }
}

/// Messages a topic took, handed on to a wildcard topic whose pattern matches
/// it. Sent by topics with `do_send`, in the order they took them; bounded
/// because every copy shares the publisher's in-flight permit (`_permit`),
/// released once the last wildcard topic has taken its copy.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Forwarded {
    pub messages: Vec<Arc<MessageData>>,
    pub _permit: Option<Arc<OwnedSemaphorePermit>>,
}

/// Deletes the destination: what waits in it is dropped (counted) and it
/// retires at once. Sent by the router with `do_send` when a temporary
/// queue's connection ends (once per queue).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Delete;

/// Stop if still idle. Sent by the router with `send`, at most once per idle
/// report. The reply says whether it retired; a retired destination forwards
/// anything it still receives to the router.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Retire;

/// Describes the destination for an operator, listing at most `consumers`
/// of its consumers. Sent by the admin API with `send`, one per destination
/// shown (the API caps how many it shows per request).
#[derive(Message)]
#[rtype(result = "DestinationView")]
pub struct Inspect {
    pub consumers: usize,
}

/// Discards every waiting message (not those consumers hold unacknowledged);
/// the reply, once the removals are durable, says how many. Sent by the
/// admin API with `send`, one per request.
#[derive(Message)]
#[rtype(result = "Result<usize, StoreFailed>")]
pub struct Purge;

/// Moves up to `limit` waiting messages of a dead-letter queue back to the
/// destination each names in `x-original-destination`; the reply comes once
/// the moves are durable. Sent by the admin API with `send`, one per request.
#[derive(Message)]
#[rtype(result = "Result<ReplayOutcome, StoreFailed>")]
pub struct Replay {
    pub limit: usize,
}

/// The destination is deleted: its waiting and unacknowledged messages are
/// discarded, each consumer's connection gets ERROR `reason` and is closed,
/// and the actor retires (what is still sent to it goes to a fresh actor of
/// the same name). The reply, once the removals are durable, says how many
/// messages were discarded. Sent by the router with `send`, one per admin request.
#[derive(Message)]
#[rtype(result = "Result<usize, StoreFailed>")]
pub struct Remove {
    pub reason: String,
}

/// A handle on one destination actor, of either kind: a recipient per
/// message it handles. Cloning it is one atomic increment.
#[derive(Clone)]
pub struct DestinationRef(Arc<Recipients>);

struct Recipients {
    id: DestinationId,
    kind: Kind,
    publish: Recipient<Publish>,
    subscribe: Recipient<Subscribe>,
    unsubscribe: Recipient<Unsubscribe>,
    settle: Recipient<Settle>,
    ack: Recipient<Ack>,
    nack: Recipient<Nack>,
    sync: Recipient<Sync>,
    prepare: Recipient<Prepare>,
    retire: Recipient<Retire>,
    set_forwards: Recipient<SetForwards>,
    forwarded: Recipient<Forwarded>,
    delete: Recipient<Delete>,
    inspect: Recipient<Inspect>,
    purge: Recipient<Purge>,
    replay: Recipient<Replay>,
    remove: Recipient<Remove>,
    #[cfg(feature = "fault-injection")]
    crash: Recipient<crate::fault::Crash>,
}

/// The messages every destination actor handles.
pub trait DestinationActor:
    Actor<Context = Context<Self>>
    + Handler<Publish>
    + Handler<Subscribe>
    + Handler<Unsubscribe>
    + Handler<Settle>
    + Handler<Ack>
    + Handler<Nack>
    + Handler<Sync>
    + Handler<Prepare>
    + Handler<Retire>
    + Handler<SetForwards>
    + Handler<Forwarded>
    + Handler<Delete>
    + Handler<Inspect>
    + Handler<Purge>
    + Handler<Replay>
    + Handler<Remove>
    + FaultHooks
{
}

impl<A> DestinationActor for A where
    A: Actor<Context = Context<A>>
        + Handler<Publish>
        + Handler<Subscribe>
        + Handler<Unsubscribe>
        + Handler<Settle>
        + Handler<Ack>
        + Handler<Nack>
        + Handler<Sync>
        + Handler<Prepare>
        + Handler<Retire>
        + Handler<SetForwards>
        + Handler<Forwarded>
        + Handler<Delete>
        + Handler<Inspect>
        + Handler<Purge>
        + Handler<Replay>
        + Handler<Remove>
        + FaultHooks
{
}

/// The fault hook a destination handles in test builds; nothing otherwise.
#[cfg(feature = "fault-injection")]
pub trait FaultHooks: Handler<crate::fault::Crash> {}

#[cfg(feature = "fault-injection")]
impl<A: Handler<crate::fault::Crash>> FaultHooks for A {}

/// The fault hook a destination handles in test builds; nothing otherwise.
#[cfg(not(feature = "fault-injection"))]
pub trait FaultHooks {}

#[cfg(not(feature = "fault-injection"))]
impl<A> FaultHooks for A {}

impl DestinationRef {
    /// The handle of the destination actor at `addr`, known as `id`.
    pub fn of<A: DestinationActor>(addr: &Addr<A>, kind: Kind, id: DestinationId) -> Self {
        DestinationRef(Arc::new(Recipients {
            id,
            kind,
            publish: addr.clone().recipient(),
            subscribe: addr.clone().recipient(),
            unsubscribe: addr.clone().recipient(),
            settle: addr.clone().recipient(),
            ack: addr.clone().recipient(),
            nack: addr.clone().recipient(),
            sync: addr.clone().recipient(),
            prepare: addr.clone().recipient(),
            retire: addr.clone().recipient(),
            set_forwards: addr.clone().recipient(),
            forwarded: addr.clone().recipient(),
            delete: addr.clone().recipient(),
            inspect: addr.clone().recipient(),
            purge: addr.clone().recipient(),
            replay: addr.clone().recipient(),
            remove: addr.clone().recipient(),
            #[cfg(feature = "fault-injection")]
            crash: addr.clone().recipient(),
        }))
    }

    /// Whether both handles name the same actor.
    pub fn same(&self, other: &DestinationRef) -> bool {
        self.0.id == other.0.id
    }

    /// The destination actor's identity.
    pub fn id(&self) -> DestinationId {
        self.0.id
    }

    /// Queue or topic.
    pub fn kind(&self) -> Kind {
        self.0.kind
    }

    /// See [`Publish`].
    pub fn publish(&self, msg: Publish) {
        self.0.publish.do_send(msg)
    }

    /// See [`SetForwards`].
    pub fn set_forwards(&self, to: Vec<Forward>) {
        self.0.set_forwards.do_send(SetForwards { to })
    }

    /// See [`Delete`].
    pub fn delete(&self) {
        self.0.delete.do_send(Delete)
    }

    /// See [`Forwarded`].
    pub fn forward(&self, msg: Forwarded) {
        self.0.forwarded.do_send(msg)
    }

    /// See [`Ack`] (the `do_send` form, with an origin).
    pub fn ack(&self, msg: Ack) {
        self.0.ack.do_send(msg)
    }

    /// See [`Nack`] (the `do_send` form, with an origin).
    pub fn nack(&self, msg: Nack) {
        self.0.nack.do_send(msg)
    }

    /// See [`Ack`] (the `send` form): waits for the outcome.
    pub async fn request_ack(&self, msg: Ack) -> Result<Result<(), AckError>, MailboxError> {
        self.0.ack.send(msg).await
    }

    /// See [`Nack`] (the `send` form): waits for the outcome.
    pub async fn request_nack(&self, msg: Nack) -> Result<Result<(), AckError>, MailboxError> {
        self.0.nack.send(msg).await
    }

    /// See [`Subscribe`].
    pub async fn subscribe(
        &self,
        msg: Subscribe,
    ) -> Result<Result<(), SubscribeError>, MailboxError> {
        self.0.subscribe.send(msg).await
    }

    /// See [`Unsubscribe`]: waits until the consumer is gone.
    pub async fn unsubscribe(&self, msg: Unsubscribe) -> Result<(), MailboxError> {
        self.0.unsubscribe.send(msg).await
    }

    /// See [`Unsubscribe`], without waiting (a session that is stopping).
    pub fn unsubscribe_now(&self, msg: Unsubscribe) {
        self.0.unsubscribe.do_send(msg)
    }

    /// See [`Sync`].
    pub async fn sync(&self) -> Result<Result<(), StoreFailed>, MailboxError> {
        self.0.sync.send(Sync).await
    }

    /// See [`Prepare`].
    pub async fn prepare(
        &self,
        msg: Prepare,
    ) -> Result<Result<Prepared, PrepareRefused>, MailboxError> {
        self.0.prepare.send(msg).await
    }

    /// See [`Retire`].
    pub async fn retire(&self) -> Result<bool, MailboxError> {
        self.0.retire.send(Retire).await
    }

    /// See [`Inspect`].
    pub async fn inspect(&self, consumers: usize) -> Result<DestinationView, MailboxError> {
        self.0.inspect.send(Inspect { consumers }).await
    }

    /// See [`Purge`].
    pub async fn purge(&self) -> Result<Result<usize, StoreFailed>, MailboxError> {
        self.0.purge.send(Purge).await
    }

    /// See [`Replay`].
    pub async fn replay(
        &self,
        limit: usize,
    ) -> Result<Result<ReplayOutcome, StoreFailed>, MailboxError> {
        self.0.replay.send(Replay { limit }).await
    }

    /// See [`Remove`].
    pub async fn remove(&self, reason: String) -> Result<Result<usize, StoreFailed>, MailboxError> {
        self.0.remove.send(Remove { reason }).await
    }

    /// A recipient for [`Settle`], for the connection's writer.
    pub fn settle_recipient(&self) -> Recipient<Settle> {
        self.0.settle.clone()
    }

    /// Makes the destination panic in a handler (fault-injection tests only).
    #[cfg(feature = "fault-injection")]
    pub fn crash(&self) {
        self.0.crash.do_send(crate::fault::Crash)
    }
}
