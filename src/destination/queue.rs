//! Point-to-point delivery: each message goes to exactly one consumer at a
//! time, round-robin among those with room in their window, or, while any
//! consumer is exclusive, to the first exclusive one. Waiting messages live
//! in a [`Backlog`], by priority. A NACKed message goes back per the destination's
//! [`Redelivery`](crate::model::Redelivery) policy, after its delay in a
//! [`Schedule`]; one a consumer left unacknowledged goes back to the head; one
//! delivered `max_deliveries` times goes to the dead-letter queue.

use std::sync::Arc;
use std::time::Instant;

use super::backlog::{Backlog, BacklogError, Flushed, MemoryBacklog, Pending, Removal};
use super::consumer::Consumer;
use super::core::Core;
use super::delivery::{Delivery, Refused};
use super::redelivery::{fate, Fate, Place, Returned, Schedule};
use crate::messages::connection::Fail;
use crate::messages::destination::{AckError, PrepareRefused};
use crate::model::{
    ConsumerKey, ConsumerView, Envelope, Kind, MessageData, Overflow, QueueLimits, ReplayOutcome,
};

mod operate;
mod selective;
#[cfg(test)]
mod tests;

/// A queue's consumers and its store of waiting messages.
pub struct QueueDelivery<S: Backlog = MemoryBacklog> {
    backlog: S,
    consumers: Vec<Consumer>,
    /// Where the round-robin looks first.
    next: usize,
    /// How many consumers are exclusive: while any is, only the first of
    /// them gets messages (ActiveMQ's exclusive consumer).
    exclusive: usize,
    limits: QueueLimits,
    /// NACKed messages waiting out their redelivery delay.
    delayed: Schedule,
}

/// Logs what a store could not record; the queue carries on in memory.
fn logged(core: &Core, what: &str, result: Result<(), BacklogError>) {
    if let Err(e) = result {
        tracing::error!(destination = %core.name, error = %e, "message store could not record {what}");
    }
}

impl<S: Backlog> QueueDelivery<S> {
    /// A queue with no consumers over `store`, bounded by `limits`.
    pub fn with_backlog(backlog: S, limits: QueueLimits) -> Self {
        QueueDelivery {
            backlog,
            consumers: Vec::new(),
            next: 0,
            exclusive: 0,
            limits,
            delayed: Schedule::default(),
        }
    }

    fn consumer(&mut self, key: ConsumerKey) -> Option<&mut Consumer> {
        self.consumers.iter_mut().find(|c| c.key == key)
    }

    /// Messages and body bytes waiting, ready or delayed: what the bounds
    /// count, so that NACKing with a delay cannot grow a queue past them.
    fn waiting(&self) -> (usize, usize) {
        (
            self.backlog.len() + self.delayed.len(),
            self.backlog.bytes() + self.delayed.bytes(),
        )
    }

    /// Whether a publish of `count` messages and `bytes` body bytes would
    /// take the queue past its bounds. Reaching them exactly is allowed, and
    /// an empty publish adds nothing, so it never overflows.
    fn overflows(&self, count: usize, bytes: usize) -> bool {
        count > 0
            && self.limits.full(
                self.waiting().0 + count - 1,
                self.waiting().1 + bytes.saturating_sub(1),
            )
    }

    /// A message leaves this queue for good.
    pub(super) fn forget(&mut self, core: &Core, env: &Envelope, why: Removal) {
        core.policy.memory.sub(env.data.footprint());
        logged(core, "a removal", self.backlog.removed(env, why));
    }

    pub(super) fn dead_letter(&mut self, core: &mut Core, env: Envelope, reason: &str) {
        if core.dead_letter(&env, reason) {
            core.policy.memory.sub(env.data.footprint());
            if let Some(letter) = core.last_dead_letter() {
                let recorded = self
                    .backlog
                    .dead_lettered(&env, &letter.destination, &letter.data);
                logged(core, "a dead letter", recorded);
            }
            return;
        }
        // A dead-letter queue's own poison messages stay where they are, at the back.
        core.m.ready.inc();
        if let Err(e) = self.backlog.push_back(env.clone()) {
            logged(core, "a poison message", Err(e));
            self.backlog.push_front(env);
        }
    }

    /// Takes back returned messages (oldest first) as the redelivery policy
    /// says: dead-lettered, back in the queue, or held for their delay.
    fn requeue(&mut self, core: &mut Core, envs: Vec<Envelope>, how: Returned) {
        let now = Instant::now();
        let mut back = Vec::new();
        for env in envs {
            core.m.unacked.dec();
            match fate(&core.redelivery, env.deliveries, how) {
                Fate::DeadLetter(why) => self.dead_letter(core, env, why),
                Fate::Back(place, wait) => {
                    core.m.ready.inc();
                    if wait.is_zero() {
                        back.push((env, place));
                    } else {
                        self.delayed.hold(env, now + wait, place);
                    }
                }
            }
        }
        self.put_back(core, back);
    }

