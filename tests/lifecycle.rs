//! Destination lifecycle and message identity: idle, empty destinations are
//! stopped and come back on next use without losing anything; message ids are
//! unique across destinations; a MESSAGE carries every user header of its SEND.
//!
//! Whether a destination actor is alive is read from `/metrics`: its
//! per-destination series exist exactly while an actor for it does.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const IDLE_MS: u64 = 100;

fn idle_broker() -> TestBroker {
    TestBroker::with(&[(
        "STOMPEDE__DESTINATIONS__IDLE_TIMEOUT_MS",
        &IDLE_MS.to_string(),
    )])
}

/// A destination's published-messages series, if it has one.
async fn published(broker: &TestBroker, dest: &str, kind: &str) -> Option<f64> {
    let (status, text) = broker.http_get("/metrics").await;
    assert_eq!(status, 200);
    let key = format!(
        "stompede_destination_messages_published_total{{destination=\"{dest}\",kind=\"{kind}\"}}"
    );
    parse_metrics(&text).get(&key).copied()
}

/// Live destination actors of `kind`.
async fn live(broker: &TestBroker, kind: &str) -> f64 {
    let (_, text) = broker.http_get("/metrics").await;
    let key = format!("stompede_destinations{{kind=\"{kind}\"}}");
    parse_metrics(&text).get(&key).copied().unwrap_or(0.0)
}

