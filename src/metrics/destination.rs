//! Per-destination series with bounded cardinality.
//!
//! A destination actor takes its handles once, at start. At most
//! `max_destinations` destinations admitted by the include/exclude patterns
//! get series of their own; the others share `destination="_other"`. The
//! handles release their slot when the last clone is dropped, i.e. when the
//! actor is gone for good (a supervisor restart keeps the actor value, so it
//! keeps its series), and the series of a destination's last instance are
//! then removed from the registry.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec};

use super::select::Selection;
use super::OTHER;

/// The families labelled by `destination` and `kind`.
pub(super) struct Families {
    pub published: IntCounterVec,
    pub delivered: IntCounterVec,
    pub acked: IntCounterVec,
    pub nacked: IntCounterVec,
    pub redelivered: IntCounterVec,
    pub dead_lettered: IntCounterVec,
    pub dropped: IntCounterVec,
    pub published_bytes: IntCounterVec,
    pub delivered_bytes: IntCounterVec,
    pub ready: IntGaugeVec,
    pub unacked: IntGaugeVec,
    pub consumers: IntGaugeVec,
    pub latency: HistogramVec,
    /// Destinations currently folded into `_other`.
    pub folded: IntGauge,
    /// Live destination actors, by kind.
    pub live: IntGaugeVec,
}

#[derive(Default)]
struct Slots {
    /// Destinations with series of their own, by (name, kind): live instances.
    /// A retired destination may still be stopping when its successor starts.
    own: HashMap<(String, &'static str), usize>,
    folded: usize,
}

/// Hands out and takes back per-destination handles.
pub(super) struct Registry {
    families: Families,
    slots: Mutex<Slots>,
    max: usize,
    selection: Selection,
}

/// Handles for one destination's series (or the shared `_other` series).
/// Cheap to clone; the slot is released when the last clone is dropped.
#[derive(Clone)]
pub struct DestinationMetrics(Arc<Handles>);

/// The counters, gauges and histogram one destination updates.
pub struct Handles {
    pub published: IntCounter,
    pub delivered: IntCounter,
    pub acked: IntCounter,
    pub nacked: IntCounter,
    pub redelivered: IntCounter,
    pub dead_lettered: IntCounter,
    pub dropped: IntCounter,
    pub published_bytes: IntCounter,
    pub delivered_bytes: IntCounter,
    pub ready: IntGauge,
    pub unacked: IntGauge,
    pub consumers: IntGauge,
    pub latency: Histogram,
    /// Whether these are this destination's own series (else `_other`).
    pub own: bool,
    name: String,
    kind: &'static str,
    live: IntGauge,
    registry: Arc<Registry>,
}

impl Deref for DestinationMetrics {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        &self.0
    }
}

impl Registry {
    pub fn new(families: Families, max: usize, selection: Selection) -> Self {
        Registry {
            families,
            slots: Mutex::new(Slots::default()),
            max,
            selection,
        }
    }

    /// Handles for a destination actor starting now.
    pub fn acquire(self: &Arc<Self>, name: &str, kind: &'static str) -> DestinationMetrics {
        // Poisoning cannot leave `Slots` inconsistent: every update below is a single step.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let key = (name.to_string(), kind);
        let own = if let Some(n) = slots.own.get_mut(&key) {
            *n += 1;
            true
        } else if slots.own.len() < self.max && self.selection.admits(name) {
            slots.own.insert(key, 1);
            true
        } else {
            slots.folded += 1;
            self.families.folded.set(slots.folded as i64);
            false
        };
        drop(slots);
        let f = &self.families;
        let live = f.live.with_label_values(&[kind]);
        live.inc();
        let l = [if own { name } else { OTHER }, kind];
        DestinationMetrics(Arc::new(Handles {
            published: f.published.with_label_values(&l),
            delivered: f.delivered.with_label_values(&l),
            acked: f.acked.with_label_values(&l),
            nacked: f.nacked.with_label_values(&l),
            redelivered: f.redelivered.with_label_values(&l),
            dead_lettered: f.dead_lettered.with_label_values(&l),
            dropped: f.dropped.with_label_values(&l),
            published_bytes: f.published_bytes.with_label_values(&l),
            delivered_bytes: f.delivered_bytes.with_label_values(&l),
            ready: f.ready.with_label_values(&l),
            unacked: f.unacked.with_label_values(&l),
            consumers: f.consumers.with_label_values(&l),
            latency: f.latency.with_label_values(&l),
            own,
            name: name.to_string(),
            kind,
            live,
            registry: self.clone(),
        }))
    }

    fn release(&self, name: &str, kind: &'static str, own: bool) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if !own {
            slots.folded = slots.folded.saturating_sub(1);
            self.families.folded.set(slots.folded as i64);
            return;
        }
        let key = (name.to_string(), kind);
        match slots.own.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                return;
            }
            Some(_) => {
                slots.own.remove(&key);
            }
            None => return,
        }
        // Still under the lock, so a successor cannot re-create these series
        // between our decision and the removal.
        let l = [name, kind];
        let f = &self.families;
        for v in [
            &f.published,
            &f.delivered,
            &f.acked,
            &f.nacked,
            &f.redelivered,
            &f.dead_lettered,
            &f.dropped,
            &f.published_bytes,
            &f.delivered_bytes,
        ] {
            let _ = v.remove_label_values(&l);
        }
        for v in [&f.ready, &f.unacked, &f.consumers] {
            let _ = v.remove_label_values(&l);
        }
        let _ = f.latency.remove_label_values(&l);
    }
}

impl Drop for Handles {
    fn drop(&mut self) {
        self.live.dec();
        self.registry.release(&self.name, self.kind, self.own);
    }
}
