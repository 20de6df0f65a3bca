//! The admin API's messages to a destination (see
//! [`crate::messages::destination`]): inspect, purge, replay, remove. Each
//! runs under `guarded` like every other handler, and journals what it
//! changes before it answers.

use actix::prelude::*;

use super::actor::Destination;
use super::delivery::Delivery;
use crate::messages::connection::Fail;
use crate::messages::destination::{Inspect, Purge, Remove, Replay, StoreFailed};
use crate::model::{DestinationView, ReplayOutcome};
use crate::protocol::ErrorReason;
use crate::supervision::guarded;

impl<S: Delivery> Destination<S> {
    fn view(&self, consumers: usize) -> DestinationView {
        let (count, list) = self.strategy.consumers(consumers);
        let c = &self.core.counts;
        DestinationView {
            name: self.core.name.to_string(),
            kind: S::KIND.as_str(),
            depth: self.strategy.depth(),
            unacknowledged: self.strategy.unacknowledged(),
            consumers: count,
            messages_in: c.messages_in.get(),
            messages_out: c.messages_out.get(),
            dead_lettered: c.dead_lettered.get(),
            dead_letter_queue: self.core.policy.dead_letter_queue(&self.core.name),
            consumer_list: list,
        }
    }
}

impl<S: Delivery> Handler<Inspect> for Destination<S> {
    type Result = MessageResult<Inspect>;

    fn handle(&mut self, msg: Inspect, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.view(msg.consumers))
    }
}

impl<S: Delivery> Destination<S> {
    /// Resolves once everything submitted so far is durable, so an operator
    /// is told "done" only for what a crash cannot undo.
    fn once_durable(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> impl std::future::Future<Output = Result<(), StoreFailed>> + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.when_durable(
            ctx,
            Box::new(move |_, _, r| {
                let _ = tx.send(r);
            }),
        );
        async move {
            match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(StoreFailed(e.to_string())),
                Err(_) => Err(StoreFailed("the destination stopped".into())),
            }
        }
    }
}

impl<S: Delivery> Handler<Purge> for Destination<S> {
    type Result = ResponseFuture<Result<usize, StoreFailed>>;

    fn handle(&mut self, _: Purge, ctx: &mut Self::Context) -> Self::Result {
        let purged = guarded(self, ctx, |this, ctx| {
            let n = this.run(ctx, |s, core| s.purge(core));
            this.resume_publishers(ctx);
            n
        });
        let purged = purged.unwrap_or(0);
        tracing::info!(destination = %self.core.name, purged, "purged by an operator");
        let durable = self.once_durable(ctx);
        Box::pin(async move { durable.await.map(|()| purged) })
    }
}

impl<S: Delivery> Handler<Replay> for Destination<S> {
    type Result = ResponseFuture<Result<ReplayOutcome, StoreFailed>>;

    fn handle(&mut self, msg: Replay, ctx: &mut Self::Context) -> Self::Result {
        let out = guarded(self, ctx, |this, ctx| {
            let out = this.run(ctx, |s, core| s.replay(core, msg.limit));
            this.resume_publishers(ctx);
            out
        })
        .unwrap_or(ReplayOutcome::default());
        tracing::info!(destination = %self.core.name, replayed = out.replayed, skipped = out.skipped, "dead letters replayed by an operator");
        let durable = self.once_durable(ctx);
        Box::pin(async move { durable.await.map(|()| out) })
    }
}

impl<S: Delivery> Handler<Remove> for Destination<S> {
    type Result = ResponseFuture<Result<usize, StoreFailed>>;

    fn handle(&mut self, msg: Remove, ctx: &mut Self::Context) -> Self::Result {
        let name = self.core.name.clone();
        let notice = move || Fail {
            message: format!(
                "destination {name} was deleted by an operator: {}",
                msg.reason
            ),
            detail: msg.reason.clone(),
            receipt_id: None,
            reason: ErrorReason::Admin,
        };
        let discarded = guarded(self, ctx, |this, ctx| {
            this.run(ctx, |s, core| s.evict(core, &notice))
        })
        .unwrap_or(0);
        // As when idle: a session may still hold our address, so anything
        // sent here from now on is forwarded to the name's next actor.
        self.retired = true;
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
        self.paused.clear();
        let durable = self.once_durable(ctx);
        Box::pin(async move { durable.await.map(|()| discarded) })
    }
}
