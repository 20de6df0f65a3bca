//! `Destination<S>`: the actor that runs one queue or topic. What every
//! destination does alike lives here, once: the idle timer and retirement,
//! supervision and quarantine, pausing and resuming publishers, forwarding
//! dead letters to the router. How messages reach consumers is the
//! [`Delivery`] strategy `S`; the message handlers are in `handlers.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::OwnedSemaphorePermit;

use super::backlog::Pending;
use super::consumer::Outlet;
use super::core::Core;
use super::delivery::Delivery;
use super::durability::Durability;
use super::DestinationPolicy;
use crate::messages::connection::{Deliver, Fail};
use crate::messages::destination::Forward;
use crate::messages::router::{DestinationFailed, DestinationIdle, RouterHandle};
use crate::metrics::ActorKind;
use crate::metrics::Metrics;
use crate::model::DestinationId;
use crate::supervision::{Failing, Failures, RestartBudget};

/// How soon paused publishers are looked at again while they must stay
/// paused: the memory alarm can clear without this destination doing anything.
const RESUME_RECHECK: Duration = Duration::from_millis(10);

/// The shortest period of the idle timer, however short `idle_timeout` is.
const MIN_IDLE_TICK: Duration = Duration::from_millis(10);

/// One destination. Lives on one arbiter; everything it holds is in this
/// struct, so a supervisor restart keeps waiting and unacknowledged messages.
pub struct Destination<S: Delivery> {
    pub(super) core: Core,
    pub(super) strategy: S,
    id: DestinationId,
    pub(super) router: RouterHandle,
    metrics: Arc<Metrics>,
    /// Retired (idle or quarantined): forwards what it still receives to the router.
    pub(super) retired: bool,
    pub(super) timer: Option<SpawnHandle>,
    failures: Failures,
    /// Permits of publishers paused until there is room.
    pub(super) paused: Vec<Paused>,
    recheck: bool,
    /// Batches submitted to the journal and who waits for them.
    pub(super) durability: Durability<S>,
    /// The one timer for the earliest delayed redelivery, and when it fires.
    wake: Option<(Instant, SpawnHandle)>,
    /// A wildcard topic (`/topic/a.*`): fed by the topics it matches, never by SEND.
    pub(super) wildcard: bool,
    /// The wildcard topics and durable subscription queues matching this
    /// one, which get a copy of what it takes.
    pub(super) forwards: Vec<Forward>,
    /// A durable subscription's queue: it never retires when idle, because
    /// the topics feeding it hold its address.
    pub(super) pinned: bool,
}

