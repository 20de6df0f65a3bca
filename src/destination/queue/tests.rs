//! The queue strategy driven directly, without actors.

use super::super::testing::{consumer, core, core_with, data, key};
use super::*;
use crate::model::AckMode::{Auto, ClientIndividual};

fn limits(max_messages: usize, max_bytes: usize, overflow: Overflow) -> QueueLimits {
    QueueLimits {
        max_messages,
        max_bytes,
        overflow,
    }
}

fn queue(l: QueueLimits) -> QueueDelivery {
    QueueDelivery::with_backlog(MemoryBacklog::default(), l)
}

fn publish(q: &mut QueueDelivery, c: &mut Core, bodies: &[&str]) -> Result<(), Refused> {
    q.publish(c, bodies.iter().map(|b| data(b)).collect(), true)
}

#[test]
fn messages_go_round_robin_to_consumers_with_room() {
    let mut c = core("/queue/q");
    let mut q = QueueDelivery::new(&c);
    let (a, seen_a) = consumer(1, ClientIndividual, 1);
    let (b, seen_b) = consumer(2, ClientIndividual, 1);
    q.subscribe(&mut c, a);
    q.subscribe(&mut c, b);
    publish(&mut q, &mut c, &["m1", "m2", "m3"]).expect("taken");
    q.dispatch(&mut c);
    assert_eq!(seen_a.bodies(), ["m1"]);
    assert_eq!(seen_b.bodies(), ["m2"]);
    assert!(!q.is_idle(), "m3 waits for room");
    q.ack(&mut c, key(1), seen_a.id(0), false).expect("acked");
    q.refill(&mut c, key(1));
    assert_eq!(seen_a.bodies(), ["m1", "m3"]);
}

#[test]
fn an_empty_publish_is_taken_and_never_overflows() {
    let mut c = core("/queue/q");
    let mut empty = queue(limits(1, 1_000, Overflow::Reject));
    // Used to compute `0 + 0 - 1`: a panic in debug, a false reject in release.
    assert_eq!(empty.publish(&mut c, Vec::new(), true), Ok(()));
    assert!(empty.is_idle());
    let mut full = queue(limits(1, 1_000, Overflow::Reject));
    publish(&mut full, &mut c, &["only"]).expect("fits exactly");
    assert_eq!(full.publish(&mut c, Vec::new(), true), Ok(()));
    assert_eq!(full.backlog.len(), 1);
}

#[test]
fn reject_refuses_a_batch_that_would_overflow_but_not_dead_letters() {
    let mut c = core("/queue/q");
    let mut q = queue(limits(2, 1_000, Overflow::Reject));
    publish(&mut q, &mut c, &["a", "b"]).expect("reaching the bound is allowed");
    let refused = publish(&mut q, &mut c, &["c"]).expect_err("over the bound");
    assert!(
        matches!(&refused, Refused::Full(why) if why.contains("at most 2 messages")),
        "{refused:?}"
    );
    assert_eq!(q.backlog.len(), 2);
    q.publish(&mut c, vec![data("dead")], false)
        .expect("the broker's own publishes are never refused");
    assert_eq!(q.backlog.len(), 3);
}

#[test]
fn drop_head_drops_only_as_many_of_the_oldest_as_needed() {
    let mut c = core("/queue/q");
    let mut q = queue(limits(100, 10, Overflow::DropHead));
    publish(&mut q, &mut c, &["aaaa", "bbbb", "cccc"]).expect("taken");
    let (sub, seen) = consumer(1, Auto, 10);
    q.subscribe(&mut c, sub);
    q.dispatch(&mut c);
    assert_eq!(seen.bodies(), ["bbbb", "cccc"]);
}

#[test]
fn block_pauses_publishers_while_full() {
    let mut c = core("/queue/q");
    let mut q = queue(limits(2, 1_000, Overflow::Block));
    publish(&mut q, &mut c, &["a"]).expect("taken");
    assert!(!q.must_pause(&c));
    publish(&mut q, &mut c, &["b"]).expect("taken");
    assert!(q.must_pause(&c));
    let (sub, _) = consumer(1, Auto, 10);
    q.subscribe(&mut c, sub);
    q.dispatch(&mut c);
    assert!(!q.must_pause(&c), "delivered messages no longer count");
}

#[test]
fn nack_redelivers_from_the_head_then_dead_letters() {
    let mut c = core_with("/queue/orders", |p| p.redelivery.max_deliveries = 2);
    let mut q = QueueDelivery::new(&c);
    let (sub, seen) = consumer(1, ClientIndividual, 1);
    q.subscribe(&mut c, sub);
    publish(&mut q, &mut c, &["first", "second"]).expect("taken");
    q.dispatch(&mut c);
    q.nack(&mut c, key(1), seen.id(0), false).expect("nacked");
    q.refill(&mut c, key(1));
    assert_eq!(seen.bodies(), ["first", "first"]);
    assert_eq!(seen.delivered.borrow()[1].delivery_count, 2);
    q.nack(&mut c, key(1), seen.id(1), false).expect("nacked");
    let letters = c.take_outbox();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].destination, "/queue/DLQ.orders");
    q.refill(&mut c, key(1));
    assert_eq!(seen.bodies(), ["first", "first", "second"]);
}

