//! What an operator does to a topic through the admin API: look at it,
//! purge what slow subscribers have parked, delete it.

use super::TopicDelivery;
use crate::destination::core::Core;
use crate::messages::connection::Fail;
use crate::model::ConsumerView;

impl TopicDelivery {
    pub(super) fn parked(&self) -> usize {
        self.subscribers.iter().map(|s| s.backlog.len()).sum()
    }

    pub(super) fn held(&self) -> usize {
        self.subscribers
            .iter()
            .map(|s| s.consumer.unsettled())
            .sum()
    }

    pub(super) fn consumer_views(&self, max: usize) -> (usize, Vec<ConsumerView>) {
        let list = self
            .subscribers
            .iter()
            .take(max)
            .map(|s| s.consumer.view())
            .collect();
        (self.subscribers.len(), list)
    }

    pub(super) fn purge_parked(&mut self, core: &mut Core) -> usize {
        let mut n = 0;
        for s in &mut self.subscribers {
            n += s.backlog.len();
            core.m.ready.sub(s.backlog.len() as i64);
            s.release_backlog(core);
        }
        n
    }

    pub(super) fn evict_all(&mut self, core: &mut Core, notice: &dyn Fn() -> Fail) -> usize {
        let mut n = self.purge_parked(core);
        for mut s in std::mem::take(&mut self.subscribers) {
            s.consumer.fail(notice());
            core.m.consumers.dec();
            let held = s.consumer.take_all().len();
            core.m.unacked.sub(held as i64);
            n += held;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{consumer, core, data};
    use super::*;
    use crate::destination::delivery::Delivery;
    use crate::model::AckMode::ClientIndividual;
    use crate::protocol::ErrorReason;

    #[test]
    fn purge_drops_what_slow_subscribers_parked_and_evict_tells_them() {
        let mut c = core("/topic/t");
        let mut t = TopicDelivery::default();
        let (a, seen) = consumer(1, ClientIndividual, 1);
        t.subscribe(&mut c, a);
        t.publish(&mut c, vec![data("m1"), data("m2"), data("m3")], true)
            .expect("taken");
        assert_eq!((t.depth(), t.unacknowledged()), (2, 1));
        assert_eq!(t.purge(&mut c), 2);
        assert_eq!(t.depth(), 0);
        let notice = || Fail {
            message: "deleted".into(),
            detail: String::new(),
            receipt_id: None,
            reason: ErrorReason::Admin,
        };
        assert_eq!(t.evict(&mut c, &notice), 1, "the held one");
        assert_eq!(seen.failed.borrow().len(), 1);
        assert!(t.is_idle());
    }
}
