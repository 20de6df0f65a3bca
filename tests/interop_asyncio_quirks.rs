//! Regression tests over raw frames for what the asyncio Python clients
//! (stompman 3.16.0, aiostomp 1.7.3; their scenarios run in
//! `tests/interop.rs`) need of the broker where they read the spec their
//! own way (see docs/interop.md).

mod common;

use common::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The header block of a raw frame, one `name:value` a line.
fn header_lines(frame: &[u8]) -> Vec<String> {
    let all = text(frame);
    let head = all.split("\n\n").next().unwrap_or_default().to_string();
    head.lines().skip(1).map(str::to_string).collect()
}

/// stompman reads `version` and `heart-beat` from CONNECTED unconditionally
/// (`headers["heart-beat"]`, a KeyError without it), though the spec lets a
/// server leave `heart-beat` out for 0,0; so CONNECTED always carries both,
/// also when CONNECT asks no heart-beats.
#[tokio::test]
async fn stompman_connected_always_carries_version_and_heart_beat() {
    let broker = TestBroker::start();
    for (version, beats) in [("1.1", ""), ("1.2", ""), ("1.2", "heart-beat:0,0\n")] {
        let mut raw = broker.raw().await;
        let connect = format!("CONNECT\naccept-version:{version}\nhost:127.0.0.1\n{beats}\n\0");
        raw.send(connect.as_bytes()).await;
        let connected = raw.read_raw_frame().await;
        assert!(
            connected.starts_with(b"CONNECTED\n"),
            "{}",
            text(&connected)
        );
        let headers = header_lines(&connected);
        assert!(
            headers.contains(&format!("version:{version}")),
            "{headers:?}"
        );
        assert!(
            headers.contains(&"heart-beat:0,0".to_string()),
            "{headers:?}"
        );
    }
}

/// aiostomp 1.7.3 CONNECTs with `accept-version:1.1` and no `host`, and
/// UNSUBSCRIBEs with `destination` beside `id`; both are accepted (the
/// unknown header is ignored) and the subscription ends.
#[tokio::test]
async fn aiostomp_unsubscribe_with_destination_is_accepted() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    raw.send(b"CONNECT\naccept-version:1.1\nheart-beat:0,0\n\n\0")
        .await;
    let connected = raw.read_raw_frame().await;
    assert!(
        connected.starts_with(b"CONNECTED\n"),
        "{}",
        text(&connected)
    );
    raw.send(b"SUBSCRIBE\nack:auto\ndestination:/queue/aio\nid:1\nreceipt:s\n\n\0")
        .await;
    assert_eq!(
        text(&raw.read_raw_frame().await),
        "RECEIPT\nreceipt-id:s\n\n\0"
    );
    raw.send(b"UNSUBSCRIBE\ndestination:/queue/aio\nid:1\nreceipt:u\n\n\0")
        .await;
    assert_eq!(
        text(&raw.read_raw_frame().await),
        "RECEIPT\nreceipt-id:u\n\n\0"
    );
    let mut p = broker.client().await;
    p.publish_sync("/queue/aio", "after", &[]).await;
    // Still queued, so it goes to the next subscription, not the ended one.
    raw.send(b"SUBSCRIBE\nack:auto\ndestination:/queue/aio\nid:2\n\n\0")
        .await;
    let msg = raw.read_raw_frame().await;
    assert!(
        header_lines(&msg).contains(&"subscription:2".to_string()),
        "{}",
        text(&msg)
    );
}
