//! CONNECT/STOMP handshake: version negotiation, the CONNECTED reply,
//! login/passcode against configured users, and what happens to clients that
//! never connect properly.

mod common;

use std::time::{Duration, Instant};

use common::*;
use stompede::protocol::{Command, Frame};

const USERS: &str = r#"
[auth]
anonymous = false
users = [{ login = "app", passcode = "secret" }, { login = "ops", passcode = "s3cr:t" }]
failure_delay_ms = 0
"#;

const USERS_ANONYMOUS: &str = r#"
[auth]
anonymous = true
users = [{ login = "app", passcode = "secret" }]
"#;

/// CONNECT headers (accept-version 1.2) plus `extra`.
fn connect_headers<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![("accept-version", "1.2"), ("host", "/")];
    h.extend_from_slice(extra);
    h
}

/// The client's CONNECT is refused: ERROR with a `message`, then close.
async fn assert_refused(broker: &TestBroker, headers: &[(&str, &str)]) -> Frame {
    let (mut c, reply) = Client::try_connect(broker.stomp(), headers).await;
    assert_eq!(
        reply.command,
        Command::Error,
        "expected ERROR, got {reply:?}"
    );
    assert!(reply.header("message").is_some(), "no message: {reply:?}");
    c.expect_closed().await;
    reply
}

