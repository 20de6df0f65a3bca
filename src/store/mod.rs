//! Durable storage for persistent queue messages, behind the small [`Store`] trait so that a
//! clustered backend can implement it later. [`Journal`] is the local implementation: one
//! append-only journal shared by every queue, a writer thread doing group commit (one fdatasync
//! for every batch that arrived while the previous one ran), preallocated segment files, records
//! with length and CRC32C, reclaim and compaction from the head. Design and figures:
//! docs/storage.md.
//!
//! Only persistent messages reach the store; the caller keeps non-persistent ones in memory.

#![warn(missing_docs)]

mod batch;
mod compaction;
mod config;
mod error;
#[cfg(feature = "fault-injection")]
pub mod faults;
mod index;
mod journal;
mod reader;
mod record;
mod recovery;
mod segment;
mod stats;
mod writer;

#[cfg(test)]
mod tests;

use std::{
    future::Future,
    path::PathBuf,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use tokio::sync::oneshot;

pub use batch::{Batch, MessageId, QueueId};
pub use config::StoreConfig;
pub use error::StoreError;
pub use journal::Journal;
pub use stats::{HistogramStats, StoreStats, FSYNC_SECONDS, GROUP_BATCHES, GROUP_BYTES};

/// A durable message store: queues declare themselves, then submit atomic batches of appends,
/// acks and delivery counts; at start-up `recover` gives back what was not acknowledged.
pub trait Store: Send + Sync {
    /// The id of queue `name`, declaring it durably (ahead of any later batch) if it is new.
    fn declare_queue(&self, name: &str) -> Result<QueueId, StoreError>;

    /// Queues `batch` for writing and returns at once. The [`Completion`] resolves `Ok` only once
    /// every operation of the batch is written and fdatasync'd; a crash before that loses the
    /// whole batch, never part of it. Never blocks: when the submission queue is full this
    /// returns [`StoreError::Full`] and the caller pauses its producers.
    fn submit(&self, batch: Batch) -> Result<Completion, StoreError>;

    /// The state found on disk when the store was opened: every declared queue with its live
    /// messages in original order. Handed over once; later calls get
    /// [`StoreError::AlreadyRecovered`].
    fn recover(&self) -> Result<Recovered, StoreError>;

    /// Current usage and activity counters.
    fn stats(&self) -> StoreStats;

    /// Reads live message `id` of `queue` back from disk, wherever compaction has moved it, so
    /// that a queue deeper than memory keeps only its head in memory. Blocks for one `pread`
    /// (a page-cache hit for recently written messages). A store that keeps nothing on disk
    /// has nothing to read back.
    fn read(&self, queue: QueueId, id: MessageId) -> Result<StoredMessage, StoreError> {
        Err(StoreError::NotFound { queue, id })
    }

    /// Whether message `id` of `queue` is written to the store's files, so that a caller may
    /// drop its own copy and [`read`](Store::read) it back later.
    fn is_written(&self, queue: QueueId, id: MessageId) -> bool {
        let _ = (queue, id);
        false
    }
}

/// Resolves when a submitted batch is durable, or with the error that stopped it.
#[must_use = "dropping a Completion does not cancel the batch, but loses its outcome"]
#[derive(Debug)]
pub struct Completion {
    rx: oneshot::Receiver<Result<(), StoreError>>,
}

impl Completion {
    /// A completion resolved by whoever holds the sender: for a store elsewhere (cluster
    /// mode's JetStream), whose confirmations arrive as messages rather than from a writer
    /// thread. A dropped sender resolves it with [`StoreError::Closed`].
    pub fn pending() -> (oneshot::Sender<Result<(), StoreError>>, Completion) {
        let (tx, rx) = oneshot::channel();
        (tx, Completion { rx })
    }

    /// Blocks the calling thread until the outcome is known. Not for use inside an async
    /// runtime (await the completion there instead).
    pub fn wait(self) -> Result<(), StoreError> {
        self.rx.blocking_recv().unwrap_or(Err(StoreError::Closed))
    }
}

impl Future for Completion {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(StoreError::Closed)))
    }
}

/// What recovery found: every declared queue, and whether a torn tail was cut off.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Declared queues in id order, each with its live messages.
    pub queues: Vec<RecoveredQueue>,
    /// The unacknowledged (never synced) bytes dropped from the end of the last segment.
    pub torn_tail: Option<TornTail>,
}

/// One queue as recovered.
#[derive(Debug)]
pub struct RecoveredQueue {
    /// Its id in this store.
    pub id: QueueId,
    /// Its name as declared.
    pub name: String,
    /// Messages not yet acknowledged, in the order they were appended.
    pub messages: Vec<RecoveredMessage>,
}

/// One live message as recovered.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveredMessage {
    /// The id the caller gave it.
    pub id: MessageId,
    /// Last recorded delivery count; above 0 means the message goes out with `redelivered:true`.
    pub deliveries: u32,
    /// The headers as the caller encoded them (empty when `paged`).
    pub headers: Bytes,
    /// The body (empty when `paged`).
    pub body: Bytes,
    /// Recovered without headers and body, which were beyond
    /// [`StoreConfig::recover_resident_bytes`]: read them with [`Store::read`].
    pub paged: bool,
    /// Bytes of the body, read or not.
    pub size: u32,
    /// What [`StoreConfig::classify`] said of its headers when it was appended.
    pub class: u8,
}

/// A live message read back from the store by [`Store::read`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Last recorded delivery count.
    pub deliveries: u32,
    /// The headers as the caller encoded them.
    pub headers: Bytes,
    /// The body.
    pub body: Bytes,
}

/// A torn record cut off the end of the journal at start-up.
#[derive(Debug, Clone)]
pub struct TornTail {
    /// The segment file.
    pub segment: PathBuf,
    /// Where the torn record began.
    pub offset: u64,
    /// Bytes overwritten with zeros from there to the end of the segment.
    pub bytes: u64,
    /// What was wrong with the record.
    pub reason: String,
}
