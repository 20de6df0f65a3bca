//! Prometheus metrics: one registry per broker instance, never the global one.
//!
//! The broker's families are prefixed `stompede_`; the process collector's
//! sit in a second, unprefixed registry so that they keep the conventional
//! names (`process_cpu_seconds_total`, …) that standard dashboards query, and
//! [`Metrics::gather`] merges the two for `/metrics`.
//!
//! Handles are resolved once — per destination when its actor starts, per
//! command when the broker starts — so the hot path touches only atomics: no
//! lock, no label lookup, no formatting per message. Gauges move by deltas
//! (`add`/`sub`), never `set`, so destinations folded into the shared
//! `destination="_other"` series sum correctly.

mod destination;
mod select;
mod store;

use std::sync::Arc;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

pub use destination::{Counter, DestinationMetrics, Gauge, Handles, Timer};
pub use select::Selection;

use thiserror::Error;

use crate::model::Transport;
use crate::protocol::{Command, ErrorReason, Version};
use crate::settings::MetricsSettings;

/// A metric family could not be built or registered: a start-up error for
/// the broker (or its embedder), never a panic.
#[derive(Debug, Error)]
#[error("metric {name}: {source}")]
pub struct MetricsError {
    /// The metric (or collector) that failed.
    pub name: String,
    /// What prometheus said.
    #[source]
    pub source: prometheus::Error,
}

impl MetricsError {
    fn of(name: &str) -> impl FnOnce(prometheus::Error) -> MetricsError + '_ {
        move |source| MetricsError {
            name: name.to_owned(),
            source,
        }
    }
}

/// The label value shared by destinations beyond the per-destination cap.
pub const OTHER: &str = "_other";

/// A supervised actor kind: the `kind` label of `actor_restarts_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A client's `Session`.
    Session,
    /// A queue or topic actor.
    Destination,
    /// A `Transaction` actor.
    Transaction,
}

impl ActorKind {
    /// The metric label value.
    pub const fn label(self) -> &'static str {
        match self {
            ActorKind::Session => "session",
            ActorKind::Destination => "destination",
            ActorKind::Transaction => "transaction",
        }
    }
}

/// Actor kinds whose supervisor restarts are counted (`actor_restarts_total{kind}`).
pub const RESTARTABLE: [&str; 3] = [
    ActorKind::Session.label(),
    ActorKind::Destination.label(),
    ActorKind::Transaction.label(),
];

/// What became of a transaction: the `outcome` label of `transactions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOutcome {
    /// BEGIN.
    Begun,
    /// COMMIT.
    Committed,
    /// ABORT, a COMMIT refused, or the session ended with the transaction open.
    Aborted,
}

impl TxOutcome {
    /// The metric label value.
    pub const fn label(self) -> &'static str {
        match self {
            TxOutcome::Begun => "begun",
            TxOutcome::Committed => "committed",
            TxOutcome::Aborted => "aborted",
        }
    }
}

/// Transaction outcomes (`transactions_total{outcome}`).
pub const TX_OUTCOMES: [&str; 3] = [
    TxOutcome::Begun.label(),
    TxOutcome::Committed.label(),
    TxOutcome::Aborted.label(),
];

