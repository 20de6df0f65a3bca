//! The topic strategy driven directly, without actors.

use super::super::testing::{consumer, core, core_with, data, key};
use super::*;
use crate::model::AckMode::{Auto, Client};

fn publish(t: &mut TopicDelivery, c: &mut Core, bodies: &[&str]) {
    t.publish(c, bodies.iter().map(|b| data(b)).collect(), true)
        .expect("a topic takes everything");
}

#[test]
fn every_subscriber_gets_every_message() {
    let mut c = core("/topic/t");
    let mut t = TopicDelivery::new(&c);
    publish(&mut t, &mut c, &["before"]);
    let (a, seen_a) = consumer(1, Auto, 10);
    let (b, seen_b) = consumer(2, Auto, 10);
    t.subscribe(&mut c, a);
    t.subscribe(&mut c, b);
    publish(&mut t, &mut c, &["m1", "m2"]);
    assert_eq!(
        seen_a.bodies(),
        ["m1", "m2"],
        "nothing kept for later subscribers"
    );
    assert_eq!(seen_b.bodies(), ["m1", "m2"]);
}

#[test]
fn a_full_window_parks_messages_until_an_ack() {
    let mut c = core("/topic/t");
    let mut t = TopicDelivery::new(&c);
    let (a, seen) = consumer(1, Client, 1);
    t.subscribe(&mut c, a);
    publish(&mut t, &mut c, &["m1", "m2", "m3"]);
    assert_eq!(seen.bodies(), ["m1"]);
    t.dispatch(&mut c);
    assert_eq!(seen.bodies(), ["m1"], "still no room");
    t.ack(&mut c, key(1), seen.id(0), true).expect("acked");
    t.refill(&mut c, key(1));
    assert_eq!(seen.bodies(), ["m1", "m2"]);
}

#[test]
fn a_slow_subscriber_is_dropped_for_and_then_disconnected() {
    let mut c = core_with("/topic/t", |p| {
        p.subscriber_backlog = 1;
        p.slow_consumer = SlowConsumer::Disconnect;
    });
    let mut t = TopicDelivery::new(&c);
    let (slow, seen_slow) = consumer(1, Client, 1);
    let (fast, seen_fast) = consumer(2, Auto, 10);
    t.subscribe(&mut c, slow);
    t.subscribe(&mut c, fast);
    publish(&mut t, &mut c, &["m1", "m2", "m3"]);
    assert_eq!(seen_slow.bodies(), ["m1"]);
    assert_eq!(seen_fast.bodies(), ["m1", "m2", "m3"]);
    let failed = seen_slow.failed.borrow();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].reason, ErrorReason::SlowConsumer);
    assert!(!t.contains(key(1)) && t.contains(key(2)));
}

#[test]
fn the_drop_policy_keeps_the_slow_subscriber() {
    let mut c = core_with("/topic/t", |p| p.subscriber_backlog = 1);
    let mut t = TopicDelivery::new(&c);
    let (slow, seen) = consumer(1, Client, 1);
    t.subscribe(&mut c, slow);
    publish(&mut t, &mut c, &["m1", "m2", "m3"]);
    assert!(seen.failed.borrow().is_empty());
    t.ack(&mut c, key(1), seen.id(0), true).expect("acked");
    t.refill(&mut c, key(1));
    assert_eq!(seen.bodies(), ["m1", "m2"], "m3 was dropped, not parked");
}

#[test]
fn nack_redelivers_to_the_same_subscriber_then_dead_letters() {
    let mut c = core_with("/topic/t", |p| p.redelivery.max_deliveries = 2);
    let mut t = TopicDelivery::new(&c);
    let (a, seen) = consumer(1, Client, 1);
    t.subscribe(&mut c, a);
    publish(&mut t, &mut c, &["m1"]);
    t.nack(&mut c, key(1), seen.id(0), false).expect("nacked");
    t.refill(&mut c, key(1));
    assert_eq!(seen.bodies(), ["m1", "m1"]);
    t.nack(&mut c, key(1), seen.id(1), false).expect("nacked");
    let letters = c.take_outbox();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].destination, "/queue/DLQ.t");
}

#[test]
fn gone_subscribers_are_reaped_and_the_topic_goes_idle() {
    let mut c = core("/topic/t");
    let mut t = TopicDelivery::new(&c);
    let (a, seen) = consumer(1, Auto, 10);
    t.subscribe(&mut c, a);
    assert!(!t.is_idle());
    seen.gone.set(true);
    t.reap(&mut c);
    assert!(t.is_idle());
    assert_eq!(
        t.ack(&mut c, key(1), 1, false),
        Err(AckError::NoSubscription)
    );
}
