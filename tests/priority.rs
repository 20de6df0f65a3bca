//! Message priority on queues (`priority` 0-9 on SEND, as ActiveMQ, Artemis
//! and RabbitMQ spell it): higher first, first in first out within a
//! priority, through paging, a restart, NACK requeues, selectors and expiry.

mod common;

use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

/// The priority header of the `n`th test message (`None`: no header, 4).
fn priority(n: usize) -> Option<&'static str> {
    [None, Some("9"), Some("0"), Some("7"), Some("4"), Some("15")][n % 6]
}

/// The priority `priority(n)` means (15 is clamped to 9).
fn effective(n: usize) -> u8 {
    match priority(n) {
        None => 4,
        Some("15") => 9,
        Some(p) => p.parse().expect("a number"),
    }
}

/// Message numbers `0..n` in the order a priority queue delivers them:
/// highest priority first, in sending order within one.
fn expected(n: usize) -> Vec<String> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(effective(i)));
    order.into_iter().map(|i| format!("m{i:04}")).collect()
}

/// Body of message `i`: its number, padded to 1 KiB so paging has bytes to page.
fn text(i: usize) -> String {
    let mut s = format!("m{i:04} ");
    s.extend(std::iter::repeat_n('.', 1024 - s.len()));
    s
}

/// Sends messages `0..n` to `dest` with their priorities, each receipted.
async fn send_mixed(c: &mut Client, dest: &str, n: usize, persistent: bool) {
    for i in 0..n {
        let mut f = Frame::new(Command::Send)
            .with_header("destination", dest)
            .with_body(text(i));
        if let Some(p) = priority(i) {
            f = f.with_header("priority", p);
        }
        if persistent {
            f = f.with_header("persistent", "true");
        }
        c.send_with_receipt(f, &format!("r{i}")).await;
    }
}

/// Subscribes (client-individual, `prefetch`) and receives `n` messages,
/// acknowledging each, returning their bodies; then nothing else comes.
async fn receive_all(c: &mut Client, dest: &str, n: usize, prefetch: &str) -> Vec<Frame> {
    c.subscribe_with(
        dest,
        "s",
        &[("ack", "client-individual"), ("prefetch-count", prefetch)],
    )
    .await;
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        let m = c.expect(Command::Message).await;
        c.ack(&m).await;
        got.push(m);
    }
    c.expect_nothing(QUIET).await;
    got
}