/// Every metric family of one broker.
pub struct Metrics {
    /// The `stompede_` families.
    registry: Registry,
    /// Unprefixed: the process collector (`process_*`).
    process: Registry,
    /// Open client connections (CONNECTED sent, not yet closed) by transport and protocol version.
    pub connections: IntGaugeVec,
    /// Connections accepted, by transport.
    pub connections_opened: IntCounterVec,
    /// Failed accepts on a listening socket, by listener (`stomp`, `websocket`).
    pub accept_errors: IntCounterVec,
    /// Connections closed at accept for `limits.max_connections`, by transport.
    pub connections_refused: IntCounterVec,
    /// Frames received, by command (prefer [`Metrics::frame_received`]).
    pub frames_received: IntCounterVec,
    /// Frames sent, by command (prefer [`Metrics::frame_sent`]).
    pub frames_sent: IntCounterVec,
    /// ERROR frames sent, by reason.
    pub errors: IntCounterVec,
    /// Failed logins.
    pub auth_failures: IntCounter,
    /// SEND and SUBSCRIBE refused by `auth.acl`, by verb (the STOMP command).
    pub auth_denied: IntCounterVec,
    /// Connections closed for missing heart-beats.
    pub heartbeat_timeouts: IntCounter,
    /// Actor restarts by actor kind.
    pub actor_restarts: IntCounterVec,
    /// Transactions by outcome (begun, committed, aborted).
    pub transactions: IntCounterVec,
    /// Bytes handed to connection writers and not yet written to their sockets.
    pub outbound_pending_bytes: IntGauge,
    /// Message bytes held by destinations (the memory alarm's measure).
    pub buffered_bytes: IntGauge,
    /// 1 while the memory alarm pauses publishers.
    pub memory_alarm: IntGauge,
    /// 1 while the disk alarm pauses publishers of persistent messages.
    pub disk_alarm: IntGauge,
    /// Durable topic subscriptions registered (connected or not).
    pub durable_subscriptions: IntGauge,
    received_by_command: Vec<Counter>,
    sent_by_command: Vec<Counter>,
    destinations: Arc<destination::Registry>,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    name: &str,
    c: C,
) -> Result<C, MetricsError> {
    r.register(Box::new(c.clone()))
        .map_err(MetricsError::of(name))?;
    Ok(c)
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, MetricsError> {
    let c = IntCounterVec::new(Opts::new(name, help), labels).map_err(MetricsError::of(name))?;
    register(r, name, c)
}

fn gauge(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, MetricsError> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).map_err(MetricsError::of(name))?;
    register(r, name, g)
}

fn int_gauge(r: &Registry, name: &str, help: &str) -> Result<IntGauge, MetricsError> {
    let g = IntGauge::new(name, help).map_err(MetricsError::of(name))?;
    register(r, name, g)
}

const DEST: &[&str] = &["destination", "kind"];

/// Publish-to-delivery latency buckets, seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

impl Metrics {
    /// A fresh registry where every destination is eligible for its own
    /// series, up to `max_destinations`.
    pub fn new(max_destinations: usize) -> Result<Metrics, MetricsError> {
        Self::with_selection(max_destinations, Selection::all())
    }

    /// A fresh registry configured by the `[metrics]` section.
    pub fn from_settings(s: &MetricsSettings) -> Result<Metrics, MetricsError> {
        Self::for_node(s, None)
    }

    /// Like [`from_settings`](Self::from_settings); in cluster mode every series also carries
    /// `node="<cluster.node>"`, so one Prometheus can tell the nodes' series apart.
    pub fn for_node(s: &MetricsSettings, node: Option<&str>) -> Result<Metrics, MetricsError> {
        Self::build(
            s.max_destinations,
            Selection::new(&s.include, &s.exclude),
            s.enabled,
            node,
        )
    }

    /// A fresh registry: destinations admitted by `selection` get series of
    /// their own, at most `max_destinations` at a time.
    pub fn with_selection(
        max_destinations: usize,
        selection: Selection,
    ) -> Result<Metrics, MetricsError> {
        Self::build(max_destinations, selection, true, None)
    }

