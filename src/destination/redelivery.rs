//! NACKed messages waiting out their redelivery delay. They wait here, not in
//! the queue's backlog, so the messages behind them keep flowing; the queue
//! takes them back once due. One min-heap per queue, ordered by due time, so
//! the actor needs one timer per queue (for the earliest), not one per message.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::model::{Envelope, NackMode, Redelivery};

/// Where a message goes back when its delay is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The head of the queue: delivered next.
    Head,
    /// The tail: behind the messages waiting.
    Tail,
}

/// How a message came back unacknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Its consumer NACKed it.
    Nacked,
    /// Its consumer went away (disconnect, dropped connection, UNSUBSCRIBE).
    /// That delivery counts, as in ActiveMQ and Artemis, so a message that
    /// kills its consumers still reaches the dead-letter queue; but the
    /// message returns at once to the head, as in RabbitMQ and ActiveMQ, so
    /// another consumer takes over without waiting.
    ConsumerGone,
}

/// What becomes of a returned message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// To the dead-letter queue, for this reason (`x-death-reason`).
    DeadLetter(&'static str),
    /// Back into the queue at this place, after this wait (maybe zero).
    Back(Place, Duration),
}

/// What `policy` does with a message returned after its `deliveries`-th delivery.
pub fn fate(policy: &Redelivery, deliveries: u32, how: Returned) -> Fate {
    if deliveries >= policy.max_deliveries {
        return Fate::DeadLetter(match how {
            Returned::Nacked => "delivery-limit",
            Returned::ConsumerGone => "consumer-gone",
        });
    }
    if how == Returned::ConsumerGone {
        return Fate::Back(Place::Head, Duration::ZERO);
    }
    let place = match policy.nack {
        NackMode::DeadLetter => return Fate::DeadLetter("rejected"),
        NackMode::RequeueHead => Place::Head,
        NackMode::RequeueTail => Place::Tail,
    };
    Fate::Back(place, policy.delay_after(deliveries))
}

/// One delayed message.
struct Due {
    at: Instant,
    /// Arrival order, so that messages due at the same instant keep their order.
    seq: u64,
    place: Place,
    env: Envelope,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A queue's delayed messages, earliest due first.
#[derive(Default)]
pub struct Schedule {
    heap: BinaryHeap<Due>,
    seq: u64,
    /// Body bytes held.
    bytes: usize,
}

impl Schedule {
    /// Holds `env` until `at`, then it goes back at `place`.
    pub fn hold(&mut self, env: Envelope, at: Instant, place: Place) {
        self.seq += 1;
        self.bytes += env.data.size();
        self.heap.push(Due {
            at,
            seq: self.seq,
            place,
            env,
        });
    }

    /// When the earliest delayed message is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|d| d.at)
    }

    /// The messages due at `now`, earliest first.
    pub fn take_due(&mut self, now: Instant) -> Vec<(Envelope, Place)> {
        let mut out = Vec::new();
        while self.heap.peek().is_some_and(|d| d.at <= now) {
            if let Some(d) = self.heap.pop() {
                self.bytes = self.bytes.saturating_sub(d.env.data.size());
                out.push((d.env, d.place));
            }
        }
        out
    }

