//! Regression test over raw frames for PHP's stomp extension (PECL stomp
//! 2.0.3, Debian `php-stomp`; its scenario runs in `tests/interop.rs`).
//!
//! The extension reads one byte past every frame's NUL, expecting the EOL
//! that ActiveMQ writes there: after a body read by `content-length` it reads
//! two bytes and drops the frame unless they are NUL and LF; after a frame
//! without `content-length` it swallows the next byte unchecked. When two
//! frames arrived together (a SEND's RECEIPT and the MESSAGE it caused), the
//! next frame lost its first byte (`ECEIPT`), and a SEND's receipt was never
//! seen. The spec allows EOLs after the NUL (1.2: `NULL *( EOL )`), so
//! stompede ends every frame it writes with NUL and one LF.

mod common;

use common::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Reads one frame byte by byte, as the extension does: up to and including
/// the NUL, found by `content-length` when there is one.
async fn frame_to_nul(raw: &mut RawClient) -> Vec<u8> {
    let mut frame = Vec::new();
    while !frame.ends_with(b"\n\n") {
        frame.extend(raw.read_exact(1).await);
    }
    let length = text(&frame)
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.parse::<usize>().expect("numeric content-length"));
    match length {
        Some(n) => frame.extend(raw.read_exact(n + 1).await),
        None => loop {
            let byte = raw.read_exact(1).await;
            frame.extend(&byte);
            if byte == [0] {
                break;
            }
        },
    }
    assert_eq!(
        frame.last(),
        Some(&0),
        "no NUL after the body: {:?}",
        text(&frame)
    );
    frame
}

/// Asserts that the byte after `frame`'s NUL is an EOL. Callers make sure
/// more bytes follow, so a missing EOL shows as the next frame's first byte.
async fn eol_after(raw: &mut RawClient, frame: &[u8]) {
    let next = raw.read_exact(1).await;
    assert_eq!(
        text(&next),
        "\n",
        "the byte after the NUL of {:?} is not an EOL",
        text(frame)
    );
}

/// The extension's failing scenario in every version (1.0 is what it
/// negotiates unless given `accept-version`): CONNECT, SUBSCRIBE
/// client-individual and three SENDs with receipts in one write, so the
/// broker's frames follow each other closely (RECEIPTs and MESSAGEs arrive
/// together); one body is large enough to be written from the producer's
/// buffer. Every frame, CONNECTED and the DISCONNECT receipt included, ends
/// with NUL and LF.
#[tokio::test]
async fn php_stomp_every_frame_ends_with_nul_and_eol() {
    let broker = TestBroker::start();
    let large = "x".repeat(16 * 1024);
    let bodies = ["m1", large.as_str(), "m3"];
    for version in ["1.0", "1.1", "1.2"] {
        let mut raw = broker.raw().await;
        let accept = if version == "1.0" {
            String::new()
        } else {
            format!("accept-version:{version}\nhost:/\n")
        };
        let queue = format!("/queue/php-eol-{version}");
        let mut wire = format!(
            "CONNECT\n{accept}login:php\npasscode:php\n\n\0\
             SUBSCRIBE\nid:q\nack:client-individual\nreceipt:sub\ndestination:{queue}\n\n\0"
        );
        for (i, body) in bodies.iter().enumerate() {
            wire += &format!(
                "SEND\nreceipt:r{}\ndestination:{queue}\ncontent-length:{}\n\n{body}\0",
                i + 1,
                body.len()
            );
        }
        raw.send(wire.as_bytes()).await;

        let connected = frame_to_nul(&mut raw).await;
        assert!(
            text(&connected).starts_with(&format!("CONNECTED\nversion:{version}\n")),
            "{}",
            text(&connected)
        );
        eol_after(&mut raw, &connected).await;
        let sub = frame_to_nul(&mut raw).await;
        assert_eq!(text(&sub), "RECEIPT\nreceipt-id:sub\n\n\0", "{version}");
        eol_after(&mut raw, &sub).await;

        let (mut receipts, mut messages) = (Vec::new(), Vec::new());
        for n in 1..=6 {
            let frame = frame_to_nul(&mut raw).await;
            if n == 6 {
                // Nothing else is due: DISCONNECT makes the next bytes.
                raw.send(b"DISCONNECT\nreceipt:bye\n\n\0").await;
            }
            eol_after(&mut raw, &frame).await;
            let f = text(&frame);
            if let Some(id) = f.strip_prefix("RECEIPT\nreceipt-id:") {
                receipts.push(id.trim_end_matches("\n\n\0").to_string());
            } else {
                assert!(f.starts_with("MESSAGE\n"), "{version}: unexpected {f:?}");
                messages.push(f.split_once("\n\n").map(|(_, b)| b.len() - 1));
            }
        }
        assert_eq!(receipts, ["r1", "r2", "r3"], "{version}");
        let lengths: Vec<_> = bodies.iter().map(|b| Some(b.len())).collect();
        assert_eq!(messages, lengths, "{version}: MESSAGE body lengths");
        assert_eq!(
            text(&raw.read_until_closed().await),
            "RECEIPT\nreceipt-id:bye\n\n\0\n",
            "{version}"
        );
    }
}

