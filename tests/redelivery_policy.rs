//! Redelivery policy per destination pattern (`destinations.policies`): what
//! a NACK does (`requeue-head`, `requeue-tail`, `dead-letter`), a redelivery
//! delay growing by a backoff factor up to a cap, during which the other
//! messages keep flowing, and `max_deliveries` with a dead-letter queue of the
//! pattern's own; after a restart a persistent message that was waiting out
//! its delay is ready at once. Times are measured on frames as they arrive, against lower
//! bounds only: a loaded machine may be late, never early.

mod common;

use std::time::{Duration, Instant};

use common::*;
use stompede::protocol::{Command, Frame};

/// A broker whose `[destinations]` section is `section`.
fn broker(section: &str) -> TestBroker {
    TestBroker::with_config(&format!("[destinations]\n{section}\n"), &[])
}

/// A client subscribed to `queue` in client-individual mode, one message at a time.
async fn one_at_a_time(b: &TestBroker, queue: &str) -> Client {
    let mut c = b.client().await;
    c.subscribe_with(
        queue,
        "s",
        &[("ack", "client-individual"), ("prefetch-count", "1")],
    )
    .await;
    c
}

async fn publish_all(b: &TestBroker, queue: &str, bodies: &[&str]) {
    let mut p = b.client().await;
    for text in bodies {
        p.publish_sync(queue, text, &[]).await;
    }
}

fn count(m: &Frame) -> Option<&str> {
    m.header("delivery-count")
}

/// Receives one MESSAGE per body, acking each, and checks the bodies.
async fn take_in_order(c: &mut Client, bodies: &[&str]) -> Vec<Frame> {
    let mut got = Vec::new();
    for want in bodies {
        let m = c.expect(Command::Message).await;
        assert_eq!(body(&m), *want, "{m:?}");
        c.ack(&m).await;
        got.push(m);
    }
    got
}

