//! A 1.0 subscriber gets frames no producer can break (issue 18, item 9).
//! STOMP 1.0 has no header escaping, so a value a 1.2 producer escaped
//! (`\n`, `\r`, `\c`) cannot be written back as it is: a raw line feed would
//! start a header line, or a blank line and a body, of the producer's choosing.
//! A real broker, raw sockets, byte-exact reads.

mod common;

use common::*;
use stompede::protocol::Command;

/// A raw session speaking `version`.
async fn session(broker: &TestBroker, version: &str) -> RawClient {
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[("accept-version", version), ("host", "/")])
        .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    assert_eq!(f.header("version"), Some(version), "{f:?}");
    raw
}

/// The header lines and the body of one raw MESSAGE.
fn split(frame: &[u8]) -> (Vec<String>, String) {
    let text = String::from_utf8_lossy(frame).into_owned();
    let (head, body) = text
        .split_once("\n\n")
        .expect("a blank line ends the headers");
    let lines = head.split('\n').map(str::to_string).collect();
    (lines, body.trim_end_matches('\0').to_string())
}

#[tokio::test]
async fn escaped_line_breaks_from_a_1_2_producer_cannot_forge_1_0_headers_or_body() {
    let broker = TestBroker::start();
    let mut subscriber = session(&broker, "1.0").await;
    subscriber
        .send(b"SUBSCRIBE\ndestination:/queue/v10\nreceipt:sub\n\n\0")
        .await;
    let r = subscriber.read_raw_frame().await;
    assert!(
        r.starts_with(b"RECEIPT\n"),
        "{:?}",
        String::from_utf8_lossy(&r)
    );

    // Unescaped: x = "a\nforged:yes", y = "b\r\n\r\nfake", and a header named
    // "na:me", which 1.0 would read as header "na".
    let mut producer = session(&broker, "1.2").await;
    producer
        .send(
            b"SEND\ndestination:/queue/v10\nx:a\\nforged\\cyes\ny:b\\r\\n\\r\\nfake\n\
              na\\cme:v\nok:plain\\cvalue\nreceipt:p\ncontent-length:4\n\nreal\0",
        )
        .await;
    assert_eq!(producer.read_frame().await.command, Command::Receipt);

    let frame = subscriber.read_raw_frame().await;
    let (lines, body) = split(&frame);
    assert_eq!(lines[0], "MESSAGE", "{lines:?}");
    assert_eq!(body, "real", "{lines:?}");
    assert!(lines.contains(&"x:a forged:yes".to_string()), "{lines:?}");
    assert!(lines.contains(&"y:b    fake".to_string()), "{lines:?}");
    assert!(lines.contains(&"ok:plain:value".to_string()), "{lines:?}");
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("forged") || l.starts_with("na") || l.contains('\r')),
        "{lines:?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("content-length:"))
            .count(),
        1,
        "{lines:?}"
    );
    assert_eq!(frame.iter().filter(|&&b| b == 0).count(), 1);
}

#[tokio::test]
async fn a_1_2_subscriber_still_gets_every_value_escaped_exactly() {
    let broker = TestBroker::start();
    let mut subscriber = session(&broker, "1.2").await;
    subscriber
        .send(b"SUBSCRIBE\ndestination:/queue/v12\nid:s\nreceipt:sub\n\n\0")
        .await;
    assert_eq!(subscriber.read_frame().await.command, Command::Receipt);
    let mut producer = session(&broker, "1.2").await;
    producer
        .send(
            b"SEND\ndestination:/queue/v12\nx:a\\nforged\\cyes\nna\\cme:v\n\
              receipt:p\ncontent-length:4\n\nreal\0",
        )
        .await;
    assert_eq!(producer.read_frame().await.command, Command::Receipt);
    let m = subscriber.read_frame().await;
    assert_eq!(m.header("x"), Some("a\nforged:yes"), "{m:?}");
    assert_eq!(m.header("na:me"), Some("v"), "{m:?}");
    assert_eq!(body(&m), "real");
}
