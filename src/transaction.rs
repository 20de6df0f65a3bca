//! `Transaction`: one actor per open STOMP transaction, owned by its session.
//! It holds SEND, ACK and NACK frames until COMMIT hands them back, in order,
//! for the session to apply; ABORT simply drops them. What it holds is
//! charged to the broker's memory budget and bounded in frames and bytes.

use std::sync::Arc;

use actix::prelude::*;

use crate::messages::transaction::{
    Abandoned, Abort, Commit, MemoryFull, Stage, StageError, Staged, StagedBytes, TooManyBytes,
    TooManyFrames, TxOp,
};
use crate::metrics::{ActorKind, Metrics};
use crate::model::MemoryBudget;
use crate::supervision::{Failing, Failures, RestartBudget};

/// An open transaction.
pub struct Transaction {
    ops: Vec<TxOp>,
    /// What `ops` cost, charged to the memory budget until dropped.
    charge: StagedBytes,
    max_frames: usize,
    max_bytes: usize,
    metrics: Arc<Metrics>,
    failures: Failures,
    /// Set once the restart budget is spent: `ops` is gone, and every later
    /// frame is refused rather than committing half a transaction.
    abandoned: bool,
}

impl Transaction {
    /// An empty transaction holding at most `max_frames` operations and
    /// `max_bytes` bytes, charged to `memory`, restarted within `budget`,
    /// counting restarts in `metrics`.
    pub fn new(
        (max_frames, max_bytes): (usize, usize),
        memory: Arc<MemoryBudget>,
        budget: RestartBudget,
        metrics: Arc<Metrics>,
    ) -> Self {
        Transaction {
            ops: Vec::new(),
            charge: StagedBytes::new(memory),
            max_frames,
            max_bytes,
            metrics,
            failures: Failures::new(budget),
            abandoned: false,
        }
    }
}

impl Actor for Transaction {
    type Context = Context<Self>;
}

/// Held operations are the transaction's whole state and survive a restart:
/// a failed transaction actor comes back holding everything staged so far,
/// unless it keeps failing past its budget.
impl actix::Supervised for Transaction {
    fn restarting(&mut self, _: &mut Context<Self>) {
        let who = format!("{} held", self.ops.len());
        if !self
            .failures
            .restarted(&self.metrics, ActorKind::Transaction, &who)
        {
            tracing::error!("transaction failing repeatedly; abandoning it");
            self.ops.clear();
            drop(self.charge.take());
            self.abandoned = true;
        }
    }
}

impl Failing for Transaction {
    fn record_failure(&mut self, cause: String) {
        self.failures.record(cause);
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::fault::Crash> for Transaction {
    type Result = ();

    fn handle(&mut self, _: crate::fault::Crash, ctx: &mut Self::Context) {
        crate::supervision::guarded(self, ctx, |_, _| panic!("injected transaction fault"));
    }
}

impl Handler<Stage> for Transaction {
    type Result = Result<(), StageError>;

    fn handle(&mut self, msg: Stage, _: &mut Self::Context) -> Self::Result {
        if self.abandoned {
            return Err(Abandoned.into());
        }
        if self.ops.len() >= self.max_frames {
            return Err(TooManyFrames(self.max_frames).into());
        }
        let cost = msg.0.footprint();
        if self.charge.bytes().saturating_add(cost) > self.max_bytes {
            return Err(TooManyBytes(self.max_bytes).into());
        }
        if !self.charge.try_add(cost) {
            return Err(MemoryFull(self.charge.budget_limit()).into());
        }
        self.ops.push(msg.0);
        Ok(())
    }
}

impl Handler<Commit> for Transaction {
    type Result = MessageResult<Commit>;

    fn handle(&mut self, _: Commit, _: &mut Self::Context) -> Self::Result {
        if self.abandoned {
            return MessageResult(Err(Abandoned));
        }
        // No `ctx.stop()`: under a supervisor that would be a restart. The
        // actor ends when the session drops its address.
        MessageResult(Ok(Staged {
            ops: std::mem::take(&mut self.ops),
            charge: self.charge.take(),
        }))
    }
}

impl Handler<Abort> for Transaction {
    type Result = ();

    fn handle(&mut self, _: Abort, _: &mut Self::Context) {
        self.ops.clear();
        drop(self.charge.take());
    }
}