#[tokio::test]
async fn requeue_tail_lets_the_waiting_messages_go_first_on_matching_queues_only() {
    let b = broker(r#"policies = [{ pattern = "/queue/tail.*", nack = "requeue-tail" }]"#);
    for (queue, after_nack) in [
        ("/queue/tail.jobs", ["m1", "m2", "m0"]),
        ("/queue/head.jobs", ["m0", "m1", "m2"]),
    ] {
        publish_all(&b, queue, &["m0", "m1", "m2"]).await;
        let mut c = one_at_a_time(&b, queue).await;
        let first = c.expect(Command::Message).await;
        assert_eq!(body(&first), "m0");
        c.nack(&first).await;
        let got = take_in_order(&mut c, &after_nack).await;
        let again = got.iter().find(|m| body(m) == "m0").expect("m0 again");
        assert_eq!(count(again), Some("2"), "{queue}: {again:?}");
        assert_eq!(again.header("redelivered"), Some("true"));
        c.disconnect().await;
    }
}

#[tokio::test]
async fn dead_letter_mode_sends_a_nacked_message_to_the_dlq_at_once() {
    let b = broker(r#"policies = [{ pattern = "/queue/strict.*", nack = "dead-letter" }]"#);
    let mut dlq = b.client().await;
    dlq.subscribe("/queue/DLQ.strict.orders", "d", "auto").await;
    publish_all(&b, "/queue/strict.orders", &["bad", "good"]).await;
    let mut c = one_at_a_time(&b, "/queue/strict.orders").await;
    let m = c.expect(Command::Message).await;
    assert_eq!(body(&m), "bad");
    c.nack(&m).await;

    let dead = dlq.expect(Command::Message).await;
    assert_eq!(body(&dead), "bad");
    assert_eq!(
        dead.header("x-original-destination"),
        Some("/queue/strict.orders")
    );
    assert_eq!(dead.header("x-death-reason"), Some("rejected"));
    assert_eq!(dead.header("x-delivery-count"), Some("1"));
    // The consumer gets the next message, never the NACKed one again.
    take_in_order(&mut c, &["good"]).await;
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn dead_letter_queue_and_max_deliveries_per_pattern() {
    let b = broker(
        r#"max_deliveries = 10
policies = [{ pattern = "/queue/jobs.*", max_deliveries = 2, dead_letter = "/queue/jobs-failed" }]"#,
    );
    let mut dlq = b.client().await;
    dlq.subscribe("/queue/jobs-failed", "d", "auto").await;
    publish_all(&b, "/queue/jobs.render", &["poison"]).await;
    publish_all(&b, "/queue/other", &["poison"]).await;
    let mut jobs = one_at_a_time(&b, "/queue/jobs.render").await;
    let mut other = one_at_a_time(&b, "/queue/other").await;
    for n in 1..=2 {
        for c in [&mut jobs, &mut other] {
            let m = c.expect(Command::Message).await;
            assert_eq!(body(&m), "poison");
            if n > 1 {
                assert_eq!(count(&m), Some("2"), "{m:?}");
            }
            c.nack(&m).await;
        }
    }
    let dead = dlq.expect(Command::Message).await;
    assert_eq!(dead.header("destination"), Some("/queue/jobs-failed"));
    assert_eq!(
        dead.header("x-original-destination"),
        Some("/queue/jobs.render")
    );
    assert_eq!(dead.header("x-delivery-count"), Some("2"));
    assert_eq!(dead.header("x-death-reason"), Some("delivery-limit"));
    // The queue outside the pattern keeps the global limit of 10.
    let third = other.expect(Command::Message).await;
    assert_eq!(count(&third), Some("3"));
    jobs.ping().await;
    jobs.expect_nothing(QUIET).await;
    dlq.ping().await;
    dlq.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn the_redelivery_delay_grows_by_the_backoff() {
    let b = broker(
        r#"policies = [{ pattern = "/queue/retry.*", redelivery_delay_ms = 150, redelivery_backoff = 2.0, redelivery_max_delay_ms = 400 }]"#,
    );
    publish_all(&b, "/queue/retry.mail", &["m"]).await;
    let mut c = one_at_a_time(&b, "/queue/retry.mail").await;
    let mut m = c.expect(Command::Message).await;
    // 150, then ×2 = 300, then 600 capped at 400, then 400 again.
    for (n, wait_ms) in [150u64, 300, 400, 400].into_iter().enumerate() {
        let nacked = Instant::now();
        c.nack(&m).await;
        m = c.expect(Command::Message).await;
        let gap = nacked.elapsed();
        assert_eq!(body(&m), "m");
        assert_eq!(count(&m), Some((n + 2).to_string().as_str()));
        assert!(
            gap >= Duration::from_millis(wait_ms),
            "redelivery {} came after {gap:?}, before its {wait_ms} ms delay",
            n + 2
        );
    }
    c.ack(&m).await;
}

#[tokio::test]
async fn other_messages_flow_while_one_is_delayed() {
    let b = broker(r#"policies = [{ pattern = "/queue/slow.*", redelivery_delay_ms = 1500 }]"#);
    publish_all(&b, "/queue/slow.q", &["m0", "m1", "m2", "m3"]).await;
    let mut c = one_at_a_time(&b, "/queue/slow.q").await;
    let first = c.expect(Command::Message).await;
    assert_eq!(body(&first), "m0");
    let nacked = Instant::now();
    c.nack(&first).await;
    take_in_order(&mut c, &["m1", "m2", "m3"]).await;
    let back = c.expect(Command::Message).await;
    assert!(nacked.elapsed() >= Duration::from_millis(1500));
    assert_eq!(body(&back), "m0");
    assert_eq!(count(&back), Some("2"));
    assert_eq!(back.header("redelivered"), Some("true"));
}

#[tokio::test]
async fn a_consumer_that_leaves_returns_its_messages_at_once_counted() {
    // A delay of a minute would outlast every expectation: the returned
    // message must not wait it out.
    let b = broker(r#"policies = [{ pattern = "/queue/slow.*", redelivery_delay_ms = 60000 }]"#);
    publish_all(&b, "/queue/slow.q", &["m0"]).await;
    let mut a = one_at_a_time(&b, "/queue/slow.q").await;
    assert_eq!(body(&a.expect(Command::Message).await), "m0");
    let mut other = one_at_a_time(&b, "/queue/slow.q").await;
    a.disconnect().await;
    let m = other.expect(Command::Message).await;
    assert_eq!(body(&m), "m0");
    assert_eq!(count(&m), Some("2"), "the lost delivery counts: {m:?}");
}

#[tokio::test]
async fn bad_redelivery_settings_are_refused_by_name() {
    for (section, needle) in [
        (
            "redelivery_backoff = 0.5",
            "destinations.redelivery_backoff",
        ),
        (
            r#"policies = [{ pattern = "/queue/x", redelivery_backoff = -1.0 }]"#,
            "redelivery_backoff",
        ),
        (
            r#"policies = [{ pattern = "/queue/x", max_deliveries = 0 }]"#,
            "max_deliveries",
        ),
        (
            r#"policies = [{ pattern = "/queue/x", dead_letter = "/topic/dead" }]"#,
            "dead_letter",
        ),
        (r#"nack = "drop""#, "nack"),
    ] {
        let dir = TempDir::new("config");
        let path = dir.write("stompede.toml", &format!("[destinations]\n{section}\n"));
        let err = stompede::Settings::load(Some(&path), std::iter::empty())
            .expect_err(section)
            .to_string();
        assert!(err.contains(needle), "{section}: {err}");
    }
}

#[tokio::test]
async fn a_persistent_message_waiting_out_its_delay_is_ready_after_a_restart() {
    let store = TempDir::new("redelivery-durable");
    let config = TempDir::new("redelivery-durable-config");
    let path = config.write(
        "stompede.toml",
        "[destinations]\npolicies = [{ pattern = \"/queue/later.*\", redelivery_delay_ms = 60000 }]\n",
    );
    let path = path.display().to_string();
    let dir = store.path.display().to_string();
    let env = [("STOMPEDE__STORAGE__DIR", dir.as_str())];
    let mut b = BrokerProcess::start(&["--config", &path], &env).await;
    let mut c = b.client().await;
    send_receipted(&mut c, "/queue/later.a", "kept", true).await;
    c.subscribe("/queue/later.a", "s", "client-individual")
        .await;
    let m = c.expect(Command::Message).await;
    c.nack(&m).await;
    c.ping().await;
    c.expect_nothing(QUIET).await;
    // The journal syncs in order: this RECEIPT means the delivery count is on disk.
    send_receipted(&mut c, "/queue/barrier", "b", true).await;
    b.kill9().await;

    let b = BrokerProcess::start(&["--config", &path], &env).await;
    let mut c = b.client().await;
    let back = expect_exactly(&mut c, "/queue/later.a", "auto", &["kept"]).await;
    assert_eq!(count(&back[0]), Some("2"), "{:?}", back[0]);
}
