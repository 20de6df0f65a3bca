//! Interop with a published Rust STOMP client: iridium-stomp (crates.io,
//! pinned in `[dev-dependencies]`) runs the interop scenario of
//! `tests/interop.rs` against a broker with `auth.anonymous = false`, then the
//! broker's metrics confirm what the client could not see: no heart-beat
//! timeout, no hidden reconnect, the NACK counted, nothing left unacknowledged.
//!
//! iridium-stomp is a STOMP 1.2 client; it confirms frames only through
//! `send_frame_with_receipt` (its SUBSCRIBE, ACK, NACK, BEGIN, COMMIT and ABORT
//! helpers ask for no receipt), so those are confirmed by the receipt of the
//! next frame: the broker handles one connection's frames in order.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use iridium_stomp::{AckMode, ConnError, ConnectOptions, Connection, Frame, Subscription};
use tokio::sync::mpsc;

const CONFIG: &str = r#"
[auth]
anonymous = false
users = [{ login = "interop", passcode = "secret" }]
"#;

fn options(version: &str) -> ConnectOptions {
    ConnectOptions::default()
        .accept_version(version)
        .connect_timeout(TIMEOUT)
        .disconnect_timeout(TIMEOUT)
}

fn header<'a>(f: &'a Frame, name: &str) -> Option<&'a str> {
    f.get_header(name)
}

async fn next(sub: &mut Subscription, what: &str) -> Frame {
    tokio::time::timeout(TIMEOUT, sub.next())
        .await
        .unwrap_or_else(|_| panic!("no MESSAGE within {TIMEOUT:?} while waiting for {what}"))
        .unwrap_or_else(|| panic!("subscription ended while waiting for {what}"))
}

/// Sends `frame` with a receipt and waits for it; on failure, the panic
/// names the ERROR the broker sent, if any.
async fn confirmed(conn: &Connection, frame: Frame) {
    let what = format!("{frame}");
    if let Err(e) = conn.send_frame_confirmed(frame, TIMEOUT).await {
        let error = tokio::time::timeout(Duration::from_millis(100), conn.next_frame()).await;
        panic!("no RECEIPT for {what}: {e}; pending: {error:?}");
    }
}

fn send(destination: &str, body: impl Into<Vec<u8>>) -> Frame {
    Frame::new("SEND")
        .header("destination", destination)
        .set_body(body)
}

#[tokio::test]
async fn iridium_stomp_1_2() {
    scenario("1.2").await;
}

#[tokio::test]
async fn iridium_stomp_1_1() {
    scenario("1.1").await;
}

#[tokio::test]
async fn iridium_stomp_1_0() {
    scenario("1.0").await;
}

