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
        for env in self.delayed.take_all() {
            core.m.ready.dec();
            core.m.dropped.inc();
            self.forget(core, &env, Removal::Dropped);
            n += 1;
        }
        while let Some(env) = self.backlog.pop_front() {
            core.m.ready.dec();
            core.m.dropped.inc();
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
                core.m.dropped.inc();
                self.forget(core, &env, Removal::Dropped);
                n += 1;
            }
        }
        self.next = 0;
        self.exclusive = 0;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::super::super::testing::{consumer, core, data, key};
    use super::*;
    use crate::destination::delivery::Delivery;
    use crate::model::AckMode::ClientIndividual;
    use crate::model::{MessageData, Overflow, QueueLimits};
    use crate::protocol::ErrorReason;

    fn queue() -> QueueDelivery {
        let limits = QueueLimits {
            max_messages: 100,
            max_bytes: 1 << 20,
            overflow: Overflow::Block,
        };
        QueueDelivery::with_backlog(crate::destination::MemoryBacklog::default(), limits)
    }

    fn dead_letter(body: &str, home: Option<&str>) -> Arc<MessageData> {
        let mut headers = vec![("x-death-reason".to_string(), "delivery-limit".to_string())];
        if let Some(h) = home {
            headers.push((ORIGINAL_DESTINATION.into(), h.into()));
        }
        MessageData::from_send(headers, Bytes::copy_from_slice(body.as_bytes()))
    }

    fn notice() -> Fail {
        Fail {
            message: "deleted".into(),
            detail: String::new(),
            receipt_id: None,
            reason: ErrorReason::Admin,
        }
    }

    #[test]
    fn purge_discards_what_waits_and_leaves_what_consumers_hold() {
        let mut c = core("/queue/q");
        let mut q = queue();
        let (a, seen) = consumer(1, ClientIndividual, 1);
        q.subscribe(&mut c, a);
        q.publish(&mut c, vec![data("m1"), data("m2"), data("m3")], true)
            .expect("taken");
        q.dispatch(&mut c);
        assert_eq!((q.depth(), q.unacknowledged()), (2, 1));
        assert_eq!(q.purge(&mut c), 2);
        assert_eq!((q.depth(), q.unacknowledged()), (0, 1));
        q.ack(&mut c, key(1), seen.id(0), false)
            .expect("the held message can still be acknowledged");
        q.dispatch(&mut c);
        assert_eq!(seen.bodies(), ["m1"], "nothing purged is delivered");
    }

    #[test]
    fn evict_tells_every_consumer_and_discards_everything() {
        let mut c = core("/queue/q");
        let mut q = queue();
        let (a, seen_a) = consumer(1, ClientIndividual, 1);
        let (b, seen_b) = consumer(2, ClientIndividual, 1);
        q.subscribe(&mut c, a);
        q.subscribe(&mut c, b);
        q.publish(&mut c, vec![data("m1"), data("m2"), data("m3")], true)
            .expect("taken");
        q.dispatch(&mut c);
        assert_eq!(q.evict(&mut c, &notice), 3);
        assert_eq!(seen_a.failed.borrow().len(), 1);
        assert_eq!(seen_b.failed.borrow().len(), 1);
        assert!(q.is_idle());
        assert_eq!(q.consumers(10).0, 0);
    }

    #[test]
    fn replay_sends_each_home_without_its_history_and_keeps_orphans_in_order() {
        let mut c = core("/queue/DLQ.orders");
        let mut q = queue();
        let letters = vec![
            dead_letter("a", Some("/queue/orders")),
            dead_letter("orphan", None),
            dead_letter("b", Some("/topic/prices")),
            dead_letter("loop", Some("/queue/DLQ.orders")),
            dead_letter("c", Some("/queue/orders")),
        ];
        q.publish(&mut c, letters, false).expect("taken");
        let out = q.replay(&mut c, 4);
        assert_eq!(
            out,
            ReplayOutcome {
                replayed: 2,
                skipped: 2
            },
            "the limit counts both"
        );
        let sent = c.take_outbox();
        let homes: Vec<(&str, &[u8])> = sent
            .iter()
            .map(|l| (l.destination.as_str(), &l.data.body[..]))
            .collect();
        assert_eq!(
            homes,
            [("/queue/orders", &b"a"[..]), ("/topic/prices", b"b")]
        );
        for l in &sent {
            let names: Vec<&str> = l.data.headers.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, ["destination"], "dead-letter headers are shed");
            let dest = l.data.headers.first().map(|(_, v)| v.as_str());
            assert_eq!(dest, Some(l.destination.as_str()));
        }
        // What names no other home stays, in order, with what the limit left.
        assert_eq!(q.depth(), 3);
        let out = q.replay(&mut c, 10);
        assert_eq!(
            out,
            ReplayOutcome {
                replayed: 1,
                skipped: 2
            }
        );
        assert_eq!(c.take_outbox()[0].data.body, &b"c"[..]);
    }
}
