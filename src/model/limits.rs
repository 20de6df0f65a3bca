//! How full a queue may get, what happens then, and the broker-wide budget
//! of buffered message bytes (RabbitMQ's memory alarm, in spirit).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Deserialize;

/// What a queue does with a publish that finds it full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// Stop reading the publishers' sockets until there is room (no loss, no ERROR).
    Block,
    /// Refuse the message: ERROR to the publisher (with its receipt id, if any).
    Reject,
    /// Drop the oldest waiting message to make room (counted as dropped).
    DropHead,
}

/// What a topic does with a subscriber whose backlog is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlowConsumer {
    /// Drop the message for that subscriber only (counted).
    Drop,
    /// Disconnect that subscriber with an ERROR frame.
    Disconnect,
}

/// One queue's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most waiting (ready) messages.
    pub max_messages: usize,
    /// Most waiting body bytes.
    pub max_bytes: usize,
    /// What happens beyond either bound.
    pub overflow: Overflow,
}

/// A per-pattern override of the queue limits (`destinations.policies`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// Glob over destination names (`*` matches any run of characters).
    pub pattern: String,
    pub max_messages: Option<usize>,
    pub max_bytes: Option<usize>,
    pub overflow: Option<Overflow>,
    /// Every message of matching queues is persistent, whatever its SEND says.
    pub persistent: Option<bool>,
    /// What a NACK does (see [`Redelivery`](super::Redelivery)).
    pub nack: Option<super::NackMode>,
    /// Wait before the first redelivery after a NACK.
    pub redelivery_delay_ms: Option<u64>,
    /// Factor by which each further NACK multiplies the wait.
    pub redelivery_backoff: Option<f64>,
    /// Cap on the wait.
    pub redelivery_max_delay_ms: Option<u64>,
    /// Deliveries before a message is dead-lettered.
    pub max_deliveries: Option<u32>,
    /// The dead-letter queue of matching destinations (a full name).
    pub dead_letter: Option<String>,
}

/// Whether every message of `name` is persistent: the first matching policy says so.
pub fn all_persistent(policies: &[PolicyOverride], name: &str) -> bool {
    policies
        .iter()
        .find(|p| super::glob_match(&p.pattern, name))
        .and_then(|p| p.persistent)
        .unwrap_or(false)
}

impl QueueLimits {
    /// The limits for `name`: the defaults, overridden by the first matching policy.
    pub fn for_destination(defaults: QueueLimits, policies: &[PolicyOverride], name: &str) -> Self {
        let Some(p) = policies
            .iter()
            .find(|p| super::glob_match(&p.pattern, name))
        else {
            return defaults;
        };
        QueueLimits {
            max_messages: p.max_messages.unwrap_or(defaults.max_messages),
            max_bytes: p.max_bytes.unwrap_or(defaults.max_bytes),
            overflow: p.overflow.unwrap_or(defaults.overflow),
        }
    }

    /// Whether a queue holding `messages` and `bytes` is at or over its bounds.
    pub fn full(&self, messages: usize, bytes: usize) -> bool {
        messages >= self.max_messages || bytes >= self.max_bytes
    }
}

/// Broker-wide count of message bytes held by destinations, with a limit.
/// While over the limit every publisher is paused.
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
    alarm: AtomicBool,
    gauges: Option<(prometheus::IntGauge, prometheus::IntGauge)>,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("limit", &self.limit)
            .field("used", &self.used())
            .field("alarm", &self.alarm())
            .finish()
    }
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
            alarm: AtomicBool::new(false),
            gauges: None,
        }
    }

    /// Mirrors the budget in `buffered` (bytes) and `alarm` (0/1) gauges.
    pub fn with_gauges(
        mut self,
        buffered: prometheus::IntGauge,
        alarm: prometheus::IntGauge,
    ) -> Self {
        self.gauges = Some((buffered, alarm));
        self
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes now held.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether the alarm is raised.
    pub fn alarm(&self) -> bool {
        self.alarm.load(Ordering::Relaxed)
    }

    /// Counts `n` more bytes held.
    pub fn add(&self, n: usize) {
        let used = self.used.fetch_add(n, Ordering::Relaxed) + n;
        if let Some((g, _)) = &self.gauges {
            g.add(n as i64);
        }
        if used > self.limit && !self.alarm.swap(true, Ordering::Relaxed) {
            if let Some((_, a)) = &self.gauges {
                a.set(1);
            }
            tracing::warn!(
                used,
                limit = self.limit,
                "memory alarm: buffered message bytes over the limit; pausing publishers"
            );
        }
    }

    /// Counts `n` more bytes held if that stays within the limit, in one
    /// atomic step (so that concurrent callers cannot pass it together).
    /// Returns whether they were counted.
    pub fn try_add(&self, n: usize) -> bool {
        let fits = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|total| *total <= self.limit)
            })
            .is_ok();
        if fits {
            if let Some((g, _)) = &self.gauges {
                g.add(n as i64);
            }
        }
        fits
    }

    /// Counts `n` fewer bytes held.
    pub fn sub(&self, n: usize) {
        let used = self.used.fetch_sub(n, Ordering::Relaxed).saturating_sub(n);
        if let Some((g, _)) = &self.gauges {
            g.sub(n as i64);
        }
        if used <= self.limit && self.alarm.swap(false, Ordering::Relaxed) {
            if let Some((_, a)) = &self.gauges {
                a.set(0);
            }
            tracing::info!(
                used,
                limit = self.limit,
                "memory alarm cleared; publishers resume"
            );
        }
    }
}