#[test]
fn a_gone_consumers_messages_return_in_order() {
    let mut c = core("/queue/q");
    let mut q = QueueDelivery::new(&c);
    let (a, seen_a) = consumer(1, ClientIndividual, 2);
    q.subscribe(&mut c, a);
    publish(&mut q, &mut c, &["x", "y", "z"]).expect("taken");
    q.dispatch(&mut c);
    assert_eq!(seen_a.bodies(), ["x", "y"]);
    seen_a.gone.set(true);
    q.reap(&mut c);
    assert!(!q.contains(key(1)));
    let (b, seen_b) = consumer(2, ClientIndividual, 10);
    q.subscribe(&mut c, b);
    q.dispatch(&mut c);
    assert_eq!(seen_b.bodies(), ["x", "y", "z"]);
    let counts: Vec<u32> = seen_b
        .delivered
        .borrow()
        .iter()
        .map(|d| d.delivery_count)
        .collect();
    assert_eq!(counts, [2, 2, 1]);
}

#[test]
fn acks_need_a_subscription_and_a_non_auto_mode() {
    let mut c = core("/queue/q");
    let mut q = QueueDelivery::new(&c);
    let (sub, seen) = consumer(1, Auto, 10);
    q.subscribe(&mut c, sub);
    publish(&mut q, &mut c, &["a"]).expect("taken");
    q.dispatch(&mut c);
    let id = seen.id(0);
    assert_eq!(q.ack(&mut c, key(1), id, false), Err(AckError::Unknown(id)));
    assert_eq!(
        q.nack(&mut c, key(9), id, false),
        Err(AckError::NoSubscription)
    );
    assert_eq!(q.consumers[0].outstanding(), 1);
    q.settle(&mut c, key(1), 1);
    assert_eq!(
        q.consumers[0].outstanding(),
        0,
        "auto mode settles on write"
    );
}

#[test]
fn quarantine_dead_letters_what_waits_unless_it_is_a_dead_letter_queue() {
    let mut c = core("/queue/q");
    let mut q = QueueDelivery::new(&c);
    publish(&mut q, &mut c, &["a", "b"]).expect("taken");
    assert!(q.quarantine(&mut c));
    assert_eq!(c.take_outbox().len(), 2);
    assert!(q.is_idle());
    let mut dlq_core = core("/queue/DLQ.q");
    let mut dlq = QueueDelivery::new(&dlq_core);
    publish(&mut dlq, &mut dlq_core, &["poison"]).expect("taken");
    assert!(!dlq.quarantine(&mut dlq_core));
    assert_eq!(dlq.backlog.len(), 1, "kept rather than lost");
}

/// A store whose writes always fail, as a full disk would.
#[derive(Default)]
struct Broken(MemoryBacklog);

impl Backlog for Broken {
    fn open(_: &Core) -> Self {
        Broken::default()
    }
    fn push_back(&mut self, _: Envelope) -> Result<(), BacklogError> {
        Err(BacklogError::Io(std::io::Error::other("disk full")))
    }
    fn push_front(&mut self, env: Envelope) {
        self.0.push_front(env)
    }
    fn pop_front(&mut self) -> Option<Envelope> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn bytes(&self) -> usize {
        self.0.bytes()
    }
}

#[test]
fn a_store_that_cannot_write_refuses_the_publish() {
    let mut c = core("/queue/q");
    let mut q = QueueDelivery::<Broken>::new(&c);
    let refused = q
        .publish(&mut c, vec![data("a"), data("b")], true)
        .expect_err("nothing was stored");
    assert!(
        matches!(&refused, Refused::Store(why) if why.contains("disk full")),
        "{refused:?}"
    );
    assert!(q.is_idle());
}

fn coloured(body: &str, colour: &str) -> Arc<MessageData> {
    MessageData::from_send(
        vec![("colour".into(), colour.into())],
        bytes::Bytes::copy_from_slice(body.as_bytes()),
    )
}

fn selecting(sub: u64, text: &str) -> (Consumer, std::rc::Rc<super::super::testing::Seen>) {
    let (c, seen) = consumer(sub, Auto, 10);
    let s = crate::model::selector::Selector::parse(text).expect("selector parses");
    (c.with_selector(Some(Arc::new(s))), seen)
}

