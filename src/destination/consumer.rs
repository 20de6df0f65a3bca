//! One subscription as a destination sees it: its ack mode, its prefetch
//! window and the messages it holds unacknowledged.

use std::collections::VecDeque;

use actix::Recipient;

use crate::messages::connection::Deliver;
use crate::messages::destination::AckError;
use crate::model::{AckMode, ConsumerKey, Envelope};

/// A subscription's delivery state inside a destination.
pub(crate) struct Consumer {
    pub key: ConsumerKey,
    pub ack: AckMode,
    pub prefetch: u32,
    /// Body bytes it may hold outstanding: a window in bytes beside the count,
    /// so large messages cannot pile up in a slow reader's output buffer.
    window_bytes: usize,
    outstanding_bytes: usize,
    deliver: Recipient<Deliver>,
    /// Delivered, not yet settled/acknowledged, in delivery order.
    outstanding: VecDeque<Envelope>,
}

impl Consumer {
    pub fn new(
        key: ConsumerKey,
        ack: AckMode,
        (prefetch, window_bytes): (u32, usize),
        deliver: Recipient<Deliver>,
    ) -> Self {
        Consumer {
            key,
            ack,
            prefetch,
            window_bytes,
            outstanding_bytes: 0,
            deliver,
            outstanding: VecDeque::new(),
        }
    }

    /// Whether its window (count and bytes) has room and its connection is
    /// alive. One message always fits, however large.
    pub fn has_room(&self) -> bool {
        (self.outstanding.len() as u32) < self.prefetch
            && self.outstanding_bytes < self.window_bytes
            && self.deliver.connected()
    }

    fn released(&mut self, envs: &[Envelope]) {
        let n: usize = envs.iter().map(|e| e.data.size()).sum();
        self.outstanding_bytes = self.outstanding_bytes.saturating_sub(n);
    }

    /// Whether the subscriber's connection still exists.
    pub fn is_connected(&self) -> bool {
        self.deliver.connected()
    }

    /// Hands `env` to the subscriber. The window bounds how many `Deliver`s
    /// can sit in the connection's mailbox, so `do_send` cannot grow it without bound.
    pub fn deliver(&mut self, mut env: Envelope) {
        env.deliveries = env.deliveries.saturating_add(1);
        self.deliver.do_send(Deliver {
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

    /// Removes the acknowledged message (and, if `cumulative`, every earlier one).
    pub fn take_acked(&mut self, id: u64, cumulative: bool) -> Result<Vec<Envelope>, AckError> {
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
