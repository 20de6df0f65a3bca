//! Delivery policy shared by every destination, from configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::model::{MemoryBudget, PolicyOverride, QueueLimits, Redelivery, SlowConsumer};

use super::storage::Storage;
use crate::cluster::Backplane;
use crate::settings::Settings;

/// The file under `storage.dir` recording durable subscriptions.
pub const DURABLE_REGISTRY_FILE: &str = "durable-subscriptions.json";

/// What destinations need from the configuration.
#[derive(Debug, Clone)]
pub struct DestinationPolicy {
    /// Redelivery unless a policy overrides it (its `dead_letter` is `None`:
    /// dead letters go to `dead_letter_prefix` + name).
    pub redelivery: Redelivery,
    /// Prefix of dead-letter queue names.
    pub dead_letter_prefix: String,
    /// Queue prefix, stripped to name the dead-letter queue.
    pub queue_prefix: String,
    /// Topic prefix, stripped to name the dead-letter queue.
    pub topic_prefix: String,
    /// Idle time after which an empty, unused destination is stopped.
    pub idle_timeout: Duration,
    /// Messages parked per topic subscriber whose window is full.
    pub subscriber_backlog: usize,
    /// Footprint parked per topic subscriber whose window is full.
    pub subscriber_backlog_bytes: usize,
    /// Restarts allowed per window before a destination is quarantined.
    pub max_restarts: usize,
    /// The window for `max_restarts`.
    pub restart_window: Duration,
    /// Queue bounds unless a policy overrides them.
    pub queue_limits: QueueLimits,
    /// Per-pattern overrides of `queue_limits`.
    pub overrides: Vec<PolicyOverride>,
    /// Topic policy for subscribers whose backlog is full.
    pub slow_consumer: SlowConsumer,
    /// Broker-wide buffered bytes and the memory alarm.
    pub memory: Arc<MemoryBudget>,
    /// Longest destination name a client may use (`limits.max_destination_length`).
    pub max_name_len: usize,
    /// Most live destinations clients may create (`limits.max_destinations`).
    pub max_destinations: usize,
    /// The journal for persistent messages, when `storage.enabled`.
    pub storage: Option<Arc<Storage>>,
    /// Waiting messages a queue with selective consumers looks past per dispatch.
    pub selector_lookahead: usize,
    /// Most durable topic subscriptions (`destinations.max_durable_subscriptions`).
    pub max_durable_subscriptions: usize,
    /// Where durable subscriptions are recorded, when `storage.enabled`.
    pub durable_registry: Option<std::path::PathBuf>,
    /// This node's NATS connection in cluster mode: topics relay what their clients publish.
    pub backplane: Option<Arc<Backplane>>,
}

impl DestinationPolicy {
    /// The policy configured in `settings`.
    pub fn from_settings(s: &Settings) -> Self {
        Self::with_memory(s, MemoryBudget::new(s.broker.max_buffered_bytes))
    }

    /// The policy configured in `settings`, with `memory` as the broker-wide budget.
    pub fn with_memory(s: &Settings, memory: MemoryBudget) -> Self {
        DestinationPolicy {
            redelivery: Redelivery {
                nack: s.destinations.nack,
                delay: Duration::from_millis(s.destinations.redelivery_delay_ms),
                backoff: s.destinations.redelivery_backoff,
                max_delay: Duration::from_millis(s.destinations.redelivery_max_delay_ms),
                max_deliveries: s.destinations.max_deliveries,
                dead_letter: None,
            },
            dead_letter_prefix: s.destinations.dead_letter_prefix.clone(),
            queue_prefix: s.destinations.queue_prefix.clone(),
            topic_prefix: s.destinations.topic_prefix.clone(),
            idle_timeout: Duration::from_millis(s.destinations.idle_timeout_ms),
            subscriber_backlog: s.destinations.subscriber_backlog,
            subscriber_backlog_bytes: s.destinations.subscriber_backlog_bytes,
            max_restarts: s.supervision.max_restarts,
            restart_window: Duration::from_millis(s.supervision.restart_window_ms),
            queue_limits: QueueLimits {
                max_messages: s.destinations.max_queue_messages,
                max_bytes: s.destinations.max_queue_bytes,
                overflow: s.destinations.overflow,
            },
            overrides: s.destinations.policies.clone(),
            slow_consumer: s.destinations.slow_consumer,
            memory: Arc::new(memory),
            max_name_len: s.limits.max_destination_length,
            max_destinations: s.limits.max_destinations,
            storage: None,
            selector_lookahead: s.destinations.selector_lookahead,
            max_durable_subscriptions: s.destinations.max_durable_subscriptions,
            durable_registry: s
                .storage
                .enabled
                .then(|| s.storage.dir.join(DURABLE_REGISTRY_FILE)),
            backplane: None,
        }
    }

    /// The same policy, keeping persistent messages in `storage`.
    pub fn with_storage(mut self, storage: Arc<Storage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The same policy in cluster mode, relaying topic publishes through `backplane`.
    pub fn with_backplane(mut self, backplane: Arc<Backplane>) -> Self {
        self.backplane = Some(backplane);
        self
    }

    /// The queue bounds for `name`.
    pub fn limits_for(&self, name: &str) -> QueueLimits {
        QueueLimits::for_destination(self.queue_limits, &self.overrides, name)
    }

    /// The redelivery policy for `name`.
    pub fn redelivery_for(&self, name: &str) -> Redelivery {
        Redelivery::for_destination(&self.redelivery, &self.overrides, name)
    }

    /// The dead-letter queue for `destination`: the one its policy names, else
    /// `dead_letter_prefix` + its name; `None` if it is itself one.
    pub fn dead_letter_queue(&self, destination: &str) -> Option<String> {
        if let Some(dlq) = self.redelivery_for(destination).dead_letter {
            return (dlq != destination).then_some(dlq);
        }
        if destination.starts_with(&self.dead_letter_prefix) {
            return None;
        }
        let name = destination
            .strip_prefix(&self.queue_prefix)
            .or_else(|| destination.strip_prefix(&self.topic_prefix))
            .unwrap_or(destination);
        Some(format!("{}{}", self.dead_letter_prefix, name))
    }
}
