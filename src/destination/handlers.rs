//! The messages a [`Destination`] handles (see
//! [`crate::messages::destination`]): each runs under `guarded`, so a panic
//! becomes a supervisor restart, and replies in the order clients rely on
//! (a RECEIPT ahead of the deliveries its frame makes room for).

use std::sync::Arc;

use actix::prelude::*;

use super::actor::{Destination, Link, Paused};
use super::backlog::Pending;
use super::consumer::Consumer;
use super::delivery::{Delivery, Refused};
use crate::messages::connection::{Fail, Receipted};
use crate::messages::destination::{
    Ack, AckError, Delete, Forwarded, Nack, Origin, Publish, Retire, SetForwards, Settle,
    StoreFailed, Subscribe, SubscribeError, Sync, Unsubscribe,
};
use crate::messages::router::Reroute;
use crate::model::{ConsumerKey, Kind};
use crate::protocol::ErrorReason;
use crate::supervision::guarded;

#[cfg(feature = "fault-injection")]
impl<S: Delivery> Handler<crate::fault::Crash> for Destination<S> {
    type Result = ();

    fn handle(&mut self, _: crate::fault::Crash, ctx: &mut Self::Context) {
        guarded(self, ctx, |_, _| panic!("injected destination fault"));
    }
}

impl<S: Delivery> Handler<Publish> for Destination<S> {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, ctx| {
            if this.retired {
                this.router.reroute.do_send(Reroute::Publish {
                    destination: this.core.name.clone(),
                    msg,
                });
                return;
            }
            this.core.touch();
            let Publish {
                messages,
                permit,
                origin,
            } = msg;
            if this.wildcard {
                if let Some(o) = origin {
                    o.not_sendable(&this.core.name);
                }
                return;
            }
            let from_client = origin.is_some();
            let count = messages.len();
            let copies = (!this.forwards.is_empty()).then(|| messages.clone());
            // Cluster mode: what this node's clients publish on a topic goes to the other
            // nodes too (what they relayed here is marked remote and never goes back).
            let relay = this
                .core
                .policy
                .backplane
                .clone()
                .filter(|_| S::KIND == Kind::Topic)
                .map(|b| (b, messages.clone()));
            let taken = this.strategy.publish(&mut this.core, messages, from_client);
            if taken.is_ok() {
                this.core.counts.taken(count);
            }
            // Persistent messages go to the journal in one batch with the
            // deliveries they allow: one record, and a consumer never holds a
            // message whose delivery count is less durable than the message.
            let together = taken.is_ok() && this.strategy.pending() != Pending::Nothing;
            if together {
                this.run(ctx, |s, core| s.dispatch(core));
            } else {
                this.finish_step(ctx, false);
            }
            let mut permit = match permit {
                Some(p) if this.strategy.must_pause(&this.core) => {
                    this.paused.push(Paused::Own(p));
                    None
                }
                p => p,
            };
            let mut queues = Vec::new();
            // The permit travels with the copies and the relay, so a slow wildcard topic
            // or NATS connection slows this topic's publishers instead of filling a mailbox.
            let shared = if copies.is_some() || relay.is_some() {
                permit.take().map(Arc::new)
            } else {
                None
            };
            if let Some(messages) = copies {
                for f in &this.forwards {
                    let is_queue = f.to.kind() == Kind::Queue;
                    let messages: Vec<_> = messages
                        .iter()
                        .filter(|m| f.accepts(m))
                        // A durable subscription's queue journals its own copy.
                        .map(|m| {
                            if is_queue {
                                m.copy_for_queue()
                            } else {
                                m.clone()
                            }
                        })
                        .collect();
                    if messages.is_empty() {
                        continue;
                    }
                    f.to.forward(Forwarded {
                        messages,
                        _permit: shared.clone(),
                    });
                    if is_queue {
                        queues.push(f.to.clone());
                    }
                }
            }
            if let Some((backplane, messages)) = relay {
                backplane.relay_topic(&this.core.name, &messages, shared);
            }
            match (origin, taken) {
                (Some(o), Ok(())) if o.receipt.is_some() && !queues.is_empty() => {
                    // Durable subscriptions took copies: the RECEIPT waits until
                    // each of their queues has them (journaled, if persistent).
                    let name = this.core.name.clone();
                    let synced = futures_util::future::join_all(
                        queues.into_iter().map(|q| async move { q.sync().await }),
                    );
                    ctx.spawn(synced.into_actor(this).map(move |results, _, _| {
                        let failed = results.into_iter().find_map(|r| match r {
                            Ok(Ok(())) => None,
                            Ok(Err(e)) => Some(e),
                            Err(_) => {
                                Some(StoreFailed("a durable subscription's queue stopped".into()))
                            }
                        });
                        match failed {
                            None => o.accepted(),
                            Some(e) => o.store_failed(&name, e),
                        }
                    }));
                }
                (Some(o), Ok(())) => {
                    // The RECEIPT waits for the fdatasync, and the permit with it, so a
                    // publisher outrunning the disk is paused rather than buffered. A
                    // receipt with nothing to wait for still queues behind earlier
                    // ones, so one publisher's receipts stay in order.
                    let permit = if this.journaled() { permit } else { None };
                    let name = this.core.name.clone();
                    this.when_durable(
                        ctx,
                        Box::new(move |_, _, r| {
                            drop(permit);
                            match r {
                                Ok(()) => o.accepted(),
                                Err(e) => o.store_failed(&name, StoreFailed(e.to_string())),
                            }
                        }),
                    );
                }
                (Some(o), Err(Refused::Full(why))) => o.rejected(&this.core.name, why),
                (Some(o), Err(Refused::Store(why))) => {
                    o.store_failed(&this.core.name, StoreFailed(why))
                }
                (None, _) => {}
            }
            if !together {
                // After the RECEIPT is registered: one that waits for nothing goes first.
                this.run(ctx, |s, core| s.dispatch(core));
            }
            this.resume_publishers(ctx);
        });
    }
}