    /// `enabled = false` keeps the families (at zero) but makes every
    /// per-message count a no-op: how the cost of counting is measured.
    fn build(
        max_destinations: usize,
        selection: Selection,
        enabled: bool,
        node: Option<&str>,
    ) -> Result<Metrics, MetricsError> {
        let labels = node.map(|n| std::iter::once(("node".to_string(), n.to_string())).collect());
        let r = Registry::new_custom(Some("stompede".into()), labels.clone())
            .map_err(MetricsError::of("registry"))?;
        let process =
            Registry::new_custom(None, labels).map_err(MetricsError::of("process registry"))?;
        #[cfg(target_os = "linux")]
        process
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .map_err(MetricsError::of("process collector"))?;
        build_info(&r)?;
        let families = destination_families(&r)?;
        let frames_received = counter(
            &r,
            "frames_received_total",
            "Frames received, by command.",
            &["command"],
        )?;
        let frames_sent = counter(
            &r,
            "frames_sent_total",
            "Frames sent, by command.",
            &["command"],
        )?;
        let by_command = |v: &IntCounterVec| -> Vec<Counter> {
            Command::ALL
                .iter()
                .map(|c| Counter(enabled.then(|| v.with_label_values(&[c.as_str()]))))
                .collect()
        };
        let actor_restarts = counter(
            &r,
            "actor_restarts_total",
            "Actor restarts by supervisors, by actor kind.",
            &["kind"],
        )?;
        let transactions = counter(
            &r,
            "transactions_total",
            "Transactions by outcome (begun, committed, aborted).",
            &["outcome"],
        )?;
        let connections_opened = counter(
            &r,
            "connections_opened_total",
            "Client connections accepted, by transport.",
            &["transport"],
        )?;
        let accept_errors = counter(
            &r,
            "accept_errors_total",
            "Failed accepts on a listening socket (e.g. out of file descriptors), by listener.",
            &["listener"],
        )?;
        let connections_refused = counter(
            &r,
            "connections_refused_total",
            "Connections refused at accept for limits.max_connections, by transport.",
            &["transport"],
        )?;
        // Known label values start at 0 so that rate() and dashboards see the
        // series before the first event.
        for k in RESTARTABLE {
            actor_restarts.with_label_values(&[k]);
        }
        for o in TX_OUTCOMES {
            transactions.with_label_values(&[o]);
        }
        let auth_denied = counter(
            &r,
            "auth_denied_total",
            "SEND and SUBSCRIBE frames refused by the permissions (auth.acl), by verb.",
            &["verb"],
        )?;
        for v in ["SEND", "SUBSCRIBE"] {
            auth_denied.with_label_values(&[v]);
        }
        for t in Transport::ALL.map(Transport::label) {
            connections_opened.with_label_values(&[t]);
            connections_refused.with_label_values(&[t]);
        }
        for l in ["stomp", "websocket", "stomp_tls", "websocket_tls"] {
            accept_errors.with_label_values(&[l]);
        }
        for k in ["queue", "topic"] {
            families.live.with_label_values(&[k]);
            families.create_other(k);
        }
        // Whether or not per-message counting is on, every command's series
        // exists (the handles below stay `None` when it is off).
        for c in Command::ALL {
            frames_received.with_label_values(&[c.as_str()]);
            frames_sent.with_label_values(&[c.as_str()]);
        }
        let connections = gauge(
            &r,
            "connections",
            "Open client connections, by transport and protocol version.",
            &["transport", "version"],
        )?;
        for t in Transport::ALL {
            for v in Version::SUPPORTED {
                connections.with_label_values(&[t.label(), v.as_str()]);
            }
        }
        let errors = counter(
            &r,
            "errors_total",
            "ERROR frames sent, by reason.",
            &["reason"],
        )?;
        for e in ErrorReason::ALL {
            errors.with_label_values(&[e.label()]);
        }
        Ok(Metrics {
            connections,
            connections_opened,
            accept_errors,
            connections_refused,
            received_by_command: by_command(&frames_received),
            sent_by_command: by_command(&frames_sent),
            frames_received,
            frames_sent,
            errors,
            auth_failures: counter(&r, "auth_failures_total", "Failed logins.", &[])?
                .with_label_values::<&str>(&[]),
            auth_denied,
            heartbeat_timeouts: counter(
                &r,
                "heartbeat_timeouts_total",
                "Connections closed for missing heart-beats.",
                &[],
            )?
            .with_label_values::<&str>(&[]),
            actor_restarts,
            transactions,
            outbound_pending_bytes: int_gauge(
                &r,
                "outbound_pending_bytes",
                "Bytes queued for writing to client sockets, across all connections.",
            )?,
            buffered_bytes: int_gauge(
                &r,
                "buffered_message_bytes",
                "Memory held by messages in destinations and open transactions (bodies, headers and bookkeeping).",
            )?,
            memory_alarm: int_gauge(
                &r,
                "memory_alarm",
                "1 while buffered message bytes exceed broker.max_buffered_bytes and publishers are paused.",
            )?,
            disk_alarm: int_gauge(
                &r,
                "storage_disk_alarm",
                "1 while the journal reaches storage.max_bytes or free disk is below storage.min_free_bytes, and persistent publishers are paused.",
            )?,
            durable_subscriptions: int_gauge(
                &r,
                "durable_subscriptions",
                "Durable topic subscriptions registered, their subscribers connected or not.",
            )?,
            destinations: Arc::new(destination::Registry::new(
                families,
                max_destinations,
                selection,
                enabled,
            )),
            registry: r,
            process,
        })
    }

