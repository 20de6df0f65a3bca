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
    pub expired: IntCounterVec,
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

impl Families {
    /// Makes the shared `destination="_other"` series of `kind` exist at 0,
    /// so that a fresh broker's scrape has every per-destination family
    /// (dashboards summing them show 0, not "no data"). They are never
    /// removed, so they stay consistent with the folding below.
    pub fn create_other(&self, kind: &str) {
        let l = [OTHER, kind];
        for v in [
            &self.published,
            &self.delivered,
            &self.acked,
            &self.nacked,
            &self.redelivered,
            &self.dead_lettered,
            &self.dropped,
            &self.expired,
            &self.published_bytes,
            &self.delivered_bytes,
        ] {
            v.with_label_values(&l);
        }
        for v in [&self.ready, &self.unacked, &self.consumers] {
            v.with_label_values(&l);
        }
        self.latency.with_label_values(&l);
    }
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
    /// `metrics.enabled`: when false, destinations count nothing.
    enabled: bool,
}

/// A counter that does nothing when per-message metrics are off
/// (`metrics.enabled = false`, for measuring what counting costs).
#[derive(Clone)]
pub struct Counter(pub(crate) Option<IntCounter>);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        if let Some(c) = &self.0 {
            c.inc();
        }
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        if let Some(c) = &self.0 {
            c.inc_by(n);
        }
    }

    /// The count so far (0 when metrics are off), for tests of the strategies.
    #[cfg(test)]
    pub fn get(&self) -> u64 {
        self.0.as_ref().map_or(0, IntCounter::get)
    }
}

/// A gauge that does nothing when per-message metrics are off.
#[derive(Clone)]
pub struct Gauge(Option<IntGauge>);

impl Gauge {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        if let Some(g) = &self.0 {
            g.inc();
        }
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        if let Some(g) = &self.0 {
            g.dec();
        }
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: i64) {
        if let Some(g) = &self.0 {
            g.add(n);
        }
    }

    /// Subtracts `n`.
    #[inline]
    pub fn sub(&self, n: i64) {
        if let Some(g) = &self.0 {
            g.sub(n);
        }
    }

    /// The value now (0 when metrics are off), for tests of the strategies.
    #[cfg(test)]
    pub fn get(&self) -> i64 {
        self.0.as_ref().map_or(0, IntGauge::get)
    }
}

/// A histogram that does nothing when per-message metrics are off.
#[derive(Clone)]
pub struct Timer(Option<Histogram>);

impl Timer {
    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        if let Some(h) = &self.0 {
            h.observe(v);
        }
    }
}

/// Handles for one destination's series (or the shared `_other` series).
/// Cheap to clone; the slot is released when the last clone is dropped.
#[derive(Clone)]
pub struct DestinationMetrics(Arc<Handles>);

/// The counters, gauges and histogram one destination updates.
pub struct Handles {
    pub published: Counter,
    pub delivered: Counter,
    pub acked: Counter,
    pub nacked: Counter,
    pub redelivered: Counter,
    pub dead_lettered: Counter,
    pub dropped: Counter,
    /// Messages found expired when their turn came (dropped or dead-lettered).
    pub expired: Counter,
    pub published_bytes: Counter,
    pub delivered_bytes: Counter,
    pub ready: Gauge,
    pub unacked: Gauge,
    pub consumers: Gauge,
    pub latency: Timer,
    /// Whether these are this destination's own series (else `_other`).
    pub own: bool,
    name: String,
    kind: &'static str,
    /// `None` when metrics are off: nothing to release.
    live: Option<IntGauge>,
    registry: Arc<Registry>,
}

impl Deref for DestinationMetrics {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        &self.0
    }
}

impl Registry {
    pub fn new(families: Families, max: usize, selection: Selection, enabled: bool) -> Self {
        Registry {
            families,
            slots: Mutex::new(Slots::default()),
            max,
            selection,
            enabled,
        }
    }

    /// Handles for a destination actor starting now.
    pub fn acquire(self: &Arc<Self>, name: &str, kind: &'static str) -> DestinationMetrics {
        if !self.enabled {
            return DestinationMetrics(Arc::new(Handles {
                published: Counter(None),
                delivered: Counter(None),
                acked: Counter(None),
                nacked: Counter(None),
                redelivered: Counter(None),
                dead_lettered: Counter(None),
                dropped: Counter(None),
                expired: Counter(None),
                published_bytes: Counter(None),
                delivered_bytes: Counter(None),
                ready: Gauge(None),
                unacked: Gauge(None),
                consumers: Gauge(None),
                latency: Timer(None),
                own: false,
                name: String::new(),
                kind,
                live: None,
                registry: self.clone(),
            }));
        }
        // The live count goes up before the slot is taken and the series are
        // made, and comes down only after they are undone (in `drop`): at
        // every instant it covers each folded slot and each own series, so a
        // reader that sees it fall to zero then finds the rest gone too.
        let f = &self.families;
        let live = f.live.with_label_values(&[kind]);
        live.inc();
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
        let l = [if own { name } else { OTHER }, kind];
        let c = |v: &IntCounterVec| Counter(Some(v.with_label_values(&l)));
        let g = |v: &IntGaugeVec| Gauge(Some(v.with_label_values(&l)));
        DestinationMetrics(Arc::new(Handles {
            published: c(&f.published),
            delivered: c(&f.delivered),
            acked: c(&f.acked),
            nacked: c(&f.nacked),
            redelivered: c(&f.redelivered),
            dead_lettered: c(&f.dead_lettered),
            dropped: c(&f.dropped),
            expired: c(&f.expired),
            published_bytes: c(&f.published_bytes),
            delivered_bytes: c(&f.delivered_bytes),
            ready: g(&f.ready),
            unacked: g(&f.unacked),
            consumers: g(&f.consumers),
            latency: Timer(Some(f.latency.with_label_values(&l))),
            own,
            name: name.to_string(),
            kind,
            live: Some(live),
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
            &f.expired,
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
        if let Some(live) = &self.live {
            // Last: see `acquire` for why the live count moves outermost.
            self.registry.release(&self.name, self.kind, self.own);
            live.dec();
        }
    }
}
