//! Wildcard topic subscriptions: `.` separates segments, `*` matches one,
//! `#` (RabbitMQ, Artemis) and `>` (ActiveMQ) match the rest. A wildcard
//! subscription receives from topics that exist before it and from topics
//! created after it, survives the retirement of either side, and counts as
//! one destination against `limits.max_destinations`.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

fn send(destination: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", destination)
        .with_body("x")
}

/// Receives `n` MESSAGEs and returns their (destination, body) pairs.
async fn got(c: &mut Client, n: usize) -> Vec<(String, String)> {
    c.recv_messages(n)
        .await
        .iter()
        .map(|m| (m.header("destination").unwrap_or("").to_string(), body(m)))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(d, b)| (d.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn star_matches_exactly_one_segment() {
    let broker = TestBroker::start();
    let mut s = broker.client().await;
    s.subscribe("/topic/stocks.*.nyse", "w", "auto").await;
    let mut p = broker.client().await;
    for d in [
        "/topic/stocks.ibm.nyse",
        "/topic/stocks.ibm.nasdaq",
        "/topic/stocks.nyse",
        "/topic/stocks.ibm.x.nyse",
        "/topic/stocks.ibm.nyse.x",
        "/topic/stocks.orcl.nyse",
    ] {
        p.publish_sync(d, d, &[]).await;
    }
    let msgs = s.recv_messages(2).await;
    assert_eq!(
        msgs.iter().map(body).collect::<Vec<_>>(),
        ["/topic/stocks.ibm.nyse", "/topic/stocks.orcl.nyse"]
    );
    for m in &msgs {
        // The MESSAGE names the topic it was sent to, and the wildcard subscription.
        assert_eq!(m.header("destination").map(str::to_string), Some(body(m)));
        assert_eq!(m.header("subscription"), Some("w"));
    }
    s.ping().await;
    s.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn hash_and_chevron_match_the_rest_including_nothing() {
    let broker = TestBroker::start();
    let mut rabbit = broker.client().await;
    rabbit.subscribe("/topic/news.#", "r", "auto").await;
    let mut amq = broker.client().await;
    amq.subscribe("/topic/news.>", "a", "client-individual")
        .await;
    let mut mid = broker.client().await;
    mid.subscribe("/topic/a.#.z", "m", "auto").await;
    let mut p = broker.client().await;
    for d in [
        "/topic/news",
        "/topic/news.eu",
        "/topic/news.eu.sport",
        "/topic/other",
    ] {
        p.publish_sync(d, "n", &[]).await;
    }
    for d in ["/topic/a.z", "/topic/a.b.c.z", "/topic/a.b.c"] {
        p.publish_sync(d, "m", &[]).await;
    }
    let want = pairs(&[
        ("/topic/news", "n"),
        ("/topic/news.eu", "n"),
        ("/topic/news.eu.sport", "n"),
    ]);
    assert_eq!(got(&mut rabbit, 3).await, want);
    assert_eq!(got(&mut amq, 3).await, want);
    assert_eq!(
        got(&mut mid, 2).await,
        pairs(&[("/topic/a.z", "m"), ("/topic/a.b.c.z", "m")])
    );
    for c in [&mut rabbit, &mut amq, &mut mid] {
        c.ping().await;
        c.expect_nothing(QUIET).await;
    }
}

#[tokio::test]
async fn topics_created_before_and_after_the_subscription_both_feed_it() {
    let broker = TestBroker::start();
    let mut exact = broker.client().await;
    exact.subscribe("/topic/t.old", "e", "auto").await;
    let mut w = broker.client().await;
    w.subscribe("/topic/t.*", "w", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/t.old", "1", &[]).await;
    p.publish_sync("/topic/t.new", "2", &[]).await;
    assert_eq!(
        got(&mut w, 2).await,
        pairs(&[("/topic/t.old", "1"), ("/topic/t.new", "2")])
    );
    // The exact subscriber gets its copy too, and only its topic's.
    assert_eq!(got(&mut exact, 1).await, pairs(&[("/topic/t.old", "1")]));
    // One message, one copy per subscription: a client subscribed both ways gets two.
    exact.subscribe("/topic/t.#", "w2", "auto").await;
    p.publish_sync("/topic/t.old", "3", &[]).await;
    let mut subs: Vec<String> = exact
        .recv_messages(2)
        .await
        .iter()
        .filter_map(|m| m.header("subscription").map(str::to_string))
        .collect();
    subs.sort();
    assert_eq!(subs, ["e", "w2"]);
}

#[tokio::test]
async fn unsubscribing_stops_the_copies() {
    let broker = TestBroker::start();
    let mut w = broker.client().await;
    w.subscribe("/topic/u.*", "w", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/u.a", "1", &[]).await;
    assert_eq!(got(&mut w, 1).await, pairs(&[("/topic/u.a", "1")]));
    w.send_with_receipt(
        Frame::new(Command::Unsubscribe).with_header("id", "w"),
        "unsub",
    )
    .await;
    p.publish_sync("/topic/u.a", "2", &[]).await;
    w.ping().await;
    w.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn a_send_to_a_wildcard_destination_is_an_error() {
    let broker = TestBroker::start();
    for d in ["/topic/stocks.*", "/topic/stocks.#", "/topic/>"] {
        let mut c = broker.client().await;
        let e = c.expect_error_after(send(d), "wildcard destination").await;
        assert!(e.header("message").unwrap_or("").contains(d), "{e:?}");
    }
    // Inside a transaction too, when the SEND is staged rather than at COMMIT.
    let mut c = broker.client().await;
    c.send_with_receipt(
        Frame::new(Command::Begin).with_header("transaction", "t"),
        "begun",
    )
    .await;
    c.expect_error_after(
        send("/topic/stocks.*").with_header("transaction", "t"),
        "wildcard destination",
    )
    .await;
    // A `*` inside a segment is a literal: that topic is an ordinary one.
    let mut c = broker.client().await;
    c.subscribe("/topic/odd.i*m", "s", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/odd.i*m", "lit", &[]).await;
    p.publish_sync("/topic/odd.ibm", "no", &[]).await;
    assert_eq!(got(&mut c, 1).await, pairs(&[("/topic/odd.i*m", "lit")]));
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn retired_topics_and_retired_patterns_come_back_wired() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__IDLE_TIMEOUT_MS", "50")]);
    let mut w = broker.client().await;
    w.subscribe("/topic/r.*", "w", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/r.a", "1", &[]).await;
    assert_eq!(got(&mut w, 1).await, pairs(&[("/topic/r.a", "1")]));
    // The plain topic has no subscriber: it retires, and its successor is
    // told about the pattern again when it is created.
    wait_until(&broker, "/topic/r.a", false).await;
    p.publish_sync("/topic/r.a", "2", &[]).await;
    assert_eq!(got(&mut w, 1).await, pairs(&[("/topic/r.a", "2")]));

    // The pattern's own topic retires once nobody subscribes to it; a new
    // subscription to it is wired to the topics alive at that time.
    w.disconnect().await;
    wait_until(&broker, "/topic/r.*", false).await;
    let mut w = broker.client().await;
    w.subscribe("/topic/r.*", "w", "auto").await;
    p.publish_sync("/topic/r.a", "3", &[]).await;
    assert_eq!(got(&mut w, 1).await, pairs(&[("/topic/r.a", "3")]));
}

#[tokio::test]
async fn a_pattern_is_one_destination_and_creates_none() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_DESTINATIONS", "2")]);
    let mut w = broker.client().await;
    w.subscribe("/topic/m.*", "w", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/m.a", "1", &[]).await;
    assert_eq!(got(&mut w, 1).await, pairs(&[("/topic/m.a", "1")]));
    let mut other = broker.client().await;
    other
        .expect_error_after(send("/topic/m.b"), "limits.max_destinations")
        .await;
    let mut other = broker.client().await;
    other
        .expect_error_after(
            Frame::new(Command::Subscribe)
                .with_header("destination", "/topic/m.#")
                .with_header("id", "s"),
            "too many destinations",
        )
        .await;
    p.publish_sync("/topic/m.a", "2", &[]).await;
    assert_eq!(got(&mut w, 1).await, pairs(&[("/topic/m.a", "2")]));
}

/// Waits until `dest`'s actor is (`alive`) or is not alive, per `/metrics`.
async fn wait_until(broker: &TestBroker, dest: &str, alive: bool) {
    let series = format!("destination=\"{dest}\"");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (_, text) = broker.http_get("/metrics").await;
        if text.contains(&series) == alive {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{dest} alive is not {alive}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
