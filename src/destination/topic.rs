//! `Topic`: publish/subscribe. Every subscriber present when a message arrives
//! gets it once; nothing is kept for later subscribers.
//!
//! A subscriber whose window is full gets messages parked in its own bounded
//! backlog; past `subscriber_backlog` the message is dropped for that
//! subscriber and counted, so one slow reader never slows the others.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;

use super::consumer::Consumer;
use super::DestinationPolicy;
use crate::messages::connection::{Fail, Receipted};
use crate::messages::destination::{
    Ack, AckError, Nack, Publish, Retire, Settle, Subscribe, SubscribeError, Sync, Unsubscribe,
};
use crate::messages::router::{
    DeadLetter, DestinationFailed, DestinationIdle, Reroute, RouterHandle,
};
use crate::metrics::{ActorKind, DestinationMetrics, Metrics};
use crate::model::{AckMode, ConsumerKey, DestinationId, Envelope, MemoryBudget, SlowConsumer};
use crate::protocol::ErrorReason;
use crate::supervision::{guarded, Failing, Failures, RestartBudget};
use tokio::sync::OwnedSemaphorePermit;

struct Subscriber {
    consumer: Consumer,
    backlog: VecDeque<Envelope>,
    /// Ends the subscriber's connection under the `disconnect` slow-consumer policy.
    fail: Recipient<Fail>,
}

/// One topic's subscribers.
pub struct Topic {
    name: Arc<str>,
    policy: Arc<DestinationPolicy>,
    id: DestinationId,
    router: RouterHandle,
    metrics: Arc<Metrics>,
    m: DestinationMetrics,
    subscribers: Vec<Subscriber>,
    last_activity: Instant,
    retired: bool,
    timer: Option<SpawnHandle>,
    failures: Failures,
    /// Permits of publishers paused by the memory alarm.
    paused: Vec<OwnedSemaphorePermit>,
    recheck: bool,
}

impl Topic {
    /// A new topic called `name`, with no subscribers.
    pub fn new(
        name: Arc<str>,
        policy: Arc<DestinationPolicy>,
        id: DestinationId,
        router: RouterHandle,
        metrics: Arc<Metrics>,
    ) -> Self {
        let m = metrics.destination(&name, "topic");
        let budget = RestartBudget::new(policy.max_restarts, policy.restart_window);
        Topic {
            name,
            policy,
            id,
            router,
            metrics,
            m,
            subscribers: Vec::new(),
            last_activity: Instant::now(),
            retired: false,
            timer: None,
            failures: Failures::new(budget),
            paused: Vec::new(),
            recheck: false,
        }
    }

    fn sub(&mut self, key: ConsumerKey) -> Option<&mut Subscriber> {
        self.subscribers.iter_mut().find(|s| s.consumer.key == key)
    }

    /// Moves parked messages into the subscriber's window while it has room.
    fn pump(s: &mut Subscriber, m: &DestinationMetrics, memory: &MemoryBudget) {
        while s.consumer.has_room() {
            let Some(env) = s.backlog.pop_front() else {
                break;
            };
            memory.sub(env.data.footprint());
            m.ready.dec();
            Self::deliver(s, env, m);
        }
    }

    /// Lets publishers paused by the memory alarm go once it clears.
    fn resume_publishers(&mut self, ctx: &mut Context<Self>) {
        if self.paused.is_empty() {
            return;
        }
        if !self.policy.memory.alarm() {
            self.paused.clear();
        } else if !self.recheck {
            self.recheck = true;
            ctx.run_later(std::time::Duration::from_millis(10), |t, ctx| {
                t.recheck = false;
                t.resume_publishers(ctx);
            });
        }
    }

    fn deliver(s: &mut Subscriber, env: Envelope, m: &DestinationMetrics) {
        m.unacked.inc();
        m.delivered.inc();
        m.delivered_bytes.inc_by(env.data.size() as u64);
        if env.deliveries > 0 {
            m.redelivered.inc();
        } else {
            m.latency
                .observe(env.data.published_at.elapsed().as_secs_f64());
        }
        s.consumer.deliver(env);
    }

    fn remove(&mut self, key: ConsumerKey) {
        if let Some(pos) = self.subscribers.iter().position(|s| s.consumer.key == key) {
            let mut s = self.subscribers.remove(pos);
            self.m.consumers.dec();
            self.m.unacked.sub(s.consumer.take_all().len() as i64);
            self.m.ready.sub(s.backlog.len() as i64);
            let parked: usize = s.backlog.iter().map(|e| e.data.footprint()).sum();
            self.policy.memory.sub(parked);
        }
    }

