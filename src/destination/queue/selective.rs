//! The parts of queue delivery that expiry, selectors and exclusive
//! consumers add: an expired message leaves at its turn, with selective
//! consumers a message goes to the next consumer with room that selects it,
//! and with an exclusive consumer only to that one.

use super::{logged, QueueDelivery};
use crate::destination::backlog::{Backlog, Removal};
use crate::destination::consumer::Consumer;
use crate::destination::core::Core;
use crate::model::{Envelope, OnExpiry};

impl<S: Backlog> QueueDelivery<S> {
    /// An expired message leaves without being delivered: dead-lettered
    /// when the policy says so (and there is a dead-letter queue), else dropped.
    pub(super) fn expire(&mut self, core: &mut Core, env: Envelope) {
        core.m.expired.inc();
        if core.expiry.on_expiry == OnExpiry::DeadLetter && core.has_dead_letter_queue() {
            self.dead_letter(core, env, "expired");
        } else {
            self.forget(core, &env, Removal::Dropped);
        }
    }

    /// Delivers `env` to consumer `idx` and moves the round-robin past it.
    pub(super) fn hand(&mut self, core: &mut Core, idx: usize, env: Envelope) {
        core.delivering(&env);
        let c = &mut self.consumers[idx];
        c.deliver(env);
        if let Some(env) = c.last_delivered() {
            logged(core, "a delivery", self.backlog.delivered(env));
        }
        self.next = (idx + 1) % self.consumers.len();
    }

    /// Dispatch when some consumer has a selector, or to `only` (the
    /// exclusive consumer) alone: a message goes to the next consumer with
    /// room that selects it; one that none of them selects now is passed
    /// over and waits, in its place, for a consumer that does. At most
    /// `destinations.selector_lookahead` are passed over per dispatch, which
    /// bounds the work a publish or an ACK can cause.
    pub(super) fn dispatch_selective(&mut self, core: &mut Core, only: Option<usize>) {
        let mut skipped: Vec<Envelope> = Vec::new();
        let lookahead = core.policy.selector_lookahead.max(1);
        let room = |q: &Self| match only {
            Some(i) => q.consumers.get(i).is_some_and(Consumer::has_room),
            None => q.consumers.iter().any(Consumer::has_room),
        };
        while skipped.len() < lookahead && room(self) {
            let Some(env) = self.backlog.pop_front() else {
                break;
            };
            core.m.ready.dec();
            if core.expired(&env) {
                self.expire(core, env);
                continue;
            }
            let n = self.consumers.len();
            let takes = |c: &Consumer| c.has_room() && c.accepts(&env.data);
            let found = match only {
                Some(i) => Some(i).filter(|&i| takes(&self.consumers[i])),
                None => (0..n)
                    .map(|i| (self.next + i) % n)
                    .find(|&i| takes(&self.consumers[i])),
            };
            match found {
                Some(idx) => self.hand(core, idx, env),
                None => skipped.push(env),
            }
        }
        for env in skipped.into_iter().rev() {
            core.m.ready.inc();
            self.backlog.push_front(env);
        }
    }
}
