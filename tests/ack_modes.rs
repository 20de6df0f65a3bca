//! Ack modes: when a message counts as consumed under `auto`, `client`
//! (cumulative, per subscription) and `client-individual`, how each protocol
//! version names the message, and ERRORs for ACK/NACK of unknown or settled ids.
//!
//! "Still unacknowledged" is observed the way a user sees it: the consumer
//! goes away and the message is redelivered, flagged, to the next one.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

/// Publishes `bodies` to `dest` in order; returns once the queue has them.
async fn fill(broker: &TestBroker, dest: &str, bodies: &[&str]) {
    let mut p = broker.client().await;
    for b in bodies {
        p.publish_sync(dest, b, &[]).await;
    }
    p.disconnect().await;
}

/// Subscribes a fresh client to `dest` and returns the bodies of everything
/// it is given, asserting each one is flagged as a redelivery.
async fn redelivered(broker: &TestBroker, dest: &str) -> Vec<String> {
    let mut c = broker.client().await;
    let mut frames = c
        .subscribe_take(dest, "next", &[("ack", "client-individual")], 0)
        .await;
    frames.extend(c.ping_collect().await);
    let mut out = Vec::new();
    for f in frames {
        assert_eq!(f.command, Command::Message, "{f:?}");
        assert_eq!(f.header("redelivered"), Some("true"), "{f:?}");
        out.push(body(&f));
    }
    c.expect_nothing(QUIET).await;
    out
}

#[tokio::test]
async fn auto_messages_are_consumed_once_written() {
    let broker = TestBroker::start();
    fill(&broker, "/queue/auto", &["1", "2", "3"]).await;
    let mut c = broker.client().await;
    let msgs = c
        .subscribe_take("/queue/auto", "s", &[("ack", "auto")], 3)
        .await;
    assert_eq!(msgs.len(), 3);
    for m in &msgs {
        assert_eq!(
            m.header("ack"),
            None,
            "auto-mode MESSAGE carries no ack header"
        );
    }
    c.disconnect().await;
    assert!(redelivered(&broker, "/queue/auto").await.is_empty());
}

#[tokio::test]
async fn ack_of_an_auto_mode_message_is_an_error() {
    let broker = TestBroker::start();
    fill(&broker, "/queue/auto-ack", &["1"]).await;
    let mut c = broker.client_version("1.1").await;
    let msgs = c
        .subscribe_take("/queue/auto-ack", "s", &[("ack", "auto")], 1)
        .await;
    let m = &msgs[0];
    let ack = c.ack_frame(Command::Ack, m);
    c.expect_error_after(ack, "ACK").await;
}

#[tokio::test]
async fn client_ack_is_cumulative() {
    let broker = TestBroker::start();
    fill(&broker, "/queue/cumul", &["1", "2", "3", "4", "5"]).await;
    let mut c = broker.client().await;
    let msgs = c
        .subscribe_take("/queue/cumul", "s", &[("ack", "client")], 5)
        .await;
    assert_eq!(msgs.len(), 5);
    c.settle_sync(Command::Ack, &msgs[2]).await;
    c.disconnect().await;
    assert_eq!(redelivered(&broker, "/queue/cumul").await, ["4", "5"]);
}

#[tokio::test]
async fn cumulative_ack_stays_within_its_subscription() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/ca", "a", "client").await;
    c.subscribe("/queue/cb", "b", "client").await;
    // Interleaved, so b's first messages are older than a's last one.
    let mut p = broker.client().await;
    for n in 1..=3 {
        p.publish_sync("/queue/ca", &format!("a{n}"), &[]).await;
        p.publish_sync("/queue/cb", &format!("b{n}"), &[]).await;
    }
    let msgs = c.recv_messages(6).await;
    let a3 = msgs.iter().find(|m| body(m) == "a3").expect("a3 delivered");
    c.settle_sync(Command::Ack, a3).await;
    c.disconnect().await;
    assert!(redelivered(&broker, "/queue/ca").await.is_empty());
    assert_eq!(redelivered(&broker, "/queue/cb").await, ["b1", "b2", "b3"]);
}

#[tokio::test]
async fn cumulative_ack_ignores_another_subscription_on_the_same_queue() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/same", "one", "client").await;
    c.subscribe("/queue/same", "two", "client").await;
    fill(&broker, "/queue/same", &["m0", "m1", "m2", "m3"]).await;
    let msgs = c.recv_messages(4).await;
    let on = |sub: &str| -> Vec<&Frame> {
        msgs.iter()
            .filter(|m| m.header("subscription") == Some(sub))
            .collect()
    };
    let (one, two) = (on("one"), on("two"));
    assert_eq!(one.len(), 2, "round-robin between the two subscriptions");
    assert_eq!(two.len(), 2);
    c.settle_sync(Command::Ack, one[1]).await;
    c.disconnect().await;
    let mut left = redelivered(&broker, "/queue/same").await;
    left.sort();
    let mut expected: Vec<String> = two.iter().map(|m| body(m)).collect();
    expected.sort();
    assert_eq!(left, expected);
}

#[tokio::test]
async fn client_individual_acks_only_that_message() {
    let broker = TestBroker::start();
    fill(&broker, "/queue/indiv", &["1", "2", "3"]).await;
    let mut c = broker.client().await;
    let msgs = c
        .subscribe_take("/queue/indiv", "s", &[("ack", "client-individual")], 3)
        .await;
    assert_eq!(msgs.len(), 3);
    c.settle_sync(Command::Ack, &msgs[1]).await;
    c.disconnect().await;
    assert_eq!(redelivered(&broker, "/queue/indiv").await, ["1", "3"]);
}

