//! What makes a queue a queue and a topic a topic: the delivery strategy a
//! [`Destination`](super::Destination) actor runs. Plain Rust with no actor
//! in sight: the actor owns the mailbox, the timers, supervision and the
//! replies; the strategy owns the consumers and the waiting messages.

use std::sync::Arc;
use std::time::Instant;

use super::backlog::{Flushed, Pending};
use super::consumer::Consumer;
use super::core::Core;
use crate::messages::connection::Fail;
use crate::messages::destination::{AckError, PrepareRefused};
use crate::model::{ConsumerKey, ConsumerView, Kind, MessageData, ReplayOutcome};

/// A publish the destination would not take; the text is the ERROR's detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The queue is at its bounds under the `reject` policy.
    Full(String),
    /// The message store could not take it.
    Store(String),
}

/// How a destination hands its messages to its consumers.
///
/// Every method that changes what consumers hold also keeps the destination's
/// gauges (`ready`, `unacked`, `consumers`) and the broker's memory budget in
/// step, and may address dead letters through [`Core::dead_letter`].
pub trait Delivery: Sized + Unpin + 'static {
    /// Queue or topic: the `kind` metric label and the router's handle kind.
    const KIND: Kind;

    /// An empty strategy for the destination `core` describes.
    fn new(core: &Core) -> Self;

    /// Takes published messages, contiguously and in order. `from_client` is
    /// false for the broker's own publishes (dead letters), which are never refused.
    fn publish(
        &mut self,
        core: &mut Core,
        messages: Vec<Arc<MessageData>>,
        from_client: bool,
    ) -> Result<(), Refused>;

    /// Whether publishers must stay paused (their permits held) for now.
    fn must_pause(&self, core: &Core) -> bool;

    /// Hands waiting messages to every consumer with room.
    fn dispatch(&mut self, core: &mut Core);

    /// Hands waiting messages out after `key`'s window opened (ACK or NACK).
    fn refill(&mut self, core: &mut Core, key: ConsumerKey);

    /// Whether a consumer called `key` exists.
    fn contains(&self, key: ConsumerKey) -> bool;

    /// Adds a consumer (the caller checked it is new).
    fn subscribe(&mut self, core: &mut Core, consumer: Consumer);

    /// Removes a consumer, if present, and whatever it held.
    fn unsubscribe(&mut self, core: &mut Core, key: ConsumerKey);

    /// Removes consumers whose connection has gone without unsubscribing.
    fn reap(&mut self, core: &mut Core);

    /// `count` of `key`'s oldest auto-mode deliveries were written.
    fn settle(&mut self, core: &mut Core, key: ConsumerKey, count: u32);

    /// Applies an ACK of `message_id` (and earlier ones if `cumulative`).
    fn ack(
        &mut self,
        core: &mut Core,
        key: ConsumerKey,
        message_id: u64,
        cumulative: bool,
    ) -> Result<(), AckError>;

    /// Applies a NACK: the message is redelivered or dead-lettered.
    fn nack(
        &mut self,
        core: &mut Core,
        key: ConsumerKey,
        message_id: u64,
        cumulative: bool,
    ) -> Result<(), AckError>;

    /// The consumer called `key`, if any (for a COMMIT's check phase).
    fn holder(&self, key: ConsumerKey) -> Option<&Consumer>;

    /// Whether `count` more messages of `bytes` body bytes may be published
    /// now without passing the destination's bounds (a COMMIT's check phase).
    /// A topic bounds each subscriber instead, so takes anything.
    fn room(&self, _core: &Core, _count: usize, _bytes: usize) -> Result<(), PrepareRefused> {
        Ok(())
    }

    /// Whether nothing waits and nobody listens (the destination may retire).
    fn is_idle(&self) -> bool;

    /// How often [`Delivery::tick`] is due, if ever. Asked whenever the actor
    /// (re)starts, since a supervisor's restart drops every timer.
    fn tick_every(&self) -> Option<std::time::Duration> {
        None
    }

    /// Periodic work of the strategy's own (a cluster queue's progress acks).
    fn tick(&mut self) {}

    /// When the earliest message held back for a redelivery delay is due:
    /// the actor calls [`Delivery::dispatch`] then.
    fn next_due(&self) -> Option<Instant> {
        None
    }

    /// Hands what the last step changed to durable storage (see
    /// [`Backlog::flush`](super::Backlog::flush)); a topic stores nothing.
    fn flush(&mut self) -> Flushed {
        Flushed::Nothing
    }

    /// What the next `flush` would hand over; a topic stores nothing.
    fn pending(&self) -> Pending {
        Pending::Nothing
    }

    /// Messages waiting (for a topic: parked for slow subscribers).
    fn depth(&self) -> usize;

    /// Messages delivered and not yet settled.
    fn unacknowledged(&self) -> usize;

    /// How many consumers there are, and at most `max` of them.
    fn consumers(&self, max: usize) -> (usize, Vec<ConsumerView>);

    /// Discards every waiting message, not those consumers hold; returns how many.
    fn purge(&mut self, core: &mut Core) -> usize;

    /// The destination is deleted: every consumer's connection is sent
    /// `notice()` and they are dropped with everything they held, then the
    /// waiting messages; returns how many messages were discarded.
    fn evict(&mut self, core: &mut Core, notice: &dyn Fn() -> Fail) -> usize;

    /// Sends up to `limit` waiting messages back to the destination each
    /// names in `x-original-destination` (a dead-letter queue's replay).
    /// A topic keeps nothing to replay.
    fn replay(&mut self, core: &mut Core, limit: usize) -> ReplayOutcome {
        let _ = (core, limit);
        ReplayOutcome::default()
    }

    /// Gives up the waiting messages after a restart storm. Returns false
    /// when it cannot without losing them, and the actor keeps restarting.
    fn quarantine(&mut self, core: &mut Core) -> bool;
}