    /// Gives up on this actor after a restart storm: parked messages are
    /// dropped (a topic keeps nothing for later), and the router hands the
    /// name to a fresh actor.
    fn quarantine(&mut self) {
        for s in &mut self.subscribers {
            self.m.ready.sub(s.backlog.len() as i64);
            self.m.dropped.inc_by(s.backlog.len() as u64);
            s.backlog.clear();
        }
        self.retired = true;
        self.router.failed.do_send(DestinationFailed {
            name: self.name.clone(),
            id: self.id,
        });
    }

    fn dead_letter(&self, env: Envelope) {
        let Some(dlq) = self.policy.dead_letter_queue(&self.name) else {
            self.m.dropped.inc();
            return;
        };
        self.m.dead_lettered.inc();
        let data = env.data.redirected(
            &dlq,
            vec![
                ("x-original-destination".into(), self.name.to_string()),
                ("x-death-reason".into(), "delivery-limit".into()),
                ("x-delivery-count".into(), env.deliveries.to_string()),
                ("x-original-message-id".into(), env.data.id.to_string()),
            ],
        );
        self.router.dead_letter.do_send(DeadLetter {
            destination: dlq,
            data,
        });
    }
}

impl Actor for Topic {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.retired {
            return;
        }
        let every = (self.policy.idle_timeout / 2).max(std::time::Duration::from_millis(10));
        self.timer = Some(ctx.run_interval(every, |t, _| {
            let dead: Vec<ConsumerKey> = t
                .subscribers
                .iter()
                .filter(|s| !s.consumer.is_connected())
                .map(|s| s.consumer.key)
                .collect();
            for key in dead {
                t.remove(key);
            }
            if t.subscribers.is_empty() && t.last_activity.elapsed() >= t.policy.idle_timeout {
                t.router.idle.do_send(DestinationIdle {
                    name: t.name.clone(),
                });
            }
        }));
    }
}

/// What survives a restart: everything in the struct (waiting messages,
/// consumers and what they hold unacknowledged), because actix restarts reuse
/// the actor value; only timers are rebuilt in `started`.
impl actix::Supervised for Topic {
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

impl Failing for Topic {
    fn record_failure(&mut self, cause: String) {
        self.failures.record(cause);
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::fault::Crash> for Topic {
    type Result = ();

    fn handle(&mut self, _: crate::fault::Crash, ctx: &mut Self::Context) {
        guarded(self, ctx, |_, _| panic!("injected destination fault"));
    }
}

impl Handler<Publish> for Topic {
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
            let cap = this.policy.subscriber_backlog;
            let mut too_slow = Vec::new();
            for data in msg.messages {
                this.m.published.inc();
                this.m.published_bytes.inc_by(data.size() as u64);
                for s in &mut this.subscribers {
                    let env = Envelope::new(data.clone());
                    if s.backlog.is_empty() && s.consumer.has_room() {
                        Self::deliver(s, env, &this.m);
                    } else if s.backlog.len() < cap {
                        this.m.ready.inc();
                        this.policy.memory.add(env.data.footprint());
                        s.backlog.push_back(env);
                    } else {
                        this.m.dropped.inc();
                        if this.policy.slow_consumer == SlowConsumer::Disconnect
                            && !too_slow.contains(&s.consumer.key)
                        {
                            too_slow.push(s.consumer.key);
                        }
                    }
                }
            }
            for key in too_slow {
                if let Some(s) = this.sub(key) {
                    s.fail.do_send(Fail {
                        message: "slow consumer".into(),
                        detail: format!(
                            "more than {cap} messages waited for this subscription; disconnected by the topic's slow-consumer policy"
                        ),
                        receipt_id: None,
                        reason: ErrorReason::SlowConsumer,
                    });
                }
                this.remove(key);
            }
            if let Some(o) = msg.origin {
                o.accepted();
            }
            if let Some(p) = msg.permit {
                if this.policy.memory.alarm() {
                    this.paused.push(p);
                }
            }
            this.resume_publishers(ctx);
        });
    }
}

impl Handler<Subscribe> for Topic {
    type Result = Result<(), SubscribeError>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        guarded(self, ctx, |this, _| {
            if this.retired {
                return Err(SubscribeError::Retired);
            }
            if this.sub(msg.key).is_some() {
                return Err(SubscribeError::Duplicate);
            }
            this.last_activity = Instant::now();
            this.subscribers.push(Subscriber {
                consumer: Consumer::new(
                    msg.key,
                    msg.ack,
                    (msg.prefetch, msg.window_bytes),
                    msg.deliver,
                ),
                backlog: VecDeque::new(),
                fail: msg.fail,
            });
            this.m.consumers.inc();
            if let Some((to, receipt_id)) = msg.receipt {
                to.do_send(Receipted { receipt_id });
            }
            Ok(())
        })
        .unwrap_or(Err(SubscribeError::Retired))
    }
}

