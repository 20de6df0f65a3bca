//! Temporary reply queues: `reply-to:/temp-queue/NAME` on a SEND names a
//! queue private to the sending connection. The receiver sees a `reply-to`
//! it can send to; only the owner can subscribe; the queue is deleted, and
//! its waiting replies dropped, when the owner's connection ends.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

/// The requester sends a request with `reply-to:/temp-queue/<local>`; the
/// server takes it and returns the broker-side reply-to it saw.
async fn request(requester: &mut Client, server: &mut Client, local: &str, body: &str) -> String {
    requester
        .publish_sync(
            "/queue/requests",
            body,
            &[("reply-to", &format!("/temp-queue/{local}"))],
        )
        .await;
    let m = server.expect(Command::Message).await;
    assert_eq!(common::body(&m), body);
    m.header("reply-to").expect("reply-to").to_string()
}

fn metric(text: &str, name: &str, dest: &str) -> Option<f64> {
    parse_metrics(text)
        .get(&format!("{name}{{destination=\"{dest}\",kind=\"queue\"}}"))
        .copied()
}

#[tokio::test]
async fn the_owner_gets_the_replies_sent_to_its_reply_to() {
    let broker = TestBroker::start();
    let mut server = broker.client().await;
    server.subscribe("/queue/requests", "s", "auto").await;
    let mut a = broker.client().await;
    let reply_to = request(&mut a, &mut server, "replies", "q1").await;
    assert!(reply_to.starts_with("/queue/temp."), "{reply_to}");
    assert!(reply_to.ends_with(".replies"), "{reply_to}");
    // A reply sent before the owner subscribes waits in the queue.
    server.publish_sync(&reply_to, "early", &[]).await;
    a.subscribe_take("/temp-queue/replies", "r", &[("ack", "auto")], 1)
        .await
        .iter()
        .for_each(|m| assert_eq!(body(m), "early"));
    server.publish_sync(&reply_to, "a1", &[]).await;
    let m = a.expect(Command::Message).await;
    assert_eq!(body(&m), "a1");
    assert_eq!(m.header("destination"), Some(reply_to.as_str()));
}

#[tokio::test]
async fn two_connections_with_the_same_name_get_two_queues() {
    let broker = TestBroker::start();
    let mut server = broker.client().await;
    server.subscribe("/queue/requests", "s", "auto").await;
    let mut a = broker.client().await;
    let mut b = broker.client().await;
    a.subscribe("/temp-queue/r", "r", "auto").await;
    b.subscribe("/temp-queue/r", "r", "auto").await;
    let to_a = request(&mut a, &mut server, "r", "from a").await;
    let to_b = request(&mut b, &mut server, "r", "from b").await;
    assert_ne!(to_a, to_b);
    server.publish_sync(&to_b, "for b", &[]).await;
    server.publish_sync(&to_a, "for a", &[]).await;
    assert_eq!(body(&a.expect(Command::Message).await), "for a");
    assert_eq!(body(&b.expect(Command::Message).await), "for b");
    a.ping().await;
    b.ping().await;
}

#[tokio::test]
async fn only_the_owner_may_subscribe() {
    let broker = TestBroker::start();
    let mut server = broker.client().await;
    server.subscribe("/queue/requests", "s", "auto").await;
    let mut a = broker.client().await;
    let reply_to = request(&mut a, &mut server, "mine", "q").await;
    let mut thief = broker.client().await;
    let sub = Frame::new(Command::Subscribe)
        .with_header("destination", reply_to.as_str())
        .with_header("id", "x");
    thief
        .expect_error_after(sub.clone(), "belongs to another connection")
        .await;
    // The server that may reply to it may not read it either.
    server
        .expect_error_after(sub, "belongs to another connection")
        .await;
    // The owner may, by either name.
    a.subscribe(&reply_to, "direct", "auto").await;
}

#[tokio::test]
async fn the_queue_and_its_waiting_replies_go_with_the_owner() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__IDLE_TIMEOUT_MS", "100")]);
    let mut server = broker.client().await;
    server.subscribe("/queue/requests", "s", "auto").await;
    let mut a = broker.client().await;
    let reply_to = request(&mut a, &mut server, "gone", "q").await;
    server.publish_sync(&reply_to, "r1", &[]).await;
    server.publish_sync(&reply_to, "r2", &[]).await;
    let text = broker.http_get("/metrics").await.1;
    assert_eq!(
        metric(&text, "stompede_destination_messages_ready", &reply_to),
        Some(2.0)
    );
    a.disconnect().await;

    // The two waiting replies are dropped and counted.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let text = broker.http_get("/metrics").await.1;
        let dropped = metric(
            &text,
            "stompede_destination_messages_dropped_total",
            &reply_to,
        );
        if dropped == Some(2.0) || dropped.is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dropped {dropped:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Replying to it now is no error (the replier did nothing wrong), from a
    // session that knew the queue and from one that never did, and brings no
    // queue back: with nothing holding it, its series disappears.
    server.publish_sync(&reply_to, "late", &[]).await;
    let mut other = broker.client().await;
    other.publish_sync(&reply_to, "later", &[]).await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while broker
        .http_get("/metrics")
        .await
        .1
        .contains(&format!("\"{reply_to}\""))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{reply_to} came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other.ping().await;
    server.ping().await;
    server.expect_nothing(QUIET).await;
}
