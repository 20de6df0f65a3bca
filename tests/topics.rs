//! Topics: every subscriber present when a message arrives gets it once, in
//! publish order; nothing is kept for subscribers that come later.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::Command;

const QUIET: Duration = Duration::from_millis(200);

#[tokio::test]
async fn fan_out_to_every_subscriber_once() {
    let broker = TestBroker::start();
    let mut subs = Vec::new();
    for i in 0..4 {
        let mut c = broker.client().await;
        let ack = if i % 2 == 0 {
            "auto"
        } else {
            "client-individual"
        };
        c.subscribe("/topic/news", &format!("s{i}"), ack).await;
        subs.push(c);
    }
    let mut p = broker.client().await;
    for n in 0..19 {
        p.publish("/topic/news", &format!("n{n}"), &[]).await;
    }
    p.publish_sync("/topic/news", "n19", &[]).await;

    let expected: Vec<String> = (0..20).map(|n| format!("n{n}")).collect();
    for (i, c) in subs.iter_mut().enumerate() {
        let msgs = c.recv_messages(20).await;
        let got: Vec<String> = msgs.iter().map(body).collect();
        assert_eq!(got, expected, "subscriber {i}");
        for m in &msgs {
            assert_eq!(m.header("subscription"), Some(format!("s{i}").as_str()));
            assert_eq!(m.header("destination"), Some("/topic/news"));
        }
        c.ping().await;
        c.expect_nothing(QUIET).await;
    }
}

#[tokio::test]
async fn two_subscriptions_on_one_connection_each_get_a_copy() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/topic/dup", "a", "auto").await;
    c.subscribe("/topic/dup", "b", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/dup", "x", &[]).await;
    let msgs = c.recv_messages(2).await;
    let mut subs: Vec<&str> = msgs
        .iter()
        .filter_map(|m| m.header("subscription"))
        .collect();
    subs.sort();
    assert_eq!(subs, ["a", "b"]);
    assert_eq!(msgs[0].header("message-id"), msgs[1].header("message-id"));
    c.ping().await;
}

#[tokio::test]
async fn nothing_is_kept_for_later_subscribers() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    // Nobody listens yet: these are gone.
    p.publish_sync("/topic/late", "early", &[]).await;

    let mut early = broker.client().await;
    early.subscribe("/topic/late", "e", "auto").await;
    p.publish_sync("/topic/late", "first", &[]).await;
    assert_eq!(body(&early.expect(Command::Message).await), "first");

    let mut late = broker.client().await;
    late.subscribe("/topic/late", "l", "auto").await;
    late.ping().await;
    late.expect_nothing(QUIET).await;

    p.publish_sync("/topic/late", "second", &[]).await;
    assert_eq!(body(&late.expect(Command::Message).await), "second");
    assert_eq!(body(&early.expect(Command::Message).await), "second");
    late.ping().await;
    early.ping().await;
}

#[tokio::test]
async fn unsubscribed_topic_subscriber_gets_nothing_more() {
    let broker = TestBroker::start();
    let mut a = broker.client().await;
    a.subscribe("/topic/leave", "a", "auto").await;
    let mut b = broker.client().await;
    b.subscribe("/topic/leave", "b", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/leave", "1", &[]).await;
    a.expect(Command::Message).await;
    b.expect(Command::Message).await;

    a.send_with_receipt(
        stompede::protocol::Frame::new(Command::Unsubscribe).with_header("id", "a"),
        "gone",
    )
    .await;
    p.publish_sync("/topic/leave", "2", &[]).await;
    assert_eq!(body(&b.expect(Command::Message).await), "2");
    a.ping().await;
    a.expect_nothing(QUIET).await;
}
