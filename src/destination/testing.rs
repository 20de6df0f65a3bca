//! Test doubles for driving delivery strategies without actors: a core built
//! from the default configuration, and an outlet that records what it is sent.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;

use super::consumer::{Consumer, Outlet};
use super::core::Core;
use super::DestinationPolicy;
use crate::messages::connection::{Deliver, Fail};
use crate::metrics::Metrics;
use crate::model::{AckMode, ConsumerKey, Envelope, MessageData};
use crate::settings::Settings;

/// The core of a destination called `name`, with default policy and its
/// own metrics registry.
pub fn core(name: &str) -> Core {
    core_with(name, |_| {})
}

/// As [`core`], after `tune` adjusted the policy.
pub fn core_with(name: &str, tune: impl FnOnce(&mut DestinationPolicy)) -> Core {
    let mut policy = DestinationPolicy::from_settings(&Settings::defaults());
    tune(&mut policy);
    let metrics = Metrics::new(100).expect("a fresh registry has no duplicate metrics");
    let kind = if name.starts_with("/topic/") {
        "topic"
    } else {
        "queue"
    };
    Core::new(
        name.into(),
        Arc::new(policy),
        metrics.destination(name, kind),
    )
}

/// A message with `body`.
pub fn env(body: &str) -> Envelope {
    Envelope::new(data(body))
}

/// Message data with `body`.
pub fn data(body: &str) -> Arc<MessageData> {
    MessageData::from_send(Vec::new(), Bytes::copy_from_slice(body.as_bytes()))
}

/// What a consumer's connection was sent; shared with the [`Probe`] outlet.
#[derive(Default)]
pub struct Seen {
    /// Deliveries, in order.
    pub delivered: RefCell<Vec<Deliver>>,
    /// ERROR frames asked for.
    pub failed: RefCell<Vec<Fail>>,
    /// Set to false to play a connection that went away.
    pub gone: Cell<bool>,
}

impl Seen {
    /// The bodies delivered so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.delivered
            .borrow()
            .iter()
            .map(|d| String::from_utf8_lossy(&d.data.body).into_owned())
            .collect()
    }

    /// The message id of the `n`th delivery.
    pub fn id(&self, n: usize) -> u64 {
        self.delivered.borrow()[n].data.id
    }
}

struct Probe(Rc<Seen>);

impl Outlet for Probe {
    fn deliver(&self, msg: Deliver) {
        self.0.delivered.borrow_mut().push(msg);
    }

    fn fail(&self, msg: Fail) {
        self.0.failed.borrow_mut().push(msg);
    }

    fn connected(&self) -> bool {
        !self.0.gone.get()
    }
}

/// A consumer for subscription `sub` with a window of `prefetch` messages,
/// and what its connection sees.
pub fn consumer(sub: u64, ack: AckMode, prefetch: u32) -> (Consumer, Rc<Seen>) {
    let seen = Rc::new(Seen::default());
    let key = ConsumerKey {
        session: 1,
        subscription: sub,
    };
    let c = Consumer::new(
        key,
        ack,
        (prefetch, usize::MAX),
        Box::new(Probe(seen.clone())),
    );
    (c, seen)
}

/// The key [`consumer`] gives subscription `sub`.
pub fn key(sub: u64) -> ConsumerKey {
    ConsumerKey {
        session: 1,
        subscription: sub,
    }
}