impl<S: Delivery> Handler<SetForwards> for Destination<S> {
    type Result = ();

    fn handle(&mut self, msg: SetForwards, _: &mut Self::Context) {
        self.forwards = msg.to;
    }
}

/// A wildcard topic takes what a matching topic took; retired, it drops it
/// (it had no subscriber, and the router is already pointing the topic at
/// its successor).
impl<S: Delivery> Handler<Forwarded> for Destination<S> {
    type Result = ();

    fn handle(&mut self, msg: Forwarded, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, ctx| {
            if this.retired {
                if !this.wildcard {
                    // A durable subscription's queue replaced by a fresh actor
                    // (quarantine): the copy goes to its successor.
                    this.router.reroute.do_send(Reroute::Publish {
                        destination: this.core.name.clone(),
                        msg: Publish {
                            messages: msg.messages,
                            permit: None,
                            origin: None,
                        },
                    });
                }
                return;
            }
            let Forwarded { messages, _permit } = msg;
            if this.wildcard {
                let _ = this.run(ctx, |s, core| s.publish(core, messages, false));
                this.run(ctx, |s, core| s.dispatch(core));
                return;
            }
            // A durable subscription's queue: its limits apply as to a
            // client's SEND (`reject` drops the copy, counted), and `block`
            // pauses the topic's publisher through the shared permit.
            let count = messages.len();
            if this
                .run(ctx, |s, core| s.publish(core, messages, true))
                .is_ok()
            {
                this.core.counts.taken(count);
            }
            this.run(ctx, |s, core| s.dispatch(core));
            if let Some(p) = _permit {
                if this.strategy.must_pause(&this.core) {
                    this.paused.push(Paused::Shared(p));
                }
            }
            this.resume_publishers(ctx);
        });
    }
}

impl<S: Delivery> Handler<Subscribe> for Destination<S> {
    type Result = Result<(), SubscribeError>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        guarded(self, ctx, |this, ctx| {
            if this.retired {
                return Err(SubscribeError::Retired);
            }
            if this.strategy.contains(msg.key) {
                return Err(SubscribeError::Duplicate);
            }
            this.core.touch();
            let link = Link {
                deliver: msg.deliver,
                fail: msg.fail,
            };
            let consumer = Consumer::new(
                msg.key,
                msg.ack,
                (msg.prefetch, msg.window_bytes),
                Box::new(link),
            )
            .with_selector(msg.selector)
            .exclusive(msg.exclusive);
            this.run(ctx, |s, core| s.subscribe(core, consumer));
            if let Some((to, receipt_id)) = msg.receipt {
                to.do_send(Receipted { receipt_id });
            }
            this.run(ctx, |s, core| s.dispatch(core));
            Ok(())
        })
        .unwrap_or(Err(SubscribeError::Retired))
    }
}

impl<S: Delivery> Handler<Unsubscribe> for Destination<S> {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, ctx| {
            this.core.touch();
            this.run(ctx, |s, core| {
                s.unsubscribe(core, msg.key);
                s.dispatch(core);
            });
        });
    }
}

impl<S: Delivery> Handler<Settle> for Destination<S> {
    type Result = ();

    fn handle(&mut self, msg: Settle, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, ctx| {
            // Nobody waits for an auto-ack consumer's acks to be durable.
            this.strategy.settle(&mut this.core, msg.key, msg.count);
            this.finish_step(ctx, true);
            this.resume_publishers(ctx);
        });
    }
}

