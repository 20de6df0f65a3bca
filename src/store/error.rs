//! The store's error type: one enum, cloneable so that one I/O failure can be reported to every
//! submitter waiting on the same group commit.

use std::{io, path::PathBuf, sync::Arc};

/// Everything that can go wrong in the store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Cluster mode: the NATS JetStream cluster did not confirm the operation (unreachable,
    /// no quorum, or it refused it).
    #[error("cluster message store (NATS JetStream): {0}")]
    Remote(String),
    /// A read, write, sync or file operation failed. The store is poisoned afterwards if it was a
    /// write or a sync: the bytes may or may not be on disk, so nothing more is reported durable.
    #[error("journal I/O error while {doing} {}: {source}", path.display())]
    Io {
        /// What the store was doing ("writing", "syncing", ...).
        doing: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
    /// An earlier write or sync failed; the store accepts no more writes until it is reopened.
    #[error("journal is poisoned by an earlier error and refuses writes (restart after fixing the disk): {0}")]
    Poisoned(Arc<str>),
    /// The submission queue holds its configured number of batches; the caller should pause its
    /// producers and retry when a completion arrives.
    #[error("journal submission queue is full ({depth} batches waiting)")]
    Full {
        /// The configured `queue_depth`.
        depth: usize,
    },
    /// A batch whose record cannot fit in one segment.
    #[error("batch of {bytes} bytes cannot fit in a journal segment of {segment_bytes} bytes")]
    TooLarge {
        /// Encoded size of the batch.
        bytes: u64,
        /// The configured segment size.
        segment_bytes: u64,
    },
    /// A record that fails its CRC or cannot be decoded, anywhere but the torn tail of the last
    /// segment. Salvage: copy the journal away, then move the named segment and all later ones
    /// out of the journal directory; the broker then starts with what precedes the corruption.
    #[error("journal corrupt in {} at offset {offset}: {reason} (salvage: see docs/storage.md)", path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad record in that file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A batch names a queue that was never declared.
    #[error("queue {0:?} was never declared")]
    UnknownQueue(super::QueueId),
    /// Another open store (in this or another process) holds the journal's lock file.
    #[error("journal is in use by another process (lock {} is held)", .0.display())]
    Locked(PathBuf),
    /// `recover` hands the recovered messages over once; a second call gets this.
    #[error("recover() was already called on this store")]
    AlreadyRecovered,
    /// A configuration value out of range.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// A message asked for by [`Store::read`](super::Store::read) is not live in the journal.
    #[error("message {id} of queue {queue:?} is not in the journal")]
    NotFound {
        /// The queue.
        queue: super::QueueId,
        /// The message.
        id: super::MessageId,
    },
    /// The writer thread has stopped (the store is being dropped).
    #[error("journal writer has stopped")]
    Closed,
}

impl StoreError {
    /// Wraps an [`io::Error`] with what was being done to which path.
    pub(crate) fn io(doing: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            doing,
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
