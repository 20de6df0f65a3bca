//! Durable queues, through the real `stompede` binary on a real disk: a
//! `persistent:true` message is journaled before its RECEIPT, survives
//! `kill -9` with its delivery state, and leaves the journal once
//! acknowledged; non-persistent messages never outlive the process.

mod common;

use std::time::Duration;

use common::{body, parse_metrics, BrokerProcess, Client, TempDir, TestBroker};
use stompede::protocol::{Command, Frame};

/// Long enough for a wrongly kept message to show up after a restart.
const QUIET: Duration = Duration::from_millis(300);

/// The binary with its journal in `store` (kept across restarts) and `env`.
async fn broker(store: &TempDir, env: &[(&str, &str)]) -> BrokerProcess {
    let dir = store.path.display().to_string();
    let mut all = vec![("STOMPEDE__STORAGE__DIR", dir.as_str())];
    all.extend_from_slice(env);
    BrokerProcess::start(&[], &all).await
}

/// A SEND to `dest`, waiting for its RECEIPT.
async fn send(c: &mut Client, dest: &str, text: &str, persistent: bool) {
    let mut f = Frame::new(Command::Send)
        .with_header("destination", dest)
        .with_body(text.to_string());
    if persistent {
        f = f.with_header("persistent", "true");
    }
    c.send_with_receipt(f, &format!("r-{text}")).await;
}

/// `frame` with a receipt, returning the RECEIPT (or failing on anything else).
async fn with_receipt(c: &mut Client, frame: Frame, id: &str) {
    c.send_with_receipt(frame, id).await;
}

/// Subscribes to `dest` and reads exactly `bodies`, in order, then nothing more.
async fn expect_exactly(c: &mut Client, dest: &str, ack: &str, bodies: &[&str]) -> Vec<Frame> {
    c.subscribe_with(dest, dest, &[("ack", ack), ("prefetch-count", "100")])
        .await;
    let mut got = Vec::new();
    for want in bodies {
        let m = c.expect(Command::Message).await;
        assert_eq!(body(&m), *want, "{m:?}");
        got.push(m);
    }
    c.expect_nothing(QUIET).await;
    got
}

#[tokio::test]
async fn unacked_persistent_messages_survive_kill_9_in_order_with_their_delivery_state() {
    let store = TempDir::new("durable-kill");
    let mut b = broker(&store, &[]).await;
    let mut producer = b.client().await;
    for (text, persistent) in [
        ("p1", true),
        ("n1", false),
        ("p2", true),
        ("p3", true),
        ("n2", false),
        ("p4", true),
        ("p5", true),
        ("p6", true),
    ] {
        send(&mut producer, "/queue/work", text, persistent).await;
    }
    let mut consumer = b.client().await;
    consumer
        .subscribe_with(
            "/queue/work",
            "s",
            &[("ack", "client-individual"), ("prefetch-count", "5")],
        )
        .await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(consumer.expect(Command::Message).await);
    }
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, ["p1", "n1", "p2", "p3", "n2"]);
    let p3_id = got[3].header("message-id").map(str::to_string);
    // p1 and p2 acknowledged (the receipt of the last says both are durable);
    // their room goes to p4 and p5, after the receipt.
    for (acked, then) in [(0, "p4"), (2, "p5")] {
        let ack = consumer.ack_frame(Command::Ack, &got[acked]);
        with_receipt(&mut consumer, ack, &format!("ack-{acked}")).await;
        assert_eq!(body(&consumer.expect(Command::Message).await), then);
    }
    // One journal for every queue, synced in order: once this RECEIPT is in,
    // the deliveries above are on disk too. p6 was never delivered.
    send(&mut producer, "/queue/marker", "m", true).await;
    b.kill9().await;

    let mut b = broker(&store, &[]).await;
    let mut c = b.client().await;
    let back = expect_exactly(&mut c, "/queue/work", "auto", &["p3", "p4", "p5", "p6"]).await;
    assert_eq!(back[0].header("redelivered"), Some("true"), "{:?}", back[0]);
    assert_eq!(back[0].header("delivery-count"), Some("2"), "{:?}", back[0]);
    assert_eq!(
        back[0].header("message-id").map(str::to_string),
        p3_id,
        "same message-id after the restart"
    );
    assert_eq!(back[0].header("persistent"), Some("true"));
    for m in &back[1..3] {
        assert_eq!(m.header("redelivered"), Some("true"), "delivered: {m:?}");
    }
    assert_eq!(back[3].header("redelivered"), None, "never delivered");
    // Auto-acknowledged after the restart: gone for good after another crash.
    let mut c2 = b.client().await;
    send(&mut c2, "/queue/marker2", "m", true).await;
    b.kill9().await;
    let b = broker(&store, &[]).await;
    let mut c = b.client().await;
    expect_exactly(&mut c, "/queue/work", "auto", &[]).await;
    expect_exactly(&mut c, "/queue/marker", "auto", &["m"]).await;
}

