//! Configuration of the journal. Not yet wired into `settings.rs`; the defaults below are the
//! documented ones (docs/storage.md).

use std::path::PathBuf;

use serde::Deserialize;

use super::StoreError;

/// Journal settings, deserialisable from a `[storage]` table; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    /// Directory holding the `journal/` subdirectory. Default `data`.
    pub dir: PathBuf,
    /// Size of each preallocated segment file. Default 64 MiB; a batch must fit in one segment.
    pub segment_bytes: u64,
    /// Most bytes the writer gathers into one write + fdatasync. Default 1 MiB. A single larger
    /// batch is still written, alone.
    pub max_batch_bytes: usize,
    /// Batches that may wait for the writer; `submit` returns `StoreError::Full` beyond. Default 4096.
    pub queue_depth: usize,
    /// Compact the head segment when its live bytes are below this fraction of its used bytes.
    /// Default 0.3 (Artemis' `journal-compact-percentage`). 0 disables compaction.
    pub compaction_threshold: f64,
    /// Most header and body bytes `recover` hands over in memory; live messages beyond are
    /// recovered as `paged`, to be read back with `Store::read`. Default: no limit.
    pub recover_resident_bytes: u64,
    /// `false` skips every fdatasync: for tests and benchmarks only, nothing is durable then.
    /// Default true.
    pub fsync: bool,
    /// Classes a message by its encoded headers at recovery ([`RecoveredMessage::class`]), so
    /// that one recovered `paged`, without its headers, can still be placed by the caller (the
    /// broker classes by priority). The journal keeps a class only where it is not 0, so the
    /// default (every message 0) costs nothing.
    ///
    /// [`RecoveredMessage::class`]: super::RecoveredMessage::class
    #[serde(skip, default = "default_classify")]
    pub classify: fn(&[u8]) -> u8,
}

/// The default classifier: every message in class 0.
fn no_class(_: &[u8]) -> u8 {
    0
}

fn default_classify() -> fn(&[u8]) -> u8 {
    no_class
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: PathBuf::from("data"),
            segment_bytes: 64 * 1024 * 1024,
            max_batch_bytes: 1024 * 1024,
            queue_depth: 4096,
            compaction_threshold: 0.3,
            recover_resident_bytes: u64::MAX,
            fsync: true,
            classify: no_class,
        }
    }
}

impl StoreConfig {
    /// A default configuration rooted at `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            dir: dir.into(),
            ..StoreConfig::default()
        }
    }

    /// Where the segment files live.
    pub fn journal_dir(&self) -> PathBuf {
        self.dir.join("journal")
    }

    /// Rejects values the journal cannot work with.
    pub fn validate(&self) -> Result<(), StoreError> {
        const MIN_SEGMENT: u64 = 4096;
        if self.segment_bytes < MIN_SEGMENT || self.segment_bytes > u64::from(u32::MAX) {
            return Err(StoreError::Config(format!(
                "segment_bytes {} is outside {MIN_SEGMENT}..=4 GiB",
                self.segment_bytes
            )));
        }
        if self.queue_depth == 0 {
            return Err(StoreError::Config("queue_depth must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.compaction_threshold) {
            return Err(StoreError::Config(format!(
                "compaction_threshold {} is outside 0..=1",
                self.compaction_threshold
            )));
        }
        Ok(())
    }
}
