//! What an operator does to a queue through the admin API: look at it,
//! purge it, delete it, and replay a dead-letter queue into the queues its
//! messages came from.

use super::{logged, QueueDelivery};
use crate::destination::backlog::{Backlog, Removal};
use crate::destination::core::{Core, ORIGINAL_DESTINATION};
use crate::messages::connection::Fail;
use crate::model::{ConsumerView, ReplayOutcome};

/// The headers dead-lettering adds (see [`Core::dead_letter`]); a replayed
/// message leaves them behind, so a second dead-lettering starts a fresh history.
const DEAD_LETTER_HEADERS: [&str; 4] = [
    ORIGINAL_DESTINATION,
    "x-death-reason",
    "x-delivery-count",
    "x-original-message-id",
];

impl<S: Backlog> QueueDelivery<S> {
    pub(super) fn held(&self) -> usize {
        self.consumers.iter().map(|c| c.unsettled()).sum()
    }

    pub(super) fn consumer_views(&self, max: usize) -> (usize, Vec<ConsumerView>) {
        let list = self.consumers.iter().take(max).map(|c| c.view()).collect();
        (self.consumers.len(), list)
    }

    pub(super) fn purge_waiting(&mut self, core: &mut Core) -> usize {
        let mut n = 0;
        while let Some(env) = self.backlog.pop_front() {
            core.m.ready.dec();
            self.forget(core, &env, Removal::Dropped);
            n += 1;
        }
        n
    }

    pub(super) fn evict_all(&mut self, core: &mut Core, notice: &dyn Fn() -> Fail) -> usize {
        let mut n = 0;
        for mut c in std::mem::take(&mut self.consumers) {
            c.fail(notice());
            core.m.consumers.dec();
            for env in c.take_all() {
                core.m.unacked.dec();
                self.forget(core, &env, Removal::Dropped);
                n += 1;
            }
        }
        self.next = 0;
        n + self.purge_waiting(core)
    }

    pub(super) fn replay_waiting(&mut self, core: &mut Core, limit: usize) -> ReplayOutcome {
        let mut out = ReplayOutcome::default();
        let mut kept = Vec::new();
        while out.replayed + out.skipped < limit {
            let Some(env) = self.backlog.pop_front() else {
                break;
            };
            let home = env
                .data
                .headers
                .iter()
                .find(|(k, _)| k == ORIGINAL_DESTINATION)
                .map(|(_, v)| v.clone())
                .filter(|home| home.as_str() != &*core.name);
            let Some(home) = home else {
                kept.push(env);
                out.skipped += 1;
                continue;
            };
            core.m.ready.dec();
            core.policy.memory.sub(env.data.footprint());
            let copy = env
                .data
                .redirected_without(&home, Vec::new(), &DEAD_LETTER_HEADERS);
            // Into a queue, the journal records the move as one step, as for
            // a dead letter; a topic keeps nothing, so it is only a removal.
            let recorded = if home.starts_with(&core.policy.queue_prefix) {
                self.backlog.dead_lettered(&env, &home, &copy)
            } else {
                self.backlog.removed(&env, Removal::DeadLettered)
            };
            logged(core, "a replay", recorded);
            core.forward(&home, copy);
            out.replayed += 1;
        }
        // What names no home goes back where it was, in its order.
        for env in kept.into_iter().rev() {
            self.backlog.push_front(env);
        }
        out
    }
}
