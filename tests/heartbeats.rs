//! Heart-beats: negotiation per the spec, the server's EOLs at the agreed
//! interval, and closing clients that promised heart-beats and went silent.
//! Timing bounds are deliberately loose; they separate "works" from "does
//! nothing" or "wrong interval by a wide margin", not milliseconds.

mod common;

use std::time::{Duration, Instant};

use common::*;
use stompede::protocol::Command;

/// Server minimums of 100 ms both ways.
fn fast_broker() -> TestBroker {
    TestBroker::with(&[
        ("STOMPEDE__HEARTBEAT__SEND_MIN_MS", "100"),
        ("STOMPEDE__HEARTBEAT__RECEIVE_MIN_MS", "100"),
    ])
}

async fn connect(broker: &TestBroker, heart_beat: Option<&str>) -> (RawClient, String) {
    let mut raw = broker.raw().await;
    let mut headers = vec![("accept-version", "1.2"), ("host", "/")];
    if let Some(hb) = heart_beat {
        headers.push(("heart-beat", hb));
    }
    let f = raw.stomp_connect(&headers).await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    let hb = f
        .header("heart-beat")
        .expect("heart-beat header")
        .to_string();
    (raw, hb)
}

/// A receipted frame is answered: the connection is open and served.
async fn assert_alive(raw: &mut RawClient, receipt: &str) {
    raw.send(format!("BEGIN\ntransaction:{receipt}\nreceipt:{receipt}\n\n\0").as_bytes())
        .await;
    let r = raw.read_frame().await;
    assert_eq!(r.command, Command::Receipt, "{r:?}");
    assert_eq!(r.header("receipt-id"), Some(receipt));
}

#[tokio::test]
async fn negotiation_takes_the_larger_interval_and_zero_disables() {
    let broker = fast_broker();
    // CONNECTED says (server sends every, server expects every).
    for (client, expected) in [
        (Some("0,0"), "0,0"),
        (None, "0,0"),
        (Some("0,300"), "300,0"),
        (Some("300,0"), "0,300"),
        (Some("50,50"), "100,100"),
        (Some("250,400"), "400,250"),
    ] {
        let (_, hb) = connect(&broker, client).await;
        assert_eq!(hb, expected, "client heart-beat {client:?}");
    }
    // A server minimum of 0 means the server never offers that direction.
    let broker = TestBroker::with(&[
        ("STOMPEDE__HEARTBEAT__SEND_MIN_MS", "0"),
        ("STOMPEDE__HEARTBEAT__RECEIVE_MIN_MS", "100"),
    ]);
    let (_, hb) = connect(&broker, Some("100,100")).await;
    assert_eq!(hb, "0,100");
}

#[tokio::test]
async fn malformed_heart_beat_header_is_an_error() {
    let broker = fast_broker();
    for bad in ["100", "a,b", "1,2,3", "-1,5"] {
        let mut raw = broker.raw().await;
        let f = raw
            .stomp_connect(&[
                ("accept-version", "1.2"),
                ("host", "/"),
                ("heart-beat", bad),
            ])
            .await;
        assert_eq!(f.command, Command::Error, "heart-beat:{bad} -> {f:?}");
        raw.expect_closed().await;
    }
}

#[tokio::test]
async fn server_sends_eols_at_the_negotiated_interval() {
    let broker = fast_broker();
    let (mut raw, hb) = connect(&broker, Some("0,200")).await;
    assert_eq!(hb, "200,0");
    let started = Instant::now();
    let mut last = started;
    let mut beats = 0;
    let mut longest_gap = Duration::ZERO;
    while started.elapsed() < Duration::from_millis(1500) {
        let chunk = raw
            .read_chunk(Duration::from_secs(2))
            .await
            .expect("no heart-beat for 2 s");
        assert!(!chunk.is_empty(), "connection closed");
        assert!(
            chunk.iter().all(|b| *b == b'\n'),
            "heart-beats must be bare EOLs, got {chunk:?}"
        );
        beats += chunk.len();
        longest_gap = longest_gap.max(last.elapsed());
        last = Instant::now();
    }
    assert!(beats >= 3, "only {beats} heart-beats in 1.5 s at 200 ms");
    assert!(
        longest_gap < Duration::from_millis(800),
        "a 200 ms heart-beat left a {longest_gap:?} gap"
    );
}

#[tokio::test]
async fn client_sending_heart_beats_stays_connected_and_is_closed_once_silent() {
    // Client promises one every 200 ms; grace 3.0 => closed after > 600 ms of silence.
    let broker = fast_broker();
    let (mut raw, hb) = connect(&broker, Some("200,0")).await;
    assert_eq!(hb, "0,200");
    let keep_alive_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < keep_alive_until {
        raw.send(b"\n").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_alive(&mut raw, "alive").await;
    let silent_since = Instant::now();
    let err = raw.read_frame().await;
    let silence = silent_since.elapsed();
    assert_eq!(err.command, Command::Error, "{err:?}");
    assert!(err.header("message").is_some());
    assert!(
        silence >= Duration::from_millis(550),
        "closed after only {silence:?} of silence (limit 600 ms)"
    );
    raw.expect_closed().await;
}

#[tokio::test]
async fn any_frame_counts_as_liveness() {
    let broker = fast_broker();
    let (mut raw, _) = connect(&broker, Some("200,0")).await;
    let until = Instant::now() + Duration::from_millis(1200);
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        raw.send(format!("SEND\ndestination:/queue/live\n\n{n}\0").as_bytes())
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_alive(&mut raw, "alive").await;
}

#[tokio::test]
async fn zero_heart_beats_mean_no_eols_and_no_timeout() {
    let broker = fast_broker();
    let (mut raw, hb) = connect(&broker, Some("0,0")).await;
    assert_eq!(hb, "0,0");
    raw.expect_frame_eol().await;
    // Ten server intervals: no EOL from the server, and our silence is fine.
    assert_eq!(raw.read_chunk(Duration::from_millis(1000)).await, None);
    assert_alive(&mut raw, "alive").await;
}

/// iridium-stomp (and any client that checks its timer once per interval)
/// sends a beat only when a full interval has passed at a tick, so its beats
/// can be two intervals apart, plus scheduling jitter: 450 ms at 200 ms here.
/// The default grace (3.0) keeps such clients; 2.0 would drop them.
#[tokio::test]
async fn beats_nearly_two_intervals_apart_are_tolerated() {
    let broker = fast_broker();
    let (mut raw, hb) = connect(&broker, Some("200,0")).await;
    assert_eq!(hb, "0,200");
    let until = Instant::now() + Duration::from_millis(2000);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(450)).await;
        raw.send(b"\n").await;
    }
    assert_alive(&mut raw, "alive after beats 450 ms apart").await;
}
