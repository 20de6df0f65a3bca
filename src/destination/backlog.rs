//! Where a queue's messages live: the seam a message store plugs into.
//!
//! A queue takes every waiting message from, and puts every accepted or
//! returned message into, a [`Backlog`]. The store also hears when a message is
//! handed to a consumer and when it leaves the queue for good, so a durable
//! store can journal the whole life of a message (accept, deliver, ack,
//! dead-letter) and rebuild the queue after a restart. [`MemoryBacklog`] keeps
//! everything in memory (the queue strategy's unit tests use it).

use std::collections::VecDeque;
use std::sync::Arc;

use thiserror::Error;

use super::core::Core;
use super::lanes::{Lane, Lanes};
use crate::model::{Envelope, MessageData};
use crate::store::{Completion, StoreError};

/// A store could not record a change (for example a journal write failed).
#[derive(Debug, Error)]
pub enum BacklogError {
    /// Reading or writing the store's files failed.
    #[error("message store I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// A remote store (a broker or replicated log) refused or did not answer.
    #[error("message store unavailable: {0}")]
    Unavailable(String),
    /// The journal refused the change (poisoned by an earlier failure, for example).
    #[error("message store failed: {0}")]
    Store(#[from] StoreError),
}

/// What [`Backlog::flush`] did with the changes recorded since the last flush.
#[derive(Debug)]
pub enum Flushed {
    /// Nothing was waiting to be written.
    Nothing,
    /// Submitted as one atomic batch; the completion resolves once it is durable.
    Submitted(Completion),
    /// The journal's submission queue is full: the changes are kept and go
    /// with the next flush; publishers waiting on them stay paused.
    Full,
    /// The journal refused the batch; its changes are not durable.
    Failed(StoreError),
}

/// What a backlog holds for the journal since its last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Nothing.
    Nothing,
    /// Only acknowledgements: nothing a reply or a delivery depends on.
    Acks,
    /// Appends, delivery counts or dead-letter moves.
    Changes,
}

/// Why a message leaves a queue for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// A consumer acknowledged it (or, in `auto` mode, its bytes were written).
    Acked,
    /// It was sent to the dead-letter queue.
    DeadLettered,
    /// The `drop-head` overflow policy discarded it to make room.
    Dropped,
}

/// A queue's messages: the ready ones, in delivery order (by priority, then
/// first in first out), plus hooks for the rest of a message's life.
///
/// The queue calls it synchronously from its actor, so an implementation must
/// not block for long: a durable store appends to a journal here and syncs in
/// batches. `pop_front` cannot fail because a store keeps (or prefetches) the
/// ready messages in memory; only what changes durable state can.
pub trait Backlog {
    /// The backlog of the queue `core` describes, holding whatever a durable
    /// backlog recovered for it.
    fn open(core: &Core) -> Self
    where
        Self: Sized;

    /// Takes a newly published message at the back of its priority. On error
    /// the message is not taken and the queue refuses the publish.
    fn push_back(&mut self, env: Envelope) -> Result<(), BacklogError>;

    /// Puts a returned message (NACK, consumer gone) back at the head of its
    /// priority. Its acceptance is already recorded, so this cannot fail.
    fn push_front(&mut self, env: Envelope);

    /// The oldest ready message of the highest priority waiting, removed
    /// from the ready list.
    fn pop_front(&mut self) -> Option<Envelope>;

    /// How many messages are ready.
    fn len(&self) -> usize;

    /// Body bytes of the ready messages.
    fn bytes(&self) -> usize;

    /// Whether no message is ready.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the publisher of the message just taken must wait (its storage is full).
    fn must_pause(&self) -> bool {
        false
    }

    /// `env` is being handed to a consumer (its delivery count already
    /// raised). An error means the count may be lost on a crash: the message
    /// is then redelivered without the redelivered flag.
    fn delivered(&mut self, env: &Envelope) -> Result<(), BacklogError> {
        let _ = env;
        Ok(())
    }

    /// `env` leaves the queue for good. An error means it may come back after
    /// a restart (at-least-once), never that it is lost.
    fn removed(&mut self, env: &Envelope, why: Removal) -> Result<(), BacklogError> {
        let _ = (env, why);
        Ok(())
    }

