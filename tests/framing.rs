//! Framing and escaping on the wire: exact bytes of what the broker writes,
//! LF/CRLF input, heart-beat EOLs between frames, header escaping per
//! version, repeated headers, and bodies with and without content-length.

mod common;

use common::*;
use stompede::protocol::Command;

const SERVER: &str = concat!("stompede/", env!("CARGO_PKG_VERSION"));

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The value of `name` in a raw frame's header block (first occurrence).
fn raw_header(frame: &[u8], name: &str) -> String {
    let head = text(frame);
    let head = head.split("\n\n").next().unwrap_or_default();
    head.lines()
        .skip(1)
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} header in {head:?}"))
        .to_string()
}

/// A raw connection that has negotiated `version` (`None`: no
/// accept-version, i.e. 1.0).
async fn session(broker: &TestBroker, version: Option<&str>) -> RawClient {
    let mut raw = broker.raw().await;
    let mut connect = b"CONNECT\nhost:/\n".to_vec();
    if let Some(v) = version {
        connect.extend_from_slice(format!("accept-version:{v}\n").as_bytes());
    }
    connect.extend_from_slice(b"\n\0");
    raw.send(&connect).await;
    let connected = raw.read_raw_frame().await;
    assert!(
        connected.starts_with(b"CONNECTED\n"),
        "{}",
        text(&connected)
    );
    raw
}

/// SUBSCRIBE with a receipt; returns once the exact RECEIPT bytes arrived.
async fn subscribe(raw: &mut RawClient, destination: &str, id: &str) {
    raw.send(
        format!("SUBSCRIBE\ndestination:{destination}\nid:{id}\nreceipt:sub-{id}\n\n\0").as_bytes(),
    )
    .await;
    let receipt = raw.read_raw_frame().await;
    assert_eq!(
        text(&receipt),
        format!("RECEIPT\nreceipt-id:sub-{id}\n\n\0")
    );
}

#[tokio::test]
async fn connected_frame_bytes_are_exact() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    raw.send(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0").await;
    let got = raw.read_raw_frame().await;
    let session = raw_header(&got, "session");
    assert!(!session.is_empty());
    assert_eq!(
        text(&got),
        format!("CONNECTED\nversion:1.2\nserver:{SERVER}\nsession:{session}\nheart-beat:0,0\n\n\0")
    );
}

#[tokio::test]
async fn message_and_receipt_bytes_are_exact() {
    let broker = TestBroker::start();
    let mut consumer = session(&broker, Some("1.2")).await;
    subscribe(&mut consumer, "/queue/exact", "s1").await;
    let mut producer = session(&broker, Some("1.2")).await;
    producer
        .send(b"SEND\ndestination:/queue/exact\ncontent-type:text/plain;charset=utf-8\nx-note: spaced value \xc3\xa9 \ncontent-length:5\nreceipt:p1\n\nhello\0")
        .await;
    assert_eq!(
        text(&producer.read_raw_frame().await),
        "RECEIPT\nreceipt-id:p1\n\n\0"
    );
    let got = consumer.read_raw_frame().await;
    let id = raw_header(&got, "message-id");
    assert!(id.parse::<u64>().is_ok(), "message-id {id:?}");
    assert_eq!(
        text(&got),
        format!(
            "MESSAGE\nsubscription:s1\nmessage-id:{id}\ndestination:/queue/exact\n\
             content-type:text/plain;charset=utf-8\nx-note: spaced value \u{e9} \n\
             content-length:5\n\nhello\0"
        )
    );
}

#[tokio::test]
async fn error_frame_bytes_are_exact_and_the_connection_closes() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    raw.send(b"SEND\ndestination:/queue/x\nreceipt:r9\n\nhi\0")
        .await;
    let body = "the first frame on a connection must be CONNECT or STOMP";
    assert_eq!(
        text(&raw.read_until_closed().await),
        format!(
            "ERROR\nmessage:expected CONNECT or STOMP, got SEND\nreceipt-id:r9\n\
             content-type:text/plain;charset=utf-8\ncontent-length:{}\n\n{body}\0\n",
            body.len()
        )
    );
}

#[tokio::test]
async fn crlf_line_ends_are_accepted_and_stripped() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    raw.send(b"CONNECT\r\naccept-version:1.2\r\nhost:/\r\n\r\n\0")
        .await;
    let connected = raw.read_frame().await;
    assert_eq!(connected.command, Command::Connected, "{connected:?}");
    raw.send(b"SUBSCRIBE\r\ndestination:/queue/crlf\r\nid:s1\r\nreceipt:r1\r\n\r\n\0")
        .await;
    assert_eq!(
        text(&raw.read_raw_frame().await),
        "RECEIPT\nreceipt-id:r1\n\n\0",
        "CR must not end up in the receipt id"
    );
    raw.send(b"SEND\r\ndestination:/queue/crlf\r\nx-h:v\r\n\r\nbody\0")
        .await;
    let m = raw.read_frame().await;
    assert_eq!(m.command, Command::Message);
    assert_eq!(m.header("destination"), Some("/queue/crlf"));
    assert_eq!(m.header("x-h"), Some("v"));
    assert_eq!(m.header("subscription"), Some("s1"));
    assert_eq!(&m.body[..], b"body");
}