#[test]
fn unselected_messages_keep_their_place_and_the_gauges_stay_right() {
    let mut c = core("/queue/q");
    let mut q: QueueDelivery = QueueDelivery::new(&c);
    let (red, seen_red) = selecting(1, "colour = 'red'");
    q.subscribe(&mut c, red);
    let msgs = vec![
        coloured("g1", "green"),
        coloured("r1", "red"),
        coloured("g2", "green"),
        coloured("r2", "red"),
    ];
    q.publish(&mut c, msgs, true).expect("taken");
    q.dispatch(&mut c);
    assert_eq!(seen_red.bodies(), ["r1", "r2"]);
    assert_eq!(q.backlog.len(), 2);
    assert_eq!(c.m.ready.get(), 2);
    let (any, seen_any) = consumer(2, Auto, 10);
    q.subscribe(&mut c, any);
    q.dispatch(&mut c);
    assert_eq!(seen_any.bodies(), ["g1", "g2"]);
    assert_eq!((q.backlog.len(), c.m.ready.get()), (0, 0));
}

#[test]
fn expired_messages_are_skipped_at_their_turn_and_dead_lettered_by_policy() {
    let mut c = core("/queue/q");
    c.expiry.on_expiry = crate::model::OnExpiry::DeadLetter;
    let mut q: QueueDelivery = QueueDelivery::new(&c);
    let stale = MessageData::from_send(
        vec![("expires".into(), "1".into())],
        bytes::Bytes::from_static(b"stale"),
    );
    q.publish(&mut c, vec![stale, data("fresh")], true)
        .expect("taken");
    let (sub, seen) = consumer(1, Auto, 10);
    q.subscribe(&mut c, sub);
    q.dispatch(&mut c);
    assert_eq!(seen.bodies(), ["fresh"]);
    assert_eq!(c.m.expired.get(), 1);
    let out = c.take_outbox();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].destination, "/queue/DLQ.q");
    assert!(out[0]
        .data
        .headers
        .iter()
        .any(|(n, v)| n == "x-death-reason" && v == "expired"));
}

fn prioritised(body: &str, priority: &str) -> Arc<MessageData> {
    MessageData::from_send(
        vec![("priority".into(), priority.into())],
        bytes::Bytes::copy_from_slice(body.as_bytes()),
    )
}

#[test]
fn higher_priorities_go_first_and_a_nacked_message_returns_to_its_own() {
    let mut c = core("/queue/q");
    let mut q = queue(limits(100, 1 << 20, Overflow::Block));
    let msgs = vec![
        data("a4"),
        prioritised("b9", "9"),
        prioritised("c1", "1"),
        prioritised("d9", "9"),
        data("e4"),
    ];
    q.publish(&mut c, msgs, true).expect("taken");
    let (a, seen) = consumer(1, ClientIndividual, 1);
    q.subscribe(&mut c, a);
    q.dispatch(&mut c);
    assert_eq!(seen.bodies(), ["b9"]);
    // Requeued at the head of priority 9: before d9.
    q.nack(&mut c, key(1), seen.id(0), false).expect("nacked");
    q.dispatch(&mut c);
    for n in 1..5 {
        q.ack(&mut c, key(1), seen.id(n), false).expect("acked");
        q.dispatch(&mut c);
    }
    assert_eq!(seen.bodies(), ["b9", "b9", "d9", "a4", "e4", "c1"]);
    assert_eq!(q.depth(), 0);
}

fn exclusive(sub: u64, prefetch: u32) -> (Consumer, std::rc::Rc<super::super::testing::Seen>) {
    let (c, seen) = consumer(sub, ClientIndividual, prefetch);
    (c.exclusive(true), seen)
}

#[test]
fn the_first_exclusive_consumer_gets_everything_and_the_next_takes_over() {
    let mut c = core("/queue/q");
    let mut q = queue(limits(100, 1 << 20, Overflow::Block));
    let (plain, seen_plain) = consumer(1, ClientIndividual, 10);
    let (first, seen_first) = exclusive(2, 2);
    let (second, seen_second) = exclusive(3, 10);
    q.subscribe(&mut c, plain);
    q.subscribe(&mut c, first);
    q.subscribe(&mut c, second);
    publish(&mut q, &mut c, &["m1", "m2", "m3"]).expect("taken");
    q.dispatch(&mut c);
    assert_eq!(seen_first.bodies(), ["m1", "m2"], "up to its window");
    assert!(seen_plain.bodies().is_empty() && seen_second.bodies().is_empty());
    q.unsubscribe(&mut c, key(2));
    q.dispatch(&mut c);
    assert_eq!(
        seen_second.bodies(),
        ["m1", "m2", "m3"],
        "what the first held comes back first"
    );
    assert_eq!(seen_second.delivered.borrow()[0].delivery_count, 2);
    q.unsubscribe(&mut c, key(3));
    q.dispatch(&mut c);
    assert_eq!(
        seen_plain.bodies(),
        ["m1", "m2", "m3"],
        "no exclusive consumer left: the others share again"
    );
}
