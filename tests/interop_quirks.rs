//! Regression tests over raw frames for what real client libraries send or
//! expect where their reading of the spec differs (found by
//! `tests/interop.rs`; see docs-interop.md). stompede follows the spec and,
//! where it leaves room, accepts what these clients send. Each test names the
//! client whose frames it reproduces.

mod common;

use std::time::{Duration, Instant};

use common::*;
use stompede::protocol::Command;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends `frame` (raw bytes, NUL included) and asserts the exact RECEIPT for `id`.
async fn expect_receipt(raw: &mut RawClient, frame: &[u8], id: &str) {
    raw.send(frame).await;
    let got = raw.read_raw_frame().await;
    assert_eq!(
        text(&got),
        format!("RECEIPT\nreceipt-id:{id}\n\n\0"),
        "after {:?}",
        text(frame)
    );
}

/// Sends `frame` asking receipt `id`, and returns the MESSAGE it causes: the
/// two may arrive in either order.
async fn receipt_and_message(raw: &mut RawClient, frame: &[u8], id: &str) -> Vec<u8> {
    raw.send(frame).await;
    let (a, b) = (raw.read_raw_frame().await, raw.read_raw_frame().await);
    let receipt = format!("RECEIPT\nreceipt-id:{id}\n\n\0");
    match (text(&a) == receipt, text(&b) == receipt) {
        (true, false) if b.starts_with(b"MESSAGE\n") => b,
        (false, true) if a.starts_with(b"MESSAGE\n") => a,
        _ => panic!(
            "after {:?}: expected {receipt:?} and a MESSAGE, got {:?} and {:?}",
            text(frame),
            text(&a),
            text(&b)
        ),
    }
}

/// A raw connection that negotiated `version`, having subscribed `id` to
/// `destination` with `ack` (confirmed by receipt).
async fn subscribed(
    broker: &TestBroker,
    version: &str,
    destination: &str,
    id: &str,
    ack: &str,
) -> RawClient {
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[("accept-version", version), ("host", "/")])
        .await;
    assert_eq!(f.header("version"), Some(version), "{f:?}");
    let sub = format!("SUBSCRIBE\ndestination:{destination}\nid:{id}\nack:{ack}\nreceipt:s\n\n\0");
    expect_receipt(&mut raw, sub.as_bytes(), "s").await;
    raw
}

/// Publishes `bodies` to `destination` from a 1.2 client, confirmed by receipts.
async fn publish(broker: &TestBroker, destination: &str, bodies: &[&str]) {
    let mut p = broker.client().await;
    for b in bodies {
        p.publish_sync(destination, b, &[]).await;
    }
}

/// The value of `name` in a raw frame's header block (first occurrence).
fn raw_header(frame: &[u8], name: &str) -> String {
    let all = text(frame);
    let head = all.split("\n\n").next().unwrap_or_default();
    head.lines()
        .skip(1)
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} header in {head:?}"))
        .to_string()
}

/// Body of a raw MESSAGE without content-length handling (test bodies are text).
fn raw_body(frame: &[u8]) -> String {
    let all = text(frame);
    let body = all.split_once("\n\n").map(|(_, b)| b).unwrap_or_default();
    body.trim_end_matches('\0').to_string()
}

/// @stomp/stompjs sends CONNECT without the `host` header 1.1 and 1.2
/// require; stompede needs no virtual host and accepts it.
#[tokio::test]
async fn stompjs_connect_without_host_is_accepted() {
    let broker = TestBroker::start();
    for version in ["1.1", "1.2"] {
        let mut raw = broker.raw().await;
        raw.send(
            format!("CONNECT\naccept-version:{version}\nheart-beat:0,0\nlogin:a\npasscode:b\n\n\0")
                .as_bytes(),
        )
        .await;
        let f = raw.read_frame().await;
        assert_eq!(f.command, Command::Connected, "{version}: {f:?}");
        assert_eq!(f.header("version"), Some(version));
    }
}

/// stompjs escapes header values only once 1.2 is agreed: in 1.1 a colon goes
/// out raw. The first colon ends the name, so the value keeps the rest, and a
/// 1.1 subscriber gets it escaped as the spec says.
#[tokio::test]
async fn stompjs_v1_1_raw_colon_in_a_value_is_taken_literally() {
    let broker = TestBroker::start();
    let mut sub = subscribed(&broker, "1.1", "/queue/raw-colon", "a", "auto").await;
    let mut p = broker.raw().await;
    p.stomp_connect(&[("accept-version", "1.1"), ("host", "/")])
        .await;
    expect_receipt(
        &mut p,
        b"SEND\ndestination:/queue/raw-colon\nx-time:12:30:00\nreceipt:p\n\n\0",
        "p",
    )
    .await;
    let got = sub.read_raw_frame().await;
    assert_eq!(raw_header(&got, "x-time"), "12\\c30\\c00", "{}", text(&got));
}

