//! Slow topic subscribers and the broker-wide memory budget: a message parked
//! for many subscribers is one set of bytes and counts once, and each
//! subscriber's backlog meets its own byte bound before it can raise the
//! alarm that pauses every publisher.

mod common;

use common::*;

const TOPIC: [(&str, &str); 2] = [("destination", "/topic/slow"), ("kind", "topic")];

/// `n` subscribers on /topic/slow with a window of one message that they
/// never acknowledge, so everything after the first parks for each of them.
async fn stalled_subscribers(broker: &TestBroker, n: usize) -> Vec<Client> {
    let mut subs = Vec::new();
    for i in 0..n {
        let mut c = broker.client().await;
        c.subscribe_with(
            "/topic/slow",
            &format!("s{i}"),
            &[("ack", "client-individual"), ("prefetch-count", "1")],
        )
        .await;
        subs.push(c);
    }
    subs
}

#[tokio::test]
async fn a_message_parked_for_many_subscribers_counts_once_against_the_budget() {
    // 10 stalled subscribers each park ~99 messages of 8 KiB: ~8 MB if each
    // copy were charged, ~0.8 MB of distinct bytes, against a 2 MiB budget.
    let broker = TestBroker::with(&[
        ("STOMPEDE__BROKER__MAX_BUFFERED_BYTES", "2097152"),
        ("STOMPEDE__DESTINATIONS__SUBSCRIBER_BACKLOG", "1000"),
    ]);
    let _subs = stalled_subscribers(&broker, 10).await;
    let body = "x".repeat(8192);
    let mut p = broker.client().await;
    for _ in 0..100 {
        p.publish("/topic/slow", &body, &[]).await;
    }
    // Taken by the topic, so everything before it is parked or delivered.
    p.publish_sync("/topic/slow", "end", &[]).await;

    let s = broker.scrape().await;
    let parked = s.value("stompede_destination_messages_ready", &TOPIC);
    assert_eq!(
        parked,
        10.0 * 100.0,
        "each subscriber parks all but its first"
    );
    let used = s.value("stompede_buffered_message_bytes", &[]);
    assert!(
        used < 100.0 * 9000.0,
        "buffered bytes {used}: parked copies were charged more than once"
    );
    assert_eq!(s.value("stompede_memory_alarm", &[]), 0.0);
    // A producer elsewhere is not held up by the slow subscribers.
    let mut other = broker.client().await;
    other.publish_sync("/queue/unrelated", "hello", &[]).await;
}

#[tokio::test]
async fn a_slow_subscriber_meets_its_byte_bound_before_the_broker_alarm() {
    // A count bound far away, a byte bound of ~12 messages, a budget of ~100.
    let broker = TestBroker::with(&[
        ("STOMPEDE__BROKER__MAX_BUFFERED_BYTES", "1048576"),
        ("STOMPEDE__DESTINATIONS__SUBSCRIBER_BACKLOG", "10000"),
        ("STOMPEDE__DESTINATIONS__SUBSCRIBER_BACKLOG_BYTES", "100000"),
    ]);
    let _subs = stalled_subscribers(&broker, 1).await;
    let body = "x".repeat(8192);
    let mut p = broker.client().await;
    for _ in 0..200 {
        p.publish("/topic/slow", &body, &[]).await;
    }
    p.publish_sync("/topic/slow", "end", &[]).await;

    let s = broker.scrape().await;
    let parked = s.value("stompede_destination_messages_ready", &TOPIC);
    let dropped = s.value("stompede_destination_messages_dropped_total", &TOPIC);
    assert!(
        (11.0..=13.0).contains(&parked),
        "parked {parked}: the 100000-byte bound holds about 12 messages of 8 KiB"
    );
    // 201 published: one in the window, the rest parked or dropped.
    assert_eq!(parked + dropped, 200.0);
    assert_eq!(s.value("stompede_memory_alarm", &[]), 0.0);
}
