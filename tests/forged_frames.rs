//! Bytes that would let one client forge frames for others, or cut the
//! broker's own frames short: a NUL inside a header (issue 18, item 8) and
//! client bytes quoted in an ERROR's `message` (item 12). A real broker,
//! raw sockets, byte-exact reads.

mod common;

use common::*;
use stompede::protocol::Command;

/// A 1.2 session on a raw socket.
async fn session(broker: &TestBroker) -> RawClient {
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    raw
}

/// Subscribes `raw` to `destination` and waits for the receipt.
async fn subscribe(raw: &mut RawClient, destination: &str) {
    let frame = format!("SUBSCRIBE\ndestination:{destination}\nid:s\nreceipt:sub\n\n\0");
    raw.send(frame.as_bytes()).await;
    let r = raw.read_frame().await;
    assert_eq!(r.command, Command::Receipt, "{r:?}");
}

/// The SEND of the issue: a NUL inside header `x` ends a subscriber's frame
/// there, and the header lines after it read as a second, forged MESSAGE.
fn forged_send(destination: &str) -> Vec<u8> {
    let mut f = format!("SEND\ndestination:{destination}\nx:junk").into_bytes();
    f.push(0);
    f.extend_from_slice(b"MESSAGE\nsubscription:s\nmessage-id:forged\n");
    f.extend_from_slice(format!("destination:{destination}\nreceipt:forge\n").as_bytes());
    f.extend_from_slice(b"content-length:4\n\nreal\0");
    f
}

#[tokio::test]
async fn nul_in_a_header_value_is_an_error_and_nothing_is_relayed() {
    let broker = TestBroker::start();
    let mut subscriber = session(&broker).await;
    subscribe(&mut subscriber, "/topic/forge").await;

    let mut attacker = session(&broker).await;
    attacker.send(&forged_send("/topic/forge")).await;
    let err = attacker.read_frame().await;
    assert_eq!(err.command, Command::Error, "{err:?}");
    let message = err.header("message").unwrap_or_default();
    assert!(
        message.contains("NUL"),
        "message should say why: {message:?}"
    );
    attacker.expect_closed().await;

    // The first frame the subscriber sees after the attack is a clean marker:
    // neither the truncated SEND nor the forged MESSAGE reached it.
    let mut producer = session(&broker).await;
    producer
        .send(b"SEND\ndestination:/topic/forge\nreceipt:m\ncontent-length:6\n\nmarker\0")
        .await;
    assert_eq!(producer.read_frame().await.command, Command::Receipt);
    let first = subscriber.read_raw_frame().await;
    let text = String::from_utf8_lossy(&first).into_owned();
    assert!(text.starts_with("MESSAGE\n"), "{text:?}");
    assert!(
        text.ends_with("\n\nmarker\0"),
        "forged bytes relayed: {text:?}"
    );
    assert_eq!(first.iter().filter(|&&b| b == 0).count(), 1, "{text:?}");
}

#[tokio::test]
async fn nul_in_a_header_name_or_the_connect_frame_is_an_error() {
    let broker = TestBroker::start();
    let mut raw = session(&broker).await;
    raw.send(b"SEND\ndestination:/queue/n\nna\0me:v\ncontent-length:0\n\n\0")
        .await;
    let err = raw.read_frame().await;
    assert_eq!(err.command, Command::Error, "{err:?}");
    assert!(err.header("message").unwrap_or_default().contains("NUL"));
    raw.expect_closed().await;

    // CONNECT headers are never unescaped, but a NUL is still refused.
    let mut raw = broker.raw().await;
    raw.send(b"CONNECT\naccept-version:1.2\nlogin:a\0b\nhost:/\n\n\0")
        .await;
    let err = raw.read_frame().await;
    assert_eq!(err.command, Command::Error, "{err:?}");
    assert!(err.header("message").unwrap_or_default().contains("NUL"));
    raw.expect_closed().await;
}

#[tokio::test]
async fn error_message_never_quotes_control_bytes_raw() {
    let broker = TestBroker::start();
    let mut raw = session(&broker).await;
    raw.send(b"F\0O\n\n\0").await;
    // The whole ERROR frame is one frame: its only NUL is the terminator,
    // and the message names the command with the NUL made visible.
    let frame = raw.read_raw_frame().await;
    let text = String::from_utf8_lossy(&frame).into_owned();
    assert_eq!(frame.iter().filter(|&&b| b == 0).count(), 1, "{text:?}");
    assert!(text.starts_with("ERROR\n"), "{text:?}");
    let message = text
        .lines()
        .find_map(|l| l.strip_prefix("message:"))
        .unwrap_or_default();
    // On the wire the backslash of `\x00` is itself escaped, as 1.2 requires.
    assert_eq!(message, "unknown command 'F\\\\x00O'", "{text:?}");
    raw.expect_closed().await;

    // Before CONNECT too, where the ERROR is written without escaping.
    let mut raw = broker.raw().await;
    raw.send(b"X\x01\x1b[2J\n\n\0").await;
    let frame = raw.read_raw_frame().await;
    let text = String::from_utf8_lossy(&frame).into_owned();
    assert!(
        !frame[..frame.len() - 1]
            .iter()
            .any(|b| b.is_ascii_control() && *b != b'\n'),
        "control bytes quoted raw: {text:?}"
    );
    assert!(
        text.contains("message:unknown command 'X\\x01\\x1b[2J'"),
        "{text:?}"
    );
}

#[tokio::test]
async fn error_message_quoting_a_long_value_is_bounded() {
    let broker = TestBroker::start();
    let mut raw = session(&broker).await;
    let long = "9".repeat(4000);
    let frame = format!("SEND\ndestination:/queue/l\ncontent-length:{long}x\n\n\0");
    raw.send(frame.as_bytes()).await;
    let err = raw.read_frame().await;
    assert_eq!(err.command, Command::Error, "{err:?}");
    let message = err.header("message").unwrap_or_default();
    assert!(
        message.starts_with("invalid content-length '999"),
        "{message:?}"
    );
    assert!(message.len() <= 512, "{} bytes quoted", message.len());
    assert!(message.ends_with('…'), "truncation is shown: {message:?}");
}
