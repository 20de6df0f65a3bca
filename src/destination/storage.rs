//! The broker's durable storage as queues see it: the shared journal, what
//! it recovered at start-up (handed to each queue when its actor starts), the
//! memory each queue may keep of it, and the disk alarm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::disk_alarm::{DiskAlarm, DiskLimits};
use crate::store::{Recovered, RecoveredMessage, Store};

/// The journal every queue shares, and the messages it recovered.
pub struct Storage {
    /// The journal.
    pub store: Arc<dyn Store>,
    /// Recovered live messages per queue name, taken by each queue as it starts.
    recovered: Mutex<HashMap<String, Vec<RecoveredMessage>>>,
    /// Body bytes of persistent messages each queue keeps in memory (`storage.queue_resident_bytes`).
    pub queue_resident_bytes: usize,
    disk: Arc<DiskAlarm>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("stats", &self.store.stats())
            .finish()
    }
}

impl Storage {
    /// Storage over `store`, holding what `recovered` found until queues claim it; queues keep
    /// in memory at most `queue_resident_bytes` of persistent bodies each. No disk alarm.
    pub fn new(store: Arc<dyn Store>, recovered: Recovered, queue_resident_bytes: usize) -> Self {
        let recovered = recovered
            .queues
            .into_iter()
            .filter(|q| !q.messages.is_empty())
            .map(|q| (q.name, q.messages))
            .collect();
        Storage {
            store,
            recovered: Mutex::new(recovered),
            queue_resident_bytes,
            disk: Arc::new(DiskAlarm::default()),
        }
    }

    /// The same storage, with a disk alarm enforcing `limits` (mirrored in `gauge`),
    /// checked now and then periodically.
    pub fn with_disk_alarm(mut self, limits: DiskLimits, gauge: prometheus::IntGauge) -> Self {
        let alarm = Arc::new(DiskAlarm::new(Some(gauge)));
        alarm.watch(limits, Arc::downgrade(&self.store));
        self.disk = alarm;
        self
    }

    /// Whether the disk alarm is on: persistent publishers wait.
    pub fn disk_alarm(&self) -> bool {
        self.disk.is_on()
    }

    /// Names of the queues with recovered messages not yet claimed.
    pub fn recovered_queues(&self) -> Vec<String> {
        match self.recovered.lock() {
            Ok(map) => map.keys().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().keys().cloned().collect(),
        }
    }

    /// The recovered messages of queue `name`, in order; empty after the first call.
    pub fn take_recovered(&self, name: &str) -> Vec<RecoveredMessage> {
        let mut map = match self.recovered.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.remove(name).unwrap_or_default()
    }
}