    /// Puts returned messages (oldest first) back at their places; those for
    /// the head end there in the order given.
    fn put_back(&mut self, core: &Core, envs: Vec<(Envelope, Place)>) {
        let mut head = Vec::new();
        for (env, place) in envs {
            if place == Place::Head {
                head.push(env);
            } else if let Err(e) = self.backlog.push_back(env.clone()) {
                // Its acceptance is recorded; only the tail failed, so the head it is.
                logged(core, "a requeue at the tail", Err(e));
                self.backlog.push_front(env);
            }
        }
        for env in head.into_iter().rev() {
            self.backlog.push_front(env);
        }
    }

    /// Moves the delayed messages now due back into the queue.
    fn release_due(&mut self, core: &Core) {
        let now = Instant::now();
        if self.delayed.next_due().is_some_and(|t| t <= now) {
            let due = self.delayed.take_due(now);
            self.put_back(core, due);
        }
    }
}

impl<S: Backlog + Unpin + 'static> Delivery for QueueDelivery<S> {
    const KIND: Kind = Kind::Queue;

    fn new(core: &Core) -> Self {
        Self::with_backlog(S::open(core), core.policy.limits_for(&core.name))
    }

    fn flush(&mut self) -> Flushed {
        self.backlog.flush()
    }

    fn pending(&self) -> Pending {
        self.backlog.pending()
    }

    fn publish(
        &mut self,
        core: &mut Core,
        messages: Vec<Arc<MessageData>>,
        from_client: bool,
    ) -> Result<(), Refused> {
        let incoming: usize = messages.iter().map(|d| d.size()).sum();
        if from_client
            && self.limits.overflow == Overflow::Reject
            && self.overflows(messages.len(), incoming)
        {
            core.m.dropped.inc_by(messages.len() as u64);
            let l = self.limits;
            return Err(Refused::Full(format!(
                "the queue holds at most {} messages and {} bytes",
                l.max_messages, l.max_bytes
            )));
        }
        let mut messages = messages.into_iter();
        while let Some(data) = messages.next() {
            if self.limits.overflow == Overflow::DropHead {
                while !self.backlog.is_empty()
                    && self
                        .limits
                        .full(self.waiting().0, self.waiting().1 + data.size())
                {
                    if let Some(old) = self.backlog.pop_front() {
                        core.m.ready.dec();
                        core.m.dropped.inc();
                        self.forget(core, &old, Removal::Dropped);
                    }
                }
            }
            let (size, footprint) = (data.size(), data.footprint());
            if let Err(e) = self.backlog.push_back(Envelope::new(data)) {
                // Nothing after a failed write is taken either: the batch stays contiguous.
                core.m.dropped.inc_by(1 + messages.len() as u64);
                let why = format!("the queue could not store it: {e}");
                logged(core, "a publish", Err(e));
                return Err(Refused::Store(why));
            }
            core.m.published.inc();
            core.m.published_bytes.inc_by(size as u64);
            core.m.ready.inc();
            core.policy.memory.add(footprint);
        }
        Ok(())
    }

    fn holder(&self, key: ConsumerKey) -> Option<&Consumer> {
        self.consumers.iter().find(|c| c.key == key)
    }

    /// As a client publish would be treated: `reject` refuses what does not
    /// fit, `block` waits for room (and refuses what can never fit, rather
    /// than wait forever), `drop-head` makes room when applied.
    fn room(&self, _: &Core, count: usize, bytes: usize) -> Result<(), PrepareRefused> {
        let l = self.limits;
        let why = || {
            format!(
                "the queue holds at most {} messages and {} bytes",
                l.max_messages, l.max_bytes
            )
        };
        match l.overflow {
            Overflow::DropHead => Ok(()),
            Overflow::Reject if self.overflows(count, bytes) => Err(PrepareRefused::Full(why())),
            Overflow::Reject => Ok(()),
            Overflow::Block if count > l.max_messages || bytes > l.max_bytes => {
                Err(PrepareRefused::Full(why()))
            }
            Overflow::Block if self.overflows(count, bytes) => Err(PrepareRefused::Busy),
            Overflow::Block => Ok(()),
        }
    }

    fn must_pause(&self, core: &Core) -> bool {
        (self.limits.overflow == Overflow::Block
            && self.limits.full(self.waiting().0, self.waiting().1))
            || core.policy.memory.alarm()
            || self.backlog.must_pause()
    }

    fn dispatch(&mut self, core: &mut Core) {
        self.release_due(core);
        if self.exclusive > 0 {
            let only = self.consumers.iter().position(Consumer::is_exclusive);
            return self.dispatch_selective(core, only);
        }
        if self.consumers.iter().any(Consumer::is_selective) {
            return self.dispatch_selective(core, None);
        }
        while !self.backlog.is_empty() && !self.consumers.is_empty() {
            let n = self.consumers.len();
            let Some(idx) = (0..n)
                .map(|i| (self.next + i) % n)
                .find(|&i| self.consumers[i].has_room())
            else {
                break;
            };
            let Some(env) = self.backlog.pop_front() else {
                break;
            };
            core.m.ready.dec();
            if core.expired(&env) {
                self.expire(core, env);
                continue;
            }
            self.hand(core, idx, env);
        }
    }

    fn refill(&mut self, core: &mut Core, _: ConsumerKey) {
        self.dispatch(core);
    }

    fn contains(&self, key: ConsumerKey) -> bool {
        self.consumers.iter().any(|c| c.key == key)
    }

    fn subscribe(&mut self, core: &mut Core, consumer: Consumer) {
        self.exclusive += usize::from(consumer.is_exclusive());
        self.consumers.push(consumer);
        core.m.consumers.inc();
    }

    fn unsubscribe(&mut self, core: &mut Core, key: ConsumerKey) {
        if let Some(pos) = self.consumers.iter().position(|c| c.key == key) {
            let mut c = self.consumers.remove(pos);
            core.m.consumers.dec();
            self.exclusive -= usize::from(c.is_exclusive());
            let held = c.take_all();
            self.requeue(core, held.into(), Returned::ConsumerGone);
            if self.next >= self.consumers.len() {
                self.next = 0;
            }
        }
    }

    fn reap(&mut self, core: &mut Core) {
        let dead: Vec<ConsumerKey> = self
            .consumers
            .iter()
            .filter(|c| !c.is_connected())
            .map(|c| c.key)
            .collect();
        for key in dead {
            self.unsubscribe(core, key);
        }
    }

    fn settle(&mut self, core: &mut Core, key: ConsumerKey, count: u32) {
        let Some(c) = self.consumer(key) else {
            return;
        };
        let done = c.settle(count);
        for env in &done {
            self.forget(core, env, Removal::Acked);
        }
        core.m.unacked.sub(done.len() as i64);
        core.m.acked.inc_by(done.len() as u64);
        self.dispatch(core);
    }

    fn ack(
        &mut self,
        core: &mut Core,
        key: ConsumerKey,
        message_id: u64,
        cumulative: bool,
    ) -> Result<(), AckError> {
        core.touch();
        let c = self.consumer(key).ok_or(AckError::NoSubscription)?;
        let done = c.take_acked(message_id, cumulative)?;
        for env in &done {
            self.forget(core, env, Removal::Acked);
        }
        core.m.unacked.sub(done.len() as i64);
        core.m.acked.inc_by(done.len() as u64);
        Ok(())
    }

    fn nack(
        &mut self,
        core: &mut Core,
        key: ConsumerKey,
        message_id: u64,
        cumulative: bool,
    ) -> Result<(), AckError> {
        core.touch();
        let c = self.consumer(key).ok_or(AckError::NoSubscription)?;
        let envs = c.take_acked(message_id, cumulative)?;
        core.m.nacked.inc_by(envs.len() as u64);
        self.requeue(core, envs, Returned::Nacked);
        Ok(())
    }

    fn is_idle(&self) -> bool {
        self.backlog.is_empty() && self.consumers.is_empty() && self.delayed.is_empty()
    }

    fn next_due(&self) -> Option<Instant> {
        self.delayed.next_due()
    }

    fn depth(&self) -> usize {
        // Delayed redeliveries wait too.
        self.waiting().0
    }

    fn unacknowledged(&self) -> usize {
        self.held()
    }

    fn consumers(&self, max: usize) -> (usize, Vec<ConsumerView>) {
        self.consumer_views(max)
    }

    fn purge(&mut self, core: &mut Core) -> usize {
        self.purge_waiting(core)
    }

    fn evict(&mut self, core: &mut Core, notice: &dyn Fn() -> Fail) -> usize {
        self.evict_all(core, notice)
    }

    fn replay(&mut self, core: &mut Core, limit: usize) -> ReplayOutcome {
        self.replay_waiting(core, limit)
    }

    fn quarantine(&mut self, core: &mut Core) -> bool {
        if !core.has_dead_letter_queue() {
            // A dead-letter queue has nowhere to send its messages: keep
            // restarting rather than lose them.
            return false;
        }
        let mut waiting = self.delayed.take_all();
        while let Some(env) = self.backlog.pop_front() {
            waiting.push(env);
        }
        for env in waiting {
            core.m.ready.dec();
            self.dead_letter(core, env, "destination-failed");
        }
        true
    }
}
