//! Transactions: SEND, ACK and NACK inside a transaction take effect at
//! COMMIT, in order, with one COMMIT's messages contiguous at a destination;
//! ABORT (or disconnecting) drops the SENDs and un-does nothing else; misuse
//! and the configured bounds give ERROR.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

fn tx_frame(command: Command, tx: &str) -> Frame {
    Frame::new(command).with_header("transaction", tx)
}

fn tx_send(dest: &str, body: &str, tx: &str) -> Frame {
    tx_frame(Command::Send, tx)
        .with_header("destination", dest)
        .with_body(body.to_string())
}

async fn begin(c: &mut Client, tx: &str) {
    c.send_with_receipt(tx_frame(Command::Begin, tx), &format!("begin-{tx}"))
        .await;
}

async fn commit(c: &mut Client, tx: &str) {
    c.send_with_receipt(tx_frame(Command::Commit, tx), &format!("commit-{tx}"))
        .await;
}

async fn abort(c: &mut Client, tx: &str) {
    c.send_with_receipt(tx_frame(Command::Abort, tx), &format!("abort-{tx}"))
        .await;
}

#[tokio::test]
async fn commit_delivers_held_sends_in_order() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/tx", "s", "auto").await;
    let mut p = broker.client().await;
    begin(&mut p, "t").await;
    for b in ["1", "2", "3"] {
        p.send(tx_send("/queue/tx", b, "t").with_header("x-app", b))
            .await;
    }
    p.ping().await;
    c.ping().await;
    c.expect_nothing(QUIET).await;

    commit(&mut p, "t").await;
    let msgs = c.recv_messages(3).await;
    for (m, b) in msgs.iter().zip(["1", "2", "3"]) {
        assert_eq!(body(m), b);
        assert_eq!(m.header("x-app"), Some(b));
        assert_eq!(m.header("transaction"), None, "{m:?}");
    }
}

