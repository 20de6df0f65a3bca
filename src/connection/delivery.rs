//! Rendering deliveries: which subscriptions this connection writes MESSAGE
//! frames for, and how each `Deliver` becomes one in the output batch.

use actix::prelude::*;

use super::{Connection, State};
use crate::messages::connection::{Deliver, Subscribed, Unsubscribed};
use crate::messages::destination::Settle;
use crate::model::AckMode;
use crate::protocol::{Command, Delivery, Frame, Version};

/// What the connection knows of one open subscription.
pub(super) struct SubInfo {
    /// The client's subscription id (the `subscription` header).
    pub id: String,
    pub ack: AckMode,
    /// Where written auto-ack deliveries are settled.
    pub settle: Recipient<Settle>,
}

impl Connection {
    /// The client sent UNSUBSCRIBE for `frame`'s subscription: stop rendering
    /// deliveries for it right now, before the session and destination hear of it.
    pub(super) fn stop_rendering(&mut self, frame: &Frame) {
        let Some(id) = frame.header("id").or_else(|| frame.header("destination")) else {
            return;
        };
        // Settle what was already written for it before forgetting it.
        self.flush();
        self.subs.retain(|_, s| s.id != id);
    }
}

impl Handler<Deliver> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        let State::Connected(version) = self.state else {
            return;
        };
        // Unknown subscription: unsubscribed while this was in flight. The
        // destination takes it back when it processes the UNSUBSCRIBE.
        let Some(sub) = self.subs.get(&msg.subscription) else {
            return;
        };
        // Only client-acknowledged 1.2 subscriptions need an ack id to echo.
        let ack = (sub.ack != AckMode::Auto && version >= Version::V1_2)
            .then(|| format!("{}:{}", msg.subscription, msg.data.id));
        let delivery = Delivery {
            subscription: &sub.id,
            message_id: msg.data.id,
            ack: ack.as_deref(),
            redelivered: (msg.delivery_count > 1).then_some(msg.delivery_count),
        };
        let auto = (sub.ack == AckMode::Auto).then_some(msg.subscription);
        let shared = msg.data.encoded_headers(version);
        self.output
            .push_message(&delivery, shared, &msg.data.body, version, auto);
        self.shared.metrics.frame_sent(Command::Message).inc();
        self.schedule_flush(ctx);
    }
}

impl Handler<Subscribed> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Subscribed, _: &mut Self::Context) {
        self.subs.insert(
            msg.subscription,
            SubInfo {
                id: msg.id,
                ack: msg.ack,
                settle: msg.settle,
            },
        );
    }
}

impl Handler<Unsubscribed> for Connection {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribed, _: &mut Self::Context) {
        self.subs.remove(&msg.subscription);
        self.output.forget(msg.subscription);
    }
}
