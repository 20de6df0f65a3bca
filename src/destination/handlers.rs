//! The messages a [`Destination`] handles (see
//! [`crate::messages::destination`]): each runs under `guarded`, so a panic
//! becomes a supervisor restart, and replies in the order clients rely on
//! (a RECEIPT ahead of the deliveries its frame makes room for).

use actix::prelude::*;

use super::actor::{Destination, Link};
use super::consumer::Consumer;
use super::delivery::{Delivery, Refused};
use crate::messages::connection::Receipted;
use crate::messages::destination::{
    Ack, AckError, Nack, Publish, Retire, Settle, Subscribe, SubscribeError, Sync, Unsubscribe,
};
use crate::messages::router::Reroute;
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
            let from_client = origin.is_some();
            let taken = this.run(|s, core| s.publish(core, messages, from_client));
            match (origin, taken) {
                (Some(o), Ok(())) => o.accepted(),
                (Some(o), Err(Refused(why))) => o.rejected(&this.core.name, why),
                (None, _) => {}
            }
            if let Some(p) = permit {
                if this.strategy.must_pause(&this.core) {
                    this.paused.push(p);
                }
            }
            this.run(|s, core| s.dispatch(core));
            this.resume_publishers(ctx);
        });
    }
}

impl<S: Delivery> Handler<Subscribe> for Destination<S> {
    type Result = Result<(), SubscribeError>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        guarded(self, ctx, |this, _| {
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
            );
            this.run(|s, core| s.subscribe(core, consumer));
            if let Some((to, receipt_id)) = msg.receipt {
                to.do_send(Receipted { receipt_id });
            }
            this.run(|s, core| s.dispatch(core));
            Ok(())
        })
        .unwrap_or(Err(SubscribeError::Retired))
    }
}

impl<S: Delivery> Handler<Unsubscribe> for Destination<S> {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, _| {
            this.core.touch();
            this.run(|s, core| {
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
            this.run(|s, core| s.settle(core, msg.key, msg.count));
            this.resume_publishers(ctx);
        });
    }
}

impl<S: Delivery> Handler<Ack> for Destination<S> {
    type Result = Result<(), AckError>;

    fn handle(&mut self, mut msg: Ack, ctx: &mut Self::Context) -> Self::Result {
        let origin = msg.origin.take();
        guarded(self, ctx, move |this, ctx| {
            let result = this.run(|s, core| s.ack(core, msg.key, msg.message_id, msg.cumulative));
            // The RECEIPT goes out before the deliveries this ACK makes room for.
            if let Some(o) = origin {
                o.settled("ACK", &result);
            }
            this.run(|s, core| s.refill(core, msg.key));
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
        guarded(self, ctx, move |this, _| {
            let result = this.run(|s, core| s.nack(core, msg.key, msg.message_id, msg.cumulative));
            if let Some(o) = origin {
                o.settled("NACK", &result);
            }
            this.run(|s, core| s.refill(core, msg.key));
            result
        })
        .unwrap_or(Err(AckError::NoSubscription))
    }
}

impl<S: Delivery> Handler<Sync> for Destination<S> {
    type Result = ();

    fn handle(&mut self, _: Sync, _: &mut Self::Context) {}
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
