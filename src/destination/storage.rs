//! The broker's durable storage as queues see it: the shared journal and what
//! it recovered at start-up, handed to each queue when its actor starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::{Recovered, RecoveredMessage, Store};

/// The journal every queue shares, and the messages it recovered.
pub struct Storage {
    /// The journal.
    pub store: Arc<dyn Store>,
    /// Recovered live messages per queue name, taken by each queue as it starts.
    recovered: Mutex<HashMap<String, Vec<RecoveredMessage>>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("stats", &self.store.stats())
            .finish()
    }
}

impl Storage {
    /// Storage over `store`, holding what `recovered` found until queues claim it.
    pub fn new(store: Arc<dyn Store>, recovered: Recovered) -> Self {
        let recovered = recovered
            .queues
            .into_iter()
            .filter(|q| !q.messages.is_empty())
            .map(|q| (q.name, q.messages))
            .collect();
        Storage {
            store,
            recovered: Mutex::new(recovered),
        }
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
