//! What a transaction holds is bounded: its bytes count against the broker's
//! memory budget until COMMIT, ABORT or disconnect, one transaction holds at
//! most `transactions.max_bytes`, and a COMMIT obeys the queues' limits and
//! overflow policy as a SEND does, applying nothing when it cannot apply all.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(300);
const GAUGE: &str = "stompede_buffered_message_bytes";
const KIB: usize = 1024;

fn tx_frame(command: Command, tx: &str) -> Frame {
    Frame::new(command).with_header("transaction", tx)
}

fn tx_send(dest: &str, body: String, tx: &str) -> Frame {
    tx_frame(Command::Send, tx)
        .with_header("destination", dest)
        .with_body(body)
}

/// Stages `n` SENDs of `size` bytes to `dest` in `tx`, each receipted.
async fn stage(c: &mut Client, dest: &str, tx: &str, n: usize, size: usize) {
    for i in 0..n {
        c.send_with_receipt(tx_send(dest, "x".repeat(size), tx), &format!("{tx}-{i}"))
            .await;
    }
}

async fn buffered(broker: &TestBroker) -> f64 {
    broker.scrape().await.value(GAUGE, &[])
}

#[tokio::test]
async fn staged_bytes_count_against_the_budget_until_abort_disconnect_or_commit() {
    let broker = TestBroker::start();
    let staged = (4 * 256 * KIB) as f64;
    let mut c = broker.client().await;
    assert_eq!(buffered(&broker).await, 0.0);

    c.send_with_receipt(tx_frame(Command::Begin, "a"), "b")
        .await;
    stage(&mut c, "/queue/bud", "a", 4, 256 * KIB).await;
    assert!(buffered(&broker).await >= staged);
    c.send_with_receipt(tx_frame(Command::Abort, "a"), "ab")
        .await;
    broker
        .scrape_until("ABORT to release", |s| s.value(GAUGE, &[]) == 0.0)
        .await;

    c.send_with_receipt(tx_frame(Command::Begin, "d"), "b")
        .await;
    stage(&mut c, "/queue/bud", "d", 4, 256 * KIB).await;
    assert!(buffered(&broker).await >= staged);
    drop(c);
    broker
        .scrape_until("disconnect to release", |s| s.value(GAUGE, &[]) == 0.0)
        .await;

    // After COMMIT the queue holds the bytes: counted once, not twice.
    let mut c = broker.client().await;
    c.send_with_receipt(tx_frame(Command::Begin, "c"), "b")
        .await;
    stage(&mut c, "/queue/bud", "c", 4, 256 * KIB).await;
    let held = buffered(&broker).await;
    c.send_with_receipt(tx_frame(Command::Commit, "c"), "cc")
        .await;
    let after = buffered(&broker).await;
    // The staged charge also counted each SEND's destination name.
    assert!(
        after >= staged && (held - after).abs() < KIB as f64,
        "{held} then {after}"
    );
    let mut d = broker.client().await;
    d.subscribe("/queue/bud", "s", "auto").await;
    d.recv_messages(4).await;
    broker
        .scrape_until("consumed to release", |s| s.value(GAUGE, &[]) == 0.0)
        .await;
}

#[tokio::test]
async fn a_transaction_past_its_byte_limit_is_an_error_naming_the_limit() {
    let broker = TestBroker::with(&[("STOMPEDE__TRANSACTIONS__MAX_BYTES", "100000")]);
    let mut consumer = broker.client().await;
    consumer.subscribe("/queue/txbytes", "s", "auto").await;
    let mut c = broker.client().await;
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    // Nine of 10 KiB fit in 100,000 bytes; the tenth does not.
    stage(&mut c, "/queue/txbytes", "t", 9, 10 * KIB).await;
    c.expect_error_after(
        tx_send("/queue/txbytes", "x".repeat(10 * KIB), "t"),
        "transactions.max_bytes",
    )
    .await;
    consumer.ping().await;
    consumer.expect_nothing(QUIET).await;
    broker
        .scrape_until("the closed transaction to release", |s| {
            s.value(GAUGE, &[]) == 0.0
        })
        .await;
}

