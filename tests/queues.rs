//! Queues: messages wait for a consumer, competing consumers share the work
//! round-robin, per-producer order holds, UNSUBSCRIBE stops delivery at once,
//! and destination prefixes are checked (and configurable).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

/// `"p<producer>-<n>"` → (producer, n).
fn parse_body(f: &Frame) -> (String, u32) {
    let b = body(f);
    let (p, n) = b.split_once('-').expect("body is <producer>-<n>");
    (p.to_string(), n.parse().expect("sequence number"))
}

#[tokio::test]
async fn messages_wait_until_someone_subscribes() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    for i in 0..5 {
        p.publish("/queue/wait", &format!("m{i}"), &[]).await;
    }
    p.publish_sync("/queue/wait", "m5", &[]).await;
    p.disconnect().await;

    let mut c = broker.client().await;
    let msgs = c
        .subscribe_take("/queue/wait", "s", &[("ack", "client-individual")], 6)
        .await;
    let got: Vec<String> = msgs.iter().map(body).collect();
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    c.ping().await;
}

#[tokio::test]
async fn competing_consumers_get_disjoint_sets_round_robin() {
    let broker = TestBroker::start();
    let mut consumers = Vec::new();
    for i in 0..3 {
        let mut c = broker.client().await;
        c.subscribe("/queue/work", &format!("s{i}"), "client-individual")
            .await;
        consumers.push(c);
    }
    let mut p = broker.client().await;
    for n in 0..29 {
        p.publish("/queue/work", &format!("p-{n}"), &[]).await;
    }
    p.publish_sync("/queue/work", "p-29", &[]).await;

    let mut all = BTreeSet::new();
    for c in &mut consumers {
        // Every consumer has room, so round-robin gives each exactly a third.
        let msgs = c.recv_messages(10).await;
        c.ping().await;
        let seqs: Vec<u32> = msgs.iter().map(|m| parse_body(m).1).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "per-producer order broken: {seqs:?}"
        );
        for s in seqs {
            assert!(all.insert(s), "message {s} delivered to two consumers");
        }
    }
    assert_eq!(all, (0..30).collect::<BTreeSet<u32>>());
}

#[tokio::test]
async fn round_robin_skips_consumers_whose_window_is_full() {
    let broker = TestBroker::start();
    let mut slow = broker.client().await;
    slow.subscribe_with(
        "/queue/rr",
        "slow",
        &[("ack", "client-individual"), ("prefetch-count", "1")],
    )
    .await;
    let mut fast = broker.client().await;
    fast.subscribe("/queue/rr", "fast", "client-individual")
        .await;

    let mut p = broker.client().await;
    for n in 0..9 {
        p.publish("/queue/rr", &format!("p-{n}"), &[]).await;
    }
    p.publish_sync("/queue/rr", "p-9", &[]).await;

    let first = slow.expect(Command::Message).await;
    slow.ping().await;
    let rest = fast.recv_messages(9).await;
    fast.ping().await;
    let mut seen: BTreeSet<u32> = rest.iter().map(|m| parse_body(m).1).collect();
    assert!(seen.insert(parse_body(&first).1));
    assert_eq!(seen, (0..10).collect());
}

#[tokio::test]
async fn each_consumer_sees_each_producers_messages_in_order() {
    let broker = TestBroker::start();
    let mut consumers = Vec::new();
    for i in 0..2 {
        let mut c = broker.client().await;
        c.subscribe("/queue/order", &format!("s{i}"), "auto").await;
        consumers.push(c);
    }
    let mut producers = Vec::new();
    for name in ["a", "b", "c"] {
        let mut p = broker.client().await;
        producers.push(tokio::spawn(async move {
            for n in 0..50 {
                p.publish("/queue/order", &format!("{name}-{n}"), &[]).await;
            }
            p.disconnect().await;
        }));
    }
    for h in producers {
        h.await.expect("producer task");
    }
    let mut total = 0;
    let mut everything = BTreeSet::new();
    let mut per_consumer = Vec::new();
    for c in &mut consumers {
        let mut got = Vec::new();
        while let Some(f) = c.try_recv(Duration::from_millis(500)).await {
            assert_eq!(f.command, Command::Message, "{f:?}");
            got.push(parse_body(&f));
        }
        per_consumer.push(got);
    }
    for got in &per_consumer {
        for name in ["a", "b", "c"] {
            let seqs: Vec<u32> = got
                .iter()
                .filter(|(p, _)| p == name)
                .map(|(_, n)| *n)
                .collect();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "producer {name}'s order broken: {seqs:?}"
            );
        }
        total += got.len();
        everything.extend(got.iter().cloned());
    }
    assert_eq!(total, 150);
    assert_eq!(everything.len(), 150, "a message was delivered twice");
}