impl<S: Delivery> Handler<Ack> for Destination<S> {
    type Result = Result<(), AckError>;

    fn handle(&mut self, mut msg: Ack, ctx: &mut Self::Context) -> Self::Result {
        let origin = msg.origin.take();
        guarded(self, ctx, move |this, ctx| {
            let result = this.run(ctx, |s, core| {
                s.ack(core, msg.key, msg.message_id, msg.cumulative)
            });
            this.answer_settle(ctx, "ACK", msg.key, origin, &result);
            this.resume_publishers(ctx);
            result
        })
        .unwrap_or(Err(AckError::NoSubscription))
    }
}

impl<S: Delivery> Handler<Nack> for Destination<S> {
    type Result = Result<(), AckError>;

    fn handle(&mut self, mut msg: Nack, ctx: &mut Self::Context) -> Self::Result {
        let origin = msg.origin.take();
        guarded(self, ctx, move |this, ctx| {
            let result = this.run(ctx, |s, core| {
                s.nack(core, msg.key, msg.message_id, msg.cumulative)
            });
            this.answer_settle(ctx, "NACK", msg.key, origin, &result);
            result
        })
        .unwrap_or(Err(AckError::NoSubscription))
    }
}

impl<S: Delivery> Destination<S> {
    /// Answers an ACK or NACK, then refills `key`'s window, so the RECEIPT
    /// always precedes the deliveries the frame makes room for. One that
    /// journaled something (a persistent message's ack, dead-letter move or
    /// delivery count) and asked for a RECEIPT gets it once that is durable.
    fn answer_settle(
        &mut self,
        ctx: &mut Context<Self>,
        what: &'static str,
        key: ConsumerKey,
        origin: Option<Origin>,
        result: &Result<(), AckError>,
    ) {
        match origin {
            Some(o) if o.receipt.is_some() && result.is_ok() && self.journaled() => {
                let name = self.core.name.clone();
                self.when_durable(
                    ctx,
                    Box::new(move |this, ctx, r| {
                        match r {
                            Ok(()) => o.settled(what, &Ok(())),
                            Err(e) => o.store_failed(&name, StoreFailed(e.to_string())),
                        }
                        this.run(ctx, |s, core| s.refill(core, key));
                    }),
                );
            }
            Some(o) => {
                o.settled(what, result);
                self.run(ctx, |s, core| s.refill(core, key));
            }
            None => {
                self.run(ctx, |s, core| s.refill(core, key));
            }
        }
    }
}

impl<S: Delivery> Handler<Sync> for Destination<S> {
    type Result = ResponseFuture<Result<(), StoreFailed>>;

    fn handle(&mut self, _: Sync, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.when_durable(
            ctx,
            Box::new(move |_, _, r| {
                let _ = tx.send(r);
            }),
        );
        // A topic's copies for durable subscriptions were sent before this
        // reply: their queues' own Sync (sent after them) covers them, so a
        // COMMIT to a topic is durable in its subscribers' queues too.
        let queues: Vec<_> = self
            .forwards
            .iter()
            .filter(|f| f.to.kind() == Kind::Queue)
            .map(|f| f.to.clone())
            .collect();
        let queues = futures_util::future::join_all(
            queues.into_iter().map(|q| async move { q.sync().await }),
        );
        Box::pin(async move {
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(StoreFailed(e.to_string())),
                // The actor stopped before the batch completed: nothing says it is durable.
                Err(_) => return Err(StoreFailed("the queue stopped".into())),
            }
            for r in queues.await {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {
                        return Err(StoreFailed("a durable subscription's queue stopped".into()))
                    }
                }
            }
            Ok(())
        })
    }
}

impl<S: Delivery> Handler<Delete> for Destination<S> {
    type Result = ();

    fn handle(&mut self, _: Delete, ctx: &mut Self::Context) {
        let name = self.core.name.clone();
        let notice = move || Fail {
            message: format!("temporary queue {name} was deleted: its owner disconnected"),
            detail: String::new(),
            receipt_id: None,
            reason: ErrorReason::Destination,
        };
        guarded(self, ctx, |this, ctx| {
            this.run(ctx, |s, core| s.evict(core, &notice));
            this.retired = true;
            this.paused.clear();
            if let Some(t) = this.timer.take() {
                ctx.cancel_future(t);
            }
        });
    }
}

impl<S: Delivery> Handler<Retire> for Destination<S> {
    type Result = bool;

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) -> bool {
        let idle = self.strategy.is_idle();
        if idle {
            // Not `ctx.stop()`: a session may still hold our address and publish
            // to it. A retired destination forwards such messages to the router
            // and stops by itself once the last address is dropped.
            self.retired = true;
            if let Some(t) = self.timer.take() {
                ctx.cancel_future(t);
            }
        }
        idle
    }
}
