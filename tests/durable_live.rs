//! Durable queues while the broker runs: RECEIPTs that wait for the
//! journal, backpressure from a full journal, store errors as ERROR frames,
//! a COMMIT as one batch, and the journal's metrics.

mod common;

use common::{
    body, expect_exactly, parse_metrics, send_receipted, with_receipt, TestBroker, QUIET,
};
use stompede::protocol::{Command, Frame};

#[tokio::test]
async fn a_batch_the_store_refuses_is_an_error_naming_the_store() {
    // A message too large for a journal segment: the store refuses it, and
    // the publisher is told rather than given a RECEIPT.
    let b = TestBroker::with(&[("STOMPEDE__STORAGE__SEGMENT_BYTES", "4096")]);
    let mut c = b.client().await;
    let f = Frame::new(Command::Send)
        .with_header("destination", "/queue/big")
        .with_header("persistent", "true")
        .with_header("receipt", "big")
        .with_body("x".repeat(8192));
    c.send(f).await;
    let e = c.expect_error().await;
    let message = e.header("message").unwrap_or_default();
    assert!(message.contains("message store failed"), "{e:?}");
    assert_eq!(e.header("receipt-id"), Some("big"));
}

#[tokio::test]
async fn a_full_submission_queue_pauses_publishers_and_loses_nothing() {
    let b = TestBroker::with(&[("STOMPEDE__STORAGE__QUEUE_DEPTH", "1")]);
    const PRODUCERS: usize = 4;
    const EACH: usize = 100;
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let mut c = b.client().await;
        tasks.push(tokio::spawn(async move {
            // Pipelined: every SEND is written before any RECEIPT is read.
            for i in 0..EACH {
                let f = Frame::new(Command::Send)
                    .with_header("destination", "/queue/full")
                    .with_header("persistent", "true")
                    .with_header("receipt", format!("{p}-{i}"))
                    .with_body(format!("{p}-{i}"));
                c.send(f).await;
            }
            for i in 0..EACH {
                let r = c.expect(Command::Receipt).await;
                assert_eq!(r.header("receipt-id"), Some(format!("{p}-{i}").as_str()));
            }
        }));
    }
    for t in tasks {
        t.await.expect("producer");
    }
    let (_, text) = b.http_get("/metrics").await;
    let batches = parse_metrics(&text)
        .get("stompede_store_batches_total")
        .copied()
        .unwrap_or(0.0);
    // Fewer batches than SENDs: the queue held its changes back while the
    // journal was full and offered them again together.
    assert!(batches < (PRODUCERS * EACH) as f64, "{batches}");
    let mut c = b.client().await;
    c.subscribe("/queue/full", "s", "auto").await;
    for _ in 0..PRODUCERS * EACH {
        c.expect(Command::Message).await;
    }
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn journal_figures_are_exported() {
    let b = TestBroker::start();
    let mut c = b.client().await;
    for i in 0..3 {
        send_receipted(&mut c, "/queue/m", &format!("m{i}"), true).await;
    }
    send_receipted(&mut c, "/queue/m", "volatile", false).await;
    let (_, text) = b.http_get("/metrics").await;
    let m = parse_metrics(&text);
    assert_eq!(m.get("stompede_store_live_messages"), Some(&3.0), "{text}");
    assert!(m.get("stompede_store_syncs_total").copied().unwrap_or(0.0) >= 1.0);
    assert!(m.get("stompede_store_bytes").copied().unwrap_or(0.0) > 0.0);
    assert!(m.get("stompede_store_segments").copied().unwrap_or(0.0) >= 1.0);
    let syncs = m["stompede_store_syncs_total"];
    // Every successful group commit is one fdatasync and one observation of
    // each group histogram; the open's own sync is timed too.
    let fsyncs = m["stompede_store_fsync_duration_seconds_count"];
    assert!(fsyncs > syncs, "{text}");
    assert_eq!(
        m.get("stompede_store_fsync_duration_seconds_bucket{le=\"+Inf\"}"),
        Some(&fsyncs),
        "{text}"
    );
    assert!(
        m["stompede_store_fsync_duration_seconds_sum"] > 0.0,
        "{text}"
    );
    assert_eq!(
        m.get("stompede_store_group_commit_batches_count"),
        Some(&syncs)
    );
    // Each receipted SEND waited for its own group: at least its own batch, at
    // least its record's bytes.
    assert!(
        m["stompede_store_group_commit_batches_sum"] >= 3.0,
        "{text}"
    );
    assert!(
        m["stompede_store_group_commit_bytes_sum"] > 3.0 * 20.0,
        "{text}"
    );
    assert_eq!(
        m.get("stompede_store_group_commit_bytes_count"),
        Some(&syncs)
    );
    assert_eq!(m.get("stompede_store_recovered_messages"), Some(&0.0));
    assert!(m.contains_key("stompede_store_recovery_duration_seconds"));
    c.subscribe("/queue/m", "s", "client-individual").await;
    let mut last = None;
    for _ in 0..4 {
        last = Some(c.expect(Command::Message).await);
    }
    let last = last.expect("four messages");
    let f = c.ack_frame(Command::Ack, &last);
    // client-individual: only the last (non-persistent) one; the others stay live.
    with_receipt(&mut c, f, "all").await;
    let (_, text) = b.http_get("/metrics").await;
    assert_eq!(
        parse_metrics(&text).get("stompede_store_live_messages"),
        Some(&3.0)
    );
}