/// Each message's body up to its first space (its number, for the padded ones).
fn bodies(msgs: &[Frame]) -> Vec<String> {
    msgs.iter()
        .map(|m| body(m).split(' ').next().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn waiting_messages_go_highest_priority_first_and_in_order_within_one() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    send_mixed(&mut p, "/queue/prio.mixed", 60, false).await;
    let mut c = broker.client().await;
    let got = receive_all(&mut c, "/queue/prio.mixed", 60, "100").await;
    assert_eq!(bodies(&got), expected(60));
    // A priority above 9 is clamped, and MESSAGE says what it was delivered with.
    let clamped = got.iter().find(|m| body(m).starts_with("m0005 "));
    assert_eq!(clamped.and_then(|m| m.header("priority")), Some("9"));
    let plain = got.iter().find(|m| body(m).starts_with("m0000 "));
    assert_eq!(plain.and_then(|m| m.header("priority")), None);
}

#[tokio::test]
async fn a_priority_that_is_not_an_integer_is_an_error() {
    let broker = TestBroker::start();
    for bad in ["high", "4.5", ""] {
        let mut c = broker.client().await;
        let f = Frame::new(Command::Send)
            .with_header("destination", "/queue/prio.bad")
            .with_header("priority", bad)
            .with_body("x");
        c.expect_error_after(f, &format!("invalid value '{bad}' for header 'priority'"))
            .await;
    }
    let mut c = broker.client().await;
    c.subscribe("/queue/prio.bad", "s", "auto").await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn a_paged_out_queue_delivers_by_priority() {
    // 300 KiB of persistent bodies against 8 KiB kept in memory per queue.
    let broker = TestBroker::with(&[
        ("STOMPEDE__STORAGE__QUEUE_RESIDENT_BYTES", "8192"),
        ("STOMPEDE__STORAGE__FSYNC", "false"),
    ]);
    let mut p = broker.client().await;
    send_mixed(&mut p, "/queue/prio.paged", 300, true).await;
    let scrape = broker.scrape().await;
    let buffered = scrape
        .get("stompede_buffered_message_bytes", &[])
        .expect("buffered bytes metric");
    assert!(
        buffered < 100_000.0,
        "the queue was paged out, {buffered} bytes buffered"
    );
    let mut c = broker.client().await;
    let got = receive_all(&mut c, "/queue/prio.paged", 300, "20").await;
    assert_eq!(bodies(&got), expected(300));
}

#[tokio::test]
async fn priorities_survive_a_restart_also_when_recovery_leaves_messages_on_disk() {
    let broker = TestBroker::with(&[("STOMPEDE__STORAGE__FSYNC", "false")]);
    let mut p = broker.client().await;
    send_mixed(&mut p, "/queue/prio.durable", 120, true).await;
    send_mixed(&mut p, "/queue/prio.recovered", 120, true).await;
    drop(p);
    // Recovery keeps at most half the memory budget of bodies (32 KiB here),
    // so most messages come back as locations only, with their priority class.
    let broker = broker.restart(&[
        ("STOMPEDE__BROKER__MAX_BUFFERED_BYTES", "65536"),
        ("STOMPEDE__STORAGE__FSYNC", "false"),
    ]);
    for dest in ["/queue/prio.durable", "/queue/prio.recovered"] {
        let mut c = broker.client().await;
        let got = receive_all(&mut c, dest, 120, "10").await;
        assert_eq!(bodies(&got), expected(120), "{dest}");
    }
}

/// Sends `(body, priority)` pairs to `dest`, receipted.
async fn send_each(c: &mut Client, dest: &str, msgs: &[(&str, &str)]) {
    for (b, prio) in msgs {
        c.publish_sync(dest, b, &[("priority", prio)]).await;
    }
}

#[tokio::test]
async fn a_nacked_message_goes_back_to_the_head_of_its_own_priority() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    send_each(
        &mut p,
        "/queue/prio.nack",
        &[("low", "1"), ("a", "8"), ("b", "8")],
    )
    .await;
    let mut c = broker.client().await;
    let first = c
        .subscribe_take(
            "/queue/prio.nack",
            "s",
            &[("ack", "client-individual"), ("prefetch-count", "1")],
            1,
        )
        .await;
    assert_eq!(bodies(&first), ["a"]);
    // A higher priority arriving meanwhile still goes first; the NACKed one
    // is then the head of priority 8, before b.
    p.publish_sync("/queue/prio.nack", "urgent", &[("priority", "9")])
        .await;
    c.nack(&first[0]).await;
    let mut order = Vec::new();
    for _ in 0..4 {
        let m = c.expect(Command::Message).await;
        order.push((body(&m), m.header("redelivered").map(str::to_string)));
        c.ack(&m).await;
    }
    let bodies: Vec<&str> = order.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(bodies, ["urgent", "a", "b", "low"]);
    assert_eq!(order[1].1.as_deref(), Some("true"));
}

#[tokio::test]
async fn with_requeue_tail_a_nacked_message_goes_behind_its_own_priority_only() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__NACK", "requeue-tail")]);
    let mut p = broker.client().await;
    send_each(
        &mut p,
        "/queue/prio.tail",
        &[("low", "1"), ("a", "8"), ("b", "8")],
    )
    .await;
    let mut c = broker.client().await;
    let first = c
        .subscribe_take(
            "/queue/prio.tail",
            "s",
            &[("ack", "client-individual"), ("prefetch-count", "1")],
            1,
        )
        .await;
    assert_eq!(bodies(&first), ["a"]);
    c.nack(&first[0]).await;
    let mut order = Vec::new();
    for _ in 0..3 {
        let m = c.expect(Command::Message).await;
        order.push(body(&m));
        c.ack(&m).await;
    }
    assert_eq!(order, ["b", "a", "low"]);
}

#[tokio::test]
async fn selectors_and_expiry_pass_over_the_highest_priority_without_reordering_the_rest() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    let dest = "/queue/prio.selected";
    // An expired message of the highest priority is never delivered.
    p.publish_sync(dest, "expired", &[("priority", "9"), ("expires", "1")])
        .await;
    for (b, prio, colour) in [
        ("g9", "9", "green"),
        ("r0", "0", "red"),
        ("r9", "9", "red"),
        ("r4", "4", "red"),
        ("r9b", "9", "red"),
    ] {
        p.publish_sync(dest, b, &[("priority", prio), ("colour", colour)])
            .await;
    }
    let mut red = broker.client().await;
    let got = red
        .subscribe_take(
            dest,
            "r",
            &[("ack", "auto"), ("selector", "colour = 'red'")],
            4,
        )
        .await;
    assert_eq!(bodies(&got), ["r9", "r9b", "r4", "r0"]);
    red.expect_nothing(QUIET).await;
    // The green one waited, in its place, for a consumer that selects it.
    let mut any = broker.client().await;
    let got = any.subscribe_take(dest, "a", &[("ack", "auto")], 1).await;
    assert_eq!(bodies(&got), ["g9"]);
    any.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn a_topic_ignores_priority() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/topic/prio", "s", "auto").await;
    let mut p = broker.client().await;
    send_each(&mut p, "/topic/prio", &[("a", "0"), ("b", "9")]).await;
    let got = c.recv_messages(2).await;
    assert_eq!(
        bodies(&got),
        ["a", "b"],
        "a topic delivers in publish order"
    );
}