#[tokio::test]
async fn heart_beat_eols_between_frames_are_ignored() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    raw.send(b"\n\r\n\nCONNECT\naccept-version:1.2\nhost:/\n\n\0\n\r\n")
        .await;
    assert_eq!(raw.read_frame().await.command, Command::Connected);
    // EOLs right after a NUL, between frames, and a frame split around them.
    raw.send(b"SUBSCRIBE\ndestination:/queue/eol\nid:s\nreceipt:r1\n\n\0\n\n\r\n")
        .await;
    raw.send(b"\nSEND\ndestination:/queue/eol\n\none\0\r\n")
        .await;
    raw.send(b"\n").await;
    raw.send(b"SEND\ndestination:/queue/eol\n\ntwo\0").await;
    assert_eq!(
        text(&raw.read_raw_frame().await),
        "RECEIPT\nreceipt-id:r1\n\n\0"
    );
    for body in ["one", "two"] {
        let m = raw.read_frame().await;
        assert_eq!(m.command, Command::Message);
        assert_eq!(&m.body[..], body.as_bytes());
    }
}

#[tokio::test]
async fn v1_2_escapes_round_trip_including_cr() {
    let broker = TestBroker::start();
    let mut c12 = session(&broker, Some("1.2")).await;
    subscribe(&mut c12, "/topic/esc12", "a").await;
    let mut c11 = session(&broker, Some("1.1")).await;
    subscribe(&mut c11, "/topic/esc12", "b").await;
    let mut p = session(&broker, Some("1.2")).await;
    p.send(b"SEND\ndestination:/topic/esc12\nx-esc:a\\cb\\\\c\\nd\\re\nna\\cme:v\n\n\0")
        .await;
    let got = text(&c12.read_raw_frame().await);
    assert!(
        got.contains("\nx-esc:a\\cb\\\\c\\nd\\re\nna\\cme:v\n"),
        "1.2 subscriber: {got:?}"
    );
    // 1.1 has no \r escape: the CR goes out as is.
    let got = text(&c11.read_raw_frame().await);
    assert!(
        got.contains("\nx-esc:a\\cb\\\\c\\nd\re\nna\\cme:v\n"),
        "1.1 subscriber: {got:?}"
    );
    // Decoded, the value is the original.
    let mut c = broker.client().await;
    c.subscribe("/topic/esc12", "c", "auto").await;
    p.send(b"SEND\ndestination:/topic/esc12\nx-esc:a\\cb\\\\c\\nd\\re\n\n\0")
        .await;
    let m = c.expect(Command::Message).await;
    assert_eq!(m.header("x-esc"), Some("a:b\\c\nd\re"));
}

#[tokio::test]
async fn v1_1_escapes_lf_colon_backslash_and_rejects_cr_escape() {
    let broker = TestBroker::start();
    let mut c11 = session(&broker, Some("1.1")).await;
    subscribe(&mut c11, "/queue/esc11", "a").await;
    let mut p = session(&broker, Some("1.1")).await;
    p.send(b"SEND\ndestination:/queue/esc11\nx-esc:a\\cb\\\\c\\nd\n\n\0")
        .await;
    let got = text(&c11.read_raw_frame().await);
    assert!(got.contains("\nx-esc:a\\cb\\\\c\\nd\n"), "{got:?}");
    // \r is a 1.2 escape only.
    p.send(b"SEND\ndestination:/queue/esc11\nx-esc:a\\rb\n\n\0")
        .await;
    let err = p.read_frame().await;
    assert_eq!(err.command, Command::Error, "{err:?}");
    p.expect_closed().await;
}

#[tokio::test]
async fn v1_0_headers_are_never_escaped_or_unescaped() {
    let broker = TestBroker::start();
    let mut c10 = session(&broker, None).await;
    subscribe(&mut c10, "/topic/esc10", "a").await;
    let mut c12 = session(&broker, Some("1.2")).await;
    subscribe(&mut c12, "/topic/esc10", "b").await;
    let mut p = session(&broker, None).await;
    p.send(b"SEND\ndestination:/topic/esc10\nx-lit:a\\nb\\q\nx-colon:p:q\n\n\0")
        .await;
    let got = text(&c10.read_raw_frame().await);
    assert!(
        got.contains("\nx-lit:a\\nb\\q\nx-colon:p:q\n"),
        "1.0 subscriber: {got:?}"
    );
    let got = text(&c12.read_raw_frame().await);
    assert!(
        got.contains("\nx-lit:a\\\\nb\\\\q\nx-colon:p\\cq\n"),
        "1.2 subscriber: {got:?}"
    );
}