#[tokio::test]
async fn v12_acks_by_the_messages_ack_header() {
    let broker = TestBroker::start();
    fill(&broker, "/queue/v12", &["1", "2"]).await;
    let mut c = broker.client().await;
    let msgs = c
        .subscribe_take("/queue/v12", "s", &[("ack", "client-individual")], 2)
        .await;
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        let ack = m.header("ack").expect("client-mode MESSAGE has ack");
        assert_ne!(Some(ack), m.header("message-id"), "ack id is per delivery");
    }
    c.send_with_receipt(
        Frame::new(Command::Ack).with_header("id", msgs[0].header("ack").unwrap_or("")),
        "ok",
    )
    .await;
    // The message-id is not an ack id in 1.2.
    let wrong =
        Frame::new(Command::Ack).with_header("id", msgs[1].header("message-id").unwrap_or(""));
    c.expect_error_after(wrong, "ACK").await;
    assert_eq!(redelivered(&broker, "/queue/v12").await, ["2"]);
}

#[tokio::test]
async fn v11_acks_by_message_id_and_subscription() {
    let broker = TestBroker::start();
    fill(&broker, "/queue/v11", &["1", "2"]).await;
    let mut c = broker.client_version("1.1").await;
    let msgs = c
        .subscribe_take("/queue/v11", "s", &[("ack", "client-individual")], 2)
        .await;
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].header("ack"), None, "1.1 MESSAGE has no ack header");
    c.settle_sync(Command::Ack, &msgs[0]).await;
    c.nack(&msgs[1]).await;
    let again = c.expect(Command::Message).await;
    assert_eq!(body(&again), "2");
    assert_eq!(again.header("redelivered"), Some("true"));
    let wrong_sub = Frame::new(Command::Ack)
        .with_header("message-id", again.header("message-id").unwrap_or(""))
        .with_header("subscription", "nope");
    c.expect_error_after(wrong_sub, "nope").await;
}

#[tokio::test]
async fn v10_acks_by_message_id() {
    let broker = TestBroker::start();
    fill(&broker, "/queue/v10", &["1", "2"]).await;
    let mut c = broker.client_version("1.0").await;
    let msgs = c
        .subscribe_take("/queue/v10", "s", &[("ack", "client-individual")], 2)
        .await;
    assert_eq!(msgs.len(), 2);
    c.settle_sync(Command::Ack, &msgs[1]).await;
    c.disconnect().await;
    assert_eq!(redelivered(&broker, "/queue/v10").await, ["1"]);
}

#[tokio::test]
async fn ack_of_an_unknown_id_is_an_error() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/unknown", "s", "client-individual")
        .await;
    let f = Frame::new(Command::Ack).with_header("id", "1:999999999");
    c.expect_error_after(f, "ACK").await;

    let mut c = broker.client().await;
    let f = Frame::new(Command::Nack).with_header("id", "not-an-ack-id");
    c.expect_error_after(f, "NACK").await;
}

#[tokio::test]
async fn ack_of_an_already_settled_message_is_an_error() {
    let broker = TestBroker::start();
    fill(&broker, "/queue/twice", &["1", "2"]).await;
    let mut c = broker.client().await;
    let msgs = c
        .subscribe_take("/queue/twice", "s", &[("ack", "client-individual")], 2)
        .await;
    assert_eq!(msgs.len(), 2);
    c.settle_sync(Command::Ack, &msgs[0]).await;
    let again = c.ack_frame(Command::Ack, &msgs[0]);
    c.expect_error_after(again, "ACK").await;

    // NACK after a cumulative ACK covered it.
    fill(&broker, "/queue/twice-c", &["1", "2"]).await;
    let mut c = broker.client().await;
    let msgs = c
        .subscribe_take("/queue/twice-c", "s", &[("ack", "client")], 2)
        .await;
    assert_eq!(msgs.len(), 2);
    c.settle_sync(Command::Ack, &msgs[1]).await;
    let late = c.ack_frame(Command::Nack, &msgs[0]);
    c.expect_error_after(late, "NACK").await;
}

/// An auto-mode consumer that does not read while 200 large messages are
/// published, then leaves with `leave` (a receipted frame) and reads
/// everything up to that receipt: what it read is consumed, the rest must go
/// to the next consumer, and nothing may be consumed twice.
async fn auto_mode_counts_only_what_was_written(leave: Frame) {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/auto-bp", "s", "auto").await;
    // The consumer's socket fills up; the broker holds the rest in its write
    // path or in the queue.
    let big = "x".repeat(64 * 1024);
    let mut p = broker.client().await;
    for n in 0..200 {
        p.publish("/queue/auto-bp", &format!("{n}:{big}"), &[])
            .await;
    }
    p.publish_sync("/queue/auto-bp", "end", &[]).await;

    c.send(leave.with_header("receipt", "leaving")).await;
    let mut seen = Vec::new();
    loop {
        let f = c.recv().await;
        if f.command == Command::Receipt {
            assert_eq!(f.header("receipt-id"), Some("leaving"));
            break;
        }
        seen.push(body(&f).split(':').next().unwrap_or("").to_string());
    }
    let mut next = broker.client().await;
    let mut rest = next.subscribe_take("/queue/auto-bp", "n", &[], 0).await;
    rest.extend(next.ping_collect().await);
    for f in &rest {
        seen.push(body(f).split(':').next().unwrap_or("").to_string());
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a message was consumed twice");
    assert_eq!(seen.len(), 201, "a message was lost");
}

#[tokio::test]
async fn auto_mode_unsubscribe_counts_only_what_was_written() {
    auto_mode_counts_only_what_was_written(Frame::new(Command::Unsubscribe).with_header("id", "s"))
        .await;
}

#[tokio::test]
async fn auto_mode_disconnect_counts_only_what_was_written() {
    auto_mode_counts_only_what_was_written(Frame::new(Command::Disconnect)).await;
}