/// Polls `/metrics` until `done` holds for `dest`'s published series.
async fn wait_for_series(
    broker: &TestBroker,
    dest: &str,
    kind: &str,
    done: impl Fn(Option<f64>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let v = published(broker, dest, kind).await;
        if done(v) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{dest}: series still {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn idle_empty_queue_is_retired_and_recreated_on_next_use() {
    let broker = idle_broker();
    let mut c = broker.client().await;
    c.subscribe("/queue/life", "s", "client-individual").await;
    let mut p = broker.client().await;
    p.publish_sync("/queue/life", "1", &[]).await;
    let m = c.expect(Command::Message).await;
    c.settle_sync(Command::Ack, &m).await;
    assert_eq!(published(&broker, "/queue/life", "queue").await, Some(1.0));
    c.disconnect().await;
    p.disconnect().await;

    wait_for_series(&broker, "/queue/life", "queue", |v| v.is_none()).await;

    let mut c = broker.client().await;
    c.subscribe("/queue/life", "s", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/queue/life", "2", &[]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "2");
    // A fresh actor: it has seen only the new message.
    assert_eq!(published(&broker, "/queue/life", "queue").await, Some(1.0));
}

#[tokio::test]
async fn producer_holding_a_retired_queue_still_reaches_its_successor() {
    let broker = idle_broker();
    let mut p = broker.client().await;
    let mut c = broker.client().await;
    c.subscribe("/queue/stale", "s", "auto").await;
    p.publish_sync("/queue/stale", "1", &[]).await;
    c.expect(Command::Message).await;
    c.disconnect().await;

    // The behaviour under test is time-based: let several idle periods pass
    // with the queue empty and unused (the producer keeps its connection).
    tokio::time::sleep(Duration::from_millis(IDLE_MS * 10)).await;

    let mut c = broker.client().await;
    c.subscribe("/queue/stale", "s", "auto").await;
    p.publish_sync("/queue/stale", "2", &[]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "2");
    // Only the successor lives: the producer, still connected, forgot its
    // cached handle within an idle timeout, so it does not keep the retired
    // actor alive (issue 18, item 6; it used to, until the producer left).
    assert_eq!(
        live(&broker, "queue").await,
        1.0,
        "retired queue still alive"
    );
    p.disconnect().await;
    c.ping().await;
}

#[tokio::test]
async fn queue_holding_messages_is_not_retired() {
    let broker = idle_broker();
    let mut p = broker.client().await;
    for b in ["a", "b", "c"] {
        p.publish_sync("/queue/keep", b, &[]).await;
    }
    p.disconnect().await;
    // Time-based behaviour: many idle periods pass with nobody using the queue.
    tokio::time::sleep(Duration::from_millis(IDLE_MS * 10)).await;
    assert_eq!(published(&broker, "/queue/keep", "queue").await, Some(3.0));

    let mut c = broker.client().await;
    let got = c.subscribe_take("/queue/keep", "s", &[], 3).await;
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, ["a", "b", "c"]);
}

#[tokio::test]
async fn topic_without_subscribers_is_retired_and_recreated() {
    let broker = idle_broker();
    let mut c = broker.client().await;
    c.subscribe("/topic/life", "s", "auto").await;
    c.disconnect().await;
    wait_for_series(&broker, "/topic/life", "topic", |v| v.is_none()).await;
    let mut c = broker.client().await;
    c.subscribe("/topic/life", "s", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/life", "back", &[]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "back");
}

#[tokio::test]
async fn retirement_churn_loses_nothing() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__IDLE_TIMEOUT_MS", "20")]);
    let mut stale = broker.client().await;
    for i in 0..30u64 {
        let mut p = broker.client().await;
        p.publish_sync("/queue/churn", &format!("p{i}"), &[]).await;
        // This producer's cached handle outlives many retirements.
        stale
            .publish_sync("/queue/churn", &format!("s{i}"), &[])
            .await;
        let mut c = broker.client().await;
        let got = c.subscribe_take("/queue/churn", "s", &[], 2).await;
        let bodies: Vec<String> = got.iter().map(body).collect();
        assert_eq!(bodies, [format!("p{i}"), format!("s{i}")]);
        c.disconnect().await;
        p.disconnect().await;
        tokio::time::sleep(Duration::from_millis((i % 4) * 15)).await;
    }
}

#[tokio::test]
async fn message_ids_are_unique_across_destinations() {
    let broker = TestBroker::start();
    let dests = ["/queue/id-a", "/queue/id-b", "/topic/id-c"];
    let mut c = broker.client().await;
    for (i, d) in dests.iter().enumerate() {
        c.subscribe(d, &format!("s{i}"), "auto").await;
    }
    let mut p = broker.client().await;
    for n in 0..20 {
        for d in dests {
            p.publish(d, &n.to_string(), &[]).await;
        }
    }
    p.publish_sync("/queue/id-a", "last", &[]).await;
    let msgs = c.recv_messages(61).await;
    let ids: BTreeSet<&str> = msgs.iter().filter_map(|m| m.header("message-id")).collect();
    assert_eq!(ids.len(), 61, "duplicate message ids");
}

/// The headers a MESSAGE got from its SEND: everything but the per-delivery ones.
fn user_headers(m: &Frame) -> Vec<(String, String)> {
    const DELIVERY: [&str; 6] = [
        "subscription",
        "message-id",
        "ack",
        "redelivered",
        "delivery-count",
        "content-length",
    ];
    m.headers
        .iter()
        .filter(|(k, _)| !DELIVERY.contains(&k.as_str()))
        .cloned()
        .collect()
}

#[tokio::test]
async fn message_carries_every_user_header_but_receipt_and_transaction() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/hdr", "s", "client-individual").await;
    let user = [
        ("destination", "/queue/hdr"),
        ("content-type", "text/plain;charset=utf-8"),
        ("x-repeat", "1"),
        ("x-repeat", "2"),
        ("x-colon", "a:b"),
        ("correlation-id", "c-42"),
    ];
    let mut send = Frame::new(Command::Send).with_body("payload");
    for (k, v) in user {
        send = send.with_header(k, v);
    }
    let mut p = broker.client().await;
    p.send_with_receipt(send.clone(), "r1").await;
    p.send_with_receipt(
        Frame::new(Command::Begin).with_header("transaction", "t"),
        "b",
    )
    .await;
    p.send(send.with_header("transaction", "t")).await;
    p.send_with_receipt(
        Frame::new(Command::Commit).with_header("transaction", "t"),
        "c",
    )
    .await;

    let expected: Vec<(String, String)> = user
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for m in c.recv_messages(2).await {
        assert_eq!(user_headers(&m), expected, "{m:?}");
        assert_eq!(&m.body[..], b"payload");
    }
}
