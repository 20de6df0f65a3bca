//! Waiting for the journal without blocking the actor. After every step the
//! strategy's changes are submitted as one batch; whoever must not be answered
//! before they are durable (a persistent SEND's RECEIPT, its publisher's
//! in-flight permit, an ACK's RECEIPT, a COMMIT) registers a continuation that
//! runs, as an actor future, once the batch is fdatasync'd. The journal
//! completes batches in submission order, so waiting for the latest one
//! covers every earlier one.

use std::collections::VecDeque;
use std::time::Duration;

use actix::fut::wrap_future;
use actix::prelude::*;
use futures_util::future::{FutureExt, Shared};

use super::actor::Destination;
use super::backlog::Flushed;
use super::delivery::Delivery;
use crate::store::{Completion, StoreError};

/// How soon a batch the full journal refused is offered again.
const FULL_RETRY: Duration = Duration::from_millis(1);

/// What runs once the changes it waits for are durable, or failed.
pub(super) type Then<S> =
    Box<dyn FnOnce(&mut Destination<S>, &mut Context<Destination<S>>, Result<(), StoreError>)>;

/// A destination's view of its submissions to the journal.
pub(super) struct Durability<S: Delivery> {
    /// The latest batch submitted.
    last: Option<Shared<Completion>>,
    /// Continuations in the order they were registered, each with its batch.
    /// One actor future at a time drives them, so they run in that order
    /// (receipts of one publisher stay in order).
    inflight: VecDeque<(Shared<Completion>, Then<S>)>,
    driving: bool,
    /// The journal was full: these wait for the batch that goes next.
    waiting: Vec<Then<S>>,
    /// Changes are held back because the journal was full.
    full: bool,
    retry_scheduled: bool,
    /// The current step submitted (or tried to submit) something.
    fresh: bool,
    /// The current step's batch was refused.
    failed: Option<StoreError>,
    /// Acks wait for the batch in flight (`flush_lazily`).
    deferred: bool,
}

impl<S: Delivery> Default for Durability<S> {
    fn default() -> Self {
        Durability {
            last: None,
            inflight: VecDeque::new(),
            driving: false,
            waiting: Vec::new(),
            full: false,
            retry_scheduled: false,
            fresh: false,
            failed: None,
            deferred: false,
        }
    }
}

impl<S: Delivery> Destination<S> {
    /// Submits what the strategy's last step changed; called by `run`.
    pub(super) fn flush(&mut self, ctx: &mut Context<Self>) {
        let d = &mut self.durability;
        d.fresh = false;
        d.failed = None;
        match self.strategy.flush() {
            Flushed::Nothing => {}
            Flushed::Submitted(c) => {
                let c = c.shared();
                d.last = Some(c.clone());
                d.fresh = true;
                d.full = false;
                for then in std::mem::take(&mut d.waiting) {
                    d.inflight.push_back((c.clone(), then));
                }
                self.drive(ctx);
            }
            Flushed::Full => {
                d.fresh = true;
                d.full = true;
                if !d.retry_scheduled {
                    d.retry_scheduled = true;
                    ctx.run_later(FULL_RETRY, |this, ctx| {
                        this.durability.retry_scheduled = false;
                        this.flush(ctx);
                    });
                }
            }
            Flushed::Failed(e) => {
                tracing::error!(destination = %self.core.name, error = %e, "journal refused a batch");
                d.fresh = true;
                d.full = false;
                d.failed = Some(e.clone());
                for then in std::mem::take(&mut d.waiting) {
                    then(self, ctx, Err(e.clone()));
                }
            }
        }
    }

    /// Like `flush`, for acks nobody waits for (an auto-ack consumer's): while
    /// an earlier batch is still being made durable they wait and go with the
    /// next batch, or right after that one completes if none comes, so under
    /// load they cost no submission of their own. Bounded by one sync.
    pub(super) fn flush_lazily(&mut self, ctx: &mut Context<Self>) {
        let d = &mut self.durability;
        let busy = d.last.as_ref().is_some_and(|c| c.peek().is_none());
        if !busy || d.full || d.failed.is_some() {
            return self.flush(ctx);
        }
        if std::mem::replace(&mut d.deferred, true) {
            return; // a flush is already due when the batch in flight completes
        }
        self.when_durable(
            ctx,
            Box::new(|this, ctx, _| {
                this.durability.deferred = false;
                this.flush(ctx);
            }),
        );
    }

    /// Whether the step just run gave the journal something to make durable.
    pub(super) fn journaled(&self) -> bool {
        self.durability.fresh
    }

    /// Runs `then` once everything submitted so far is durable: at once if
    /// nothing was ever submitted, else as an actor future (the actor keeps
    /// handling messages meanwhile), after every continuation registered before.
    pub(super) fn when_durable(&mut self, ctx: &mut Context<Self>, then: Then<S>) {
        let d = &mut self.durability;
        if let Some(e) = d.failed.clone() {
            then(self, ctx, Err(e));
        } else if d.full {
            d.waiting.push(then);
        } else if let Some(c) = d.last.clone() {
            d.inflight.push_back((c, then));
            self.drive(ctx);
        } else {
            then(self, ctx, Ok(()));
        }
    }

    /// After a supervisor restart, which drops every actor future: drives
    /// the waiting continuations again and re-offers held-back changes.
    pub(super) fn resume_durability(&mut self, ctx: &mut Context<Self>) {
        self.durability.driving = false;
        self.durability.retry_scheduled = false;
        self.drive(ctx);
        if self.durability.full {
            self.flush(ctx);
        }
    }

    /// Waits for the oldest pending batch, then runs every continuation whose
    /// batch is done, in order; repeats while any are left.
    fn drive(&mut self, ctx: &mut Context<Self>) {
        let d = &mut self.durability;
        if d.driving {
            return;
        }
        let Some((front, _)) = d.inflight.front() else {
            return;
        };
        d.driving = true;
        let front = front.clone();
        ctx.spawn(wrap_future::<_, Self>(front).map(|_, this, ctx| {
            this.durability.driving = false;
            while let Some((c, _)) = this.durability.inflight.front() {
                let Some(r) = c.clone().now_or_never() else {
                    break;
                };
                if let Some((_, then)) = this.durability.inflight.pop_front() {
                    then(this, ctx, r);
                }
            }
            this.drive(ctx);
        }));
    }
}
