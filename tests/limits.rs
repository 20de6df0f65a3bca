//! Every configurable limit, each hit: frame size, header count, header line,
//! command length, subscriptions per connection, concurrent connections.
//! Each test also shows a frame just inside the limit being accepted.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

/// A raw 1.2 session on `broker`.
async fn session(broker: &TestBroker) -> RawClient {
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    raw
}

/// Reads an ERROR whose message mentions `mentions`, then the close.
async fn expect_limit_error(raw: &mut RawClient, mentions: &str) -> Frame {
    let err = raw.read_frame().await;
    assert_eq!(err.command, Command::Error, "{err:?}");
    let message = err.header("message").unwrap_or("");
    assert!(
        message.contains(mentions),
        "message should mention {mentions:?}: {err:?}"
    );
    raw.expect_closed().await;
    err
}

/// Sends `frame` with a receipt and expects the RECEIPT (the frame was fine).
async fn expect_accepted(raw: &mut RawClient, frame_without_end: &str, body: &[u8]) {
    let mut bytes = format!("{frame_without_end}receipt:ok\n\n").into_bytes();
    bytes.extend_from_slice(body);
    bytes.push(0);
    raw.send(&bytes).await;
    let r = raw.read_frame().await;
    assert_eq!(r.command, Command::Receipt, "{r:?}");
}

#[tokio::test]
async fn frame_over_max_frame_size_is_refused_as_soon_as_content_length_is_known() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_FRAME_SIZE", "1024")]);
    let mut raw = session(&broker).await;
    expect_accepted(&mut raw, "SEND\ndestination:/queue/big\n", &[b'a'; 900]).await;
    // Only the headers are sent: the ERROR must come without the body.
    raw.send(b"SEND\ndestination:/queue/big\nreceipt:big-1\ncontent-length:100000\n\n")
        .await;
    let err = expect_limit_error(&mut raw, "larger than 1024").await;
    assert_eq!(err.header("receipt-id"), Some("big-1"));
}

#[tokio::test]
async fn frame_without_content_length_is_refused_once_it_passes_the_limit() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_FRAME_SIZE", "1024")]);
    let mut raw = session(&broker).await;
    // No NUL yet: the broker must not wait for one past the limit.
    let mut frame = b"SEND\ndestination:/queue/big\n\n".to_vec();
    frame.extend_from_slice(&[b'a'; 2000]);
    raw.send(&frame).await;
    expect_limit_error(&mut raw, "larger than 1024").await;
}

#[tokio::test]
async fn default_frame_size_limit_is_4_mib() {
    let broker = TestBroker::start();
    let mut raw = session(&broker).await;
    raw.send(b"SEND\ndestination:/queue/big\ncontent-length:4194304\n\n")
        .await;
    expect_limit_error(&mut raw, "larger than 4194304").await;
    let mut raw = session(&broker).await;
    expect_accepted(
        &mut raw,
        "SEND\ndestination:/queue/big\n",
        &vec![b'x'; 4_000_000],
    )
    .await;
}

#[tokio::test]
async fn max_headers() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_HEADERS", "5")]);
    let mut raw = session(&broker).await;
    // destination + 3 + receipt = 5 headers: fine.
    expect_accepted(&mut raw, "SEND\ndestination:/queue/h\na:1\nb:2\nc:3\n", b"").await;
    raw.send(b"SEND\ndestination:/queue/h\na:1\nb:2\nc:3\nd:4\ne:5\n\n\0")
        .await;
    expect_limit_error(&mut raw, "too many headers").await;
}

#[tokio::test]
async fn max_header_line() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_HEADER_LINE", "64")]);
    let mut raw = session(&broker).await;
    let exactly = format!("x:{}", "v".repeat(62));
    assert_eq!(exactly.len(), 64);
    expect_accepted(
        &mut raw,
        &format!("SEND\ndestination:/queue/l\n{exactly}\n"),
        b"",
    )
    .await;
    let over = format!("x:{}", "v".repeat(63));
    raw.send(format!("SEND\ndestination:/queue/l\n{over}\n\n\0").as_bytes())
        .await;
    expect_limit_error(&mut raw, "header line longer than 64").await;
    // An endless header line is refused without waiting for its end.
    let mut raw = session(&broker).await;
    raw.send(format!("SEND\ndestination:/queue/l\nx:{}", "v".repeat(500)).as_bytes())
        .await;
    expect_limit_error(&mut raw, "header line longer than 64").await;
}

#[tokio::test]
async fn max_command_len() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_COMMAND_LEN", "11")]);
    let mut raw = session(&broker).await;
    // UNSUBSCRIBE is 11 bytes.
    raw.send(b"SUBSCRIBE\ndestination:/queue/c\nid:1\n\n\0")
        .await;
    expect_accepted(&mut raw, "UNSUBSCRIBE\nid:1\n", b"").await;
    raw.send(b"XUNSUBSCRIBE\n\n\0").await;
    expect_limit_error(&mut raw, "command line longer than 11").await;
    // A command line with no end in sight is refused before its EOL.
    let mut raw = session(&broker).await;
    raw.send(&[b'A'; 200]).await;
    expect_limit_error(&mut raw, "command line longer than 11").await;
}

#[tokio::test]
async fn max_subscriptions() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_SUBSCRIPTIONS", "2")]);
    let mut c = broker.client().await;
    c.subscribe("/queue/s1", "1", "auto").await;
    c.subscribe("/topic/s2", "2", "auto").await;
    // Freeing one makes room again.
    c.send_with_receipt(Frame::new(Command::Unsubscribe).with_header("id", "1"), "u")
        .await;
    c.subscribe("/queue/s3", "3", "auto").await;
    let third = Frame::new(Command::Subscribe)
        .with_header("destination", "/queue/s4")
        .with_header("id", "4")
        .with_header("receipt", "sub-4");
    c.send(third).await;
    let err = c.expect_error().await;
    assert_eq!(err.header("receipt-id"), Some("sub-4"));
    assert!(
        err.header("message")
            .unwrap_or("")
            .contains("too many subscriptions"),
        "{err:?}"
    );
    // The limit is per connection.
    let mut other = broker.client().await;
    other.subscribe("/queue/s1", "1", "auto").await;
    other.subscribe("/queue/s2", "2", "auto").await;
}

#[tokio::test]
async fn max_connections() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_CONNECTIONS", "2")]);
    let first = broker.client().await;
    let mut second = broker.client().await;
    // One more is told why, then closed.
    let mut extra = broker.raw().await;
    let err = extra.read_frame().await;
    assert_eq!(err.command, Command::Error, "{err:?}");
    assert_eq!(err.header("message"), Some("too many connections"));
    extra.expect_closed().await;

    first.disconnect().await;
    // The slot frees once the broker has processed the close: poll for it.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut third = loop {
        let headers = [("accept-version", "1.2"), ("host", "/")];
        if let Some(c) = Client::connect_if_accepted(broker.stomp(), &headers).await {
            break c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "closed connection's slot never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Both remaining connections work.
    third.subscribe("/queue/mc", "s", "auto").await;
    second.publish("/queue/mc", "hi", &[]).await;
    assert_eq!(&third.expect(Command::Message).await.body[..], b"hi");
}
