//! Prometheus metrics: one registry per broker instance, never the global one.
//!
//! Per-destination handles are resolved once when a destination starts and
//! kept by its actor, so the hot path touches only atomics. Gauges move by
//! deltas (`add`/`sub`), never `set`, so destinations folded into the shared
//! `destination="_other"` series sum correctly.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::protocol::Command;

/// The label value shared by destinations beyond the per-destination cap.
pub const OTHER: &str = "_other";

/// Every metric family of one broker.
pub struct Metrics {
    registry: Registry,
    /// Open connections by transport and protocol version.
    pub connections: IntGaugeVec,
    /// Connections accepted, by transport.
    pub connections_opened: IntCounterVec,
    /// Frames received, by command.
    pub frames_received: IntCounterVec,
    /// Frames sent, by command.
    pub frames_sent: IntCounterVec,
    /// ERROR frames sent, by reason.
    pub errors: IntCounterVec,
    /// Failed logins.
    pub auth_failures: IntCounter,
    /// Connections closed for missing heart-beats.
    pub heartbeat_timeouts: IntCounter,
    /// Actor restarts by actor kind.
    pub actor_restarts: IntCounterVec,
    /// Transactions by outcome (begun, committed, aborted).
    pub transactions: IntCounterVec,
    dest: DestinationFamilies,
    slots: Mutex<Slots>,
    max_destinations: usize,
}

struct DestinationFamilies {
    published: IntCounterVec,
    delivered: IntCounterVec,
    acked: IntCounterVec,
    nacked: IntCounterVec,
    redelivered: IntCounterVec,
    dead_lettered: IntCounterVec,
    dropped: IntCounterVec,
    published_bytes: IntCounterVec,
    delivered_bytes: IntCounterVec,
    ready: IntGaugeVec,
    unacked: IntGaugeVec,
    consumers: IntGaugeVec,
    latency: HistogramVec,
    folded: IntGauge,
}

