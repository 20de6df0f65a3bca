//! One subscription as a destination sees it: its ack mode, its prefetch
//! window and the messages it holds unacknowledged. It reaches its
//! connection through an [`Outlet`], so delivery strategies are plain Rust
//! that tests drive without actors.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::messages::connection::{Deliver, Fail};
use crate::messages::destination::AckError;
use crate::model::selector::Selector;
use crate::model::{AckMode, ConsumerKey, ConsumerView, Envelope, MessageData};

/// The subscriber's connection, as a destination uses it.
pub trait Outlet {
    /// Queues one delivery on the connection (never waits).
    fn deliver(&self, msg: Deliver);
    /// Ends the connection with an ERROR frame (slow-consumer policy).
    fn fail(&self, msg: Fail);
    /// Whether the connection still exists.
    fn connected(&self) -> bool;
}

/// A subscription's delivery state inside a destination.
pub struct Consumer {
    /// Which subscription of which session.
    pub key: ConsumerKey,
    /// How its deliveries are settled.
    pub ack: AckMode,
    /// Most messages outstanding at once (the count side of the window).
    pub prefetch: u32,
    /// Body bytes it may hold outstanding: a window in bytes beside the count,
    /// so large messages cannot pile up in a slow reader's output buffer.
    window_bytes: usize,
    outstanding_bytes: usize,
    outlet: Box<dyn Outlet>,
    /// Delivered, not yet settled/acknowledged, in delivery order.
    outstanding: VecDeque<Envelope>,
    /// Which messages it takes; `None` takes every one.
    selector: Option<Arc<Selector>>,
    /// An exclusive consumer: a queue delivers only to its first one.
    exclusive: bool,
}

impl Consumer {
    /// A consumer with an empty window of `prefetch` messages and `window_bytes`.
    pub fn new(
        key: ConsumerKey,
        ack: AckMode,
        (prefetch, window_bytes): (u32, usize),
        outlet: Box<dyn Outlet>,
    ) -> Self {
        Consumer {
            key,
            ack,
            prefetch,
            window_bytes,
            outstanding_bytes: 0,
            outlet,
            outstanding: VecDeque::new(),
            selector: None,
            exclusive: false,
        }
    }

    /// The same consumer, exclusive if `exclusive` (`activemq.exclusive:true`).
    pub fn exclusive(mut self, exclusive: bool) -> Self {
        self.exclusive = exclusive;
        self
    }

    /// Whether it asked to be a queue's only consumer.
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// The same consumer, taking only what `selector` selects.
    pub fn with_selector(mut self, selector: Option<Arc<Selector>>) -> Self {
        self.selector = selector;
        self
    }

    /// Whether it has a selector (a queue then looks past messages it refuses).
    pub fn is_selective(&self) -> bool {
        self.selector.is_some()
    }

    /// Whether its selector, if any, selects `data`.
    pub fn accepts(&self, data: &MessageData) -> bool {
        self.selector
            .as_ref()
            .is_none_or(|s| s.matches(&data.headers))
    }

    /// Whether its window (count and bytes) has room and its connection is
    /// alive. One message always fits, however large.
    pub fn has_room(&self) -> bool {
        (self.outstanding.len() as u32) < self.prefetch
            && self.outstanding_bytes < self.window_bytes
            && self.outlet.connected()
    }

    fn released(&mut self, envs: &[Envelope]) {
        let n: usize = envs.iter().map(|e| e.data.size()).sum();
        self.outstanding_bytes = self.outstanding_bytes.saturating_sub(n);
    }

    /// Whether the subscriber's connection still exists.
    pub fn is_connected(&self) -> bool {
        self.outlet.connected()
    }

    /// Ends the subscriber's connection with `msg`.
    pub fn fail(&self, msg: Fail) {
        self.outlet.fail(msg)
    }

    /// The delivery just made (for the message store's hook).
    pub fn last_delivered(&self) -> Option<&Envelope> {
        self.outstanding.back()
    }

    /// What it holds unsettled, oldest first.
    pub fn held(&self) -> impl Iterator<Item = &Envelope> {
        self.outstanding.iter()
    }

    /// How many deliveries it holds unsettled.
    #[cfg(test)]
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// What an operator sees of it.
    pub fn view(&self) -> ConsumerView {
        ConsumerView {
            connection: self.key.session,
            subscription: self.key.subscription,
            ack: self.ack.as_str(),
            prefetch: self.prefetch,
            unacknowledged: self.outstanding.len(),
            exclusive: self.exclusive,
        }
    }

    /// How many deliveries it holds unsettled.
    pub fn unsettled(&self) -> usize {
        self.outstanding.len()
    }

    /// Hands `env` to the subscriber. The window bounds how many `Deliver`s
    /// can sit in the connection's mailbox, so `do_send` cannot grow it without bound.
    pub fn deliver(&mut self, mut env: Envelope) {
        env.deliveries = env.deliveries.saturating_add(1);
        self.outlet.deliver(Deliver {
            subscription: self.key.subscription,
            data: env.data.clone(),
            delivery_count: env.deliveries,
        });
        self.outstanding_bytes += env.data.size();
        self.outstanding.push_back(env);
    }

    /// Auto mode: the oldest `count` deliveries were written.
    pub fn settle(&mut self, count: u32) -> Vec<Envelope> {
        let n = (count as usize).min(self.outstanding.len());
        let done: Vec<Envelope> = self.outstanding.drain(..n).collect();
        self.released(&done);
        done
    }

    /// Removes the acknowledged message (and, if `cumulative`, every earlier
    /// one). In `auto` mode nothing waits for an ACK, so every id is unknown.
    pub fn take_acked(&mut self, id: u64, cumulative: bool) -> Result<Vec<Envelope>, AckError> {
        if self.ack == AckMode::Auto {
            return Err(AckError::Unknown(id));
        }
        let pos = self
            .outstanding
            .iter()
            .position(|e| e.data.id == id)
            .ok_or(AckError::Unknown(id))?;
        let done: Vec<Envelope> = if cumulative {
            self.outstanding.drain(..=pos).collect()
        } else {
            self.outstanding.remove(pos).into_iter().collect()
        };
        self.released(&done);
        Ok(done)
    }

    /// Everything it still holds, oldest first (when it goes away).
    pub fn take_all(&mut self) -> VecDeque<Envelope> {
        self.outstanding_bytes = 0;
        std::mem::take(&mut self.outstanding)
    }
}
