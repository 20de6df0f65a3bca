//! Selectors (`selector` on SUBSCRIBE, as ActiveMQ and Artemis): on a topic a
//! subscriber gets only what its selector selects; on a queue a message no
//! consumer selects waits, in its place, for one that does, without holding
//! back the messages behind it; a bad selector is an ERROR naming where.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

fn bodies(msgs: &[Frame]) -> Vec<String> {
    msgs.iter().map(body).collect()
}

async fn publish_colours(p: &mut Client, dest: &str, colours: &[&str]) {
    for (i, c) in colours.iter().enumerate() {
        p.publish_sync(dest, &format!("{c}{i}"), &[("colour", c)])
            .await;
    }
}

#[tokio::test]
async fn a_bad_selector_is_an_error_with_its_position() {
    let broker = TestBroker::start();
    for (selector, pos) in [("colour = ", 10), ("colour == 'x'", 9), ("(a = 1", 7)] {
        let mut c = broker.client().await;
        let f = Frame::new(Command::Subscribe)
            .with_header("destination", "/queue/sel.bad")
            .with_header("id", "s")
            .with_header("selector", selector);
        let e = c
            .expect_error_after(f, &format!("invalid selector at position {pos}"))
            .await;
        assert!(e.header("message").is_some());
    }
}

#[tokio::test]
async fn a_topic_subscriber_gets_only_what_it_selects() {
    let broker = TestBroker::start();
    let mut red = broker.client().await;
    red.subscribe_with(
        "/topic/sel",
        "r",
        &[
            ("ack", "auto"),
            ("selector", "colour = 'red' OR colour IS NULL"),
        ],
    )
    .await;
    let mut all = broker.client().await;
    all.subscribe("/topic/sel", "a", "auto").await;
    let mut p = broker.client().await;
    publish_colours(&mut p, "/topic/sel", &["red", "blue", "red"]).await;
    p.publish_sync("/topic/sel", "plain", &[]).await;
    assert_eq!(
        bodies(&red.recv_messages(3).await),
        ["red0", "red2", "plain"]
    );
    assert_eq!(
        bodies(&all.recv_messages(4).await),
        ["red0", "blue1", "red2", "plain"]
    );
    red.ping().await;
    red.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn queue_consumers_share_by_selector_in_order() {
    let broker = TestBroker::start();
    let mut red = broker.client().await;
    red.subscribe_with(
        "/queue/sel",
        "r",
        &[("ack", "auto"), ("selector", "colour = 'red'")],
    )
    .await;
    let mut blue = broker.client().await;
    blue.subscribe_with(
        "/queue/sel",
        "b",
        &[("ack", "auto"), ("selector", "colour IN ('blue')")],
    )
    .await;
    let mut p = broker.client().await;
    publish_colours(&mut p, "/queue/sel", &["blue", "red", "blue", "red", "red"]).await;
    assert_eq!(
        bodies(&red.recv_messages(3).await),
        ["red1", "red3", "red4"]
    );
    assert_eq!(bodies(&blue.recv_messages(2).await), ["blue0", "blue2"]);
}

#[tokio::test]
async fn an_unselected_message_waits_for_a_consumer_that_selects_it() {
    let broker = TestBroker::start();
    let mut red = broker.client().await;
    red.subscribe_with(
        "/queue/sel.wait",
        "r",
        &[
            ("ack", "client-individual"),
            ("selector", "colour LIKE 'r%'"),
        ],
    )
    .await;
    let mut p = broker.client().await;
    publish_colours(
        &mut p,
        "/queue/sel.wait",
        &["green", "red", "green", "rose"],
    )
    .await;
    // The greens at the head hold nobody up...
    let got = red.recv_messages(2).await;
    assert_eq!(bodies(&got), ["red1", "rose3"]);
    red.ping().await;
    red.expect_nothing(QUIET).await;
    // ...and are not lost: a consumer without a selector gets them, in order.
    let mut any = broker.client().await;
    let got = any
        .subscribe_take("/queue/sel.wait", "a", &[("ack", "auto")], 2)
        .await;
    assert_eq!(bodies(&got), ["green0", "green2"]);
    red.ping().await;
    red.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn activemq_quoting_and_jms_header_names() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe_with(
        "/topic/sel.names",
        "s",
        &[
            ("ack", "auto"),
            (
                "selector",
                "\"content-type\" = 'text/plain' AND JMSType = 'order' AND JMSPriority > 4",
            ),
        ],
    )
    .await;
    let mut p = broker.client().await;
    let h = |t: &'static str, prio: &'static str| {
        [
            ("content-type", "text/plain"),
            ("type", t),
            ("priority", prio),
        ]
    };
    p.publish_sync("/topic/sel.names", "no-type", &h("note", "9"))
        .await;
    p.publish_sync("/topic/sel.names", "low", &h("order", "1"))
        .await;
    p.publish_sync("/topic/sel.names", "yes", &h("order", "9"))
        .await;
    assert_eq!(body(&c.expect(Command::Message).await), "yes");
    c.ping().await;
}

#[tokio::test]
async fn the_lookahead_bounds_how_far_a_queue_looks_past_unselected_messages() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__SELECTOR_LOOKAHEAD", "2")]);
    let mut p = broker.client().await;
    publish_colours(&mut p, "/queue/sel.far", &["blue", "blue", "blue", "red"]).await;
    let mut red = broker.client().await;
    red.subscribe_with(
        "/queue/sel.far",
        "r",
        &[("ack", "auto"), ("selector", "colour = 'red'")],
    )
    .await;
    // Three blues stand before the red one, more than the lookahead of 2.
    red.ping().await;
    red.expect_nothing(QUIET).await;
    // Once the head moves, the red message comes into reach.
    let mut blue = broker.client().await;
    let got = blue
        .subscribe_take(
            "/queue/sel.far",
            "b",
            &[("ack", "auto"), ("selector", "colour = 'blue'")],
            3,
        )
        .await;
    assert_eq!(bodies(&got), ["blue0", "blue1", "blue2"]);
    assert_eq!(body(&red.expect(Command::Message).await), "red3");
}
