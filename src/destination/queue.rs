//! `Queue`: a point-to-point destination. Each message goes to exactly one
//! subscriber at a time, round-robin among those with room in their window.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;

use super::consumer::Consumer;
use super::DestinationPolicy;
use crate::messages::connection::Receipted;
use crate::messages::destination::{
    Ack, AckError, Nack, Origin, Publish, Retire, Settle, Subscribe, SubscribeError, Sync,
    Unsubscribe,
};
use crate::messages::router::{
    DeadLetter, DestinationFailed, DestinationIdle, Reroute, RouterHandle,
};
use crate::metrics::{ActorKind, DestinationMetrics, Metrics};
use crate::model::{
    AckMode, ConsumerKey, DestinationId, Envelope, MessageData, Overflow, QueueLimits,
};
use crate::supervision::{guarded, Failing, Failures, RestartBudget};
use tokio::sync::OwnedSemaphorePermit;

/// One queue's state. Lives on one arbiter; everything it holds is in this
/// struct, so a supervisor restart keeps ready and unacknowledged messages.
pub struct Queue {
    name: Arc<str>,
    policy: Arc<DestinationPolicy>,
    id: DestinationId,
    router: RouterHandle,
    metrics: Arc<Metrics>,
    m: DestinationMetrics,
    ready: VecDeque<Envelope>,
    consumers: Vec<Consumer>,
    next: usize,
    last_activity: Instant,
    retired: bool,
    timer: Option<SpawnHandle>,
    failures: Failures,
    limits: QueueLimits,
    /// Body bytes of `ready` plus everything consumers hold unacknowledged.
    held_bytes: usize,
    ready_bytes: usize,
    /// Permits of publishers paused until there is room (`block` policy or memory alarm).
    paused: Vec<OwnedSemaphorePermit>,
    recheck: bool,
}

impl Queue {
    /// A new, empty queue called `name`.
    pub fn new(
        name: Arc<str>,
        policy: Arc<DestinationPolicy>,
        id: DestinationId,
        router: RouterHandle,
        metrics: Arc<Metrics>,
    ) -> Self {
        let m = metrics.destination(&name, "queue");
        let budget = RestartBudget::new(policy.max_restarts, policy.restart_window);
        let limits = policy.limits_for(&name);
        Queue {
            name,
            policy,
            id,
            router,
            metrics,
            m,
            ready: VecDeque::new(),
            consumers: Vec::new(),
            next: 0,
            last_activity: Instant::now(),
            retired: false,
            timer: None,
            failures: Failures::new(budget),
            limits,
            held_bytes: 0,
            ready_bytes: 0,
            paused: Vec::new(),
            recheck: false,
        }
    }

    fn consumer(&mut self, key: ConsumerKey) -> Option<&mut Consumer> {
        self.consumers.iter_mut().find(|c| c.key == key)
    }

    /// Hands ready messages to consumers with room, round-robin.
    fn dispatch(&mut self) {
        while !self.ready.is_empty() && !self.consumers.is_empty() {
            let n = self.consumers.len();
            let Some(idx) = (0..n)
                .map(|i| (self.next + i) % n)
                .find(|&i| self.consumers[i].has_room())
            else {
                break;
            };
            let Some(env) = self.ready.pop_front() else {
                break;
            };
            self.ready_bytes = self.ready_bytes.saturating_sub(env.data.size());
            self.m.ready.dec();
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
            self.consumers[idx].deliver(env);
            self.next = (idx + 1) % n;
        }
    }

    /// Puts returned messages back at the head, oldest first, dead-lettering
    /// those that used up their deliveries.
    fn requeue(&mut self, envs: impl DoubleEndedIterator<Item = Envelope>, reason: &str) {
        for env in envs.rev() {
            self.m.unacked.dec();
            if env.deliveries >= self.policy.max_deliveries {
                self.dead_letter(env, reason);
            } else {
                self.m.ready.inc();
                self.ready_bytes += env.data.size();
                self.ready.push_front(env);
            }
        }
    }

    fn dead_letter(&mut self, env: Envelope, reason: &str) {
        let Some(dlq) = self.policy.dead_letter_queue(&self.name) else {
            // A dead-letter queue's own poison messages stay where they are, at the back.
            self.m.ready.inc();
            self.ready_bytes += env.data.size();
            self.ready.push_back(env);
            return;
        };
        self.forget(&env);
        self.m.dead_lettered.inc();
        let data = env.data.redirected(
            &dlq,
            vec![
                ("x-original-destination".into(), self.name.to_string()),
                ("x-death-reason".into(), reason.into()),
                ("x-delivery-count".into(), env.deliveries.to_string()),
                ("x-original-message-id".into(), env.data.id.to_string()),
            ],
        );
        self.router.dead_letter.do_send(DeadLetter {
            destination: dlq,
            data,
        });
    }

    fn remove_consumer(&mut self, key: ConsumerKey) {
        if let Some(pos) = self.consumers.iter().position(|c| c.key == key) {
            let mut c = self.consumers.remove(pos);
            self.m.consumers.dec();
            let held = c.take_all();
            self.requeue(held.into_iter(), "consumer-gone");
            if self.next >= self.consumers.len() {
                self.next = 0;
            }
        }
    }

