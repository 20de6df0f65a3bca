//! Durable queues across restarts, through the real `stompede` binary on a
//! real disk: a `persistent:true` message survives `kill -9` with its
//! delivery state and leaves the journal once acknowledged; non-persistent
//! messages never outlive the process.

mod common;

use common::{
    body, expect_exactly, parse_metrics, send_receipted, with_receipt, BrokerProcess, TempDir,
};
use stompede::protocol::{Command, Frame};

/// The binary with its journal in `store` (kept across restarts) and `env`.
async fn broker(store: &TempDir, env: &[(&str, &str)]) -> BrokerProcess {
    let dir = store.path.display().to_string();
    let mut all = vec![("STOMPEDE__STORAGE__DIR", dir.as_str())];
    all.extend_from_slice(env);
    BrokerProcess::start(&[], &all).await
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
        send_receipted(&mut producer, "/queue/work", text, persistent).await;
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
    send_receipted(&mut producer, "/queue/marker", "m", true).await;
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
    send_receipted(&mut c2, "/queue/marker2", "m", true).await;
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
    send_receipted(&mut c, "/queue/n", "once", true).await;
    c.subscribe("/queue/n", "s", "client-individual").await;
    let first = c.expect(Command::Message).await;
    let nack = c.ack_frame(Command::Nack, &first);
    c.send(nack).await;
    let second = c.expect(Command::Message).await;
    assert_eq!(second.header("delivery-count"), Some("2"));
    // One journal synced in order: this RECEIPT means the second delivery's count is on disk.
    let mut other = b.client().await;
    send_receipted(&mut other, "/queue/barrier", "b", true).await;
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
    send_receipted(&mut c, "/queue/in", "to-ack", true).await;
    send_receipted(&mut c, "/queue/in", "to-keep", true).await;
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
    send_receipted(&mut c, "/queue/x", "poison", true).await;
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
    send_receipted(&mut c, "/queue/keep.a", "kept", false).await;
    send_receipted(&mut c, "/queue/other", "lost", false).await;
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
    send_receipted(&mut c, "/topic/t", "x", true).await;
    let (_, text) = common::http_get(b.http, "/metrics").await;
    let m = parse_metrics(&text);
    assert_eq!(m.get("stompede_store_live_messages"), Some(&0.0), "{text}");
    b.kill9().await;
}

/// The journal's segment files, oldest first.
fn segments(store: &TempDir) -> Vec<std::path::PathBuf> {
    let dir = store.path.join("journal");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("journal dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// Overwrites `len` bytes of `path` at `offset` with 0xAB.
fn scribble(path: &std::path::Path, offset: u64, len: usize) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open segment");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.write_all(&vec![0xAB; len]).expect("write");
}

/// Where the written part of a segment ends: after the last record whose
/// `[len u32][crc u32]` frame says it is there (docs/storage.md, "On disk").
fn written_end(seg: &[u8]) -> usize {
    let mut pos = 32; // the segment header
    while let Some(frame) = seg.get(pos..pos + 8) {
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        if len == 0 {
            break;
        }
        pos += 8 + len;
    }
    pos
}

#[tokio::test]
async fn a_torn_tail_at_random_offsets_is_cut_with_a_warning_and_what_precedes_it_survives() {
    use proptest::prelude::Rng;
    use proptest::test_runner::{RngAlgorithm, TestRng};
    let mut inside = 0;
    for seed in 1..=8u8 {
        let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
        let mut below = |n: u64| (rng.next_u64() % n) as usize;
        let store = TempDir::new("durable-torn");
        let mut b = broker(&store, &[]).await;
        let mut c = b.client().await;
        let sent: Vec<String> = (0..6)
            .map(|k| format!("s{seed}m{k}-{}", "x".repeat(below(300))))
            .collect();
        for text in &sent {
            send_receipted(&mut c, "/queue/torn", text, true).await;
        }
        b.kill9().await;
        let last = segments(&store).pop().expect("a segment");
        let original = std::fs::read(&last).expect("read segment");
        let end = written_end(&original);
        let mut seg = original.clone();
        // Anywhere from the first record to well past the written part, a
        // run of 1..64 bytes each changed (XOR with a non-zero value).
        let at = 32 + below((end + 4096 - 32) as u64);
        let len = 1 + below(64);
        inside += usize::from(at < end);
        let until = (at + len).min(seg.len());
        for byte in &mut seg[at..until] {
            *byte ^= 1 + below(255) as u8;
        }
        std::fs::write(&last, &seg).expect("write segment");
        let position = |text: &str| {
            let needle = text.as_bytes();
            let i = (original.windows(needle.len()))
                .position(|w| w == needle)
                .unwrap_or(usize::MAX - needle.len());
            i + needle.len()
        };
        // One SEND, one record, its body last: a message survives when its
        // record ends before the first damaged byte.
        let survivors: Vec<&str> = (sent.iter())
            .filter(|t| position(t) <= at)
            .map(String::as_str)
            .collect();

        let b = broker(&store, &[]).await;
        let output = b.output.lock().expect("output").clone();
        let why = format!("seed {seed}: {len} bytes at {at}, written part ends at {end}");
        assert!(output.contains("torn tail truncated"), "{why}\n{output}");
        let (_, text) = common::http_get(b.http, "/metrics").await;
        let recovered = parse_metrics(&text)
            .get("stompede_store_recovered_messages")
            .copied();
        assert_eq!(recovered, Some(survivors.len() as f64), "{why}");
        let mut c = b.client().await;
        expect_exactly(&mut c, "/queue/torn", "auto", &survivors).await;
    }
    // The seeds damage records as well as the zeros after them.
    assert!((1..8).contains(&inside), "{inside} of 8 inside the records");
}

#[tokio::test]
async fn corruption_before_the_last_segment_stops_the_start_naming_the_file() {
    let store = TempDir::new("durable-corrupt");
    let mut b = broker(&store, &[]).await;
    let mut c = b.client().await;
    let big = "x".repeat(200 * 1024);
    // 1 MiB test segments: enough 200 KiB messages to fill more than one.
    for i in 0..8 {
        let f = Frame::new(Command::Send)
            .with_header("destination", "/queue/c")
            .with_header("persistent", "true")
            .with_body(big.clone());
        with_receipt(&mut c, f, &format!("c{i}")).await;
    }
    b.kill9().await;
    let all = segments(&store);
    assert!(all.len() >= 2, "{all:?}");
    // Inside the first record after the segment header and its declarations.
    scribble(&all[0], 4096, 64);

    let dir = store.path.display().to_string();
    let env = [
        ("STOMPEDE__STORAGE__DIR", dir.as_str()),
        ("STOMPEDE__STORAGE__SEGMENT_BYTES", "1048576"),
        ("STOMPEDE__LISTENERS__STOMP", "127.0.0.1:0"),
        ("STOMPEDE__LISTENERS__HTTP", "127.0.0.1:0"),
        ("STOMPEDE__LISTENERS__WEBSOCKET", "127.0.0.1:0"),
    ];
    let (status, output) = common::run_binary_to_exit(&[], &env).await;
    assert!(!status.success(), "{output}");
    assert!(output.contains("journal corrupt"), "{output}");
    assert!(output.contains("salvage"), "{output}");
    let first = all[0].file_name().and_then(|n| n.to_str()).unwrap_or("?");
    assert!(output.contains(first), "names {first}: {output}");
}