#[derive(Default)]
struct Slots {
    /// Destinations with their own series, by (name, kind): live actor count.
    own: HashMap<(String, &'static str), usize>,
    folded: usize,
}

/// Handles for one destination's series (or the shared `_other` series).
#[derive(Clone)]
pub struct DestinationMetrics {
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
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    // Names are fixed at compile time and unique; a clash is a programming error caught by every test.
    r.register(Box::new(c.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(g.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    g
}

const DEST: &[&str] = &["destination", "kind"];

impl Metrics {
    /// A fresh registry with every family; at most `max_destinations`
    /// destinations get series of their own.
    pub fn new(max_destinations: usize) -> Metrics {
        let r = Registry::new_custom(Some("stompede".into()), None)
            .unwrap_or_else(|e| panic!("registry: {e}"));
        #[cfg(target_os = "linux")]
        {
            let pc = prometheus::process_collector::ProcessCollector::for_self();
            let _ = r.register(Box::new(pc));
        }
        let folded = IntGauge::new(
            "destinations_folded",
            "Destinations whose series are summed under destination=\"_other\".",
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        let _ = r.register(Box::new(folded.clone()));
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "destination_delivery_latency_seconds",
                "Time from publish to delivery to a subscriber.",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0,
            ]),
            DEST,
        )
        .unwrap_or_else(|e| panic!("metric: {e}"));
        let _ = r.register(Box::new(latency.clone()));
        let dest = DestinationFamilies {
            published: counter(
                &r,
                "destination_messages_published_total",
                "Messages published to the destination.",
                DEST,
            ),
            delivered: counter(
                &r,
                "destination_messages_delivered_total",
                "Messages delivered to subscribers.",
                DEST,
            ),
            acked: counter(
                &r,
                "destination_messages_acked_total",
                "Messages acknowledged (auto ack counts when written).",
                DEST,
            ),
            nacked: counter(
                &r,
                "destination_messages_nacked_total",
                "Messages negatively acknowledged.",
                DEST,
            ),
            redelivered: counter(
                &r,
                "destination_messages_redelivered_total",
                "Deliveries flagged redelivered.",
                DEST,
            ),
            dead_lettered: counter(
                &r,
                "destination_messages_dead_lettered_total",
                "Messages moved to a dead-letter queue.",
                DEST,
            ),
            dropped: counter(
                &r,
                "destination_messages_dropped_total",
                "Messages dropped (slow consumer or overflow policy).",
                DEST,
            ),
            published_bytes: counter(
                &r,
                "destination_published_bytes_total",
                "Body bytes published.",
                DEST,
            ),
            delivered_bytes: counter(
                &r,
                "destination_delivered_bytes_total",
                "Body bytes delivered.",
                DEST,
            ),
            ready: gauge(
                &r,
                "destination_messages_ready",
                "Messages waiting for a subscriber.",
                DEST,
            ),
            unacked: gauge(
                &r,
                "destination_messages_unacked",
                "Messages delivered and not yet acknowledged.",
                DEST,
            ),
            consumers: gauge(
                &r,
                "destination_consumers",
                "Subscriptions on the destination.",
                DEST,
            ),
            latency,
            folded,
        };
        Metrics {
            connections: gauge(
                &r,
                "connections",
                "Open client connections.",
                &["transport", "version"],
            ),
            connections_opened: counter(
                &r,
                "connections_opened_total",
                "Client connections accepted.",
                &["transport"],
            ),
            frames_received: counter(
                &r,
                "frames_received_total",
                "Frames received, by command.",
                &["command"],
            ),
            frames_sent: counter(
                &r,
                "frames_sent_total",
                "Frames sent, by command.",
                &["command"],
            ),
            errors: counter(
                &r,
                "errors_total",
                "ERROR frames sent, by reason.",
                &["reason"],
            ),
            auth_failures: counter(&r, "auth_failures_total", "Failed logins.", &[])
                .with_label_values::<&str>(&[]),
            heartbeat_timeouts: counter(
                &r,
                "heartbeat_timeouts_total",
                "Connections closed for missing heart-beats.",
                &[],
            )
            .with_label_values::<&str>(&[]),
            actor_restarts: counter(
                &r,
                "actor_restarts_total",
                "Actor restarts by supervisors, by actor kind.",
                &["kind"],
            ),
            transactions: counter(
                &r,
                "transactions_total",
                "Transactions by outcome (begun, committed, aborted).",
                &["outcome"],
            ),
            dest,
            slots: Mutex::new(Slots::default()),
            max_destinations,
            registry: r,
        }
    }

    /// The registry to encode on `/metrics`.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counter handle for a received frame's command (resolve once, keep).
    pub fn frame_received(&self, c: Command) -> IntCounter {
        self.frames_received.with_label_values(&[c.as_str()])
    }

    /// Counter handle for a sent frame's command (resolve once, keep).
    pub fn frame_sent(&self, c: Command) -> IntCounter {
        self.frames_sent.with_label_values(&[c.as_str()])
    }

    /// Handles for a destination starting now. Called once per destination actor start.
    pub fn destination(&self, name: &str, kind: &'static str) -> DestinationMetrics {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let key = (name.to_string(), kind);
        let own = if let Some(n) = slots.own.get_mut(&key) {
            *n += 1;
            true
        } else if slots.own.len() < self.max_destinations {
            slots.own.insert(key, 1);
            true
        } else {
            slots.folded += 1;
            self.dest.folded.set(slots.folded as i64);
            false
        };
        let label = if own { name } else { OTHER };
        let l = [label, kind];
        let d = &self.dest;
        DestinationMetrics {
            published: d.published.with_label_values(&l),
            delivered: d.delivered.with_label_values(&l),
            acked: d.acked.with_label_values(&l),
            nacked: d.nacked.with_label_values(&l),
            redelivered: d.redelivered.with_label_values(&l),
            dead_lettered: d.dead_lettered.with_label_values(&l),
            dropped: d.dropped.with_label_values(&l),
            published_bytes: d.published_bytes.with_label_values(&l),
            delivered_bytes: d.delivered_bytes.with_label_values(&l),
            ready: d.ready.with_label_values(&l),
            unacked: d.unacked.with_label_values(&l),
            consumers: d.consumers.with_label_values(&l),
            latency: d.latency.with_label_values(&l),
            own,
        }
    }

    /// A destination actor stopped: drop its series (own) or its fold count.
    pub fn destination_stopped(&self, name: &str, kind: &'static str, own: bool) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if !own {
            slots.folded = slots.folded.saturating_sub(1);
            self.dest.folded.set(slots.folded as i64);
            return;
        }
        let key = (name.to_string(), kind);
        let last = match slots.own.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => true,
            None => false,
        };
        if last {
            slots.own.remove(&key);
            let l = [name, kind];
            let d = &self.dest;
            for v in [
                &d.published,
                &d.delivered,
                &d.acked,
                &d.nacked,
                &d.redelivered,
                &d.dead_lettered,
                &d.dropped,
                &d.published_bytes,
                &d.delivered_bytes,
            ] {
                let _ = v.remove_label_values(&l);
            }
            for v in [&d.ready, &d.unacked, &d.consumers] {
                let _ = v.remove_label_values(&l);
            }
            let _ = d.latency.remove_label_values(&l);
        }
    }
}