    /// Drops consumers whose connection has gone without unsubscribing.
    fn reap_dead_consumers(&mut self) {
        let dead: Vec<ConsumerKey> = self
            .consumers
            .iter()
            .filter(|c| !c.is_connected())
            .map(|c| c.key)
            .collect();
        for key in dead {
            self.remove_consumer(key);
        }
    }

    /// Gives up on this actor after a restart storm: waiting messages go to
    /// the dead-letter queue, and the router hands the name to a fresh actor.
    fn quarantine(&mut self) {
        if self.policy.dead_letter_queue(&self.name).is_none() {
            // A dead-letter queue has nowhere to send its messages: keep
            // restarting rather than lose them.
            return;
        }
        while let Some(env) = self.ready.pop_front() {
            self.m.ready.dec();
            self.dead_letter(env, "destination-failed");
        }
        self.retired = true;
        self.router.failed.do_send(DestinationFailed {
            name: self.name.clone(),
            id: self.id,
        });
    }

    /// Takes published messages, applying the overflow policy when full.
    /// Returns false if the `reject` policy refused them.
    fn accept(&mut self, messages: Vec<Arc<MessageData>>, origin: Option<&Origin>) -> bool {
        let incoming: usize = messages.iter().map(|d| d.size()).sum();
        if self.limits.overflow == Overflow::Reject
            && self.limits.full(
                self.ready.len() + messages.len() - 1,
                self.ready_bytes + incoming.saturating_sub(1),
            )
            && origin.is_some()
        {
            self.m.dropped.inc_by(messages.len() as u64);
            return false;
        }
        for data in messages {
            if self.limits.overflow == Overflow::DropHead {
                while !self.ready.is_empty()
                    && self
                        .limits
                        .full(self.ready.len(), self.ready_bytes + data.size())
                {
                    if let Some(old) = self.ready.pop_front() {
                        self.m.ready.dec();
                        self.m.dropped.inc();
                        self.forget(&old);
                    }
                }
            }
            self.m.published.inc();
            self.m.published_bytes.inc_by(data.size() as u64);
            self.m.ready.inc();
            self.ready_bytes += data.size();
            self.held_bytes += data.size();
            self.policy.memory.add(data.footprint());
            self.ready.push_back(Envelope::new(data));
        }
        true
    }

    /// A message leaves this queue for good (acknowledged, dropped, dead-lettered).
    fn forget(&mut self, env: &Envelope) {
        let n = env.data.size();
        self.held_bytes = self.held_bytes.saturating_sub(n);
        self.policy.memory.sub(env.data.footprint());
        if self.ready.is_empty() {
            self.ready_bytes = 0;
        }
    }

    fn must_pause(&self) -> bool {
        (self.limits.overflow == Overflow::Block
            && self.limits.full(self.ready.len(), self.ready_bytes))
            || self.policy.memory.alarm()
    }

    /// Lets paused publishers go once there is room; while some stay paused,
    /// looks again shortly (the memory alarm can clear without our doing).
    fn resume_publishers(&mut self, ctx: &mut Context<Self>) {
        if self.paused.is_empty() || self.must_pause() {
            if !self.paused.is_empty() && !self.recheck {
                self.recheck = true;
                ctx.run_later(std::time::Duration::from_millis(10), |q, ctx| {
                    q.recheck = false;
                    q.resume_publishers(ctx);
                });
            }
            return;
        }
        self.paused.clear();
    }
}

impl Actor for Queue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.retired {
            return;
        }
        let every = (self.policy.idle_timeout / 2).max(std::time::Duration::from_millis(10));
        self.timer = Some(ctx.run_interval(every, |q, _| {
            q.reap_dead_consumers();
            q.dispatch();
            let idle = q.ready.is_empty()
                && q.consumers.is_empty()
                && q.last_activity.elapsed() >= q.policy.idle_timeout;
            if idle && !q.retired {
                q.router.idle.do_send(DestinationIdle {
                    name: q.name.clone(),
                });
            }
        }));
    }
}

/// What survives a restart: everything in the struct (waiting messages,
/// consumers and what they hold unacknowledged), because actix restarts reuse
/// the actor value; only timers are rebuilt in `started`.
impl actix::Supervised for Queue {
    fn restarting(&mut self, _: &mut Context<Self>) {
        if !self
            .failures
            .restarted(&self.metrics, ActorKind::Destination, &self.name)
        {
            tracing::error!(destination = %self.name, "destination failing repeatedly; quarantining it");
            self.quarantine();
        }
    }
}

