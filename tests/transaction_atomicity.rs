//! COMMIT applies all or nothing: an ACK or NACK of a message its
//! subscription does not hold is refused when staged, and a COMMIT whose
//! staged settlements cannot all be applied (or whose messages a queue
//! cannot take) gets ERROR naming why, with none of it applied. Its
//! persistent SENDs and the acknowledgements of persistent messages are one
//! journal batch.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(300);

fn tx_frame(command: Command, tx: &str) -> Frame {
    Frame::new(command).with_header("transaction", tx)
}

fn tx_send(dest: &str, body: &str, tx: &str) -> Frame {
    tx_frame(Command::Send, tx)
        .with_header("destination", dest)
        .with_body(body.to_string())
}

/// A client-individual consumer of `dest` holding `n` messages `m0..`.
async fn holding(broker: &TestBroker, dest: &str, n: usize) -> (Client, Vec<Frame>) {
    let mut p = broker.client().await;
    for i in 0..n {
        p.publish_sync(dest, &format!("m{i}"), &[]).await;
    }
    let mut c = broker.client().await;
    let got = c
        .subscribe_take(dest, "s", &[("ack", "client-individual")], n)
        .await;
    (c, got)
}

/// Nothing was published to `dest`: a fresh consumer gets nothing.
async fn nothing_published(broker: &TestBroker, dest: &str) {
    let mut c = broker.client().await;
    assert!(c.subscribe_take(dest, "s", &[], 0).await.is_empty());
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn an_ack_of_a_message_not_held_is_refused_when_staged_and_nothing_is_applied() {
    let broker = TestBroker::start();
    let (mut c, held) = holding(&broker, "/queue/atom-held", 1).await;
    let ack_id = held[0].header("ack").expect("ack id").to_string();
    let (sub, _) = ack_id.split_once(':').expect("sub:message");
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    c.send(tx_send("/queue/atom-out", "must not be published", "t"))
        .await;
    let bogus = tx_frame(Command::Ack, "t")
        .with_header("id", format!("{sub}:999999"))
        .with_header("receipt", "a");
    let e = c.expect_error_after(bogus, "999999").await;
    assert_eq!(e.header("receipt-id"), Some("a"), "{e:?}");
    nothing_published(&broker, "/queue/atom-out").await;
    // The held message was not acknowledged either: it comes back.
    let mut next = broker.client().await;
    let back = next
        .subscribe_take("/queue/atom-held", "s", &[("ack", "client-individual")], 1)
        .await;
    assert_eq!(body(&back[0]), "m0");
    assert_eq!(back[0].header("redelivered"), Some("true"));
}

#[tokio::test]
async fn a_commit_whose_acks_cannot_all_apply_applies_nothing() {
    let broker = TestBroker::start();
    let (mut c, held) = holding(&broker, "/queue/atom-twice", 2).await;
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    c.send(tx_send("/queue/atom-out2", "must not be published", "t"))
        .await;
    // Each is held when staged; the second cannot apply after the first.
    for r in ["a1", "a2"] {
        let ack = c
            .ack_frame(Command::Ack, &held[0])
            .with_header("transaction", "t");
        c.send_with_receipt(ack, r).await;
    }
    let id = held[0]
        .header("message-id")
        .expect("message-id")
        .to_string();
    let e = c
        .expect_error_after(
            tx_frame(Command::Commit, "t").with_header("receipt", "c"),
            &id,
        )
        .await;
    let message = e.header("message").unwrap_or_default();
    assert!(message.contains("nothing applied"), "{e:?}");
    assert_eq!(e.header("receipt-id"), Some("c"));
    nothing_published(&broker, "/queue/atom-out2").await;
    let mut next = broker.client().await;
    let back = next
        .subscribe_take("/queue/atom-twice", "s", &[("ack", "client-individual")], 2)
        .await;
    let bodies: Vec<String> = back.iter().map(body).collect();
    assert_eq!(bodies, ["m0", "m1"]);
    let s = broker.scrape().await;
    let committed = s.value("stompede_transactions_total", &[("outcome", "committed")]);
    assert_eq!(committed, 0.0, "a refused COMMIT counted as committed");
}

#[tokio::test]
async fn a_cumulative_ack_covers_what_a_later_ack_in_the_same_commit_names() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    for i in 0..2 {
        p.publish_sync("/queue/atom-cumul", &format!("m{i}"), &[])
            .await;
    }
    let mut c = broker.client().await;
    let held = c
        .subscribe_take("/queue/atom-cumul", "s", &[("ack", "client")], 2)
        .await;
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    c.send(tx_send("/queue/atom-out3", "must not be published", "t"))
        .await;
    for m in [&held[1], &held[0]] {
        let ack = c.ack_frame(Command::Ack, m).with_header("transaction", "t");
        c.send(ack).await;
    }
    let id = held[0]
        .header("message-id")
        .expect("message-id")
        .to_string();
    c.expect_error_after(tx_frame(Command::Commit, "t"), &id)
        .await;
    nothing_published(&broker, "/queue/atom-out3").await;
}

#[tokio::test]
async fn a_commit_of_persistent_sends_and_acks_is_one_journal_batch() {
    let broker = TestBroker::start();
    let batches = |s: &Scrape| s.value("stompede_store_batches_total", &[]);
    let mut c = broker.client().await;
    // Declares the queues first, so the COMMIT below journals nothing else.
    for q in ["/queue/one-a", "/queue/one-b"] {
        let f = Frame::new(Command::Send)
            .with_header("destination", q)
            .with_header("persistent", "true")
            .with_body("warm");
        c.send_with_receipt(f, &format!("warm-{q}")).await;
    }
    let got = c
        .subscribe_take(
            "/queue/one-a",
            "s",
            &[("ack", "client-individual"), ("prefetch-count", "1")],
            1,
        )
        .await;
    // Its RECEIPT follows the journaling of that delivery (not delivered
    // itself: the window is full).
    let mut p = broker.client().await;
    p.publish_sync("/queue/one-a", "after", &[]).await;
    let before = batches(&broker.scrape().await);
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    for (q, text) in [("/queue/one-b", "b1"), ("/queue/one-b", "b2")] {
        c.send(tx_send(q, text, "t").with_header("persistent", "true"))
            .await;
    }
    let ack = c
        .ack_frame(Command::Ack, &got[0])
        .with_header("transaction", "t");
    c.send(ack).await;
    c.send(tx_frame(Command::Commit, "t").with_header("receipt", "c"))
        .await;
    // The ACK makes room for "after", which may come first.
    loop {
        let f = c.recv().await;
        match f.command {
            Command::Receipt => break,
            Command::Message => assert_eq!(body(&f), "after"),
            _ => panic!("unexpected {f:?}"),
        }
    }
    let after = batches(&broker.scrape().await);
    assert_eq!(
        after - before,
        1.0,
        "the COMMIT took {} batches",
        after - before
    );
}

#[tokio::test]
async fn a_commit_the_journal_cannot_take_applies_nothing() {
    // The test broker's journal segments are 1 MiB: two persistent SENDs of
    // 600 KiB fit one by one, but not as the COMMIT's one atomic batch.
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    for q in ["/queue/huge-a", "/queue/huge-b"] {
        let f = tx_send(q, &"x".repeat(600 * 1024), "t").with_header("persistent", "true");
        c.send_with_receipt(f, &format!("s-{q}")).await;
    }
    c.expect_error_after(tx_frame(Command::Commit, "t"), "COMMIT not durable")
        .await;
    for q in ["/queue/huge-a", "/queue/huge-b"] {
        nothing_published(&broker, q).await;
    }
}
