//! Exclusive consumers on queues (`activemq.exclusive:true`, ActiveMQ; or
//! RabbitMQ's `exclusive:true`): the first exclusive consumer gets every
//! message while the others, exclusive or not, wait; when it disconnects,
//! drops its connection or unsubscribes, the next exclusive one takes over
//! with its unacknowledged messages redelivered.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

fn bodies(msgs: &[Frame]) -> Vec<String> {
    msgs.iter().map(body).collect()
}

/// A consumer of `dest` with `headers` besides client-individual acks.
async fn consumer(broker: &TestBroker, dest: &str, headers: &[(&str, &str)]) -> Client {
    let mut c = broker.client().await;
    let mut all = vec![("ack", "client-individual"), ("prefetch-count", "10")];
    all.extend_from_slice(headers);
    c.subscribe_with(dest, "s", &all).await;
    c
}

async fn send_n(p: &mut Client, dest: &str, n: usize) {
    for i in 0..n {
        p.publish_sync(dest, &format!("m{i}"), &[]).await;
    }
}

/// Reads `n` MESSAGEs and checks their bodies are `m{from}..`, in order.
async fn expect_run(c: &mut Client, from: usize, n: usize) -> Vec<Frame> {
    let got = c.recv_messages(n).await;
    let want: Vec<String> = (from..from + n).map(|i| format!("m{i}")).collect();
    assert_eq!(bodies(&got), want);
    got
}

#[tokio::test]
async fn the_first_exclusive_consumer_gets_all_and_the_next_takes_over_on_disconnect() {
    let broker = TestBroker::start();
    let dest = "/queue/excl.disconnect";
    let mut plain = consumer(&broker, dest, &[]).await;
    let mut first = consumer(&broker, dest, &[("activemq.exclusive", "true")]).await;
    let mut second = consumer(&broker, dest, &[("activemq.exclusive", "true")]).await;
    let mut p = broker.client().await;
    send_n(&mut p, dest, 5).await;
    let held = expect_run(&mut first, 0, 5).await;
    first.ack(&held[0]).await;
    first.ping().await;
    second.expect_nothing(QUIET).await;
    plain.expect_nothing(Duration::ZERO).await;
    // A clean DISCONNECT with four unacknowledged: they go to the next one.
    first.disconnect().await;
    let got = expect_run(&mut second, 1, 4).await;
    assert!(got.iter().all(|m| m.header("redelivered") == Some("true")));
    send_n(&mut p, dest, 1).await;
    assert_eq!(bodies(&second.recv_messages(1).await), ["m0"]);
    plain.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn a_dropped_connection_hands_over_too() {
    let broker = TestBroker::start();
    let dest = "/queue/excl.dropped";
    let mut first = consumer(&broker, dest, &[("activemq.exclusive", "true")]).await;
    let mut second = consumer(&broker, dest, &[("activemq.exclusive", "true")]).await;
    let mut p = broker.client().await;
    send_n(&mut p, dest, 3).await;
    expect_run(&mut first, 0, 3).await;
    second.expect_nothing(QUIET).await;
    drop(first);
    let got = expect_run(&mut second, 0, 3).await;
    assert!(got.iter().all(|m| m.header("redelivered") == Some("true")));
}

#[tokio::test]
async fn rabbitmq_spelling_hands_over_on_unsubscribe_and_then_the_others_share() {
    let broker = TestBroker::start();
    let dest = "/queue/excl.unsubscribe";
    let mut first = consumer(&broker, dest, &[("exclusive", "true")]).await;
    let mut plain_a = consumer(&broker, dest, &[("exclusive", "false")]).await;
    let mut plain_b = consumer(&broker, dest, &[]).await;
    let mut p = broker.client().await;
    send_n(&mut p, dest, 4).await;
    expect_run(&mut first, 0, 4).await;
    plain_a.expect_nothing(QUIET).await;
    plain_b.expect_nothing(Duration::ZERO).await;
    // With no exclusive consumer left, the queue is shared round-robin again.
    let unsubscribe = Frame::new(Command::Unsubscribe).with_header("id", "s");
    first.send_with_receipt(unsubscribe, "unsub").await;
    let mut got = Vec::new();
    for c in [&mut plain_a, &mut plain_b] {
        for m in c.recv_messages(2).await {
            assert_eq!(m.header("redelivered"), Some("true"));
            got.push(body(&m));
        }
    }
    got.sort();
    assert_eq!(got, ["m0", "m1", "m2", "m3"]);
    first.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn an_exclusive_consumer_arriving_later_takes_the_queue_from_the_others() {
    let broker = TestBroker::start();
    let dest = "/queue/excl.late";
    let mut plain = consumer(&broker, dest, &[]).await;
    let mut p = broker.client().await;
    send_n(&mut p, dest, 1).await;
    let m0 = plain.recv_messages(1).await;
    assert_eq!(bodies(&m0), ["m0"]);
    let mut excl = consumer(&broker, dest, &[("activemq.exclusive", "true")]).await;
    for b in ["m1", "m2"] {
        p.publish_sync(dest, b, &[]).await;
    }
    assert_eq!(bodies(&excl.recv_messages(2).await), ["m1", "m2"]);
    // What the plain consumer already held stays with it.
    plain.ack(&m0[0]).await;
    plain.ping().await;
    plain.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn an_exclusive_header_that_is_not_a_boolean_is_an_error() {
    let broker = TestBroker::start();
    for (header, value) in [("activemq.exclusive", "yes"), ("exclusive", "1")] {
        let mut c = broker.client().await;
        let f = Frame::new(Command::Subscribe)
            .with_header("destination", "/queue/excl.bad")
            .with_header("id", "s")
            .with_header(header, value);
        c.expect_error_after(f, &format!("invalid value '{value}' for header '{header}'"))
            .await;
    }
}