    /// `env` leaves for the dead-letter queue `to` as `copy`. A durable
    /// backlog records the removal and the copy's arrival together, so a
    /// crash neither loses nor duplicates the message.
    fn dead_lettered(
        &mut self,
        env: &Envelope,
        to: &str,
        copy: &Arc<MessageData>,
    ) -> Result<(), BacklogError> {
        let _ = (to, copy);
        self.removed(env, Removal::DeadLettered)
    }

    /// Hands the changes recorded since the last call to durable storage,
    /// as one batch. Called after every step of the queue.
    fn flush(&mut self) -> Flushed {
        Flushed::Nothing
    }

    /// What the next [`Backlog::flush`] would hand over.
    fn pending(&self) -> Pending {
        Pending::Nothing
    }
}

/// The in-memory store: a double-ended queue per priority (one until a
/// priority is used) and a byte count. Nothing survives the process.
#[derive(Default)]
pub struct MemoryBacklog {
    ready: Lanes<VecDeque<Envelope>>,
    len: usize,
    bytes: usize,
}

impl Lane for VecDeque<Envelope> {
    fn is_empty(&self) -> bool {
        VecDeque::is_empty(self)
    }
}

impl MemoryBacklog {
    /// Takes `env` at the back of its priority; memory cannot refuse it.
    pub fn append(&mut self, env: Envelope) {
        self.bytes += env.data.size();
        self.len += 1;
        self.ready.lane(env.data.priority).push_back(env);
    }
}

impl Backlog for MemoryBacklog {
    fn open(_: &Core) -> Self {
        MemoryBacklog::default()
    }

    fn push_back(&mut self, env: Envelope) -> Result<(), BacklogError> {
        self.append(env);
        Ok(())
    }

    fn push_front(&mut self, env: Envelope) {
        self.bytes += env.data.size();
        self.len += 1;
        self.ready.lane(env.data.priority).push_front(env);
    }

    fn pop_front(&mut self) -> Option<Envelope> {
        let env = self.ready.head()?.pop_front()?;
        self.bytes = self.bytes.saturating_sub(env.data.size());
        self.len -= 1;
        Some(env)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MessageData;
    use bytes::Bytes;

    fn env(body: &'static str) -> Envelope {
        Envelope::new(MessageData::from_send(
            Vec::new(),
            Bytes::from_static(body.as_bytes()),
        ))
    }

    #[test]
    fn memory_store_keeps_order_and_counts_bytes() {
        let mut s = MemoryBacklog::default();
        assert!(s.is_empty());
        s.push_back(env("bb")).expect("memory never fails");
        s.push_back(env("ccc")).expect("memory never fails");
        s.push_front(env("a"));
        assert_eq!((s.len(), s.bytes()), (3, 6));
        let bodies: Vec<Bytes> = std::iter::from_fn(|| s.pop_front())
            .map(|e| e.data.body.clone())
            .collect();
        assert_eq!(
            bodies,
            ["a", "bb", "ccc"].map(|b| Bytes::from_static(b.as_bytes()))
        );
        assert_eq!((s.len(), s.bytes()), (0, 0));
        assert!(s.pop_front().is_none());
    }

    fn with_priority(body: &'static str, p: &str) -> Envelope {
        Envelope::new(MessageData::from_send(
            vec![("priority".to_string(), p.to_string())],
            Bytes::from_static(body.as_bytes()),
        ))
    }

    #[test]
    fn memory_store_delivers_by_priority_then_in_order() {
        let mut s = MemoryBacklog::default();
        s.push_back(env("a4")).expect("memory never fails");
        s.push_back(with_priority("b0", "0"))
            .expect("memory never fails");
        s.push_back(with_priority("c9", "9"))
            .expect("memory never fails");
        s.push_back(with_priority("d9", "9"))
            .expect("memory never fails");
        s.push_back(env("e4")).expect("memory never fails");
        // A returned message goes to the head of its own priority.
        s.push_front(with_priority("f0", "0"));
        assert_eq!((s.len(), s.bytes()), (6, 12));
        let bodies: Vec<Bytes> = std::iter::from_fn(|| s.pop_front())
            .map(|e| e.data.body.clone())
            .collect();
        assert_eq!(
            bodies,
            ["c9", "d9", "a4", "e4", "f0", "b0"].map(|b| Bytes::from_static(b.as_bytes()))
        );
        assert_eq!((s.len(), s.bytes()), (0, 0));
    }
}