#[tokio::test]
async fn a_nack_raises_the_recorded_delivery_count() {
    let store = TempDir::new("durable-nack");
    let mut b = broker(&store, &[]).await;
    let mut c = b.client().await;
    send(&mut c, "/queue/n", "once", true).await;
    c.subscribe("/queue/n", "s", "client-individual").await;
    let first = c.expect(Command::Message).await;
    let nack = c.ack_frame(Command::Nack, &first);
    c.send(nack).await;
    let second = c.expect(Command::Message).await;
    assert_eq!(second.header("delivery-count"), Some("2"));
    // One journal synced in order: this RECEIPT means the second delivery's count is on disk.
    let mut other = b.client().await;
    send(&mut other, "/queue/barrier", "b", true).await;
    b.kill9().await;

    let b = broker(&store, &[]).await;
    let mut c = b.client().await;
    let back = expect_exactly(&mut c, "/queue/n", "auto", &["once"]).await;
    assert_eq!(back[0].header("delivery-count"), Some("3"), "{:?}", back[0]);
}

#[tokio::test]
async fn committed_transactions_survive_and_uncommitted_or_aborted_ones_do_not() {
    let store = TempDir::new("durable-tx");
    let mut b = broker(&store, &[]).await;
    let mut c = b.client().await;
    send(&mut c, "/queue/in", "to-ack", true).await;
    send(&mut c, "/queue/in", "to-keep", true).await;
    c.subscribe("/queue/in", "s", "client-individual").await;
    let to_ack = c.expect(Command::Message).await;
    let _to_keep = c.expect(Command::Message).await;

    let tx = |cmd: Command, name: &str| Frame::new(cmd).with_header("transaction", name);
    with_receipt(&mut c, tx(Command::Begin, "t1"), "b1").await;
    for (dest, text) in [("/queue/a", "a1"), ("/queue/b", "b1"), ("/queue/a", "a2")] {
        let f = tx(Command::Send, "t1")
            .with_header("destination", dest)
            .with_header("persistent", "true")
            .with_body(text.to_string());
        c.send(f).await;
    }
    let ack = c
        .ack_frame(Command::Ack, &to_ack)
        .with_header("transaction", "t1");
    c.send(ack).await;
    with_receipt(&mut c, tx(Command::Commit, "t1"), "c1").await;

    with_receipt(&mut c, tx(Command::Begin, "t2"), "b2").await;
    let f = tx(Command::Send, "t2")
        .with_header("destination", "/queue/a")
        .with_header("persistent", "true")
        .with_body("aborted");
    c.send(f).await;
    with_receipt(&mut c, tx(Command::Abort, "t2"), "a2").await;
    with_receipt(&mut c, tx(Command::Begin, "t3"), "b3").await;
    let f = tx(Command::Send, "t3")
        .with_header("destination", "/queue/a")
        .with_header("persistent", "true")
        .with_body("never committed");
    with_receipt(&mut c, f, "s3").await;
    b.kill9().await;

    let b = broker(&store, &[]).await;
    let mut c = b.client().await;
    expect_exactly(&mut c, "/queue/a", "auto", &["a1", "a2"]).await;
    expect_exactly(&mut c, "/queue/b", "auto", &["b1"]).await;
    let kept = expect_exactly(&mut c, "/queue/in", "auto", &["to-keep"]).await;
    assert_eq!(kept[0].header("redelivered"), Some("true"));
}