#[tokio::test]
async fn connect_headers_are_never_unescaped() {
    // Were CONNECT unescaped, `a\cb` would become `a:b` and `p\q` an error.
    let broker = TestBroker::with_config(
        r#"
[auth]
anonymous = false
users = [{ login = 'a\cb', passcode = 'p\q' }]
"#,
        &[],
    );
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[
            ("accept-version", "1.2"),
            ("host", "/"),
            ("login", "a\\cb"),
            ("passcode", "p\\q"),
        ])
        .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
}

#[tokio::test]
async fn repeated_headers_first_wins_on_send_and_in_the_delivered_message() {
    let broker = TestBroker::start();
    let mut first = broker.client().await;
    first.subscribe("/queue/first", "s1", "auto").await;
    let mut p = session(&broker, Some("1.2")).await;
    p.send(
        b"SEND\ndestination:/queue/first\ndestination:/queue/second\nx:1\nx:2\n\
          message-id:forged\nsubscription:forged\ncontent-length:3\ncontent-length:5\n\
          receipt:r1\n\nabc\0",
    )
    .await;
    assert_eq!(
        text(&p.read_raw_frame().await),
        "RECEIPT\nreceipt-id:r1\n\n\0"
    );
    let m = first.expect(Command::Message).await;
    assert_eq!(m.header("destination"), Some("/queue/first"));
    assert_eq!(m.header("x"), Some("1"));
    assert_eq!(m.header("subscription"), Some("s1"));
    assert_ne!(m.header("message-id"), Some("forged"));
    assert_eq!(m.header("content-length"), Some("3"));
    assert_eq!(&m.body[..], b"abc");
    // Nothing went to the second destination: the next message there is the marker.
    let mut second = broker.client().await;
    second.subscribe("/queue/second", "s2", "auto").await;
    p.send(b"SEND\ndestination:/queue/second\n\nmarker\0").await;
    let m = second.expect(Command::Message).await;
    assert_eq!(&m.body[..], b"marker");
}

#[tokio::test]
async fn content_length_body_with_nul_octets_is_delivered_intact() {
    let broker = TestBroker::start();
    let mut consumer = session(&broker, Some("1.2")).await;
    subscribe(&mut consumer, "/queue/nul", "s").await;
    let mut p = session(&broker, Some("1.2")).await;
    let body = b"\0a\0\0b\n\0";
    let mut frame = format!(
        "SEND\ndestination:/queue/nul\ncontent-type:application/octet-stream\ncontent-length:{}\n\n",
        body.len()
    )
    .into_bytes();
    frame.extend_from_slice(body);
    frame.push(0);
    p.send(&frame).await;
    let got = consumer.read_raw_frame().await;
    let id = raw_header(&got, "message-id");
    let mut expected = format!(
        "MESSAGE\nsubscription:s\nmessage-id:{id}\ndestination:/queue/nul\n\
         content-type:application/octet-stream\ncontent-length:{}\n\n",
        body.len()
    )
    .into_bytes();
    expected.extend_from_slice(body);
    expected.push(0);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn body_without_content_length_ends_at_the_first_nul() {
    let broker = TestBroker::start();
    let mut consumer = broker.client().await;
    consumer.subscribe("/queue/nolen", "s", "auto").await;
    let mut p = session(&broker, Some("1.2")).await;
    // Two frames in one write: the first body ends at its NUL.
    p.send(b"SEND\ndestination:/queue/nolen\n\nhello\0SEND\ndestination:/queue/nolen\n\nwor\nld\0")
        .await;
    for body in [&b"hello"[..], b"wor\nld"] {
        let m = consumer.expect(Command::Message).await;
        assert_eq!(&m.body[..], body);
        assert_eq!(
            m.header("content-length"),
            Some(body.len().to_string().as_str())
        );
    }
}

#[tokio::test]
async fn user_headers_and_content_type_are_delivered_intact() {
    let broker = TestBroker::start();
    let mut consumer = broker.client().await;
    consumer.subscribe("/topic/hdrs", "s", "auto").await;
    let mut p = broker.client().await;
    let headers = [
        ("content-type", "application/json;charset=utf-8"),
        ("x-trace", "abc-123"),
        ("x-empty", ""),
        ("x-spaces", "  a b  "),
        ("x-unicode", "h\u{e9}llo \u{1f600}"),
        ("x-special", "a:b\\c\nd\re"),
        ("priority", "9"),
    ];
    p.publish("/topic/hdrs", "{\"k\":1}", &headers).await;
    let m = consumer.expect(Command::Message).await;
    for (k, v) in headers {
        assert_eq!(m.header(k), Some(v), "header {k}");
    }
    assert_eq!(&m.body[..], b"{\"k\":1}");
}