    /// Every family to encode on `/metrics`: the broker's (`stompede_*`)
    /// and the process collector's (`process_*`), sorted by name.
    pub fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        families
    }

    /// Registers a collector of its own (cluster mode's `stompede_cluster_*` series).
    pub fn register(&self, c: Box<dyn prometheus::core::Collector>) -> prometheus::Result<()> {
        self.registry.register(c)
    }

    /// Adds the journal's figures (`stompede_store_*`), read from `store` at each scrape.
    pub fn register_store(
        &self,
        store: std::sync::Arc<dyn crate::store::Store>,
    ) -> Result<(), MetricsError> {
        store::register(&self.registry, store)
    }

    /// The counter of received frames with command `c` (resolved at start).
    pub fn frame_received(&self, c: Command) -> &Counter {
        &self.received_by_command[c as usize]
    }

    /// The counter of sent frames with command `c` (resolved at start).
    pub fn frame_sent(&self, c: Command) -> &Counter {
        &self.sent_by_command[c as usize]
    }

    /// Handles for a destination actor starting now; keep them for the
    /// actor's lifetime. Dropping the last clone releases the destination's
    /// slot and removes its series.
    pub fn destination(&self, name: &str, kind: &'static str) -> DestinationMetrics {
        self.destinations.acquire(name, kind)
    }
}

/// `stompede_build_info{version, profile}` = 1: which build is running, to
/// join onto other series (`* on(instance) group_left(version)`) or to spot
/// a mixed-version cluster.
fn build_info(r: &Registry) -> Result<(), MetricsError> {
    let info = gauge(
        r,
        "build_info",
        "Always 1; the labels say which build runs: version (Cargo package version) and profile (release or debug).",
        &["version", "profile"],
    )?;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    info.with_label_values(&[env!("CARGO_PKG_VERSION"), profile])
        .set(1);
    Ok(())
}

fn destination_families(r: &Registry) -> Result<destination::Families, MetricsError> {
    let c = |name: &str, help: &str| counter(r, name, help, DEST);
    let g = |name: &str, help: &str| gauge(r, name, help, DEST);
    Ok(destination::Families {
        published: c(
            "destination_messages_published_total",
            "Messages published to the destination.",
        )?,
        delivered: c(
            "destination_messages_delivered_total",
            "Messages delivered to subscribers, redeliveries included.",
        )?,
        acked: c(
            "destination_messages_acked_total",
            "Messages acknowledged (auto ack counts once written to the socket).",
        )?,
        nacked: c(
            "destination_messages_nacked_total",
            "Messages negatively acknowledged.",
        )?,
        redelivered: c(
            "destination_messages_redelivered_total",
            "Deliveries of messages delivered before (redelivered:true).",
        )?,
        dead_lettered: c(
            "destination_messages_dead_lettered_total",
            "Messages moved to a dead-letter queue.",
        )?,
        dropped: c(
            "destination_messages_dropped_total",
            "Messages dropped for a slow topic subscriber or without a dead-letter queue.",
        )?,
        expired: c(
            "destination_messages_expired_total",
            "Messages never delivered because they expired (`expires` header or a policy's ttl_ms); dropped or dead-lettered per policy.",
        )?,
        published_bytes: c("destination_published_bytes_total", "Body bytes published.")?,
        delivered_bytes: c(
            "destination_delivered_bytes_total",
            "Body bytes delivered, redeliveries included.",
        )?,
        ready: g(
            "destination_messages_ready",
            "Messages waiting for a subscriber with room.",
        )?,
        unacked: g(
            "destination_messages_unacked",
            "Messages delivered and not yet acknowledged.",
        )?,
        consumers: g("destination_consumers", "Subscriptions on the destination.")?,
        latency: register(
            r,
            "destination_delivery_latency_seconds",
            HistogramVec::new(
                HistogramOpts::new(
                    "destination_delivery_latency_seconds",
                    "Time from publish to first delivery to a subscriber.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                DEST,
            )
            .map_err(MetricsError::of("destination_delivery_latency_seconds"))?,
        )?,
        folded: int_gauge(
            r,
            "destinations_folded",
            "Live destinations whose series are summed under destination=\"_other\".",
        )?,
        live: gauge(
            r,
            "destinations",
            "Live destination actors, by kind.",
            &["kind"],
        )?,
    })
}

#[cfg(test)]
mod tests;
