//! Publish/subscribe delivery: every subscriber present when a message
//! arrives gets it once; nothing is kept for later subscribers.
//!
//! A subscriber whose window is full gets messages parked in its own bounded
//! backlog; past `subscriber_backlog` messages or `subscriber_backlog_bytes`
//! the message is dropped for that subscriber and counted (and, under the `disconnect` slow-consumer policy,
//! the subscriber is disconnected), so one slow reader never slows the others.

use std::collections::VecDeque;
use std::sync::Arc;

use super::consumer::Consumer;
use super::core::Core;
use super::delivery::{Delivery, Refused};
use crate::messages::connection::Fail;
use crate::messages::destination::AckError;
use crate::model::{
    ConsumerKey, ConsumerView, Envelope, Kind, MessageData, NackMode, OnExpiry, SlowConsumer,
};
use crate::protocol::ErrorReason;

mod operate;
#[cfg(test)]
mod tests;

struct Subscriber {
    consumer: Consumer,
    /// Messages waiting for room in its window, oldest first.
    backlog: VecDeque<Envelope>,
    /// Footprint of `backlog`, as if it were this subscriber's alone: the
    /// per-subscriber bound (`subscriber_backlog_bytes`) applies to it, while
    /// the broker-wide budget counts each shared message once.
    backlog_bytes: usize,
}

impl Subscriber {
    fn park_back(&mut self, core: &Core, env: Envelope) {
        env.data.park(&core.policy.memory);
        self.backlog_bytes += env.data.footprint();
        self.backlog.push_back(env);
    }

    fn park_front(&mut self, core: &Core, env: Envelope) {
        env.data.park(&core.policy.memory);
        self.backlog_bytes += env.data.footprint();
        self.backlog.push_front(env);
    }

    /// Drops everything parked, giving its bytes back.
    fn release_backlog(&mut self, core: &Core) {
        for env in self.backlog.drain(..) {
            env.data.unpark(&core.policy.memory);
        }
        self.backlog_bytes = 0;
    }
}

/// A topic's subscribers and what each has parked.
#[derive(Default)]
pub struct TopicDelivery {
    subscribers: Vec<Subscriber>,
}

fn deliver(core: &Core, s: &mut Subscriber, env: Envelope) {
    core.delivering(&env);
    s.consumer.deliver(env);
}

/// Counts an expired message and dead-letters it if the policy says so.
fn expire(core: &mut Core, env: &Envelope) {
    core.m.expired.inc();
    if core.expiry.on_expiry == OnExpiry::DeadLetter {
        core.dead_letter(env, "expired");
    }
}

/// Moves parked messages into the subscriber's window while it has room,
/// skipping those that expired while parked.
fn pump(core: &mut Core, s: &mut Subscriber) {
    while !s.backlog.is_empty() && s.consumer.has_room() {
        let Some(env) = s.backlog.pop_front() else {
            break;
        };
        env.data.unpark(&core.policy.memory);
        s.backlog_bytes -= env.data.footprint();
        core.m.ready.dec();
        if core.expired(&env) {
            expire(core, &env);
            continue;
        }
        deliver(core, s, env);
    }
}

impl TopicDelivery {
    fn sub(&mut self, key: ConsumerKey) -> Option<&mut Subscriber> {
        self.subscribers.iter_mut().find(|s| s.consumer.key == key)
    }
}

impl Delivery for TopicDelivery {
    const KIND: Kind = Kind::Topic;

    fn holder(&self, key: ConsumerKey) -> Option<&Consumer> {
        self.subscribers
            .iter()
            .map(|s| &s.consumer)
            .find(|c| c.key == key)
    }

    fn new(_: &Core) -> Self {
        TopicDelivery::default()
    }

    fn publish(
        &mut self,
        core: &mut Core,
        messages: Vec<Arc<MessageData>>,
        _from_client: bool,
    ) -> Result<(), Refused> {
        let cap = core.policy.subscriber_backlog;
        let cap_bytes = core.policy.subscriber_backlog_bytes;
        let mut too_slow = Vec::new();
        for data in messages {
            core.m.published.inc();
            core.m.published_bytes.inc_by(data.size() as u64);
            if data.expired(core.expiry.ttl) {
                expire(core, &Envelope::new(data));
                continue;
            }
            for s in &mut self.subscribers {
                if !s.consumer.accepts(&data) {
                    continue;
                }
                let env = Envelope::new(data.clone());
                if s.backlog.is_empty() && s.consumer.has_room() {
                    deliver(core, s, env);
                } else if s.backlog.len() < cap && s.backlog_bytes < cap_bytes {
                    core.m.ready.inc();
                    s.park_back(core, env);
                } else {
                    core.m.dropped.inc();
                    if core.policy.slow_consumer == SlowConsumer::Disconnect
                        && !too_slow.contains(&s.consumer.key)
                    {
                        too_slow.push(s.consumer.key);
                    }
                }
            }
        }
        for key in too_slow {
            if let Some(s) = self.sub(key) {
                s.consumer.fail(Fail {
                    message: "slow consumer".into(),
                    detail: format!(
                        "more than {cap} messages or {cap_bytes} bytes waited for this subscription; disconnected by the topic's slow-consumer policy"
                    ),
                    receipt_id: None,
                    reason: ErrorReason::SlowConsumer,
                });
            }
            self.unsubscribe(core, key);
        }
        Ok(())
    }