/// The value of `name` in a raw frame's header block.
fn raw_header(frame: &[u8], name: &str) -> String {
    let all = text(frame);
    let head = all.split("\n\n").next().unwrap_or_default();
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} header in {head:?}"))
        .to_string()
}

/// The extension's `ack($frame)` and `nack($frame)` send the MESSAGE's own
/// headers back (`subscription`, `message-id`, `ack`, `destination`) and no
/// `id`, in 1.2 too. Without `id`, stompede names the message by
/// `message-id` and `subscription`, as in 1.1.
#[tokio::test]
async fn php_stomp_v1_2_ack_and_nack_echo_the_message_headers() {
    let broker = TestBroker::start();
    let queue = "/queue/php-ack";
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    assert_eq!(f.header("version"), Some("1.2"), "{f:?}");
    raw.send(
        format!("SUBSCRIBE\nid:q\nack:client-individual\nreceipt:sub\ndestination:{queue}\n\n\0")
            .as_bytes(),
    )
    .await;
    assert_eq!(
        text(&raw.read_raw_frame().await),
        "RECEIPT\nreceipt-id:sub\n\n\0"
    );
    let mut producer = broker.client().await;
    producer.publish_sync(queue, "one", &[]).await;
    producer.publish_sync(queue, "two", &[]).await;

    // As the extension writes them: its own receipt first, then the echo.
    let settle = |command: &str, receipt: &str, msg: &[u8]| {
        format!(
            "{command}\nreceipt:{receipt}\nsubscription:{}\nmessage-id:{}\nack:{}\ndestination:{}\n\n\0",
            raw_header(msg, "subscription"),
            raw_header(msg, "message-id"),
            raw_header(msg, "ack"),
            raw_header(msg, "destination"),
        )
    };
    let one = raw.read_raw_frame().await;
    let two = raw.read_raw_frame().await;
    assert!(text(&two).ends_with("\n\ntwo\0"), "{}", text(&two));
    raw.send(settle("NACK", "n", &two).as_bytes()).await;
    // The RECEIPT and the redelivery may come in either order.
    let (a, b) = (raw.read_raw_frame().await, raw.read_raw_frame().await);
    let (receipt, again) = if a.starts_with(b"RECEIPT") {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(text(&receipt), "RECEIPT\nreceipt-id:n\n\n\0");
    assert_eq!(
        raw_header(&again, "redelivered"),
        "true",
        "{}",
        text(&again)
    );
    assert_eq!(
        raw_header(&again, "message-id"),
        raw_header(&two, "message-id")
    );
    for (msg, receipt) in [(&one, "a1"), (&again, "a2")] {
        raw.send(settle("ACK", receipt, msg).as_bytes()).await;
        let got = raw.read_raw_frame().await;
        assert_eq!(text(&got), format!("RECEIPT\nreceipt-id:{receipt}\n\n\0"));
    }
    let q = [("destination", queue), ("kind", "queue")];
    broker
        .scrape_until("one NACK, then both messages acknowledged", |s| {
            s.get("stompede_destination_messages_nacked_total", &q) == Some(1.0)
                && s.get("stompede_destination_messages_acked_total", &q) == Some(2.0)
                && s.get("stompede_destination_messages_unacked", &q) == Some(0.0)
        })
        .await;
}
