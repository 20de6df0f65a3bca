//! What a destination does with a message that came back unacknowledged:
//! where a NACKed message goes, how long it waits before its next delivery,
//! and when it is given up to a dead-letter queue. Defaults come from
//! `[destinations]`, overridden per glob pattern by `destinations.policies`.

use std::time::Duration;

use serde::Deserialize;

use super::limits::PolicyOverride;

/// What a NACK does with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NackMode {
    /// Back at the head of the queue: delivered next (RabbitMQ's `requeue:true`).
    RequeueHead,
    /// Back at the tail: the messages behind it go first.
    RequeueTail,
    /// Straight to the dead-letter queue (ActiveMQ Classic's poison ack).
    DeadLetter,
}

/// The redelivery policy of one destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Redelivery {
    /// What a NACK does.
    pub nack: NackMode,
    /// Wait before redelivering a message NACKed once (zero: at once).
    pub delay: Duration,
    /// Each further NACK multiplies the wait by this (>= 1).
    pub backoff: f64,
    /// The longest wait, however often the message was NACKed.
    pub max_delay: Duration,
    /// Deliveries before the message is dead-lettered.
    pub max_deliveries: u32,
    /// Where dead letters go, instead of `<dead_letter_prefix><name>`.
    pub dead_letter: Option<String>,
}

impl Redelivery {
    /// The policy for `name`: `defaults`, overridden by the first policy whose pattern matches.
    pub fn for_destination(defaults: &Redelivery, policies: &[PolicyOverride], name: &str) -> Self {
        let Some(p) = policies
            .iter()
            .find(|p| super::glob_match(&p.pattern, name))
        else {
            return defaults.clone();
        };
        Redelivery {
            nack: p.nack.unwrap_or(defaults.nack),
            delay: p
                .redelivery_delay_ms
                .map_or(defaults.delay, Duration::from_millis),
            backoff: p.redelivery_backoff.unwrap_or(defaults.backoff),
            max_delay: p
                .redelivery_max_delay_ms
                .map_or(defaults.max_delay, Duration::from_millis),
            max_deliveries: p.max_deliveries.unwrap_or(defaults.max_deliveries),
            dead_letter: p
                .dead_letter
                .clone()
                .or_else(|| defaults.dead_letter.clone()),
        }
    }

    /// The wait before redelivering a message NACKed after its `deliveries`-th
    /// delivery: `delay × backoff^(deliveries − 1)`, at most `max_delay`.
    pub fn delay_after(&self, deliveries: u32) -> Duration {
        if self.delay.is_zero() {
            return Duration::ZERO;
        }
        let exponent = deliveries.saturating_sub(1).min(i32::MAX as u32) as i32;
        let ms = self.delay.as_millis() as f64 * self.backoff.powi(exponent);
        let cap = self.max_delay.as_millis() as f64;
        // A NaN or infinite product (huge exponents) also ends at the cap.
        if ms.is_finite() && ms < cap {
            Duration::from_millis(ms as u64)
        } else {
            self.max_delay
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(delay: u64, backoff: f64, max: u64) -> Redelivery {
        Redelivery {
            nack: NackMode::RequeueHead,
            delay: Duration::from_millis(delay),
            backoff,
            max_delay: Duration::from_millis(max),
            max_deliveries: 10,
            dead_letter: None,
        }
    }

    #[test]
    fn delay_grows_by_the_backoff_up_to_the_cap() {
        let p = policy(100, 2.0, 500);
        let waits: Vec<u128> = (1..=6).map(|n| p.delay_after(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500, 500]);
        assert_eq!(p.delay_after(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn no_delay_means_at_once_whatever_the_backoff() {
        assert_eq!(policy(0, 3.0, 1000).delay_after(5), Duration::ZERO);
        assert_eq!(
            policy(50, 1.0, 1000).delay_after(9),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn the_first_matching_pattern_overrides_what_it_names() {
        let defaults = policy(0, 2.0, 60_000);
        let p: PolicyOverride = serde_json::from_str(
            r#"{"pattern": "/queue/jobs.*", "nack": "requeue-tail", "redelivery_delay_ms": 250,
                "max_deliveries": 3, "dead_letter": "/queue/jobs.failed"}"#,
        )
        .expect("a valid policy");
        let r = Redelivery::for_destination(&defaults, std::slice::from_ref(&p), "/queue/jobs.a");
        assert_eq!(r.nack, NackMode::RequeueTail);
        assert_eq!(r.delay, Duration::from_millis(250));
        assert_eq!(r.backoff, 2.0);
        assert_eq!(r.max_deliveries, 3);
        assert_eq!(r.dead_letter.as_deref(), Some("/queue/jobs.failed"));
        let other = Redelivery::for_destination(&defaults, &[p], "/queue/other");
        assert_eq!(other, defaults);
    }
}
