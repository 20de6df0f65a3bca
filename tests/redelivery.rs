//! Redelivery: a NACKed message goes back to the head of its queue and comes
//! again flagged `redelivered:true` with a `delivery-count`; after
//! `max_deliveries` it moves to `/queue/DLQ.<name>` with headers saying where
//! from and why. Messages held by a consumer that disconnects or unsubscribes
//! go to another consumer, flagged.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

fn assert_redelivery(m: &Frame, body_text: &str, count: u32) {
    assert_eq!(body(m), body_text, "{m:?}");
    assert_eq!(m.header("redelivered"), Some("true"), "{m:?}");
    assert_eq!(
        m.header("delivery-count"),
        Some(count.to_string().as_str()),
        "{m:?}"
    );
}

#[tokio::test]
async fn nack_puts_the_message_back_at_the_head() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe_with(
        "/queue/nack",
        "s",
        &[("ack", "client-individual"), ("prefetch-count", "1")],
    )
    .await;
    let mut p = broker.client().await;
    for b in ["m0", "m1", "m2"] {
        p.publish_sync("/queue/nack", b, &[("x-app", "7")]).await;
    }
    let first = c.expect(Command::Message).await;
    assert_eq!(body(&first), "m0");
    assert_eq!(
        first.header("redelivered"),
        None,
        "first delivery is not flagged"
    );
    assert_eq!(first.header("delivery-count"), None);

    c.nack(&first).await;
    let second = c.expect(Command::Message).await;
    assert_redelivery(&second, "m0", 2);
    assert_eq!(second.header("message-id"), first.header("message-id"));
    assert_eq!(second.header("x-app"), Some("7"));

    c.nack(&second).await;
    let third = c.expect(Command::Message).await;
    assert_redelivery(&third, "m0", 3);

    c.ack(&third).await;
    let next = c.expect(Command::Message).await;
    assert_eq!(body(&next), "m1");
    assert_eq!(next.header("redelivered"), None);
}

#[tokio::test]
async fn nacked_message_goes_to_another_consumer_flagged() {
    let broker = TestBroker::start();
    let mut a = broker.client().await;
    a.subscribe_with("/queue/nack2", "a", &[("ack", "client-individual")])
        .await;
    let mut p = broker.client().await;
    p.publish_sync("/queue/nack2", "only", &[]).await;
    let m = a.expect(Command::Message).await;
    let mut b = broker.client().await;
    b.subscribe("/queue/nack2", "b", "client-individual").await;
    // Whichever consumer round-robin picks, the message comes exactly once, flagged.
    a.nack(&m).await;
    let mut got = a.ping_collect().await;
    got.extend(b.ping_collect().await);
    assert_eq!(got.len(), 1, "exactly one redelivery: {got:?}");
    assert_redelivery(&got[0], "only", 2);
}

#[tokio::test]
async fn dead_letter_after_max_deliveries() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "3")]);
    let mut dlq = broker.client().await;
    dlq.subscribe("/queue/DLQ.jobs", "d", "client-individual")
        .await;
    let mut c = broker.client().await;
    c.subscribe("/queue/jobs", "s", "client-individual").await;
    let mut p = broker.client().await;
    p.publish_sync(
        "/queue/jobs",
        "poison",
        &[("x-app", "1"), ("content-type", "text/plain")],
    )
    .await;

    for n in 1..=3 {
        let m = c.expect(Command::Message).await;
        assert_eq!(body(&m), "poison");
        if n > 1 {
            assert_redelivery(&m, "poison", n);
        }
        c.nack(&m).await;
    }
    let dead = dlq.expect(Command::Message).await;
    assert_eq!(body(&dead), "poison");
    assert_eq!(dead.header("destination"), Some("/queue/DLQ.jobs"));
    assert_eq!(dead.header("x-original-destination"), Some("/queue/jobs"));
    assert_eq!(dead.header("x-delivery-count"), Some("3"));
    assert!(
        !dead.header("x-death-reason").unwrap_or("").is_empty(),
        "dead letter says why: {dead:?}"
    );
    assert_eq!(dead.header("x-app"), Some("1"));
    assert_eq!(dead.header("content-type"), Some("text/plain"));
    assert_eq!(
        dead.header("redelivered"),
        None,
        "first delivery from the DLQ"
    );
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn dead_letter_when_a_consumer_leaves_at_the_limit() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "1")]);
    let mut p = broker.client().await;
    p.publish_sync("/queue/once", "m", &[]).await;
    let mut c = broker.client().await;
    let got = c
        .subscribe_take("/queue/once", "s", &[("ack", "client-individual")], 1)
        .await;
    assert_eq!(body(&got[0]), "m");
    c.disconnect().await;

    let mut dlq = broker.client().await;
    let dead = dlq
        .subscribe_take("/queue/DLQ.once", "d", &[("ack", "auto")], 1)
        .await;
    assert_eq!(body(&dead[0]), "m");
    assert_eq!(
        dead[0].header("x-original-destination"),
        Some("/queue/once")
    );
    assert_eq!(dead[0].header("x-delivery-count"), Some("1"));
    assert!(!dead[0].header("x-death-reason").unwrap_or("").is_empty());
    let mut again = broker.client().await;
    assert!(again
        .subscribe_take("/queue/once", "s", &[], 0)
        .await
        .is_empty());
    again.ping().await;
    again.expect_nothing(QUIET).await;
}