#[tokio::test]
async fn a_disk_error_is_an_error_to_the_publisher_and_poisons_the_store() {
    let b = TestBroker::start();
    let mut c = b.client().await;
    send_receipted(&mut c, "/queue/d", "before", true).await;
    // The journal's directory vanishes: the open segment can still be
    // written, but the next segment cannot be created (ENOENT).
    std::fs::remove_dir_all(b.store_dir.path.join("journal")).expect("remove journal dir");
    let body_100k = "x".repeat(100 * 1024);
    let mut error = None;
    for i in 0..20 {
        let f = Frame::new(Command::Send)
            .with_header("destination", "/queue/d")
            .with_header("persistent", "true")
            .with_header("receipt", format!("big-{i}"))
            .with_body(body_100k.clone());
        c.send(f).await;
        let reply = c.recv().await;
        if reply.command == Command::Error {
            error = Some(reply);
            break;
        }
        assert_eq!(reply.command, Command::Receipt, "{reply:?}");
    }
    let e = error.expect("a segment roll fails within 2 MiB of 1 MiB segments");
    let message = e.header("message").unwrap_or_default();
    assert!(message.contains("message store failed"), "{e:?}");
    assert!(e
        .header("receipt-id")
        .is_some_and(|r| r.starts_with("big-")));
    // Poisoned: nothing more is reported durable, on any connection.
    let mut c = b.client().await;
    let f = Frame::new(Command::Send)
        .with_header("destination", "/queue/other")
        .with_header("persistent", "true")
        .with_header("receipt", "later")
        .with_body("later");
    c.send(f).await;
    let e = c.expect_error().await;
    assert!(
        e.header("message").unwrap_or_default().contains("poisoned"),
        "{e:?}"
    );
    // Non-persistent messages are not the journal's business.
    let mut c = b.client().await;
    send_receipted(&mut c, "/queue/other", "volatile", false).await;
}