async fn scenario(version: &str) {
    let broker = TestBroker::with_config(CONFIG, &[]);
    let addr = broker.stomp().to_string();
    let queue_dest = format!("/queue/interop.iridium.{version}");
    let topic_dest = format!("/topic/interop.iridium.{version}");
    let (queue_dest, topic_dest) = (queue_dest.as_str(), topic_dest.as_str());

    // A wrong passcode is refused, and the client reports it as such.
    let refused =
        Connection::connect_with_options(&addr, "interop", "wrong", "1000,1000", options(version))
            .await;
    match refused {
        Err(ConnError::ServerRejected(e)) => assert_eq!(e.message, "authentication failed"),
        Err(e) => panic!("wrong passcode: expected ServerRejected, got {e}"),
        Ok(_) => panic!("wrong passcode: connected"),
    }

    // Connect with heart-beats; the notifier counts the broker's heart-beats.
    let (beats_tx, mut beats) = mpsc::channel(64);
    let conn = Connection::connect_with_options(
        &addr,
        "interop",
        "secret",
        "1000,1000",
        options(version).heartbeat_notify(beats_tx),
    )
    .await
    .unwrap_or_else(|e| panic!("connect: {e}"));
    let gauge = [("transport", "tcp"), ("version", version)];
    broker
        .scrape_until("the connection counted under its version", |s| {
            s.get("stompede_connections", &gauge) == Some(1.0)
        })
        .await;

    let queue_ack = if version == "1.0" {
        AckMode::Client
    } else {
        AckMode::ClientIndividual
    };
    let mut queue = conn
        .subscribe(queue_dest, queue_ack)
        .await
        .expect("subscribe queue");
    let mut topic = conn
        .subscribe(topic_dest, AckMode::Auto)
        .await
        .expect("subscribe topic");

    // Send with a receipt, user headers and a content-type; receive them intact.
    // The client escapes header values in every version, 1.0 included (see
    // docs-interop.md), so 1.0 gets a value that needs no escaping there.
    let tricky = if version == "1.0" {
        "plain value"
    } else {
        "a:b\\c\nd"
    };
    let body = "héllo ✓";
    confirmed(
        &conn,
        send(topic_dest, body)
            .header("content-type", "text/plain;charset=utf-8")
            .header("x-interop", "iridium-stomp")
            .header("x-tricky", tricky),
    )
    .await;
    let msg = next(&mut topic, "the topic message").await;
    assert_eq!(header(&msg, "destination"), Some(topic_dest), "{msg}");
    assert_eq!(header(&msg, "subscription"), Some(topic.id()), "{msg}");
    assert!(header(&msg, "message-id").is_some(), "{msg}");
    assert_eq!(header(&msg, "x-interop"), Some("iridium-stomp"), "{msg}");
    assert_eq!(header(&msg, "x-tricky"), Some(tricky), "{msg}");
    assert_eq!(
        header(&msg, "content-type"),
        Some("text/plain;charset=utf-8"),
        "{msg}"
    );
    assert_eq!(msg.body, body.as_bytes());
    assert_eq!(
        header(&msg, "ack"),
        None,
        "auto-ack MESSAGE with an ack header"
    );

    // A binary body with NUL bytes (the client adds content-length itself).
    let mut payload = b"\0bin\0ary\0".to_vec();
    payload.extend(0..=255u8);
    confirmed(
        &conn,
        send(queue_dest, payload.clone()).header("content-type", "application/octet-stream"),
    )
    .await;
    let first = next(&mut queue, "the binary message").await;
    assert_eq!(first.body, payload, "binary body differs");
    let length = payload.len().to_string();
    assert_eq!(header(&first, "content-length"), Some(length.as_str()));
    assert_eq!(
        header(&first, "content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(header(&first, "redelivered"), None);
    assert_eq!(
        header(&first, "ack").is_some(),
        version == "1.2",
        "an ack header in 1.2 only: {first}"
    );

    if version == "1.0" {
        // 1.0 has no NACK: leave the message unacknowledged and subscribe again.
        queue.unsubscribe().await.expect("unsubscribe");
        queue = conn
            .subscribe(queue_dest, AckMode::Client)
            .await
            .expect("subscribe again");
    } else {
        queue.nack_frame(&first).await.expect("nack");
    }
    let again = next(&mut queue, "the redelivered binary message").await;
    assert_eq!(again.body, payload);
    assert_eq!(header(&again, "redelivered"), Some("true"), "{again}");
    assert_eq!(
        header(&again, "message-id"),
        header(&first, "message-id"),
        "redelivery with another message-id"
    );
    queue.ack_frame(&again).await.expect("ack");

    // A committed transaction: its SEND is held until COMMIT.
    conn.begin("tx-commit").await.expect("begin");
    confirmed(
        &conn,
        send(queue_dest, "committed").header("transaction", "tx-commit"),
    )
    .await;
    confirmed(&conn, send(queue_dest, "outside")).await;
    let msg = next(&mut queue, "the message sent outside the transaction").await;
    assert_eq!(
        body_text(&msg),
        "outside",
        "transaction leaked before COMMIT"
    );
    queue.ack_frame(&msg).await.expect("ack");
    conn.commit("tx-commit").await.expect("commit");
    let msg = next(&mut queue, "the committed message").await;
    assert_eq!(body_text(&msg), "committed");
    queue.ack_frame(&msg).await.expect("ack");

    // An aborted transaction: its SEND is never delivered.
    conn.begin("tx-abort").await.expect("begin");
    confirmed(
        &conn,
        send(queue_dest, "aborted").header("transaction", "tx-abort"),
    )
    .await;
    conn.abort("tx-abort").await.expect("abort");
    confirmed(&conn, send(queue_dest, "after-abort")).await;
    let msg = next(&mut queue, "the message sent after ABORT").await;
    assert_eq!(body_text(&msg), "after-abort", "aborted SEND delivered");
    queue.ack_frame(&msg).await.expect("ack");

    // Unsubscribe from the topic; a later topic message is not delivered
    // (it would surface in next_frame() as matching no subscription).
    topic.unsubscribe().await.expect("unsubscribe");
    confirmed(&conn, send(topic_dest, "unheard")).await;
    confirmed(&conn, send(queue_dest, "fence")).await;
    let msg = next(&mut queue, "the queue message after unsubscribing").await;
    assert_eq!(body_text(&msg), "fence");
    queue.ack_frame(&msg).await.expect("ack");
    if let Ok(f) = tokio::time::timeout(Duration::from_millis(300), conn.next_frame()).await {
        panic!("unexpected frame after UNSUBSCRIBE: {f:?}");
    }

    if version != "1.0" {
        // Idle for 3.5 s: heart-beats both ways keep the connection open.
        while beats.try_recv().is_ok() {}
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert!(
            beats.try_recv().is_ok(),
            "no heart-beat from the broker while idle"
        );
        confirmed(&conn, send(queue_dest, "still-here")).await;
        let msg = next(&mut queue, "the message sent after the idle period").await;
        queue.ack_frame(&msg).await.expect("ack");
    }

    // No silent reconnect during the scenario: exactly the refused and the
    // real connection so far. (Checked before DISCONNECT: once the broker
    // closes the socket after the receipt, the library's background task may
    // race to reconnect before close() has shut it down.)
    let s = broker.scrape().await;
    let opened = s.value("stompede_connections_opened_total", &[("transport", "tcp")]);
    let timeouts = s.value("stompede_heartbeat_timeouts_total", &[]);
    assert_eq!(
        opened, 2.0,
        "connections opened during the scenario (broker heart-beat timeouts: {timeouts})"
    );

    // Disconnect with a receipt (close() waits for it).
    drop(queue);
    conn.close().await.expect("DISCONNECT receipt");
    let who = format!("iridium-stomp {version}");
    assert_interop_run_settled(&broker, queue_dest, version, &who).await;
}

fn body_text(f: &Frame) -> String {
    String::from_utf8_lossy(&f.body).into_owned()
}
