//! Bounds on destinations clients bring into existence (issue 18, items 6
//! and 7): the length of a name (`limits.max_destination_length`; names are
//! held by every destination and are `/metrics` labels) and how many live
//! destinations there are (`limits.max_destinations`). A real broker, real
//! sockets.

mod common;

use common::*;
use stompede::protocol::{Command, Frame};

fn send(destination: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", destination)
        .with_body("x")
}

fn subscribe(destination: &str) -> Frame {
    Frame::new(Command::Subscribe)
        .with_header("destination", destination)
        .with_header("id", "s")
}

/// A name of exactly `len` bytes under `prefix`.
fn name_of(prefix: &str, len: usize) -> String {
    format!("{prefix}{}", "n".repeat(len - prefix.len()))
}

#[tokio::test]
async fn names_longer_than_max_destination_length_get_an_error() {
    let broker = TestBroker::start();
    let at_limit = name_of("/topic/", 1024);
    let mut c = broker.client().await;
    c.publish_sync(&at_limit, "fits", &[]).await;
    c.send_with_receipt(subscribe(&name_of("/queue/", 1024)), "sub")
        .await;

    let long = name_of("/topic/", 1025);
    let mut c = broker.client().await;
    let e = c
        .expect_error_after(send(&long), "limits.max_destination_length")
        .await;
    let message = e.header("message").unwrap_or_default();
    assert!(message.contains("1025 bytes"), "{message:?}");
    assert!(!message.contains(&long), "the long name is not echoed");
    c.expect_closed().await;

    let mut c = broker.client().await;
    c.expect_error_after(
        subscribe(&name_of("/queue/", 1025)),
        "limits.max_destination_length",
    )
    .await;
    c.expect_closed().await;

    // Neither long name reached the router, so neither is a metrics label.
    let (_, text) = broker.http_get("/metrics").await;
    assert!(text.contains(&at_limit), "the name at the limit is served");
    assert!(!text.contains(&long), "a refused name is on /metrics");
}

#[tokio::test]
async fn max_destination_length_is_configurable() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_DESTINATION_LENGTH", "16")]);
    let mut c = broker.client().await;
    c.publish_sync("/queue/sixteen!!", "ok", &[]).await;
    c.expect_error_after(send("/queue/seventeen!"), "the limit is 16")
        .await;
}

#[tokio::test]
async fn a_new_destination_beyond_max_destinations_gets_an_error_and_existing_ones_work() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_DESTINATIONS", "3")]);
    let mut c = broker.client().await;
    c.publish_sync("/queue/a", "1", &[]).await;
    c.send_with_receipt(subscribe("/topic/b"), "sub").await;
    c.publish_sync("/queue/c", "1", &[]).await;

    let mut other = broker.client().await;
    let e = other
        .expect_error_after(send("/queue/d"), "limits.max_destinations")
        .await;
    assert!(
        e.header("message")
            .unwrap_or_default()
            .contains("at most 3"),
        "{e:?}"
    );
    other.expect_closed().await;
    let mut other = broker.client().await;
    other
        .expect_error_after(subscribe("/topic/e"), "too many destinations")
        .await;

    // Every existing destination still works, from a session that has not
    // used it before.
    let mut fresh = broker.client().await;
    fresh.publish_sync("/queue/a", "2", &[]).await;
    fresh.publish_sync("/topic/b", "2", &[]).await;
    let m = c.expect(Command::Message).await;
    assert_eq!(body(&m), "2");
    fresh.subscribe("/queue/c", "c", "auto").await;
    assert_eq!(body(&fresh.expect(Command::Message).await), "1");
}

/// Live destination actors of `kind`, from `/metrics`.
async fn live(broker: &TestBroker, kind: &str) -> f64 {
    let (_, text) = broker.http_get("/metrics").await;
    let key = format!("stompede_destinations{{kind=\"{kind}\"}}");
    parse_metrics(&text).get(&key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn a_connected_session_does_not_keep_idle_destinations_alive() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__IDLE_TIMEOUT_MS", "100")]);
    let mut c = broker.client().await;
    for i in 0..20 {
        c.publish_sync(&format!("/topic/once.{i}"), "x", &[]).await;
    }
    assert_eq!(live(&broker, "topic").await, 20.0);

    // The session stays connected and keeps its cache of the 20 names, yet
    // every one of those destinations goes away once idle.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while live(&broker, "topic").await > 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} idle topics still alive",
            live(&broker, "topic").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // The session still works, with fresh destinations under the same names.
    let mut sub = broker.client().await;
    sub.subscribe("/topic/once.3", "s", "auto").await;
    c.publish_sync("/topic/once.3", "again", &[]).await;
    assert_eq!(body(&sub.expect(Command::Message).await), "again");
}

#[tokio::test]
async fn names_with_control_characters_get_an_error() {
    let broker = TestBroker::start();
    // Unescaped by the 1.2 codec into a real line feed, CR and TAB.
    for raw in [
        &b"SEND\ndestination:/queue/a\\nb\nreceipt:r\n\nx\0"[..],
        b"SEND\ndestination:/queue/a\\rb\nreceipt:r\n\nx\0",
        b"SUBSCRIBE\ndestination:/topic/a\tb\nid:s\nreceipt:r\n\n\0",
    ] {
        let mut c = broker.raw().await;
        let f = c
            .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
            .await;
        assert_eq!(f.command, Command::Connected);
        c.send(raw).await;
        let e = c.read_frame().await;
        assert_eq!(e.command, Command::Error, "{e:?}");
        let message = e.header("message").unwrap_or_default();
        assert!(message.contains("control characters"), "{message:?}");
        c.expect_closed().await;
    }
    // Other characters are fine, a colon and non-ASCII included.
    let mut c = broker.client().await;
    c.publish_sync("/queue/a:b é", "ok", &[]).await;
}