    fn must_pause(&self, core: &Core) -> bool {
        core.policy.memory.alarm()
    }

    fn dispatch(&mut self, core: &mut Core) {
        for s in &mut self.subscribers {
            pump(core, s);
        }
    }

    fn refill(&mut self, core: &mut Core, key: ConsumerKey) {
        if let Some(s) = self.sub(key) {
            pump(core, s);
        }
    }

    fn contains(&self, key: ConsumerKey) -> bool {
        self.subscribers.iter().any(|s| s.consumer.key == key)
    }

    fn subscribe(&mut self, core: &mut Core, consumer: Consumer) {
        self.subscribers.push(Subscriber {
            consumer,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
        });
        core.m.consumers.inc();
    }

    fn unsubscribe(&mut self, core: &mut Core, key: ConsumerKey) {
        if let Some(pos) = self.subscribers.iter().position(|s| s.consumer.key == key) {
            let mut s = self.subscribers.remove(pos);
            core.m.consumers.dec();
            core.m.unacked.sub(s.consumer.take_all().len() as i64);
            core.m.ready.sub(s.backlog.len() as i64);
            s.release_backlog(core);
        }
    }

    fn reap(&mut self, core: &mut Core) {
        let dead: Vec<ConsumerKey> = self
            .subscribers
            .iter()
            .filter(|s| !s.consumer.is_connected())
            .map(|s| s.consumer.key)
            .collect();
        for key in dead {
            self.unsubscribe(core, key);
        }
    }

    fn settle(&mut self, core: &mut Core, key: ConsumerKey, count: u32) {
        if let Some(s) = self.sub(key) {
            let n = s.consumer.settle(count).len();
            core.m.unacked.sub(n as i64);
            core.m.acked.inc_by(n as u64);
            pump(core, s);
        }
    }

    fn ack(
        &mut self,
        core: &mut Core,
        key: ConsumerKey,
        message_id: u64,
        cumulative: bool,
    ) -> Result<(), AckError> {
        let s = self.sub(key).ok_or(AckError::NoSubscription)?;
        let done = s.consumer.take_acked(message_id, cumulative)?;
        core.m.unacked.sub(done.len() as i64);
        core.m.acked.inc_by(done.len() as u64);
        Ok(())
    }

    /// A topic subscriber's NACKed message is redelivered to that same
    /// subscriber (nobody else was meant to get it), at once, up to the
    /// delivery limit; under `nack = "dead-letter"` it is dead-lettered.
    fn nack(
        &mut self,
        core: &mut Core,
        key: ConsumerKey,
        message_id: u64,
        cumulative: bool,
    ) -> Result<(), AckError> {
        let s = self.sub(key).ok_or(AckError::NoSubscription)?;
        let envs = s.consumer.take_acked(message_id, cumulative)?;
        core.m.nacked.inc_by(envs.len() as u64);
        core.m.unacked.sub(envs.len() as i64);
        let mut dead = Vec::new();
        for env in envs.into_iter().rev() {
            if env.deliveries >= core.redelivery.max_deliveries
                || core.redelivery.nack == NackMode::DeadLetter
            {
                dead.push(env);
            } else {
                core.m.ready.inc();
                s.park_front(core, env);
            }
        }
        for env in dead {
            if !core.dead_letter(&env, "delivery-limit") {
                core.m.dropped.inc();
            }
        }
        Ok(())
    }

    fn is_idle(&self) -> bool {
        self.subscribers.is_empty()
    }

    fn depth(&self) -> usize {
        self.parked()
    }

    fn unacknowledged(&self) -> usize {
        self.held()
    }

    fn consumers(&self, max: usize) -> (usize, Vec<ConsumerView>) {
        self.consumer_views(max)
    }

    fn purge(&mut self, core: &mut Core) -> usize {
        self.purge_parked(core)
    }

    fn evict(&mut self, core: &mut Core, notice: &dyn Fn() -> Fail) -> usize {
        self.evict_all(core, notice)
    }

    /// Parked messages are dropped: a topic keeps nothing for later.
    fn quarantine(&mut self, core: &mut Core) -> bool {
        for s in &mut self.subscribers {
            core.m.ready.sub(s.backlog.len() as i64);
            core.m.dropped.inc_by(s.backlog.len() as u64);
            s.release_backlog(core);
        }
        true
    }
}