#[tokio::test]
async fn receipts_waiting_for_the_disk_survive_a_destination_restart() {
    let b = TestBroker::start();
    let mut c = b.client().await;
    for i in 0..20 {
        let f = Frame::new(Command::Send)
            .with_header("destination", "/queue/crash")
            .with_header("persistent", "true")
            .with_header("receipt", format!("r{i}"))
            .with_body(format!("m{i}"));
        c.send(f).await;
    }
    // The queue panics (and is restarted) while those receipts wait for the fdatasync.
    let fault = Frame::new(Command::Send)
        .with_header("destination", "/queue/crash")
        .with_header("x-stompede-fault", "destination")
        .with_body("fault");
    c.send(fault).await;
    for i in 0..20 {
        let r = c.expect(Command::Receipt).await;
        assert_eq!(r.header("receipt-id"), Some(format!("r{i}").as_str()));
    }
    let mut d = b.client().await;
    d.subscribe("/queue/crash", "s", "auto").await;
    for i in 0..20 {
        assert_eq!(body(&d.expect(Command::Message).await), format!("m{i}"));
    }
}

#[tokio::test]
async fn a_commit_journals_its_persistent_sends_to_every_queue_as_one_batch() {
    let b = TestBroker::start();
    let mut c = b.client().await;
    let batches = |text: &str| {
        parse_metrics(text)
            .get("stompede_store_batches_total")
            .copied()
            .unwrap_or(0.0)
    };
    // Declares both queues first (their declarations are durable once these
    // RECEIPTs are in), so the COMMIT below journals nothing else.
    send_receipted(&mut c, "/queue/tx-a", "warm-a", true).await;
    send_receipted(&mut c, "/queue/tx-b", "warm-b", true).await;
    let (_, before) = b.http_get("/metrics").await;
    let tx = |cmd: Command| Frame::new(cmd).with_header("transaction", "t");
    with_receipt(&mut c, tx(Command::Begin), "b").await;
    for (dest, text) in [
        ("/queue/tx-a", "a1"),
        ("/queue/tx-b", "b1"),
        ("/queue/tx-a", "a2"),
    ] {
        let f = tx(Command::Send)
            .with_header("destination", dest)
            .with_header("persistent", "true")
            .with_body(text.to_string());
        c.send(f).await;
    }
    with_receipt(&mut c, tx(Command::Commit), "c").await;
    let (_, after) = b.http_get("/metrics").await;
    // One atomic batch: a crash keeps the whole COMMIT or none of it.
    assert_eq!(batches(&after), batches(&before) + 1.0, "{after}");
    assert_eq!(
        parse_metrics(&after).get("stompede_store_live_messages"),
        Some(&5.0)
    );
    expect_exactly(&mut c, "/queue/tx-a", "auto", &["warm-a", "a1", "a2"]).await;
    expect_exactly(&mut c, "/queue/tx-b", "auto", &["warm-b", "b1"]).await;
}

#[tokio::test]
async fn a_persistent_message_to_an_auto_ack_consumer_costs_at_most_two_batches() {
    let b = TestBroker::start();
    let batches = |text: &str| {
        parse_metrics(text)
            .get("stompede_store_batches_total")
            .copied()
            .unwrap_or(0.0)
    };
    let mut consumer = b.client().await;
    consumer.subscribe("/queue/lean", "s", "auto").await;
    let mut p = b.client().await;
    send_receipted(&mut p, "/queue/lean", "warm", true).await;
    consumer.expect(Command::Message).await;
    let (_, before) = b.http_get("/metrics").await;
    const N: usize = 40;
    for i in 0..N {
        send_receipted(&mut p, "/queue/lean", &format!("m{i}"), true).await;
        assert_eq!(
            body(&consumer.expect(Command::Message).await),
            format!("m{i}")
        );
    }
    let (_, after) = b.http_get("/metrics").await;
    // The append and its delivery are one batch; the auto-ack goes with the
    // next one, or alone once the batch in flight is durable: never three
    // batches (append, delivery count, ack) a message.
    let used = batches(&after) - batches(&before);
    assert!(
        used <= (2 * N) as f64 + 2.0,
        "{used} batches for {N} messages"
    );
    // And the acks do reach the journal.
    let mut c = b.client().await;
    send_receipted(&mut c, "/queue/other-lean", "barrier", true).await;
    b.scrape_until("every ack journaled", |s| {
        parse_metrics(&s.text).get("stompede_store_live_messages") == Some(&1.0)
    })
    .await;
}