#[tokio::test]
async fn dead_lettering_is_durable() {
    let store = TempDir::new("durable-dlq");
    let env = [("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "1")];
    let mut b = broker(&store, &env).await;
    let mut c = b.client().await;
    send(&mut c, "/queue/x", "poison", true).await;
    c.subscribe("/queue/x", "s", "client-individual").await;
    let m = c.expect(Command::Message).await;
    let nack = c.ack_frame(Command::Nack, &m);
    // The RECEIPT waits until the move to the dead-letter queue is durable.
    with_receipt(&mut c, nack, "nacked").await;
    b.kill9().await;

    let b = broker(&store, &env).await;
    let mut c = b.client().await;
    expect_exactly(&mut c, "/queue/x", "auto", &[]).await;
    let dead = expect_exactly(&mut c, "/queue/DLQ.x", "auto", &["poison"]).await;
    assert_eq!(dead[0].header("x-original-destination"), Some("/queue/x"));
}

#[tokio::test]
async fn a_persistent_policy_journals_every_message_of_matching_queues() {
    let store = TempDir::new("durable-policy");
    let config = TempDir::new("durable-policy-config");
    let path = config.write(
        "stompede.toml",
        "[destinations]\npolicies = [{ pattern = \"/queue/keep.*\", persistent = true }]\n",
    );
    let path = path.display().to_string();
    let dir = store.path.display().to_string();
    let env = [("STOMPEDE__STORAGE__DIR", dir.as_str())];
    let mut b = BrokerProcess::start(&["--config", &path], &env).await;
    let mut c = b.client().await;
    send(&mut c, "/queue/keep.a", "kept", false).await;
    send(&mut c, "/queue/other", "lost", false).await;
    b.kill9().await;

    let b = BrokerProcess::start(&["--config", &path], &env).await;
    let mut c = b.client().await;
    expect_exactly(&mut c, "/queue/keep.a", "auto", &["kept"]).await;
    expect_exactly(&mut c, "/queue/other", "auto", &[]).await;
}

#[tokio::test]
async fn topics_never_persist() {
    let store = TempDir::new("durable-topic");
    let mut b = broker(&store, &[]).await;
    let mut c = b.client().await;
    send(&mut c, "/topic/t", "x", true).await;
    let (_, text) = common::http_get(b.http, "/metrics").await;
    let m = parse_metrics(&text);
    assert_eq!(m.get("stompede_store_live_messages"), Some(&0.0), "{text}");
    b.kill9().await;
}

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
        send(&mut c, "/queue/m", &format!("m{i}"), true).await;
    }
    send(&mut c, "/queue/m", "volatile", false).await;
    let (_, text) = b.http_get("/metrics").await;
    let m = parse_metrics(&text);
    assert_eq!(m.get("stompede_store_live_messages"), Some(&3.0), "{text}");
    assert!(m.get("stompede_store_syncs_total").copied().unwrap_or(0.0) >= 1.0);
    assert!(m.get("stompede_store_bytes").copied().unwrap_or(0.0) > 0.0);
    assert!(m.get("stompede_store_segments").copied().unwrap_or(0.0) >= 1.0);
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
    send(&mut c, "/queue/d", "before", true).await;
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
    send(&mut c, "/queue/other", "volatile", false).await;
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
    send(&mut c, "/queue/tx-a", "warm-a", true).await;
    send(&mut c, "/queue/tx-b", "warm-b", true).await;
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