#[tokio::test]
async fn a_transaction_cannot_stage_past_the_memory_budget() {
    // Issue 18's case: a 16 MiB budget, then SENDs of 4 MiB in one transaction.
    let broker = TestBroker::with(&[
        ("STOMPEDE__BROKER__MAX_BUFFERED_BYTES", "16777216"),
        ("STOMPEDE__LIMITS__MAX_FRAME_SIZE", "5242880"),
    ]);
    let mut c = broker.client().await;
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    let mut refused = None;
    for i in 0..50 {
        c.send(
            tx_send("/queue/txmem", "x".repeat(4096 * KIB), "t")
                .with_header("receipt", format!("r{i}")),
        )
        .await;
        let f = c.recv().await;
        if f.command == Command::Error {
            refused = Some((i, f));
            break;
        }
        assert_eq!(
            f.header("receipt-id"),
            Some(format!("r{i}").as_str()),
            "{f:?}"
        );
        let used = buffered(&broker).await;
        assert!(used <= 16777216.0, "staged {used} bytes past the budget");
        assert!(used >= ((i + 1) * 4096 * KIB) as f64, "{used}");
    }
    let (i, e) = refused.expect("the budget refused a SEND");
    assert_eq!(i, 3, "{e:?}");
    let message = e.header("message").unwrap_or_default();
    assert!(message.contains("broker.max_buffered_bytes"), "{e:?}");
    broker
        .scrape_until("the closed transaction to release", |s| {
            s.value(GAUGE, &[]) == 0.0
        })
        .await;
    // Nothing of it reached the queue, and publishing works again.
    let mut p = broker.client().await;
    p.publish_sync("/queue/txmem", "after", &[]).await;
    let mut d = broker.client().await;
    d.subscribe("/queue/txmem", "s", "auto").await;
    assert_eq!(body(&d.expect(Command::Message).await), "after");
}

/// `n` SENDs to `dest` outside any transaction, receipted.
async fn fill(c: &mut Client, dest: &str, n: usize) {
    for i in 0..n {
        c.publish_sync(dest, &format!("pre{i}"), &[]).await;
    }
}

#[tokio::test]
async fn under_reject_a_commit_that_does_not_fit_is_refused_whole() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "3"),
        ("STOMPEDE__DESTINATIONS__OVERFLOW", "reject"),
    ]);
    let mut c = broker.client().await;
    fill(&mut c, "/queue/rj", 2).await;
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    c.send(tx_send("/queue/rj-other", "o".into(), "t")).await;
    c.send(tx_send("/queue/rj", "c1".into(), "t")).await;
    c.send(tx_send("/queue/rj", "c2".into(), "t")).await;
    let e = c
        .expect_error_after(tx_frame(Command::Commit, "t"), "COMMIT refused")
        .await;
    assert!(
        e.header("message")
            .unwrap_or_default()
            .contains("/queue/rj"),
        "{e:?}"
    );
    // Nothing applied: not even the share that would have fitted.
    let mut d = broker.client().await;
    assert!(d
        .subscribe_take("/queue/rj-other", "o", &[], 0)
        .await
        .is_empty());
    let got = d.subscribe_take("/queue/rj", "s", &[], 2).await;
    assert_eq!(got.iter().map(body).collect::<Vec<_>>(), ["pre0", "pre1"]);
    d.ping().await;
    d.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn under_block_a_commit_waits_for_room_or_is_refused_if_it_never_fits() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "3"),
        ("STOMPEDE__DESTINATIONS__OVERFLOW", "block"),
    ]);
    let mut c = broker.client().await;
    fill(&mut c, "/queue/bl", 2).await;
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    c.send(tx_send("/queue/bl", "c1".into(), "t")).await;
    c.send(tx_send("/queue/bl", "c2".into(), "t")).await;
    c.send(tx_frame(Command::Commit, "t").with_header("receipt", "c"))
        .await;
    // Two ready plus two would pass three: the COMMIT waits, holding nothing back in the queue.
    c.expect_nothing(QUIET).await;
    let mut d = broker.client().await;
    d.subscribe("/queue/bl", "s", "auto").await;
    let r = c.expect(Command::Receipt).await;
    assert_eq!(r.header("receipt-id"), Some("c"));
    let got = d.recv_messages(4).await;
    assert_eq!(
        got.iter().map(body).collect::<Vec<_>>(),
        ["pre0", "pre1", "c1", "c2"]
    );

    // Four can never fit in three: ERROR at once rather than waiting forever.
    let mut c = broker.client().await;
    c.send_with_receipt(tx_frame(Command::Begin, "big"), "b")
        .await;
    for i in 0..4 {
        c.send(tx_send("/queue/bl2", format!("{i}"), "big")).await;
    }
    c.expect_error_after(tx_frame(Command::Commit, "big"), "at most 3 messages")
        .await;
}

#[tokio::test]
async fn a_commit_waiting_for_room_is_dropped_with_its_connection() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "1"),
        ("STOMPEDE__DESTINATIONS__OVERFLOW", "block"),
    ]);
    let mut c = broker.client().await;
    fill(&mut c, "/queue/gone", 1).await;
    let before = buffered(&broker).await;
    c.send_with_receipt(tx_frame(Command::Begin, "t"), "b")
        .await;
    stage(&mut c, "/queue/gone", "t", 1, 100 * KIB).await;
    c.send(tx_frame(Command::Commit, "t")).await;
    c.expect_nothing(QUIET).await;
    drop(c);
    broker
        .scrape_until("the waiting COMMIT to give its bytes back", |s| {
            s.value(GAUGE, &[]) == before
        })
        .await;
    let mut d = broker.client().await;
    let got = d.subscribe_take("/queue/gone", "s", &[], 1).await;
    assert_eq!(body(&got[0]), "pre0");
    d.ping().await;
    d.expect_nothing(QUIET).await;
}
