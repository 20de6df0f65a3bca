//! Temporary reply queues: `/temp-queue/NAME`, in a SEND's `reply-to` or
//! `destination` or a SUBSCRIBE's `destination`, means this connection's
//! private queue, named broker-side `<queue prefix>temp.<id>.NAME` (what the
//! receiver sees in `reply-to` and sends to). Only this connection may
//! subscribe to it, and the router deletes it when the session ends.

use super::{Session, SubscriptionError};
use crate::messages::router::TempQueues;
use crate::model::{temp_queue_name, temp_queue_owner, TEMP_QUEUE_PREFIX};

impl Session {
    /// The broker-side name of `name` if it is `/temp-queue/NAME`; the first
    /// one claims this connection's temporary queues with the router.
    pub(super) fn own_temp_queue(&mut self, name: &str) -> Option<String> {
        let local = name
            .strip_prefix(TEMP_QUEUE_PREFIX)
            .filter(|n| !n.is_empty())?;
        if !self.temp_claimed {
            self.temp_claimed = true;
            self.shared
                .temp_queues
                .do_send(TempQueues::Claim { owner: self.id });
        }
        let prefix = &self.shared.settings.destinations.queue_prefix;
        Some(temp_queue_name(prefix, self.id, local))
    }

    /// Rewrites `/temp-queue/NAME` in a SEND's `destination` and `reply-to`.
    pub(super) fn rewrite_temp_queues(&mut self, headers: &mut [(String, String)]) {
        for (n, v) in headers.iter_mut() {
            if n == "reply-to" || n == "destination" {
                if let Some(real) = self.own_temp_queue(v) {
                    *v = real;
                }
            }
        }
    }

    /// Refuses a SUBSCRIBE to another connection's temporary queue.
    pub(super) fn check_temp_owner(&self, destination: &str) -> Result<(), SubscriptionError> {
        let prefix = &self.shared.settings.destinations.queue_prefix;
        match temp_queue_owner(prefix, destination) {
            Some(owner) if owner != Some(self.id) => {
                Err(SubscriptionError::NotOwner(destination.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// The session ends: its temporary queues go with it.
    pub(super) fn release_temp_queues(&mut self) {
        if std::mem::take(&mut self.temp_claimed) {
            self.shared
                .temp_queues
                .do_send(TempQueues::Release { owner: self.id });
        }
    }
}
