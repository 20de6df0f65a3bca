//! The disk alarm: while the journal's segment files reach `storage.max_bytes`, or the
//! filesystem holding them has less than `storage.min_free_bytes` free, queues pause the
//! publishers of persistent messages exactly as the memory alarm pauses publishers (their
//! in-flight permits are held, so their sockets stop being read). A watcher thread checks every
//! [`PERIOD`]: free space needs a `statvfs` call, too dear for every publish, and the journal's
//! size changes only when a segment is created or reclaimed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::store::Store;

/// How often the watcher looks at the journal's size and the free disk space.
pub const PERIOD: Duration = Duration::from_millis(100);

/// The bounds on disk the alarm enforces.
#[derive(Debug, Clone)]
pub struct DiskLimits {
    /// The directory whose filesystem's free space counts (`storage.dir`).
    pub dir: PathBuf,
    /// Most bytes of segment files; 0 for no limit.
    pub max_bytes: u64,
    /// Free bytes to keep on the filesystem; 0 for no limit.
    pub min_free_bytes: u64,
}

/// Whether persistent publishers must wait for disk space, with its 0/1 gauge.
#[derive(Debug, Default)]
pub struct DiskAlarm {
    on: AtomicBool,
    gauge: Option<prometheus::IntGauge>,
}

impl DiskAlarm {
    /// An alarm, off, mirrored in `gauge` (`stompede_storage_disk_alarm`).
    pub fn new(gauge: Option<prometheus::IntGauge>) -> Self {
        DiskAlarm {
            on: AtomicBool::new(false),
            gauge,
        }
    }

    /// Whether the alarm is on.
    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// Checks `store`'s size and the free space against `limits`, switching the alarm (with a
    /// log line) when the answer changes.
    pub fn check(&self, limits: &DiskLimits, store: &dyn Store) {
        let used = store.stats().bytes_on_disk;
        let free = free_bytes(&limits.dir);
        let reason = if limits.max_bytes > 0 && used >= limits.max_bytes {
            Some(format!(
                "journal segment files take {used} bytes, storage.max_bytes is {}",
                limits.max_bytes
            ))
        } else {
            match free {
                Some(free) if free < limits.min_free_bytes => Some(format!(
                    "{free} bytes free on the disk of {}, storage.min_free_bytes is {}",
                    limits.dir.display(),
                    limits.min_free_bytes
                )),
                _ => None,
            }
        };
        let on = reason.is_some();
        if self.on.swap(on, Relaxed) == on {
            return;
        }
        if let Some(g) = &self.gauge {
            g.set(i64::from(on));
        }
        match reason {
            Some(why) => tracing::warn!(
                reason = %why,
                "disk alarm: pausing publishers of persistent messages"
            ),
            None => tracing::info!(
                used,
                free = free.unwrap_or(0),
                "disk alarm cleared; publishers of persistent messages resume"
            ),
        }
    }

    /// Checks now, then every [`PERIOD`] on a thread of its own, for as long as the store lives.
    pub fn watch(self: &Arc<Self>, limits: DiskLimits, store: Weak<dyn Store>) {
        if let Some(s) = store.upgrade() {
            self.check(&limits, s.as_ref());
        }
        let alarm = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("disk-alarm".into())
            .spawn(move || loop {
                std::thread::sleep(PERIOD);
                let (Some(alarm), Some(store)) = (alarm.upgrade(), store.upgrade()) else {
                    return;
                };
                alarm.check(&limits, store.as_ref());
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "disk alarm watcher could not start; disk bounds are not enforced");
        }
    }
}

/// Bytes available to the broker on the filesystem holding `dir`, if it can be asked.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    match rustix::fs::statvfs(dir) {
        Ok(s) => Some(s.f_bavail.saturating_mul(s.f_frsize)),
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "statvfs failed");
            None
        }
    }
}