#[tokio::test]
async fn connect_gets_connected_with_version_server_session_and_heart_beat() {
    let broker = TestBroker::start();
    let c = broker.client().await;
    let f = &c.connected;
    assert_eq!(f.header("version"), Some("1.2"));
    assert_eq!(
        f.header("server"),
        Some(concat!("stompede/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(f.header("heart-beat"), Some("0,0"));
    let s1 = f.header("session").expect("session header").to_string();
    assert!(!s1.is_empty());
    let other = broker.client().await;
    assert_ne!(
        other.connected.header("session"),
        Some(s1.as_str()),
        "each connection gets its own session id"
    );
}

#[tokio::test]
async fn stomp_frame_connects_like_connect() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    raw.send(b"STOMP\naccept-version:1.2\nhost:/\n\n\0").await;
    let f = raw.read_frame().await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    assert_eq!(f.header("version"), Some("1.2"));
    // The session works: a receipted frame is answered.
    raw.send(b"BEGIN\ntransaction:t\nreceipt:r1\n\n\0").await;
    let r = raw.read_frame().await;
    assert_eq!(
        (r.command, r.header("receipt-id")),
        (Command::Receipt, Some("r1"))
    );
}

#[tokio::test]
async fn absent_accept_version_means_1_0() {
    let broker = TestBroker::start();
    let mut c = broker.client_with(&[("host", "/")]).await;
    assert_eq!(c.connected.header("version"), Some("1.0"));
    // 1.0 rules apply: SUBSCRIBE without `id` is allowed.
    let sub = Frame::new(Command::Subscribe).with_header("destination", "/queue/v10");
    c.send_with_receipt(sub, "s").await;
    c.publish("/queue/v10", "hi", &[]).await;
    let m = c.expect(Command::Message).await;
    assert_eq!(&m.body[..], b"hi");
}

#[tokio::test]
async fn highest_common_version_is_chosen() {
    let broker = TestBroker::start();
    for (offered, expected) in [
        ("1.0", "1.0"),
        ("1.1", "1.1"),
        ("1.2", "1.2"),
        ("1.0,1.1", "1.1"),
        ("1.1,1.2", "1.2"),
        ("1.2,1.0", "1.2"),
        ("1.0,1.1,1.2", "1.2"),
        ("1.1,2.0", "1.1"),
        ("0.9,1.0,3.0", "1.0"),
    ] {
        let c = broker
            .client_with(&[("accept-version", offered), ("host", "/")])
            .await;
        assert_eq!(
            c.connected.header("version"),
            Some(expected),
            "accept-version:{offered}"
        );
    }
}

#[tokio::test]
async fn no_common_version_gets_error_listing_supported_versions_then_close() {
    let broker = TestBroker::start();
    for offered in ["2.0", "2.0,3.1", "", "1.3"] {
        let err = assert_refused(&broker, &[("accept-version", offered), ("host", "/")]).await;
        assert_eq!(
            err.header("version"),
            Some("1.0,1.1,1.2"),
            "accept-version:{offered} -> {err:?}"
        );
        assert!(!err.body.is_empty(), "ERROR should explain: {err:?}");
    }
}

#[tokio::test]
async fn configured_user_logs_in_and_others_are_refused_when_anonymous_is_off() {
    let broker = TestBroker::with_config(USERS, &[]);
    let ok = broker
        .client_with(&connect_headers(&[
            ("login", "app"),
            ("passcode", "secret"),
        ]))
        .await;
    assert_eq!(ok.connected.header("version"), Some("1.2"));
    // CONNECT values are taken literally: a colon in a passcode needs no escape.
    broker
        .client_with(&connect_headers(&[
            ("login", "ops"),
            ("passcode", "s3cr:t"),
        ]))
        .await;

    for bad in [
        vec![("login", "app"), ("passcode", "wrong")],
        vec![("login", "app"), ("passcode", "secret2")],
        vec![("login", "app"), ("passcode", "")],
        vec![("login", "app")],
        vec![("login", "ops"), ("passcode", "secret")],
        vec![("login", "nobody"), ("passcode", "secret")],
        vec![],
    ] {
        let err = assert_refused(&broker, &connect_headers(&bad)).await;
        let text = format!("{err:?}");
        for (k, v) in &bad {
            if *k == "passcode" && !v.is_empty() {
                assert!(!text.contains(v), "ERROR leaks the passcode: {text}");
            }
        }
    }
}

#[tokio::test]
async fn anonymous_on_admits_unlisted_logins_but_still_checks_listed_ones() {
    let broker = TestBroker::with_config(USERS_ANONYMOUS, &[]);
    broker.client_with(&connect_headers(&[])).await;
    broker
        .client_with(&connect_headers(&[("login", "guest"), ("passcode", "x")]))
        .await;
    broker
        .client_with(&connect_headers(&[
            ("login", "app"),
            ("passcode", "secret"),
        ]))
        .await;
    assert_refused(
        &broker,
        &connect_headers(&[("login", "app"), ("passcode", "nope")]),
    )
    .await;
}

#[tokio::test]
async fn anonymous_is_on_by_default() {
    let broker = TestBroker::start();
    broker.client_with(&connect_headers(&[])).await;
    broker
        .client_with(&connect_headers(&[
            ("login", "anyone"),
            ("passcode", "any"),
        ]))
        .await;
}

#[tokio::test]
async fn failed_login_is_logged_without_the_passcode() {
    let dir = TempDir::new("auth");
    let path = dir.write("auth.toml", USERS);
    let path = path.to_str().expect("utf-8 temp path");
    let mut broker = BrokerProcess::start(&["--config", path], &[]).await;
    let passcode = "hunter2-not-the-secret";
    let (mut c, reply) = Client::try_connect(
        broker.stomp,
        &connect_headers(&[("login", "app"), ("passcode", passcode)]),
    )
    .await;
    assert_eq!(reply.command, Command::Error, "{reply:?}");
    c.expect_closed().await;
    loop {
        let line = strip_ansi(&broker.next_line().await);
        assert!(!line.contains(passcode), "passcode logged: {line}");
        if line.contains("authentication failed") {
            assert!(line.contains("app"), "the login should be logged: {line}");
            break;
        }
    }
    broker.terminate();
    broker.wait_exit().await;
    let all = broker.output.lock().expect("output").clone();
    assert!(!all.contains(passcode), "passcode logged:\n{all}");
}

#[tokio::test]
async fn a_frame_before_connect_gets_error_and_close() {
    let broker = TestBroker::start();
    for frame in [
        &b"SEND\ndestination:/queue/a\nreceipt:r1\n\nhello\0"[..],
        b"SUBSCRIBE\ndestination:/queue/a\nid:1\nreceipt:r1\n\n\0",
        b"DISCONNECT\nreceipt:r1\n\n\0",
    ] {
        let mut raw = broker.raw().await;
        raw.send(frame).await;
        let err = raw.read_frame().await;
        assert_eq!(err.command, Command::Error, "{err:?}");
        assert!(err.header("message").is_some(), "{err:?}");
        assert_eq!(err.header("receipt-id"), Some("r1"), "{err:?}");
        raw.expect_closed().await;
    }
}

#[tokio::test]
async fn silent_tcp_connection_is_closed_after_the_connect_timeout() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__CONNECT_TIMEOUT_MS", "300")]);
    let started = Instant::now();
    let mut raw = broker.raw().await;
    let err = raw.read_frame().await;
    let waited = started.elapsed();
    assert_eq!(err.command, Command::Error, "{err:?}");
    assert!(err.header("message").is_some(), "{err:?}");
    assert!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
    raw.expect_closed().await;
}

#[tokio::test]
async fn connect_timeout_does_not_touch_connected_clients() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__CONNECT_TIMEOUT_MS", "200")]);
    let mut c = broker.client().await;
    // Let the timeout pass; the connection must still be usable afterwards.
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.send_with_receipt(
        Frame::new(Command::Begin).with_header("transaction", "t"),
        "still-here",
    )
    .await;
}
