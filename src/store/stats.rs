//! State the writer thread shares with submitters: counters for [`StoreStats`] and the poison flag.

use std::sync::{
    atomic::{AtomicU64, Ordering::Relaxed},
    Arc, OnceLock,
};

/// A snapshot of the journal's usage and activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Size of all segment files (preallocated, so this is what the disk holds).
    pub bytes_on_disk: u64,
    /// Segment files.
    pub segments: u64,
    /// Messages appended and not yet acknowledged.
    pub live_messages: u64,
    /// Group commits, each one write and one fdatasync.
    pub syncs: u64,
    /// Batches completed as durable.
    pub batches: u64,
    /// Head segments deleted because nothing in them was live.
    pub reclaimed: u64,
    /// Head segments whose live messages were copied forward before deletion.
    pub compactions: u64,
}

/// Counters written by the writer thread, read by anyone.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    poison: OnceLock<Arc<str>>,
    pub bytes_on_disk: AtomicU64,
    pub segments: AtomicU64,
    pub live_messages: AtomicU64,
    pub syncs: AtomicU64,
    pub batches: AtomicU64,
    pub reclaimed: AtomicU64,
    pub compactions: AtomicU64,
}

impl Shared {
    /// Marks the store unusable; the first reason is kept.
    pub fn poison(&self, reason: &str) {
        let _ = self.poison.set(Arc::from(reason));
    }

    /// Why the store is poisoned, if it is.
    pub fn poisoned(&self) -> Option<Arc<str>> {
        self.poison.get().cloned()
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> StoreStats {
        StoreStats {
            bytes_on_disk: self.bytes_on_disk.load(Relaxed),
            segments: self.segments.load(Relaxed),
            live_messages: self.live_messages.load(Relaxed),
            syncs: self.syncs.load(Relaxed),
            batches: self.batches.load(Relaxed),
            reclaimed: self.reclaimed.load(Relaxed),
            compactions: self.compactions.load(Relaxed),
        }
    }
}