/// stompit 1.0.0 acknowledges in 1.2 with `id`, `subscription` and
/// `message-id` all set. The 1.2 `id` names the message; here `message-id`
/// deliberately names another one, which must stay unacknowledged.
#[tokio::test]
async fn stompit_v1_2_ack_with_all_three_headers_goes_by_id() {
    let broker = TestBroker::start();
    publish(&broker, "/queue/stompit-ack", &["one", "two"]).await;
    let mut c = subscribed(
        &broker,
        "1.2",
        "/queue/stompit-ack",
        "s",
        "client-individual",
    )
    .await;
    let one = c.read_raw_frame().await;
    let two = c.read_raw_frame().await;
    assert_eq!(
        (raw_body(&one), raw_body(&two)),
        ("one".into(), "two".into())
    );
    let ack = format!(
        "ACK\nid:{}\nsubscription:s\nmessage-id:{}\nreceipt:a\n\n\0",
        raw_header(&one, "ack"),
        raw_header(&two, "message-id")
    );
    expect_receipt(&mut c, ack.as_bytes(), "a").await;
    expect_receipt(&mut c, b"DISCONNECT\nreceipt:bye\n\n\0", "bye").await;
    let mut again = subscribed(&broker, "1.2", "/queue/stompit-ack", "t", "auto").await;
    let left = again.read_raw_frame().await;
    assert_eq!(raw_body(&left), "two", "{}", text(&left));
    assert_eq!(raw_header(&left, "redelivered"), "true");
}

/// ruby-stomp 1.4 puts `content-length` (0 when there is no body) and
/// `content-type:text/plain; charset=UTF-8` on every frame it sends, CONNECT
/// and DISCONNECT included. Frames that may not have a body may still say
/// that it is empty.
#[tokio::test]
async fn ruby_stomp_content_length_zero_and_content_type_on_every_frame() {
    let broker = TestBroker::start();
    let extra = "content-length:0\ncontent-type:text/plain; charset=UTF-8\n";
    let mut raw = broker.raw().await;
    raw.send(format!("CONNECT\naccept-version:1.2\nhost:/\n{extra}\n\0").as_bytes())
        .await;
    let f = raw.read_frame().await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    let frames = [
        (
            "SUBSCRIBE\ndestination:/queue/ruby\nid:q\nack:client-individual\n",
            "sub",
        ),
        ("BEGIN\ntransaction:t\n", "begin"),
        (
            "SEND\ndestination:/queue/ruby\ntransaction:t\n",
            "send-empty",
        ),
    ];
    for (head, id) in frames {
        expect_receipt(
            &mut raw,
            format!("{head}{extra}receipt:{id}\n\n\0").as_bytes(),
            id,
        )
        .await;
    }
    let commit = format!("COMMIT\ntransaction:t\n{extra}receipt:commit\n\n\0");
    let msg = receipt_and_message(&mut raw, commit.as_bytes(), "commit").await;
    assert_eq!(raw_body(&msg), "", "{}", text(&msg));
    assert_eq!(
        raw_header(&msg, "content-type"),
        "text/plain; charset=UTF-8"
    );
    assert_eq!(raw_header(&msg, "content-length"), "0");
    let ack = format!(
        "ACK\nid:{}\n{extra}receipt:ack\n\n\0",
        raw_header(&msg, "ack")
    );
    expect_receipt(&mut raw, ack.as_bytes(), "ack").await;
    expect_receipt(
        &mut raw,
        format!("UNSUBSCRIBE\nid:q\n{extra}receipt:unsub\n\n\0").as_bytes(),
        "unsub",
    )
    .await;
    expect_receipt(
        &mut raw,
        format!("DISCONNECT\n{extra}receipt:bye\n\n\0").as_bytes(),
        "bye",
    )
    .await;
    raw.expect_closed().await;
}