    /// Every delayed message, due or not, earliest first.
    pub fn take_all(&mut self) -> Vec<Envelope> {
        let mut out = Vec::with_capacity(self.heap.len());
        while let Some(d) = self.heap.pop() {
            out.push(d.env);
        }
        self.bytes = 0;
        out
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Their body bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{consumer, core_with, data, env, key};
    use super::super::{Delivery, MemoryBacklog, QueueDelivery};
    use super::*;
    use crate::model::AckMode::ClientIndividual;
    use crate::model::{Overflow, QueueLimits};

    /// A queue `/queue/q` under `tune`d redelivery, holding `bodies`, with one
    /// client-individual consumer of window 1 that got the first.
    fn one_by_one(
        tune: impl FnOnce(&mut Redelivery),
        bodies: &[&str],
    ) -> (
        super::super::Core,
        QueueDelivery,
        std::rc::Rc<super::super::testing::Seen>,
    ) {
        let mut c = core_with("/queue/q", |p| tune(&mut p.redelivery));
        let mut q = QueueDelivery::new(&c);
        let (sub, seen) = consumer(1, ClientIndividual, 1);
        q.subscribe(&mut c, sub);
        let msgs = bodies.iter().map(|b| data(b)).collect();
        q.publish(&mut c, msgs, true).expect("taken");
        q.dispatch(&mut c);
        (c, q, seen)
    }

    #[test]
    fn requeue_tail_lets_the_others_go_first() {
        let (mut c, mut q, seen) = one_by_one(|r| r.nack = NackMode::RequeueTail, &["a", "b", "c"]);
        q.nack(&mut c, key(1), seen.id(0), false).expect("nacked");
        q.refill(&mut c, key(1));
        for n in 1..3 {
            q.ack(&mut c, key(1), seen.id(n), false).expect("acked");
            q.refill(&mut c, key(1));
        }
        assert_eq!(seen.bodies(), ["a", "b", "c", "a"]);
        assert_eq!(seen.delivered.borrow()[3].delivery_count, 2);
    }

    #[test]
    fn dead_letter_mode_gives_up_at_the_first_nack() {
        let (mut c, mut q, seen) = one_by_one(|r| r.nack = NackMode::DeadLetter, &["a", "b"]);
        q.nack(&mut c, key(1), seen.id(0), false).expect("nacked");
        let letters = c.take_outbox();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].destination, "/queue/DLQ.q");
        let reason = letters[0]
            .data
            .headers
            .iter()
            .find(|(k, _)| k == "x-death-reason");
        assert_eq!(reason.map(|(_, v)| v.as_str()), Some("rejected"));
        q.refill(&mut c, key(1));
        assert_eq!(seen.bodies(), ["a", "b"]);
    }

    #[test]
    fn a_delayed_message_waits_aside_while_the_others_flow() {
        let (mut c, mut q, seen) = one_by_one(|r| r.delay = Duration::from_secs(60), &["a", "b"]);
        let before = Instant::now();
        q.nack(&mut c, key(1), seen.id(0), false).expect("nacked");
        q.refill(&mut c, key(1));
        assert_eq!(seen.bodies(), ["a", "b"], "b does not wait behind a");
        let due = q.next_due().expect("a is scheduled");
        assert!(due >= before + Duration::from_secs(60));
        q.ack(&mut c, key(1), seen.id(1), false).expect("acked");
        q.refill(&mut c, key(1));
        assert_eq!(seen.bodies(), ["a", "b"], "a is not due yet");
        assert!(!q.is_idle(), "a delayed message keeps the queue alive");
    }

    #[test]
    fn delayed_messages_count_against_the_queue_limits() {
        let mut c = core_with("/queue/q", |p| p.redelivery.delay = Duration::from_secs(60));
        let limits = QueueLimits {
            max_messages: 2,
            max_bytes: 1 << 20,
            overflow: Overflow::Reject,
        };
        let mut q = QueueDelivery::with_backlog(MemoryBacklog::default(), limits);
        let (sub, seen) = consumer(1, ClientIndividual, 1);
        q.subscribe(&mut c, sub);
        q.publish(&mut c, vec![data("a"), data("b")], true)
            .expect("fits");
        q.dispatch(&mut c);
        q.nack(&mut c, key(1), seen.id(0), false).expect("nacked");
        q.refill(&mut c, key(1));
        assert_eq!(seen.bodies(), ["a", "b"]);
        assert!(
            q.publish(&mut c, vec![data("c")], true).is_ok(),
            "b is unacked, a delayed: one waits"
        );
        assert!(
            q.publish(&mut c, vec![data("d")], true).is_err(),
            "a (delayed) and c fill the queue"
        );
    }

    #[test]
    fn a_gone_consumers_messages_are_not_delayed() {
        let (mut c, mut q, seen) = one_by_one(|r| r.delay = Duration::from_secs(60), &["a"]);
        seen.gone.set(true);
        q.reap(&mut c);
        assert!(q.next_due().is_none());
        let (other, seen_other) = consumer(2, ClientIndividual, 1);
        q.subscribe(&mut c, other);
        q.dispatch(&mut c);
        assert_eq!(seen_other.bodies(), ["a"]);
        assert_eq!(seen_other.delivered.borrow()[0].delivery_count, 2);
    }

    fn bodies(v: &[(Envelope, Place)]) -> Vec<String> {
        v.iter()
            .map(|(e, _)| String::from_utf8_lossy(&e.data.body).into_owned())
            .collect()
    }

    #[test]
    fn releases_what_is_due_earliest_first_and_keeps_the_rest() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Schedule::default();
        s.hold(env("late"), t + ms(30), Place::Head);
        s.hold(env("early"), t + ms(10), Place::Tail);
        s.hold(env("tie-1"), t + ms(20), Place::Head);
        s.hold(env("tie-2"), t + ms(20), Place::Head);
        assert_eq!(s.next_due(), Some(t + ms(10)));
        assert!(s.take_due(t).is_empty());
        let due = s.take_due(t + ms(20));
        assert_eq!(bodies(&due), ["early", "tie-1", "tie-2"]);
        assert_eq!(due[0].1, Place::Tail);
        assert_eq!((s.len(), s.next_due()), (1, Some(t + ms(30))));
        assert_eq!(s.bytes(), "late".len());
        assert_eq!(s.take_all().len(), 1);
        assert!(s.is_empty() && s.next_due().is_none());
    }
}
