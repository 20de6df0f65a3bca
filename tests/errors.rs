//! Malformed input: each case gets one ERROR frame with a `message` header,
//! a body explaining it, `receipt-id` when the bad frame carried `receipt`,
//! and then the connection closes. Other clients are unaffected.

mod common;

use common::*;
use stompede::protocol::{Command, Frame};

/// Connects with `version`, writes `bytes` as they are, and expects an ERROR
/// (returned) followed by the close.
async fn error_for(broker: &TestBroker, version: &str, bytes: &[u8]) -> Frame {
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[("accept-version", version), ("host", "/")])
        .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    raw.send(bytes).await;
    let err = raw.read_frame().await;
    let shown = String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(err.command, Command::Error, "for {shown:?}: {err:?}");
    let message = err.header("message").unwrap_or("");
    assert!(
        !message.is_empty(),
        "no message header for {shown:?}: {err:?}"
    );
    assert!(
        !err.body.is_empty(),
        "ERROR body should explain {shown:?}: {err:?}"
    );
    assert_eq!(
        err.header("content-type"),
        Some("text/plain;charset=utf-8"),
        "{err:?}"
    );
    raw.expect_closed().await;
    err
}

/// As `error_for`, and the ERROR names the receipt and mentions `mentions`.
async fn receipted_error(broker: &TestBroker, version: &str, bytes: &[u8], mentions: &str) {
    let err = error_for(broker, version, bytes).await;
    let shown = String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(
        err.header("receipt-id"),
        Some("bad-1"),
        "for {shown:?}: {err:?}"
    );
    let message = err.header("message").unwrap_or("");
    assert!(
        message.contains(mentions),
        "message for {shown:?} should mention {mentions:?}: {message:?}"
    );
}

#[tokio::test]
async fn unknown_command() {
    let broker = TestBroker::start();
    let err = error_for(&broker, "1.2", b"FROB\nreceipt:bad-1\n\n\0").await;
    assert!(
        err.header("message").unwrap_or("").contains("FROB"),
        "{err:?}"
    );
    // Commands are case-sensitive.
    error_for(&broker, "1.2", b"send\ndestination:/queue/a\n\n\0").await;
}

#[tokio::test]
async fn missing_destination_on_send_and_subscribe() {
    let broker = TestBroker::start();
    for v in ["1.0", "1.1", "1.2"] {
        receipted_error(&broker, v, b"SEND\nreceipt:bad-1\n\nx\0", "destination").await;
        receipted_error(
            &broker,
            v,
            b"SUBSCRIBE\nid:1\nreceipt:bad-1\n\n\0",
            "destination",
        )
        .await;
    }
}

#[tokio::test]
async fn missing_id_on_subscribe_and_unsubscribe_in_1_1_and_1_2() {
    let broker = TestBroker::start();
    for v in ["1.1", "1.2"] {
        receipted_error(
            &broker,
            v,
            b"SUBSCRIBE\ndestination:/queue/a\nreceipt:bad-1\n\n\0",
            "id",
        )
        .await;
        receipted_error(&broker, v, b"UNSUBSCRIBE\nreceipt:bad-1\n\n\0", "id").await;
    }
}

#[tokio::test]
async fn missing_id_on_ack_and_nack_in_1_2() {
    let broker = TestBroker::start();
    for cmd in ["ACK", "NACK"] {
        let frame = format!("{cmd}\nreceipt:bad-1\n\n\0");
        receipted_error(&broker, "1.2", frame.as_bytes(), "id").await;
        let frame = format!("{cmd}\nreceipt:bad-1\ntransaction:t\n\n\0");
        receipted_error(&broker, "1.2", frame.as_bytes(), "id").await;
    }
}

#[tokio::test]
async fn missing_transaction_on_begin_commit_abort() {
    let broker = TestBroker::start();
    for cmd in ["BEGIN", "COMMIT", "ABORT"] {
        let frame = format!("{cmd}\nreceipt:bad-1\n\n\0");
        receipted_error(&broker, "1.2", frame.as_bytes(), "transaction").await;
    }
}

#[tokio::test]
async fn bad_escape_sequence() {
    let broker = TestBroker::start();
    for bad in [&b"x:a\\tb"[..], b"x:trailing\\", b"x\\q:v"] {
        let mut frame = b"SEND\ndestination:/queue/a\nreceipt:bad-1\n".to_vec();
        frame.extend_from_slice(bad);
        frame.extend_from_slice(b"\n\nbody\0");
        receipted_error(&broker, "1.2", &frame, "escape").await;
    }
    // \r is not an escape in 1.1.
    receipted_error(
        &broker,
        "1.1",
        b"SEND\ndestination:/queue/a\nreceipt:bad-1\nx:a\\rb\n\n\0",
        "escape",
    )
    .await;
}

#[tokio::test]
async fn content_length_not_followed_by_nul() {
    let broker = TestBroker::start();
    receipted_error(
        &broker,
        "1.2",
        b"SEND\ndestination:/queue/a\nreceipt:bad-1\ncontent-length:3\n\nabcd\0",
        "NUL",
    )
    .await;
}

#[tokio::test]
async fn invalid_content_length() {
    let broker = TestBroker::start();
    for value in ["abc", "-1", "1.5", ""] {
        let frame =
            format!("SEND\ndestination:/queue/a\nreceipt:bad-1\ncontent-length:{value}\n\nx\0");
        receipted_error(&broker, "1.2", frame.as_bytes(), "content-length").await;
    }
}

#[tokio::test]
async fn non_utf8_header() {
    let broker = TestBroker::start();
    receipted_error(
        &broker,
        "1.2",
        b"SEND\ndestination:/queue/a\nreceipt:bad-1\nx-bad:\xff\xfe\n\nbody\0",
        "UTF-8",
    )
    .await;
    receipted_error(
        &broker,
        "1.0",
        b"SEND\ndestination:/queue/a\nreceipt:bad-1\n\xc3(:v\n\nbody\0",
        "UTF-8",
    )
    .await;
}

#[tokio::test]
async fn header_line_without_colon() {
    let broker = TestBroker::start();
    receipted_error(
        &broker,
        "1.2",
        b"SEND\ndestination:/queue/a\nreceipt:bad-1\nno-colon-here\n\nbody\0",
        "':'",
    )
    .await;
}

#[tokio::test]
async fn server_frames_and_a_second_connect_are_refused() {
    let broker = TestBroker::start();
    for cmd in [
        "MESSAGE",
        "RECEIPT",
        "ERROR",
        "CONNECTED",
        "CONNECT",
        "STOMP",
    ] {
        let frame = format!("{cmd}\nreceipt:bad-1\n\n\0");
        error_for(&broker, "1.2", frame.as_bytes()).await;
    }
}

#[tokio::test]
async fn other_clients_are_unaffected_by_a_bad_one() {
    let broker = TestBroker::start();
    let mut sub = broker.client().await;
    sub.subscribe("/queue/calm", "s", "auto").await;
    let mut producer = broker.client().await;
    for bad in [
        &b"FROB\n\n\0"[..],
        b"SEND\nx:\\q\n\n\0",
        b"SEND\ndestination:/queue/calm\ncontent-length:1\n\nxy\0",
        b"SEND\n\n\0",
    ] {
        error_for(&broker, "1.2", bad).await;
        producer.publish("/queue/calm", "fine", &[]).await;
        let m = sub.expect(Command::Message).await;
        assert_eq!(&m.body[..], b"fine");
    }
    sub.disconnect().await;
    producer.disconnect().await;
}