impl Handler<Unsubscribe> for Topic {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, _| {
            this.last_activity = Instant::now();
            this.remove(msg.key);
        });
    }
}

impl Handler<Settle> for Topic {
    type Result = ();

    fn handle(&mut self, msg: Settle, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, _| {
            let m = this.m.clone();
            let memory = this.policy.memory.clone();
            if let Some(s) = this.sub(msg.key) {
                let n = s.consumer.settle(msg.count).len() as u64;
                m.unacked.sub(n as i64);
                m.acked.inc_by(n);
                Self::pump(s, &m, &memory);
            }
        });
    }
}

impl Topic {
    /// Removes what an ACK names from the subscriber's window.
    fn take_ack(&mut self, msg: &Ack) -> Result<(), AckError> {
        let m = self.m.clone();
        let s = self.sub(msg.key).ok_or(AckError::NoSubscription)?;
        if s.consumer.ack == AckMode::Auto {
            return Err(AckError::Unknown(msg.message_id));
        }
        let done = s.consumer.take_acked(msg.message_id, msg.cumulative)?;
        m.unacked.sub(done.len() as i64);
        m.acked.inc_by(done.len() as u64);
        Ok(())
    }

    /// A topic subscriber's NACKed message is redelivered to that same
    /// subscriber (nobody else was meant to get it), up to the delivery limit.
    fn take_nack(&mut self, msg: &Nack) -> Result<(), AckError> {
        let m = self.m.clone();
        let max = self.policy.max_deliveries;
        let memory = self.policy.memory.clone();
        let s = self.sub(msg.key).ok_or(AckError::NoSubscription)?;
        if s.consumer.ack == AckMode::Auto {
            return Err(AckError::Unknown(msg.message_id));
        }
        let envs = s.consumer.take_acked(msg.message_id, msg.cumulative)?;
        m.nacked.inc_by(envs.len() as u64);
        m.unacked.sub(envs.len() as i64);
        let mut dead = Vec::new();
        for env in envs.into_iter().rev() {
            if env.deliveries >= max {
                dead.push(env);
            } else {
                m.ready.inc();
                memory.add(env.data.footprint());
                s.backlog.push_front(env);
            }
        }
        for env in dead {
            self.dead_letter(env);
        }
        Ok(())
    }

    /// Refills one subscriber's window from its backlog.
    fn pump_key(&mut self, key: ConsumerKey) {
        let m = self.m.clone();
        let memory = self.policy.memory.clone();
        if let Some(s) = self.sub(key) {
            Self::pump(s, &m, &memory);
        }
    }
}

impl Handler<Ack> for Topic {
    type Result = Result<(), AckError>;

    fn handle(&mut self, mut msg: Ack, ctx: &mut Self::Context) -> Self::Result {
        let origin = msg.origin.take();
        guarded(self, ctx, move |this, _| {
            let result = this.take_ack(&msg);
            // The RECEIPT goes out before the deliveries this ACK makes room for.
            if let Some(o) = origin {
                o.settled("ACK", &result);
            }
            this.pump_key(msg.key);
            result
        })
        .unwrap_or(Err(AckError::NoSubscription))
    }
}

impl Handler<Nack> for Topic {
    type Result = Result<(), AckError>;

    fn handle(&mut self, mut msg: Nack, ctx: &mut Self::Context) -> Self::Result {
        let origin = msg.origin.take();
        guarded(self, ctx, move |this, _| {
            let result = this.take_nack(&msg);
            if let Some(o) = origin {
                o.settled("NACK", &result);
            }
            this.pump_key(msg.key);
            result
        })
        .unwrap_or(Err(AckError::NoSubscription))
    }
}

impl Handler<Sync> for Topic {
    type Result = ();

    fn handle(&mut self, _: Sync, _: &mut Self::Context) {}
}

impl Handler<Retire> for Topic {
    type Result = bool;

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) -> bool {
        let idle = self.subscribers.is_empty();
        if idle {
            // See `Queue`'s Retire handler: forward stragglers, stop when unreferenced.
            self.retired = true;
            if let Some(t) = self.timer.take() {
                ctx.cancel_future(t);
            }
        }
        idle
    }
}
