//! State the writer thread shares with submitters: counters and histograms for [`StoreStats`],
//! and the poison flag. Plain atomics: the store knows nothing of any metrics library.

use std::sync::{
    atomic::{AtomicU64, Ordering::Relaxed},
    Arc, OnceLock,
};

/// Upper bounds (seconds) of the fdatasync latency buckets: 50 µs to 2.5 s.
pub const FSYNC_SECONDS: [f64; BUCKETS] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 2.5,
];

/// Upper bounds of the batches-per-group-commit buckets.
pub const GROUP_BATCHES: [f64; BUCKETS] = [
    1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 128.0, 256.0, 1024.0,
];

/// Upper bounds of the bytes-per-group-commit buckets: 256 B to 4 MiB.
pub const GROUP_BYTES: [f64; BUCKETS] = [
    256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0, 131072.0, 262144.0,
    524288.0, 1048576.0, 4194304.0,
];

/// Buckets of every store histogram (the `+Inf` one is implied by `count`).
pub const BUCKETS: usize = 14;

/// A histogram snapshot: per-bucket (not cumulative) counts for the bounds it was taken with,
/// the number of observations and their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HistogramStats {
    /// Observations at or below each bound and above the previous one.
    pub buckets: [u64; BUCKETS],
    /// All observations, those above the last bound included.
    pub count: u64,
    /// Sum of all observations.
    pub sum: f64,
}

/// A snapshot of the journal's usage and activity.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
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
    /// Seconds each fdatasync of a group commit took ([`FSYNC_SECONDS`]), failed ones included.
    pub fsync_seconds: HistogramStats,
    /// Batches in each group commit ([`GROUP_BATCHES`]).
    pub group_batches: HistogramStats,
    /// Bytes written by each group commit ([`GROUP_BYTES`]).
    pub group_bytes: HistogramStats,
    /// How long opening the journal took: replay of every segment, until it could serve.
    pub recovery_seconds: f64,
    /// Live messages found by that replay.
    pub recovered_messages: u64,
}

/// A histogram the writer thread observes into and scrapes read, lock-free.
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [f64; BUCKETS],
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    /// The sum, as f64 bits (only the writer thread adds).
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64; BUCKETS]) -> Self {
        Histogram {
            bounds,
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records one observation. Called from one thread only (the writer), so the read-modify-write
    /// of the sum cannot lose an update.
    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        let sum = f64::from_bits(self.sum.load(Relaxed)) + v;
        self.sum.store(sum.to_bits(), Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    fn snapshot(&self) -> HistogramStats {
        let mut buckets = [0; BUCKETS];
        for (b, a) in buckets.iter_mut().zip(&self.buckets) {
            *b = a.load(Relaxed);
        }
        HistogramStats {
            buckets,
            count: self.count.load(Relaxed),
            sum: f64::from_bits(self.sum.load(Relaxed)),
        }
    }
}

/// Counters written by the writer thread, read by anyone.
#[derive(Debug)]
pub(crate) struct Shared {
    poison: OnceLock<Arc<str>>,
    pub bytes_on_disk: AtomicU64,
    pub segments: AtomicU64,
    pub live_messages: AtomicU64,
    pub syncs: AtomicU64,
    pub batches: AtomicU64,
    pub reclaimed: AtomicU64,
    pub compactions: AtomicU64,
    pub fsync_seconds: Histogram,
    pub group_batches: Histogram,
    pub group_bytes: Histogram,
    /// Recovery time in seconds, as f64 bits; set once at open.
    pub recovery_seconds: AtomicU64,
    pub recovered_messages: AtomicU64,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            poison: OnceLock::new(),
            bytes_on_disk: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            live_messages: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            reclaimed: AtomicU64::new(0),
            compactions: AtomicU64::new(0),
            fsync_seconds: Histogram::new(&FSYNC_SECONDS),
            group_batches: Histogram::new(&GROUP_BATCHES),
            group_bytes: Histogram::new(&GROUP_BYTES),
            recovery_seconds: AtomicU64::new(0f64.to_bits()),
            recovered_messages: AtomicU64::new(0),
        }
    }
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
            fsync_seconds: self.fsync_seconds.snapshot(),
            group_batches: self.group_batches.snapshot(),
            group_bytes: self.group_bytes.snapshot(),
            recovery_seconds: f64::from_bits(self.recovery_seconds.load(Relaxed)),
            recovered_messages: self.recovered_messages.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_the_sum() {
        let h = Histogram::new(&GROUP_BATCHES);
        for v in [1.0, 1.0, 5.0, 5000.0] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.sum, 5007.0);
        assert_eq!(s.buckets[0], 2, "two at or below 1");
        assert_eq!(s.buckets[4], 1, "5 goes to the bucket up to 6");
        assert_eq!(s.buckets.iter().sum::<u64>(), 3, "5000 only in +Inf");
    }
}