/// A paused publisher's permit: its own, or the one a topic's copies share
/// (a durable subscription's full queue pauses the topic's publisher).
pub(super) enum Paused {
    Own(#[allow(dead_code)] OwnedSemaphorePermit),
    Shared(#[allow(dead_code)] Arc<OwnedSemaphorePermit>),
}

impl<S: Delivery> Destination<S> {
    /// A new, empty destination called `name`.
    pub fn new(
        name: Arc<str>,
        policy: Arc<DestinationPolicy>,
        id: DestinationId,
        router: RouterHandle,
        metrics: Arc<Metrics>,
    ) -> Self {
        let m = metrics.destination(&name, S::KIND.as_str());
        let budget = RestartBudget::new(policy.max_restarts, policy.restart_window);
        let core = Core::new(name, policy, m);
        let strategy = S::new(&core);
        Destination {
            core,
            strategy,
            id,
            router,
            metrics,
            retired: false,
            timer: None,
            failures: Failures::new(budget),
            paused: Vec::new(),
            recheck: false,
            durability: Durability::default(),
            wake: None,
            wildcard: false,
            forwards: Vec::new(),
            pinned: false,
        }
    }

    /// The same destination as a wildcard topic, which refuses SENDs.
    pub fn wildcard(mut self) -> Self {
        self.wildcard = true;
        self
    }

    /// The same destination as a durable subscription's queue, which never
    /// retires when idle.
    pub fn pinned(mut self) -> Self {
        self.pinned = true;
        self
    }

    /// Runs one step of the strategy, submits what it changed to the journal,
    /// then forwards the dead letters it made (after the batch that records
    /// them, and before any reply the caller sends next).
    pub(super) fn run<R>(
        &mut self,
        ctx: &mut Context<Self>,
        f: impl FnOnce(&mut S, &mut Core) -> R,
    ) -> R {
        let r = f(&mut self.strategy, &mut self.core);
        self.finish_step(ctx, false);
        r
    }

    /// Submits what the steps since the last flush changed, then forwards
    /// their dead letters. `lazily`: nobody waits for these changes, so acks
    /// alone may wait for the batch in flight (see `flush_lazily`).
    pub(super) fn finish_step(&mut self, ctx: &mut Context<Self>, lazily: bool) {
        self.arm_wake(ctx);
        if lazily && self.strategy.pending() == Pending::Acks {
            self.flush_lazily(ctx);
        } else {
            self.flush(ctx);
        }
        for letter in self.core.take_outbox() {
            self.router.dead_letter.do_send(letter);
        }
    }

    /// Keeps the redelivery timer on the earliest delayed message: set when
    /// none is, moved earlier when an earlier one arrives. A timer left later
    /// than needed only fires, dispatches nothing new and re-arms.
    fn arm_wake(&mut self, ctx: &mut Context<Self>) {
        let Some(due) = self.strategy.next_due() else {
            return;
        };
        if let Some((at, handle)) = self.wake {
            if at <= due {
                return;
            }
            ctx.cancel_future(handle);
        }
        let wait = due.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(wait, |d, ctx| {
            d.wake = None;
            d.run(ctx, |s, core| s.dispatch(core));
        });
        self.wake = Some((due, handle));
    }

    /// Lets paused publishers go once there is room; while some stay paused,
    /// looks again shortly.
    pub(super) fn resume_publishers(&mut self, ctx: &mut Context<Self>) {
        if self.paused.is_empty() || self.strategy.must_pause(&self.core) {
            if !self.paused.is_empty() && !self.recheck {
                self.recheck = true;
                ctx.run_later(RESUME_RECHECK, |d, ctx| {
                    d.recheck = false;
                    d.resume_publishers(ctx);
                });
            }
            return;
        }
        self.paused.clear();
    }

    /// Gives up on this actor after a restart storm: the strategy disposes
    /// of what waits, and the router hands the name to a fresh actor.
    fn quarantine(&mut self, ctx: &mut Context<Self>) {
        if !self.run(ctx, |s, core| s.quarantine(core)) {
            return;
        }
        self.retired = true;
        self.router.failed.do_send(DestinationFailed {
            name: self.core.name.clone(),
            id: self.id,
        });
    }
}

impl<S: Delivery> Actor for Destination<S> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // A restart drops the timers: the redelivery one is set again.
        self.wake = None;
        self.arm_wake(ctx);
        self.resume_durability(ctx);
        if let Some(every) = self.strategy.tick_every() {
            ctx.run_interval(every, |d, _| d.strategy.tick());
        }
        if self.retired {
            return;
        }
        let every = (self.core.policy.idle_timeout / 2).max(MIN_IDLE_TICK);
        self.timer = Some(ctx.run_interval(every, |d, ctx| {
            d.run(ctx, |s, core| {
                s.reap(core);
                s.dispatch(core);
            });
            let idle = d.strategy.is_idle()
                && d.core.last_activity.elapsed() >= d.core.policy.idle_timeout;
            if idle && !d.retired && !d.pinned {
                d.router.idle.do_send(DestinationIdle {
                    name: d.core.name.clone(),
                });
            }
        }));
    }
}

/// What survives a restart: everything in the struct (waiting messages,
/// consumers and what they hold unacknowledged), because actix restarts reuse
/// the actor value; only timers are rebuilt in `started`.
impl<S: Delivery> actix::Supervised for Destination<S> {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        if !self
            .failures
            .restarted(&self.metrics, ActorKind::Destination, &self.core.name)
        {
            tracing::error!(destination = %self.core.name, "destination failing repeatedly; quarantining it");
            self.quarantine(ctx);
        }
    }
}

impl<S: Delivery> Failing for Destination<S> {
    fn record_failure(&mut self, cause: String) {
        self.failures.record(cause);
    }
}

/// A subscriber's connection as its actor recipients.
pub(super) struct Link {
    pub deliver: Recipient<Deliver>,
    pub fail: Recipient<Fail>,
}

impl Outlet for Link {
    fn deliver(&self, msg: Deliver) {
        self.deliver.do_send(msg)
    }

    fn fail(&self, msg: Fail) {
        self.fail.do_send(msg)
    }

    fn connected(&self) -> bool {
        self.deliver.connected()
    }
}