#[tokio::test]
async fn one_commits_messages_arrive_contiguously() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/contig", "s", "auto").await;
    let mut other = broker.client().await;
    let noise = tokio::spawn(async move {
        for n in 0..400 {
            other.publish("/queue/contig", &format!("b-{n}"), &[]).await;
        }
        other.publish_sync("/queue/contig", "b-end", &[]).await;
    });
    let mut p = broker.client().await;
    begin(&mut p, "t").await;
    for n in 0..50 {
        p.send(tx_send("/queue/contig", &format!("a-{n}"), "t"))
            .await;
    }
    // Commit while the other producer is (most likely) still sending.
    c.expect(Command::Message).await;
    commit(&mut p, "t").await;
    noise.await.expect("noise producer");

    let mut bodies = Vec::new();
    while let Some(f) = c.try_recv(Duration::from_millis(500)).await {
        bodies.push(body(&f));
    }
    let positions: Vec<usize> = bodies
        .iter()
        .enumerate()
        .filter(|(_, b)| b.starts_with("a-"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(positions.len(), 50);
    assert_eq!(
        positions[49] - positions[0],
        49,
        "committed messages interleaved with others"
    );
    let committed: Vec<&String> = positions.iter().map(|&i| &bodies[i]).collect();
    let expected: Vec<String> = (0..50).map(|n| format!("a-{n}")).collect();
    assert_eq!(committed, expected.iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn abort_discards_sends() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/abort", "s", "auto").await;
    let mut p = broker.client().await;
    begin(&mut p, "t").await;
    p.send(tx_send("/queue/abort", "no", "t")).await;
    p.send(tx_send("/queue/abort", "no", "t")).await;
    abort(&mut p, "t").await;
    p.publish_sync("/queue/abort", "yes", &[]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "yes");
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

/// A consumer with a one-message window holding `m0`, with `m1` waiting.
async fn holding_one(broker: &TestBroker, dest: &str) -> (Client, Frame) {
    let mut p = broker.client().await;
    p.publish_sync(dest, "m0", &[]).await;
    p.publish_sync(dest, "m1", &[]).await;
    let mut c = broker.client().await;
    let got = c
        .subscribe_take(
            dest,
            "s",
            &[("ack", "client-individual"), ("prefetch-count", "1")],
            1,
        )
        .await;
    assert_eq!(got.len(), 1);
    assert_eq!(body(&got[0]), "m0");
    (c, got[0].clone())
}

#[tokio::test]
async fn ack_in_a_transaction_applies_at_commit() {
    let broker = TestBroker::start();
    let (mut c, m0) = holding_one(&broker, "/queue/txack").await;
    begin(&mut c, "t").await;
    let ack = c
        .ack_frame(Command::Ack, &m0)
        .with_header("transaction", "t");
    c.send_with_receipt(ack, "acked").await;
    // Not yet applied: the window is still full.
    c.ping().await;
    c.expect_nothing(QUIET).await;
    c.send(tx_frame(Command::Commit, "t").with_header("receipt", "c"))
        .await;
    let mut frames = [c.recv().await, c.recv().await];
    frames.sort_by_key(|f| f.command == Command::Message);
    assert_eq!(frames[0].header("receipt-id"), Some("c"));
    assert_eq!(body(&frames[1]), "m1");
    assert_eq!(frames[1].header("redelivered"), None);
}

#[tokio::test]
async fn nack_in_a_transaction_applies_at_commit() {
    let broker = TestBroker::start();
    let (mut c, m0) = holding_one(&broker, "/queue/txnack").await;
    begin(&mut c, "t").await;
    let nack = c
        .ack_frame(Command::Nack, &m0)
        .with_header("transaction", "t");
    c.send_with_receipt(nack, "nacked").await;
    c.ping().await;
    c.expect_nothing(QUIET).await;
    c.send(tx_frame(Command::Commit, "t")).await;
    let again = c.expect(Command::Message).await;
    assert_eq!(body(&again), "m0");
    assert_eq!(again.header("redelivered"), Some("true"));
}

#[tokio::test]
async fn ack_in_an_aborted_transaction_leaves_the_message_unacked() {
    let broker = TestBroker::start();
    let (mut c, m0) = holding_one(&broker, "/queue/txabort").await;
    begin(&mut c, "t").await;
    let ack = c
        .ack_frame(Command::Ack, &m0)
        .with_header("transaction", "t");
    c.send_with_receipt(ack, "acked").await;
    abort(&mut c, "t").await;
    c.ping().await;
    c.expect_nothing(QUIET).await;
    c.disconnect().await;

    let mut next = broker.client().await;
    let got = next
        .subscribe_take("/queue/txabort", "s", &[("ack", "client-individual")], 2)
        .await;
    assert_eq!(body(&got[0]), "m0");
    assert_eq!(got[0].header("redelivered"), Some("true"));
    assert_eq!(body(&got[1]), "m1");
}

#[tokio::test]
async fn open_transaction_is_aborted_at_disconnect() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/txgone", "s", "auto").await;

    let mut p = broker.client().await;
    begin(&mut p, "t").await;
    p.send(tx_send("/queue/txgone", "no", "t")).await;
    p.disconnect().await;

    let mut p = broker.client().await;
    begin(&mut p, "t").await;
    p.send(tx_send("/queue/txgone", "no", "t")).await;
    p.ping().await;
    drop(p);

    let mut p = broker.client().await;
    p.publish_sync("/queue/txgone", "yes", &[]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "yes");
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn misuse_is_an_error() {
    let broker = TestBroker::start();

    let mut c = broker.client().await;
    c.expect_error_after(tx_send("/queue/x", "b", "nope"), "nope")
        .await;

    let mut c = broker.client().await;
    begin(&mut c, "t").await;
    c.expect_error_after(tx_frame(Command::Begin, "t"), "'t'")
        .await;

    let mut c = broker.client().await;
    begin(&mut c, "t").await;
    commit(&mut c, "t").await;
    c.expect_error_after(tx_frame(Command::Commit, "t"), "'t'")
        .await;

    let mut c = broker.client().await;
    begin(&mut c, "t").await;
    abort(&mut c, "t").await;
    c.expect_error_after(tx_frame(Command::Abort, "t"), "'t'")
        .await;

    let mut c = broker.client().await;
    begin(&mut c, "t").await;
    commit(&mut c, "t").await;
    c.expect_error_after(tx_frame(Command::Abort, "t"), "'t'")
        .await;

    let mut c = broker.client().await;
    c.expect_error_after(tx_frame(Command::Commit, "never"), "never")
        .await;

    let mut c = broker.client().await;
    c.subscribe("/queue/x", "s", "client-individual").await;
    let mut p = broker.client().await;
    p.publish_sync("/queue/x", "m", &[]).await;
    let m = c.expect(Command::Message).await;
    let ack = c
        .ack_frame(Command::Ack, &m)
        .with_header("transaction", "ghost");
    c.expect_error_after(ack, "ghost").await;

    let mut c = broker.client().await;
    c.expect_error_after(Frame::new(Command::Begin), "transaction")
        .await;
}

#[tokio::test]
async fn transactions_per_connection_are_bounded() {
    let broker = TestBroker::with(&[("STOMPEDE__TRANSACTIONS__MAX_PER_CONNECTION", "2")]);
    let mut c = broker.client().await;
    begin(&mut c, "a").await;
    begin(&mut c, "b").await;
    commit(&mut c, "a").await;
    begin(&mut c, "c").await;
    c.expect_error_after(tx_frame(Command::Begin, "d"), "2")
        .await;
}

#[tokio::test]
async fn frames_per_transaction_are_bounded() {
    let broker = TestBroker::with(&[("STOMPEDE__TRANSACTIONS__MAX_FRAMES", "3")]);
    let mut consumer = broker.client().await;
    consumer.subscribe("/queue/txmax", "s", "auto").await;
    let mut c = broker.client().await;
    begin(&mut c, "t").await;
    for _ in 0..3 {
        c.send(tx_send("/queue/txmax", "x", "t")).await;
    }
    c.ping().await;
    c.expect_error_after(tx_send("/queue/txmax", "x", "t"), "3")
        .await;
    // The failed connection's transaction is gone with it.
    consumer.ping().await;
    consumer.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn default_bounds_are_at_least_rabbitmqs() {
    let broker = TestBroker::start();
    let mut consumer = broker.client().await;
    consumer.subscribe("/queue/txbig", "s", "auto").await;
    let mut c = broker.client().await;
    for n in 0..16 {
        begin(&mut c, &format!("t{n}")).await;
    }
    for n in 0..1024 {
        c.send(tx_send("/queue/txbig", &n.to_string(), "t0")).await;
    }
    commit(&mut c, "t0").await;
    let msgs = consumer.recv_messages(1024).await;
    assert_eq!(body(&msgs[1023]), "1023");
}

#[tokio::test]
async fn v10_ack_in_a_transaction_finds_its_subscription() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    p.publish_sync("/queue/tx10-a", "a", &[]).await;
    p.publish_sync("/queue/tx10-b", "b", &[]).await;
    let mut c = broker.client_version("1.0").await;
    // 1.0 names a message by message-id alone, so the broker must find which
    // of several subscriptions holds it.
    let mut msgs = c
        .subscribe_take("/queue/tx10-a", "a", &[("ack", "client-individual")], 1)
        .await;
    msgs.extend(
        c.subscribe_take("/queue/tx10-b", "b", &[("ack", "client-individual")], 1)
            .await,
    );
    begin(&mut c, "t").await;
    for m in &msgs {
        let ack = c.ack_frame(Command::Ack, m).with_header("transaction", "t");
        c.send(ack).await;
    }
    commit(&mut c, "t").await;
    c.disconnect().await;
    for q in ["/queue/tx10-a", "/queue/tx10-b"] {
        let mut next = broker.client().await;
        assert!(next.subscribe_take(q, "s", &[], 0).await.is_empty());
        next.ping().await;
        next.expect_nothing(QUIET).await;
    }
}