/// stompjs sends its `heart-beat` header whatever version it offers. 1.0 has
/// no heart-beats: CONNECTED says nothing about them, the broker sends no
/// EOLs but the one ending each frame, and a silent 1.0 client is not timed out.
#[tokio::test]
async fn stompjs_v1_0_heart_beat_header_is_ignored() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    raw.send(b"CONNECT\naccept-version:1.0\nheart-beat:1000,1000\nlogin:a\npasscode:b\n\n\0")
        .await;
    let connected = raw.read_raw_frame().await;
    let connected = text(&connected);
    assert!(
        connected.starts_with("CONNECTED\nversion:1.0\n"),
        "{connected:?}"
    );
    assert!(!connected.contains("heart-beat"), "{connected:?}");
    raw.expect_frame_eol().await;
    // Silent for longer than the 1000 ms x grace 3.0 a 1.1 client would get.
    let quiet = raw.read_chunk(Duration::from_millis(3500)).await;
    assert_eq!(
        quiet, None,
        "the broker sent something to a silent 1.0 client"
    );
    expect_receipt(
        &mut raw,
        b"BEGIN\ntransaction:t\nreceipt:alive\n\n\0",
        "alive",
    )
    .await;
}

/// iridium-stomp 0.6 acknowledges 1.0 and 1.1 messages, which carry no `ack`
/// header, with `id:<message-id>` and `subscription` instead of the spec's
/// `message-id`. With no colon in it, that `id` cannot be one of stompede's
/// ack ids, so before 1.2 it is taken as the message-id. 1.2 is unchanged:
/// there `id` must be the MESSAGE's `ack` value.
#[tokio::test]
async fn iridium_pre_1_2_ack_and_nack_by_id_and_subscription() {
    let broker = TestBroker::start();
    for version in ["1.0", "1.1"] {
        let dest = format!("/queue/iridium-{version}");
        publish(&broker, &dest, &["one", "two"]).await;
        let mut c = subscribed(&broker, version, &dest, "7", "client-individual").await;
        let one = c.read_raw_frame().await;
        let two = c.read_raw_frame().await;
        let nack = format!(
            "NACK\nid:{}\nsubscription:7\nreceipt:n\n\n\0",
            raw_header(&two, "message-id")
        );
        let again = receipt_and_message(&mut c, nack.as_bytes(), "n").await;
        assert_eq!(raw_body(&again), "two", "{version}: {}", text(&again));
        assert_eq!(raw_header(&again, "redelivered"), "true");
        for (m, r) in [(&one, "a1"), (&again, "a2")] {
            let ack = format!(
                "ACK\nid:{}\nsubscription:7\nreceipt:{r}\n\n\0",
                raw_header(m, "message-id")
            );
            expect_receipt(&mut c, ack.as_bytes(), r).await;
        }
        expect_receipt(&mut c, b"DISCONNECT\nreceipt:bye\n\n\0", "bye").await;
        let q = [("destination", dest.as_str()), ("kind", "queue")];
        broker
            .scrape_until("both messages acknowledged", |s| {
                s.get("stompede_destination_messages_acked_total", &q) == Some(2.0)
                    && s.get("stompede_destination_messages_unacked", &q) == Some(0.0)
            })
            .await;
    }

    publish(&broker, "/queue/iridium-1.2", &["one"]).await;
    let mut c = subscribed(
        &broker,
        "1.2",
        "/queue/iridium-1.2",
        "7",
        "client-individual",
    )
    .await;
    let one = c.read_raw_frame().await;
    let ack = format!(
        "ACK\nid:{}\nsubscription:7\nreceipt:a\n\n\0",
        raw_header(&one, "message-id")
    );
    c.send(ack.as_bytes()).await;
    let err = c.read_frame().await;
    assert_eq!(err.command, Command::Error, "{err:?}");
    assert_eq!(err.header("receipt-id"), Some("a"));
    c.expect_closed().await;
}

/// Clients check the broker's heart-beats with little slack: stompit allows
/// the agreed interval plus 100 ms, stomp.py 1.5 intervals. The broker must
/// send something at least every agreed interval, so its heart-beats leave
/// room below it rather than landing on it.
#[tokio::test]
async fn stompit_heart_beats_arrive_well_within_the_agreed_interval() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[
            ("accept-version", "1.2"),
            ("host", "/"),
            ("heart-beat", "0,1000"),
        ])
        .await;
    assert_eq!(f.header("heart-beat"), Some("1000,0"));
    let mut last = Instant::now();
    let mut gaps = Vec::new();
    while gaps.len() < 6 {
        let chunk = raw
            .read_chunk(Duration::from_secs(2))
            .await
            .expect("no heart-beat for 2 s");
        assert!(!chunk.is_empty(), "connection closed");
        assert!(chunk.iter().all(|b| *b == b'\n'), "{chunk:?}");
        gaps.push(last.elapsed());
        last = Instant::now();
    }
    let longest = gaps.iter().max().copied().unwrap_or_default();
    assert!(
        longest < Duration::from_millis(900),
        "a 1000 ms heart-beat left a {longest:?} gap: {gaps:?}"
    );
}
