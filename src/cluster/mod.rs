//! Cluster mode (`[cluster]`, docs/cluster.md): several stompede nodes serve one set of
//! destinations through NATS, so none of them needs a cluster protocol of its own. A
//! [`Backplane`] is this node's NATS connection. Topics ride core NATS subjects
//! (`<stream_prefix>.topic.<escaped name>`): a client's publish on a topic is delivered
//! locally as always and relayed once to NATS (`topics.rs`); what other nodes relay comes
//! back in and is published to the local topic, marked remote so it is never relayed again.
//! The connection is made with `no_echo`, and every relay carries its node's name, so a node
//! never takes its own publish back.
//!
//! With `cluster.enabled = false` nothing here runs and no NATS connection is made.

mod queue;
mod subject;
mod topics;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounterVec, IntGauge, Opts};
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;
use crate::settings::Settings;

/// JetStream's message and acknowledgement kinds, as queue actors use them.
pub use async_nats::jetstream::{AckKind, Message as JetStreamMessage};
pub use queue::{Pulled, QueueLink};
pub use subject::{escape, unescape};
pub use wire::{decode, encode, WireError, NODE_HEADER};

/// Cluster mode could not start.
#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("cannot connect to NATS at {urls}: {reason}")]
    Connect { urls: String, reason: String },
    #[error("cannot subscribe to NATS subject {subject}: {reason}")]
    Subscribe { subject: String, reason: String },
    #[error("cannot register cluster metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The cluster series: whether the backplane is up, and what crossed it.
struct ClusterMetrics {
    connected: IntGauge,
    relayed: IntCounterVec,
    dropped: IntCounterVec,
}

impl ClusterMetrics {
    fn register(metrics: &Metrics) -> Result<Self, prometheus::Error> {
        let r = metrics;
        let connected = IntGauge::new(
            "cluster_backplane_connected",
            "1 while this node is connected to NATS (cluster mode), else 0",
        )?;
        let relayed = IntCounterVec::new(
            Opts::new(
                "cluster_relayed_total",
                "Topic messages relayed through NATS, by direction (out: published by this node's clients; in: from other nodes)",
            ),
            &["direction"],
        )?;
        let dropped = IntCounterVec::new(
            Opts::new(
                "cluster_relay_dropped_total",
                "Topic messages not relayed, by reason (publish_failed, malformed, no_destination)",
            ),
            &["reason"],
        )?;
        r.register(Box::new(connected.clone()))?;
        r.register(Box::new(relayed.clone()))?;
        r.register(Box::new(dropped.clone()))?;
        Ok(ClusterMetrics {
            connected,
            relayed,
            dropped,
        })
    }
}

/// This node's connection to the NATS cluster, shared by every destination.
pub struct Backplane {
    client: async_nats::Client,
    /// This node's name (`cluster.node`).
    node: Arc<str>,
    /// `cluster.stream_prefix`.
    prefix: String,
    /// `destinations.topic_prefix`, stripped before a topic name becomes a subject token.
    topic_prefix: String,
    /// `destinations.queue_prefix`, likewise for queues.
    queue_prefix: String,
    /// `cluster.replicas`.
    replicas: usize,
    /// `cluster.ack_wait_ms`: how long JetStream waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// `cluster.max_ack_pending`: unacknowledged messages of one queue, all nodes together.
    max_ack_pending: i64,
    /// `cluster.max_pull_batch`.
    pub max_pull_batch: usize,
    /// When this process connected (ns since the epoch): part of its JetStream message ids.
    boot: u128,
    connected: Arc<AtomicBool>,
    /// Relayed topic messages being handed to local topics (`cluster.max_inflight`).
    inflight: Arc<Semaphore>,
    metrics: ClusterMetrics,
}

impl Backplane {
    /// Connects to NATS as `settings.cluster` says (within `connect_timeout_ms`), registers
    /// the cluster series, and keeps `cluster_backplane_connected` and
    /// [`connected`](Self::connected) current as the client loses and regains NATS.
    pub async fn connect(
        settings: &Settings,
        metrics: &Metrics,
    ) -> Result<Arc<Self>, ClusterError> {
        let c = &settings.cluster;
        let m = ClusterMetrics::register(metrics)?;
        let connected = Arc::new(AtomicBool::new(false));
        let (flag, gauge) = (connected.clone(), m.connected.clone());
        let node = c.node.clone();
        let options = async_nats::ConnectOptions::new()
            .name(format!("stompede-{}", c.node))
            .no_echo()
            .connection_timeout(Duration::from_millis(c.connect_timeout_ms))
            .event_callback(move |event| {
                let (flag, gauge, node) = (flag.clone(), gauge.clone(), node.clone());
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!(node = %node, "connected to NATS");
                            flag.store(true, Ordering::Release);
                            gauge.set(1);
                        }
                        async_nats::Event::Disconnected | async_nats::Event::Closed => {
                            tracing::warn!(node = %node, "lost the NATS connection");
                            flag.store(false, Ordering::Release);
                            gauge.set(0);
                        }
                        other => tracing::warn!(node = %node, event = %other, "NATS event"),
                    }
                }
            });
        let urls = c.nats_urls.join(",");
        let fail = |reason: String| ClusterError::Connect {
            urls: urls.clone(),
            reason,
        };
        let client = tokio::time::timeout(
            Duration::from_millis(c.connect_timeout_ms),
            options.connect(c.nats_urls.as_slice()),
        )
        .await
        .map_err(|_| fail(format!("no answer within {} ms", c.connect_timeout_ms)))?
        .map_err(|e| fail(e.to_string()))?;
        // The Connected event may have fired before the callback was in place.
        if client.connection_state() == async_nats::connection::State::Connected {
            connected.store(true, Ordering::Release);
            m.connected.set(1);
        }
        tracing::info!(node = %c.node, urls = %urls, "cluster mode: connected to NATS");
        Ok(Arc::new(Backplane {
            client,
            node: Arc::from(c.node.as_str()),
            prefix: c.stream_prefix.clone(),
            topic_prefix: settings.destinations.topic_prefix.clone(),
            queue_prefix: settings.destinations.queue_prefix.clone(),
            replicas: c.replicas,
            ack_wait: Duration::from_millis(c.ack_wait_ms),
            max_ack_pending: i64::try_from(c.max_ack_pending).unwrap_or(i64::MAX),
            max_pull_batch: c.max_pull_batch,
            boot: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            connected,
            inflight: Arc::new(Semaphore::new(c.max_inflight)),
            metrics: m,
        }))
    }

    /// Whether the NATS connection is up now (`/readyz` reports not ready while it is not).
    pub fn connected(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }
}

impl std::fmt::Debug for Backplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane")
            .field("node", &self.node)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
