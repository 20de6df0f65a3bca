//! Issue 12 point 5 through the real binary on a real disk: a durable queue
//! deeper than the memory budget keeps its excess on disk only (paging), and
//! `storage.max_bytes` / `storage.min_free_bytes` pause persistent publishers
//! (the disk alarm) as the memory alarm does.

mod common;

use std::time::Duration;

use common::{body, http_get, parse_metrics, BrokerProcess, Client, TempDir, TIMEOUT};
use stompede::protocol::{Command, Frame};

/// The binary with its journal in `store` and `env`.
async fn broker(store: &TempDir, env: &[(&str, &str)]) -> BrokerProcess {
    let dir = store.path.display().to_string();
    let mut all = vec![("STOMPEDE__STORAGE__DIR", dir.as_str())];
    all.extend_from_slice(env);
    BrokerProcess::start(&[], &all).await
}

/// One metric's value (0 when absent).
async fn metric(b: &BrokerProcess, name: &str) -> f64 {
    let (status, text) = http_get(b.http, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    parse_metrics(&text).get(name).copied().unwrap_or(0.0)
}

/// Polls `name` until it equals `want`.
async fn metric_until(b: &BrokerProcess, name: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let got = metric(b, name).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stayed {got}, wanted {want}"
        );
        // A poll interval, not synchronisation: the condition is re-checked.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A 1 KiB body starting with the message's number.
fn kib(n: usize) -> String {
    let mut s = format!("m{n:06} ");
    s.extend(std::iter::repeat_n('.', 1024 - s.len()));
    s
}

fn persistent_send(dest: &str, text: String, receipt: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", dest)
        .with_header("persistent", "true")
        .with_header("receipt", receipt)
        .with_body(text)
}

/// Receives `n` MESSAGEs and checks they are `from..from + n` in order.
async fn expect_in_order(c: &mut Client, from: usize, n: usize) -> Vec<Frame> {
    let mut got = Vec::with_capacity(n);
    for i in from..from + n {
        let m = c.expect(Command::Message).await;
        assert_eq!(&body(&m)[..8], &kib(i)[..8], "message {i}: {m:?}");
        got.push(m);
    }
    got
}

const BUDGET: &str = "4194304"; // 4 MiB
const MESSAGES: usize = 40_000; // 40 MiB of bodies

#[tokio::test]
async fn a_queue_ten_times_the_memory_budget_is_accepted_paged_and_delivered_in_order_across_a_restart(
) {
    let store = TempDir::new("paging");
    let env = [
        ("STOMPEDE__BROKER__MAX_BUFFERED_BYTES", BUDGET),
        ("STOMPEDE__STORAGE__QUEUE_RESIDENT_BYTES", "524288"),
        // Paging is what is tested here, not the disk's sync rate.
        ("STOMPEDE__STORAGE__FSYNC", "false"),
    ];
    let mut b = broker(&store, &env).await;
    let mut producer = b.client().await;
    let budget: f64 = BUDGET.parse().unwrap();
    let mut highest: f64 = 0.0;
    const WINDOW: usize = 200;
    for start in (0..MESSAGES).step_by(WINDOW) {
        for i in start..start + WINDOW {
            let f = persistent_send("/queue/deep", kib(i), &format!("r{i}"));
            producer.send(f).await;
        }
        for i in start..start + WINDOW {
            let r = producer.expect(Command::Receipt).await;
            assert_eq!(r.header("receipt-id"), Some(format!("r{i}").as_str()));
        }
        if start % (WINDOW * 20) == 0 {
            highest = highest.max(metric(&b, "stompede_buffered_message_bytes").await);
        }
    }
    highest = highest.max(metric(&b, "stompede_buffered_message_bytes").await);
    assert!(
        highest < budget,
        "buffered bytes reached {highest}, the budget is {budget}"
    );
    assert_eq!(metric(&b, "stompede_memory_alarm").await, 0.0);
    assert_eq!(
        metric(&b, "stompede_store_live_messages").await,
        MESSAGES as f64
    );

    // The first half, acknowledged one by one; the last ACK's receipt says all are durable.
    let half = MESSAGES / 2;
    let mut c = b.client().await;
    c.subscribe_with(
        "/queue/deep",
        "s",
        &[("ack", "client-individual"), ("prefetch-count", "100")],
    )
    .await;
    for i in 0..half {
        let m = expect_in_order(&mut c, i, 1).await.remove(0);
        assert_eq!(m.header("redelivered"), None, "{m:?}");
        let mut ack = c.ack_frame(Command::Ack, &m);
        if i + 1 == half {
            ack = ack.with_header("receipt", "last-ack");
            c.send(ack).await;
            // Deliveries keep coming while the receipt is on its way.
            while c.recv().await.command != Command::Receipt {}
        } else {
            c.send(ack).await;
        }
        if i % 5000 == 0 {
            let used = metric(&b, "stompede_buffered_message_bytes").await;
            assert!(used < budget, "buffered {used} while draining");
        }
    }
    b.kill9().await;

    // After a restart the rest come back, in order, each once.
    let mut b = broker(&store, &env).await;
    assert!(metric(&b, "stompede_buffered_message_bytes").await < budget);
    let mut c = b.client().await;
    c.subscribe_with(
        "/queue/deep",
        "s",
        &[("ack", "auto"), ("prefetch-count", "100")],
    )
    .await;
    expect_in_order(&mut c, half, MESSAGES - half).await;
    c.expect_nothing(common::QUIET).await;
    assert!(metric(&b, "stompede_buffered_message_bytes").await < budget);
    b.kill9().await;
}

/// Sends persistent SENDs with receipts one after another until one's receipt
/// does not come (the publisher is paused); returns how many were receipted.
async fn send_until_paused(c: &mut Client, dest: &str, limit: usize) -> usize {
    for i in 0..limit {
        c.send(persistent_send(dest, kib(i), &format!("p{i}")))
            .await;
        match c.try_recv(Duration::from_secs(1)).await {
            Some(r) if r.command == Command::Receipt => {}
            Some(other) => panic!("unexpected frame {other:?}"),
            None => return i,
        }
    }
    panic!("{limit} persistent SENDs were never paused");
}

#[tokio::test]
async fn a_full_journal_pauses_persistent_publishers_until_acks_free_segments() {
    let store = TempDir::new("disk-max");
    let env = [
        ("STOMPEDE__STORAGE__SEGMENT_BYTES", "65536"),
        ("STOMPEDE__STORAGE__MAX_BYTES", "262144"),
        ("STOMPEDE__STORAGE__FSYNC", "false"),
        ("STOMPEDE__LIMITS__MAX_INFLIGHT_FRAMES", "4"),
    ];
    let b = broker(&store, &env).await;
    assert_eq!(metric(&b, "stompede_storage_disk_alarm").await, 0.0);
    let mut producer = b.client().await;
    let receipted = send_until_paused(&mut producer, "/queue/full", 1000).await;
    metric_until(&b, "stompede_storage_disk_alarm", 1.0).await;
    assert!(
        receipted > 150,
        "paused after {receipted} of about 4 segments"
    );
    // A non-persistent publisher to another queue is not paused.
    let mut other = b.client().await;
    for i in 0..10 {
        common::send_receipted(&mut other, "/queue/light", &format!("n{i}"), false).await;
    }
    // Draining the queue lets reclaim free segments: the alarm clears and the held
    // RECEIPT arrives.
    let mut c = b.client().await;
    c.subscribe_with(
        "/queue/full",
        "s",
        &[("ack", "auto"), ("prefetch-count", "50")],
    )
    .await;
    let r = producer.expect(Command::Receipt).await;
    assert_eq!(
        r.header("receipt-id"),
        Some(format!("p{receipted}").as_str())
    );
    metric_until(&b, "stompede_storage_disk_alarm", 0.0).await;
    expect_in_order(&mut c, 0, receipted + 1).await;
    let out = b.output.lock().expect("output").clone();
    assert!(out.contains("disk alarm: pausing"), "{out}");
    assert!(out.contains("disk alarm cleared"), "{out}");
}

#[tokio::test]
async fn too_little_free_disk_raises_the_disk_alarm_at_start() {
    let store = TempDir::new("disk-free");
    let env = [
        // More than any disk has free.
        ("STOMPEDE__STORAGE__MIN_FREE_BYTES", "4611686018427387904"),
        ("STOMPEDE__LIMITS__MAX_INFLIGHT_FRAMES", "4"),
    ];
    let b = broker(&store, &env).await;
    assert_eq!(metric(&b, "stompede_storage_disk_alarm").await, 1.0);
    let out = b.output.lock().expect("output").clone();
    assert!(out.contains("storage.min_free_bytes"), "{out}");
    let mut producer = b.client().await;
    let receipted = send_until_paused(&mut producer, "/queue/p", 100).await;
    assert!(
        receipted <= 4,
        "{receipted} receipted while the alarm is on"
    );
    let mut other = b.client().await;
    for i in 0..10 {
        common::send_receipted(&mut other, "/queue/light", &format!("n{i}"), false).await;
    }
}

#[tokio::test]
async fn committed_persistent_messages_page_out_too() {
    let store = TempDir::new("paging-tx");
    let env = [
        // A COMMIT is one record, which must fit in a segment.
        ("STOMPEDE__STORAGE__SEGMENT_BYTES", "16777216"),
        ("STOMPEDE__BROKER__MAX_BUFFERED_BYTES", BUDGET),
        ("STOMPEDE__STORAGE__QUEUE_RESIDENT_BYTES", "524288"),
        ("STOMPEDE__STORAGE__FSYNC", "false"),
    ];
    let mut b = broker(&store, &env).await;
    let budget: f64 = BUDGET.parse().unwrap();
    let mut producer = b.client().await;
    let (transactions, each) = (4, 2500); // 10 MiB of bodies, in COMMITs of 2.5 MiB
    for t in 0..transactions {
        let tx = format!("tx{t}");
        producer
            .send(Frame::new(Command::Begin).with_header("transaction", &tx))
            .await;
        for i in t * each..(t + 1) * each {
            let f = Frame::new(Command::Send)
                .with_header("destination", "/queue/committed")
                .with_header("persistent", "true")
                .with_header("transaction", &tx)
                .with_body(kib(i));
            producer.send(f).await;
        }
        let commit = Frame::new(Command::Commit).with_header("transaction", &tx);
        producer.send_with_receipt(commit, &format!("c{t}")).await;
        let used = metric(&b, "stompede_buffered_message_bytes").await;
        assert!(used < budget, "buffered {used} after COMMIT {t}");
    }
    let mut c = b.client().await;
    c.subscribe_with(
        "/queue/committed",
        "s",
        &[("ack", "auto"), ("prefetch-count", "100")],
    )
    .await;
    expect_in_order(&mut c, 0, transactions * each).await;
    c.expect_nothing(common::QUIET).await;
    b.kill9().await;
}

#[tokio::test]
async fn a_max_bytes_below_two_segments_is_refused_at_start() {
    let env = [
        ("STOMPEDE__STORAGE__SEGMENT_BYTES", "65536"),
        ("STOMPEDE__STORAGE__MAX_BYTES", "100000"),
    ];
    let (status, output) = common::run_binary_to_exit(&[], &env).await;
    assert!(!status.success(), "{output}");
    assert!(output.contains("storage.max_bytes"), "{output}");
}
