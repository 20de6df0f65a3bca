//! Prefetch: a subscription holds at most its window of unacknowledged
//! messages (`prefetch-count` on SUBSCRIBE, else the configured default); the
//! queue resumes delivering as soon as the subscription acknowledges.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::Command;

const QUIET: Duration = Duration::from_millis(200);

/// Publishes `n` numbered messages to `dest` and waits until the queue has them.
async fn publish_n(broker: &TestBroker, dest: &str, n: usize) {
    let mut p = broker.client().await;
    for i in 0..n {
        p.publish(dest, &i.to_string(), &[]).await;
    }
    p.publish_sync(dest, "end", &[]).await;
    p.disconnect().await;
}

#[tokio::test]
async fn prefetch_count_bounds_unacked_deliveries_and_ack_resumes() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe_with(
        "/queue/pf",
        "s",
        &[("ack", "client-individual"), ("prefetch-count", "3")],
    )
    .await;
    publish_n(&broker, "/queue/pf", 9).await;

    let first = c.recv_messages(3).await;
    let bodies: Vec<String> = first.iter().map(body).collect();
    assert_eq!(bodies, ["0", "1", "2"]);
    // Everything the queue did is visible by now: no fourth delivery.
    c.ping().await;
    c.expect_nothing(QUIET).await;

    c.ack(&first[1]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "3");
    c.ping().await;
    c.expect_nothing(QUIET).await;

    // A NACK frees the slot too; the NACKed message comes back first.
    c.nack(&first[0]).await;
    let again = c.expect(Command::Message).await;
    assert_eq!(body(&again), "0");
    assert_eq!(again.header("redelivered"), Some("true"));
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn cumulative_ack_frees_the_whole_window() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe_with(
        "/queue/pfc",
        "s",
        &[("ack", "client"), ("prefetch-count", "2")],
    )
    .await;
    publish_n(&broker, "/queue/pfc", 5).await;
    let first = c.recv_messages(2).await;
    c.ping().await;
    c.expect_nothing(QUIET).await;
    c.ack(&first[1]).await;
    let next: Vec<String> = c.recv_messages(2).await.iter().map(body).collect();
    assert_eq!(next, ["2", "3"]);
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn default_prefetch_comes_from_config() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__DEFAULT_PREFETCH", "2")]);
    let mut c = broker.client().await;
    c.subscribe("/queue/pfd", "s", "client-individual").await;
    publish_n(&broker, "/queue/pfd", 4).await;
    let first = c.recv_messages(2).await;
    c.ping().await;
    c.expect_nothing(QUIET).await;
    c.ack(&first[0]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "2");
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn windows_are_per_subscription() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe_with(
        "/queue/pf-a",
        "a",
        &[("ack", "client-individual"), ("prefetch-count", "1")],
    )
    .await;
    c.subscribe_with(
        "/queue/pf-b",
        "b",
        &[("ack", "client-individual"), ("prefetch-count", "1")],
    )
    .await;
    publish_n(&broker, "/queue/pf-a", 2).await;
    publish_n(&broker, "/queue/pf-b", 2).await;
    let msgs = c.recv_messages(2).await;
    let mut subs: Vec<&str> = msgs
        .iter()
        .filter_map(|m| m.header("subscription"))
        .collect();
    subs.sort();
    assert_eq!(subs, ["a", "b"]);
    c.ping().await;
    c.expect_nothing(QUIET).await;
    let on_a = msgs
        .iter()
        .find(|m| m.header("subscription") == Some("a"))
        .expect("a message on a");
    c.ack(on_a).await;
    let next = c.expect(Command::Message).await;
    assert_eq!(next.header("subscription"), Some("a"));
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn invalid_prefetch_count_is_an_error() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    let f = stompede::protocol::Frame::new(Command::Subscribe)
        .with_header("destination", "/queue/pfx")
        .with_header("id", "s")
        .with_header("prefetch-count", "lots");
    c.expect_error_after(f, "prefetch-count").await;
}

#[tokio::test]
async fn topic_subscriber_window_is_respected_too() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe_with(
        "/topic/pf",
        "s",
        &[("ack", "client-individual"), ("prefetch-count", "2")],
    )
    .await;
    let mut p = broker.client().await;
    for n in 0..5 {
        p.publish_sync("/topic/pf", &n.to_string(), &[]).await;
    }
    let first = c.recv_messages(2).await;
    c.ping().await;
    c.expect_nothing(QUIET).await;
    c.ack(&first[0]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "2");
    c.ping().await;
    c.expect_nothing(QUIET).await;
}