/// `a` holds two messages and acks the first; `leave` makes it go away. The
/// other, unacked one must reach `b`, flagged.
async fn held_message_moves_on(leave: impl AsyncFnOnce(Client)) {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    p.publish_sync("/queue/held", "m0", &[]).await;
    p.publish_sync("/queue/held", "m1", &[]).await;
    let mut a = broker.client().await;
    let msgs = a
        .subscribe_take("/queue/held", "a", &[("ack", "client-individual")], 2)
        .await;
    a.settle_sync(Command::Ack, &msgs[0]).await;

    let mut b = broker.client().await;
    b.subscribe("/queue/held", "b", "client-individual").await;
    b.ping().await;
    leave(a).await;
    let m = b.expect(Command::Message).await;
    assert_redelivery(&m, "m1", 2);
    b.ping().await;
    b.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn redelivery_when_consumer_disconnects() {
    held_message_moves_on(async |a: Client| a.disconnect().await).await;
}

#[tokio::test]
async fn redelivery_when_consumer_connection_drops() {
    held_message_moves_on(async |a: Client| drop(a)).await;
}

#[tokio::test]
async fn redelivery_when_consumer_unsubscribes() {
    held_message_moves_on(async |mut a: Client| {
        a.send_with_receipt(Frame::new(Command::Unsubscribe).with_header("id", "a"), "u")
            .await;
        a.ping().await;
        a.expect_nothing(QUIET).await;
    })
    .await;
}

#[tokio::test]
async fn topic_nack_redelivers_to_the_same_subscriber() {
    let broker = TestBroker::start();
    let mut a = broker.client().await;
    a.subscribe("/topic/t", "a", "client-individual").await;
    let mut other = broker.client().await;
    other.subscribe("/topic/t", "o", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/t", "x", &[]).await;
    let m = a.expect(Command::Message).await;
    other.expect(Command::Message).await;
    a.nack(&m).await;
    assert_redelivery(&a.expect(Command::Message).await, "x", 2);
    other.ping().await;
    other.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn dead_letter_prefix_is_configurable() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "1"),
        ("STOMPEDE__DESTINATIONS__DEAD_LETTER_PREFIX", "/queue/dead."),
    ]);
    let mut dlq = broker.client().await;
    dlq.subscribe("/queue/dead.jobs", "d", "auto").await;
    let mut c = broker.client().await;
    c.subscribe("/queue/jobs", "s", "client-individual").await;
    let mut p = broker.client().await;
    p.publish_sync("/queue/jobs", "bad", &[]).await;
    let m = c.expect(Command::Message).await;
    c.nack(&m).await;
    let dead = dlq.expect(Command::Message).await;
    assert_eq!(body(&dead), "bad");
    assert_eq!(dead.header("destination"), Some("/queue/dead.jobs"));
    assert_eq!(dead.header("x-original-destination"), Some("/queue/jobs"));
}
