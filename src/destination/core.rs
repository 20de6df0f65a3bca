//! What every destination's delivery strategy shares: its name, its policy,
//! its metric handles, when it was last used, and the dead letters it has produced but not yet sent.
//! Plain Rust: the actor drains [`Core::outbox`] to the router, so a strategy
//! can be driven (and dead-lettering checked) without actors.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use super::DestinationPolicy;
use crate::messages::router::DeadLetter;
use crate::metrics::DestinationMetrics;
use crate::model::{Envelope, Expiry, MessageData, Redelivery};

/// The header naming where a dead letter came from (and where a replay sends it).
pub const ORIGINAL_DESTINATION: &str = "x-original-destination";

/// A destination's identity, policy, metrics and outgoing dead letters.
pub struct Core {
    /// The destination's name (`/queue/...` or `/topic/...`).
    pub name: Arc<str>,
    /// Delivery policy from configuration.
    pub policy: Arc<DestinationPolicy>,
    /// This destination's redelivery policy (its pattern's, else the defaults).
    pub redelivery: Redelivery,
    /// This destination's series.
    pub m: DestinationMetrics,
    /// When a client last used it: an unused destination retires after
    /// `idle_timeout`.
    pub last_activity: Instant,
    /// Dead letters to forward to the router, oldest first.
    outbox: Vec<DeadLetter>,
    /// Its time to live and what expiry does (`destinations.policies`).
    pub expiry: Expiry,
    /// What the admin API reports, counted here because the metric series
    /// may be shared (`_other`) or switched off.
    pub counts: Counts,
}

/// Messages in, deliveries out and dead letters since the actor started.
#[derive(Debug, Default)]
pub struct Counts {
    /// Messages taken (published or replayed here).
    pub messages_in: Cell<u64>,
    /// Deliveries made, redeliveries included.
    pub messages_out: Cell<u64>,
    /// Messages sent to the dead-letter queue.
    pub dead_lettered: Cell<u64>,
}

impl Counts {
    fn bump(c: &Cell<u64>, n: u64) {
        c.set(c.get().wrapping_add(n));
    }

    /// `n` messages were taken.
    pub fn taken(&self, n: usize) {
        Self::bump(&self.messages_in, n as u64);
    }
}

impl Core {
    /// The core of the destination `name`.
    pub fn new(name: Arc<str>, policy: Arc<DestinationPolicy>, m: DestinationMetrics) -> Self {
        Core {
            redelivery: policy.redelivery_for(&name),
            expiry: Expiry::for_destination(&policy.overrides, &name),
            name,
            policy,
            m,
            last_activity: Instant::now(),
            outbox: Vec::new(),
            counts: Counts::default(),
        }
    }

    /// A client used the destination just now.
    pub fn touch(&mut self) {
        self.last_activity = Instant::now();
    }

    /// Whether `env` expired before its turn (its `expires`, or this destination's ttl).
    pub fn expired(&self, env: &Envelope) -> bool {
        env.data.expired(self.expiry.ttl)
    }

    /// Counts one delivery of `env`, before the consumer gets it: the
    /// redelivery counter, or the publish-to-delivery latency on a first one.
    pub fn delivering(&self, env: &Envelope) {
        Counts::bump(&self.counts.messages_out, 1);
        self.m.unacked.inc();
        self.m.delivered.inc();
        self.m.delivered_bytes.inc_by(env.data.size() as u64);
        if env.deliveries > 0 {
            self.m.redelivered.inc();
        } else {
            self.m
                .latency
                .observe(env.data.published_at.elapsed().as_secs_f64());
        }
    }

    /// Addresses a copy of `env` to this destination's dead-letter queue,
    /// with headers saying where it came from and why. Returns false, and
    /// does nothing, when this destination is itself a dead-letter queue.
    pub fn dead_letter(&mut self, env: &Envelope, reason: &str) -> bool {
        let Some(dlq) = self.policy.dead_letter_queue(&self.name) else {
            return false;
        };
        self.m.dead_lettered.inc();
        Counts::bump(&self.counts.dead_lettered, 1);
        let data = env.data.redirected(
            &dlq,
            vec![
                (ORIGINAL_DESTINATION.into(), self.name.to_string()),
                ("x-death-reason".into(), reason.into()),
                ("x-delivery-count".into(), env.deliveries.to_string()),
                ("x-original-message-id".into(), env.data.id.to_string()),
            ],
        );
        self.outbox.push(DeadLetter {
            destination: dlq,
            data,
        });
        true
    }

    /// Sends `data` on to `destination` through the router, after this
    /// step's journal batch (a replayed dead letter going home).
    pub fn forward(&mut self, destination: &str, data: Arc<MessageData>) {
        self.outbox.push(DeadLetter {
            destination: destination.to_string(),
            data,
        });
    }

    /// The dead letter most recently addressed, not yet sent.
    pub fn last_dead_letter(&self) -> Option<&DeadLetter> {
        self.outbox.last()
    }

    /// Whether this destination has a dead-letter queue (it is not one).
    pub fn has_dead_letter_queue(&self) -> bool {
        self.policy.dead_letter_queue(&self.name).is_some()
    }

    /// The dead letters produced since the last call, oldest first.
    pub fn take_outbox(&mut self) -> Vec<DeadLetter> {
        std::mem::take(&mut self.outbox)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{core, env};

    #[test]
    fn dead_letter_is_addressed_with_its_history() {
        let mut c = core("/queue/orders");
        let mut e = env("x");
        e.deliveries = 3;
        assert!(c.dead_letter(&e, "delivery-limit"));
        let out = c.take_outbox();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].destination, "/queue/DLQ.orders");
        let h = |n: &str| {
            out[0]
                .data
                .headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            h("x-original-destination").as_deref(),
            Some("/queue/orders")
        );
        assert_eq!(h("x-death-reason").as_deref(), Some("delivery-limit"));
        assert_eq!(h("x-delivery-count").as_deref(), Some("3"));
        assert!(c.take_outbox().is_empty());
    }

    #[test]
    fn a_dead_letter_queue_keeps_its_own_poison() {
        let mut c = core("/queue/DLQ.orders");
        assert!(!c.has_dead_letter_queue());
        assert!(!c.dead_letter(&env("x"), "delivery-limit"));
        assert!(c.take_outbox().is_empty());
    }
}