#[tokio::test]
async fn unsubscribe_stops_delivery_at_once() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/unsub", "s", "auto").await;
    let mut p = broker.client().await;
    let producer = tokio::spawn(async move {
        for n in 0..300 {
            p.publish("/queue/unsub", &format!("p-{n}"), &[]).await;
        }
        p.publish_sync("/queue/unsub", "p-300", &[]).await;
        p
    });
    // Wait until deliveries are flowing, then unsubscribe mid-stream.
    let mut consumed = vec![body(&c.expect(Command::Message).await)];
    c.send(
        Frame::new(Command::Unsubscribe)
            .with_header("id", "s")
            .with_header("receipt", "unsub"),
    )
    .await;
    loop {
        let f = c.recv().await;
        if f.command == Command::Receipt {
            assert_eq!(f.header("receipt-id"), Some("unsub"));
            break;
        }
        assert_eq!(f.command, Command::Message, "{f:?}");
        consumed.push(body(&f));
    }
    let mut p = producer.await.expect("producer task");
    p.publish_sync("/queue/unsub", "after", &[]).await;
    c.ping().await;
    c.expect_nothing(QUIET).await;

    // Auto mode: what reached the old subscriber is consumed; everything else
    // is still in the queue for the next one.
    let mut other = broker.client().await;
    let waiting = other.subscribe_take("/queue/unsub", "s2", &[], 0).await;
    consumed.extend(waiting.iter().map(body));
    while let Some(f) = other.try_recv(Duration::from_millis(300)).await {
        consumed.push(body(&f));
    }
    assert_eq!(consumed.last().map(String::as_str), Some("after"));
    let unique: BTreeSet<&String> = consumed.iter().collect();
    assert_eq!(unique.len(), consumed.len(), "a message was consumed twice");
    assert_eq!(consumed.len(), 302);
}

#[tokio::test]
async fn unknown_destination_prefix_names_the_accepted_ones() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    let e = c
        .expect_error_after(
            Frame::new(Command::Send)
                .with_header("destination", "/exchange/x")
                .with_body("x"),
            "/exchange/x",
        )
        .await;
    let msg = e.header("message").unwrap_or("");
    assert!(msg.contains("/queue/") && msg.contains("/topic/"), "{msg}");

    let mut c = broker.client().await;
    let e = c
        .expect_error_after(
            Frame::new(Command::Subscribe)
                .with_header("destination", "/amq/queue/x")
                .with_header("id", "s"),
            "/queue/",
        )
        .await;
    assert!(e.header("message").unwrap_or("").contains("/topic/"));
}

#[tokio::test]
async fn queue_prefix_is_configurable() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__QUEUE_PREFIX", "/q/"),
        ("STOMPEDE__DESTINATIONS__DEAD_LETTER_PREFIX", "/q/dead."),
    ]);
    let mut c = broker.client().await;
    c.subscribe("/q/jobs", "s", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/q/jobs", "hi", &[]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "hi");

    let e = p
        .expect_error_after(
            Frame::new(Command::Send)
                .with_header("destination", "/queue/jobs")
                .with_body("x"),
            "/q/",
        )
        .await;
    assert!(e.header("message").unwrap_or("").contains("/topic/"));
}

#[tokio::test]
async fn subscription_misuse_is_an_error() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/dup", "s", "auto").await;
    let again = Frame::new(Command::Subscribe)
        .with_header("destination", "/queue/other")
        .with_header("id", "s");
    c.expect_error_after(again, "'s'").await;

    let mut c = broker.client().await;
    let unknown = Frame::new(Command::Unsubscribe).with_header("id", "never");
    c.expect_error_after(unknown, "never").await;
}
