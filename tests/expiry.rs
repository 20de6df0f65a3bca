//! Expiry: a message whose `expires` (ms since the epoch, ActiveMQ/Artemis)
//! has passed, or whose destination's `ttl_ms` has run out, is never
//! delivered; it is dropped, or dead-lettered when the destination's policy
//! says `on_expiry = "dead-letter"`, and counted in
//! `stompede_destination_messages_expired_total`.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use stompede::protocol::{Command, Frame};

const QUIET: Duration = Duration::from_millis(200);

fn ms_from_now(delta: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    (now + delta).to_string()
}

async fn expired_total(broker: &TestBroker, dest: &str, kind: &str) -> Option<f64> {
    let (_, text) = broker.http_get("/metrics").await;
    parse_metrics(&text)
        .get(&format!(
            "stompede_destination_messages_expired_total{{destination=\"{dest}\",kind=\"{kind}\"}}"
        ))
        .copied()
}

#[tokio::test]
async fn an_expired_message_is_not_delivered_to_a_late_subscriber() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    let past = ms_from_now(-1_000);
    let future = ms_from_now(3_600_000);
    p.publish_sync("/queue/exp", "stale", &[("expires", &past)])
        .await;
    p.publish_sync("/queue/exp", "fresh", &[("expires", &future)])
        .await;
    p.publish_sync("/queue/exp", "never", &[("expires", "0")])
        .await;
    let mut c = broker.client().await;
    let got = c
        .subscribe_take("/queue/exp", "s", &[("ack", "auto")], 2)
        .await;
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, ["fresh", "never"]);
    assert_eq!(got[0].header("expires"), Some(future.as_str()));
    c.ping().await;
    c.expect_nothing(QUIET).await;
    assert_eq!(
        expired_total(&broker, "/queue/exp", "queue").await,
        Some(1.0)
    );
    // Dropped by default: nothing reached the dead-letter queue.
    let mut dlq = broker.client().await;
    dlq.subscribe("/queue/DLQ.exp", "d", "auto").await;
    dlq.ping().await;
    dlq.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn topics_skip_expired_messages_too() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/topic/exp", "s", "auto").await;
    let mut p = broker.client().await;
    p.publish_sync("/topic/exp", "stale", &[("expires", &ms_from_now(-1))])
        .await;
    p.publish_sync("/topic/exp", "ok", &[]).await;
    assert_eq!(body(&c.expect(Command::Message).await), "ok");
    c.ping().await;
    assert_eq!(
        expired_total(&broker, "/topic/exp", "topic").await,
        Some(1.0)
    );
}

#[tokio::test]
async fn the_policy_can_dead_letter_expired_messages() {
    let broker = TestBroker::with_config(
        r#"[destinations]
policies = [{ pattern = "/queue/exp.*", on_expiry = "dead-letter" }]
"#,
        &[],
    );
    let mut p = broker.client().await;
    let past = ms_from_now(-1_000);
    p.publish_sync("/queue/exp.dl", "stale", &[("expires", &past)])
        .await;
    let mut c = broker.client().await;
    c.subscribe("/queue/exp.dl", "s", "auto").await;
    c.ping().await;
    c.expect_nothing(QUIET).await;
    let mut dlq = broker.client().await;
    let got = dlq
        .subscribe_take("/queue/DLQ.exp.dl", "d", &[("ack", "auto")], 1)
        .await;
    assert_eq!(body(&got[0]), "stale");
    assert_eq!(got[0].header("x-death-reason"), Some("expired"));
    assert_eq!(
        got[0].header("x-original-destination"),
        Some("/queue/exp.dl")
    );
    // The dead letter itself no longer expires; the deadline is kept for reference.
    assert_eq!(got[0].header("expires"), None);
    assert_eq!(got[0].header("x-original-expires"), Some(past.as_str()));
    assert_eq!(
        expired_total(&broker, "/queue/exp.dl", "queue").await,
        Some(1.0)
    );
}

#[tokio::test]
async fn a_destination_time_to_live_applies_to_every_message() {
    const TTL_MS: u64 = 300;
    let broker = TestBroker::with_config(
        &format!(
            "[destinations]\npolicies = [{{ pattern = \"/queue/ttl.*\", ttl_ms = {TTL_MS} }}]\n"
        ),
        &[],
    );
    let mut p = broker.client().await;
    p.publish_sync("/queue/ttl.a", "old", &[]).await;
    // Time-based behaviour: the first message must outlive the queue's ttl.
    tokio::time::sleep(Duration::from_millis(TTL_MS + 100)).await;
    p.publish_sync("/queue/ttl.a", "new", &[]).await;
    // Other queues have no ttl.
    p.publish_sync("/queue/other", "kept", &[]).await;
    let mut c = broker.client().await;
    let got = c
        .subscribe_take("/queue/ttl.a", "s", &[("ack", "auto")], 1)
        .await;
    assert_eq!(body(&got[0]), "new");
    let got = c
        .subscribe_take("/queue/other", "o", &[("ack", "auto")], 1)
        .await;
    assert_eq!(body(&got[0]), "kept");
    c.ping().await;
    c.expect_nothing(QUIET).await;
    assert_eq!(
        expired_total(&broker, "/queue/ttl.a", "queue").await,
        Some(1.0)
    );
}

#[tokio::test]
async fn an_unreadable_expires_is_an_error() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    let f = Frame::new(Command::Send)
        .with_header("destination", "/queue/exp.bad")
        .with_header("expires", "tomorrow")
        .with_body("x");
    c.expect_error_after(f, "expires").await;
}