impl Failing for Queue {
    fn record_failure(&mut self, cause: String) {
        self.failures.record(cause);
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::fault::Crash> for Queue {
    type Result = ();

    fn handle(&mut self, _: crate::fault::Crash, ctx: &mut Self::Context) {
        guarded(self, ctx, |_, _| panic!("injected destination fault"));
    }
}

impl Handler<Publish> for Queue {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, ctx| {
            if this.retired {
                this.router.reroute.do_send(Reroute::Publish {
                    destination: this.name.clone(),
                    msg,
                });
                return;
            }
            this.last_activity = Instant::now();
            let Publish {
                messages,
                permit,
                origin,
            } = msg;
            let taken = this.accept(messages, origin.as_ref());
            match origin {
                Some(o) if taken => o.accepted(),
                Some(o) => {
                    let l = this.limits;
                    o.rejected(
                        &this.name,
                        format!(
                            "the queue holds at most {} messages and {} bytes",
                            l.max_messages, l.max_bytes
                        ),
                    );
                }
                None => {}
            }
            if let Some(p) = permit {
                if this.must_pause() {
                    this.paused.push(p);
                }
            }
            this.dispatch();
            this.resume_publishers(ctx);
        });
    }
}

impl Handler<Subscribe> for Queue {
    type Result = Result<(), SubscribeError>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        guarded(self, ctx, |this, _| {
            if this.retired {
                return Err(SubscribeError::Retired);
            }
            if this.consumer(msg.key).is_some() {
                return Err(SubscribeError::Duplicate);
            }
            this.last_activity = Instant::now();
            this.consumers.push(Consumer::new(
                msg.key,
                msg.ack,
                (msg.prefetch, msg.window_bytes),
                msg.deliver,
            ));
            this.m.consumers.inc();
            if let Some((to, receipt_id)) = msg.receipt {
                to.do_send(Receipted { receipt_id });
            }
            this.dispatch();
            Ok(())
        })
        .unwrap_or(Err(SubscribeError::Retired))
    }
}

impl Handler<Unsubscribe> for Queue {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, _| {
            this.last_activity = Instant::now();
            this.remove_consumer(msg.key);
            this.dispatch();
        });
    }
}

impl Handler<Settle> for Queue {
    type Result = ();

    fn handle(&mut self, msg: Settle, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, ctx| {
            let Some(c) = this.consumer(msg.key) else {
                return;
            };
            let done = c.settle(msg.count);
            let n = done.len() as u64;
            for env in &done {
                this.forget(env);
            }
            this.m.unacked.sub(n as i64);
            this.m.acked.inc_by(n);
            this.dispatch();
            this.resume_publishers(ctx);
        });
    }
}

impl Queue {
    /// Removes what an ACK names; the caller reports and dispatches.
    fn take_ack(&mut self, msg: &Ack) -> Result<(), AckError> {
        self.last_activity = Instant::now();
        let c = self.consumer(msg.key).ok_or(AckError::NoSubscription)?;
        if c.ack == AckMode::Auto {
            return Err(AckError::Unknown(msg.message_id));
        }
        let done = c.take_acked(msg.message_id, msg.cumulative)?;
        for env in &done {
            self.forget(env);
        }
        self.m.unacked.sub(done.len() as i64);
        self.m.acked.inc_by(done.len() as u64);
        Ok(())
    }

    /// Puts back what a NACK names; the caller reports and dispatches.
    fn take_nack(&mut self, msg: &Nack) -> Result<(), AckError> {
        self.last_activity = Instant::now();
        let c = self.consumer(msg.key).ok_or(AckError::NoSubscription)?;
        if c.ack == AckMode::Auto {
            return Err(AckError::Unknown(msg.message_id));
        }
        let envs = c.take_acked(msg.message_id, msg.cumulative)?;
        self.m.nacked.inc_by(envs.len() as u64);
        self.requeue(envs.into_iter(), "delivery-limit");
        Ok(())
    }
}

impl Handler<Ack> for Queue {
    type Result = Result<(), AckError>;

    fn handle(&mut self, mut msg: Ack, ctx: &mut Self::Context) -> Self::Result {
        let origin = msg.origin.take();
        guarded(self, ctx, move |this, ctx| {
            let result = this.take_ack(&msg);
            // The RECEIPT goes out before the deliveries this ACK makes room for.
            if let Some(o) = origin {
                o.settled("ACK", &result);
            }
            this.dispatch();
            this.resume_publishers(ctx);
            result
        })
        .unwrap_or(Err(AckError::NoSubscription))
    }
}

impl Handler<Nack> for Queue {
    type Result = Result<(), AckError>;

    fn handle(&mut self, mut msg: Nack, ctx: &mut Self::Context) -> Self::Result {
        let origin = msg.origin.take();
        guarded(self, ctx, move |this, _| {
            let result = this.take_nack(&msg);
            if let Some(o) = origin {
                o.settled("NACK", &result);
            }
            this.dispatch();
            result
        })
        .unwrap_or(Err(AckError::NoSubscription))
    }
}

impl Handler<Sync> for Queue {
    type Result = ();

    fn handle(&mut self, _: Sync, _: &mut Self::Context) {}
}

impl Handler<Retire> for Queue {
    type Result = bool;

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) -> bool {
        let idle = self.ready.is_empty() && self.consumers.is_empty();
        if idle {
            // Not `ctx.stop()`: a session may still hold our address and publish
            // to it. A retired queue forwards such messages to the router and
            // stops by itself once the last address is dropped.
            self.retired = true;
            if let Some(t) = self.timer.take() {
                ctx.cancel_future(t);
            }
        }
        idle
    }
}
