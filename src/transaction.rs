//! `Transaction`: one actor per open STOMP transaction, owned by its session.
//! It holds SEND, ACK and NACK frames until COMMIT hands them back, in order,
//! for the session to apply; ABORT simply drops them.

use actix::prelude::*;

use crate::messages::transaction::{Abort, Commit, Stage, TooManyFrames, TxOp};

/// An open transaction.
pub struct Transaction {
    ops: Vec<TxOp>,
    max_frames: usize,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    failure: Option<String>,
}

impl Transaction {
    /// An empty transaction holding at most `max_frames` operations.
    pub fn new(max_frames: usize) -> Self {
        Transaction {
            ops: Vec::new(),
            max_frames,
            metrics: None,
            failure: None,
        }
    }

    /// Counts restarts in `metrics`.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl Actor for Transaction {
    type Context = Context<Self>;
}

/// Held operations are the transaction's whole state and survive a restart:
/// a failed transaction actor comes back holding everything staged so far.
impl actix::Supervised for Transaction {
    fn restarting(&mut self, _: &mut Context<Self>) {
        let cause = self.failure.take().unwrap_or_else(|| "stopped".into());
        if let Some(m) = &self.metrics {
            m.actor_restarts.with_label_values(&["transaction"]).inc();
        }
        tracing::warn!(cause = %cause, held = self.ops.len(), "transaction actor failed; restarting");
    }
}

impl crate::supervision::Failing for Transaction {
    fn record_failure(&mut self, cause: String) {
        self.failure = Some(cause);
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
    type Result = Result<(), TooManyFrames>;

    fn handle(&mut self, msg: Stage, _: &mut Self::Context) -> Self::Result {
        if self.ops.len() >= self.max_frames {
            return Err(TooManyFrames(self.max_frames));
        }
        self.ops.push(msg.0);
        Ok(())
    }
}

impl Handler<Commit> for Transaction {
    type Result = MessageResult<Commit>;

    fn handle(&mut self, _: Commit, _: &mut Self::Context) -> Self::Result {
        // No `ctx.stop()`: under a supervisor that would be a restart. The
        // actor ends when the session drops its address.
        MessageResult(std::mem::take(&mut self.ops))
    }
}

impl Handler<Abort> for Transaction {
    type Result = ();

    fn handle(&mut self, _: Abort, _: &mut Self::Context) {
        self.ops.clear();
    }
}
