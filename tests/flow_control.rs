//! Flow control: bounded queues (block, reject, drop-head), the broker-wide
//! memory alarm, slow topic subscribers and non-reading connections.
//! Bounds are checked through the broker's own metrics and socket behaviour;
//! nothing here measures speed.

mod common;

use std::time::{Duration, Instant};

use common::*;
use stompede::protocol::{Command, Frame};

const READY: &str = "stompede_destination_messages_ready";

fn q(name: &str) -> [(&'static str, String); 2] {
    [
        ("destination", name.to_string()),
        ("kind", "queue".to_string()),
    ]
}

fn labels<'a>(l: &'a [(&'static str, String); 2]) -> [(&'a str, &'a str); 2] {
    [(l[0].0, l[0].1.as_str()), (l[1].0, l[1].1.as_str())]
}

/// Asserts `check` holds on every scrape for `window` (an absence of growth
/// can only be observed over some time).
async fn holds_for(
    broker: &TestBroker,
    window: Duration,
    check: impl Fn(&Scrape) -> Result<(), String>,
) {
    let end = Instant::now() + window;
    while Instant::now() < end {
        if let Err(e) = check(&broker.scrape().await) {
            panic!("{e}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn full_queue_blocks_the_publisher_without_loss() {
    const LIMIT: usize = 50;
    const INFLIGHT: usize = 8;
    const TOTAL: usize = 600;
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "50"),
        ("STOMPEDE__LIMITS__MAX_INFLIGHT_FRAMES", "8"),
    ]);
    let dest = "/queue/blocked";
    let mut producer = broker.client().await;
    let send_all = tokio::spawn(async move {
        for i in 0..TOTAL {
            producer.publish(dest, &format!("m{i}"), &[]).await;
        }
        producer
            .send_with_receipt(
                Frame::new(Command::Send)
                    .with_header("destination", dest)
                    .with_body("last"),
                "all-sent",
            )
            .await;
        producer
    });
    let l = q(dest);
    broker
        .scrape_until("queue reaches its limit", |s| {
            s.get(READY, &labels(&l)).unwrap_or(0.0) >= LIMIT as f64
        })
        .await;
    // Blocked: the queue stays at its bound (plus the publisher's in-flight
    // frames) and the publisher cannot finish.
    holds_for(&broker, Duration::from_millis(400), |s| {
        let ready = s.get(READY, &labels(&l)).unwrap_or(0.0);
        if ready > (LIMIT + INFLIGHT) as f64 {
            return Err(format!("queue grew past its bound: {ready}"));
        }
        Ok(())
    })
    .await;
    assert!(!send_all.is_finished(), "the publisher was never held back");

    let mut consumer = broker.client().await;
    consumer.subscribe(dest, "c", "auto").await;
    for i in 0..TOTAL {
        let m = consumer.expect(Command::Message).await;
        assert_eq!(body(&m), format!("m{i}"));
    }
    assert_eq!(body(&consumer.expect(Command::Message).await), "last");
    let producer = tokio::time::timeout(TIMEOUT, send_all)
        .await
        .expect("publisher resumes")
        .expect("task");
    producer.disconnect().await;
    consumer.expect_nothing(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn reject_policy_refuses_with_an_error_in_place_of_the_receipt() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "3"),
        ("STOMPEDE__DESTINATIONS__OVERFLOW", "reject"),
    ]);
    let mut p = broker.client().await;
    for i in 0..3 {
        p.send_with_receipt(
            Frame::new(Command::Send)
                .with_header("destination", "/queue/r")
                .with_body(format!("m{i}")),
            &format!("r{i}"),
        )
        .await;
    }
    p.send(
        Frame::new(Command::Send)
            .with_header("destination", "/queue/r")
            .with_header("receipt", "r3")
            .with_body("m3"),
    )
    .await;
    let err = p.expect_error().await;
    assert_eq!(err.header("receipt-id"), Some("r3"));
    assert!(
        err.header("message")
            .unwrap_or("")
            .contains("/queue/r is full"),
        "{err:?}"
    );
    let mut c = broker.client().await;
    c.subscribe("/queue/r", "c", "auto").await;
    for i in 0..3 {
        assert_eq!(body(&c.expect(Command::Message).await), format!("m{i}"));
    }
    c.expect_nothing(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn drop_head_policy_keeps_the_newest_and_counts_the_dropped() {
    let broker = TestBroker::with_config(
        r#"
[destinations]
policies = [{ pattern = "/queue/logs.*", max_messages = 3, overflow = "drop-head" }]
"#,
        &[],
    );
    let mut p = broker.client().await;
    for i in 0..5 {
        p.publish("/queue/logs.app", &format!("m{i}"), &[]).await;
    }
    // Another queue is not covered by the pattern and keeps everything.
    for i in 0..5 {
        p.publish("/queue/orders", &format!("o{i}"), &[]).await;
    }
    p.send_with_receipt(
        Frame::new(Command::Send)
            .with_header("destination", "/queue/orders")
            .with_body("o5"),
        "done",
    )
    .await;
    let mut c = broker.client().await;
    c.subscribe("/queue/logs.app", "logs", "auto").await;
    for i in 2..5 {
        assert_eq!(body(&c.expect(Command::Message).await), format!("m{i}"));
    }
    c.expect_nothing(Duration::from_millis(100)).await;
    let s = broker.scrape().await;
    let l = q("/queue/logs.app");
    assert_eq!(
        s.value("stompede_destination_messages_dropped_total", &labels(&l)),
        2.0
    );
    let o = q("/queue/orders");
    assert_eq!(s.value(READY, &labels(&o)), 6.0);
}

#[tokio::test]
async fn memory_alarm_pauses_every_publisher_until_consumers_drain() {
    // 4 KiB bodies against a 32 KiB broker-wide budget, spread over two queues.
    let broker = TestBroker::with(&[
        ("STOMPEDE__BROKER__MAX_BUFFERED_BYTES", "32768"),
        ("STOMPEDE__LIMITS__MAX_INFLIGHT_FRAMES", "4"),
    ]);
    let body4k = "x".repeat(4096);
    let mut producers = Vec::new();
    for name in ["/queue/mem-a", "/queue/mem-b"] {
        let mut p = broker.client().await;
        let b = body4k.clone();
        producers.push(tokio::spawn(async move {
            for _ in 0..100 {
                p.publish(name, &b, &[]).await;
            }
            p.send_with_receipt(
                Frame::new(Command::Send)
                    .with_header("destination", name)
                    .with_body("end"),
                "end",
            )
            .await;
            p.disconnect().await;
        }));
    }
    broker
        .scrape_until("memory alarm raised", |s| {
            s.get("stompede_memory_alarm", &[]) == Some(1.0)
        })
        .await;
    holds_for(&broker, Duration::from_millis(300), |s| {
        let used = s.get("stompede_buffered_message_bytes", &[]).unwrap_or(0.0);
        // Budget plus each publisher's in-flight frames.
        let bound = 32768.0 + 2.0 * 4.0 * 4400.0;
        if used > bound {
            return Err(format!("buffered bytes grew to {used} past {bound}"));
        }
        Ok(())
    })
    .await;
    assert!(
        producers.iter().all(|p| !p.is_finished()),
        "publishers were not paused"
    );

    let mut consumers = Vec::new();
    for name in ["/queue/mem-a", "/queue/mem-b"] {
        let mut c = broker.client().await;
        c.subscribe(name, "c", "auto").await;
        consumers.push(tokio::spawn(async move {
            for _ in 0..100 {
                let m = c.expect(Command::Message).await;
                assert_eq!(m.body.len(), 4096);
            }
            assert_eq!(body(&c.expect(Command::Message).await), "end");
        }));
    }
    for t in producers.into_iter().chain(consumers) {
        tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .expect("finishes")
            .expect("task");
    }
    broker
        .scrape_until("alarm cleared", |s| {
            s.get("stompede_memory_alarm", &[]) == Some(0.0)
        })
        .await;
}

/// One fast and one stalled subscriber on a topic.
async fn slow_topic_subscriber(policy: &str) -> (TestBroker, Client, Client) {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__SUBSCRIBER_BACKLOG", "10"),
        ("STOMPEDE__DESTINATIONS__SLOW_CONSUMER", policy),
    ]);
    let mut fast = broker.client().await;
    fast.subscribe("/topic/t", "fast", "auto").await;
    let mut slow = broker.client().await;
    // Window of one, never acknowledged: everything after it parks in the backlog.
    slow.subscribe_with(
        "/topic/t",
        "slow",
        &[("ack", "client-individual"), ("prefetch-count", "1")],
    )
    .await;
    (broker, fast, slow)
}

#[tokio::test]
async fn slow_topic_subscriber_loses_messages_not_the_others() {
    let (broker, mut fast, mut slow) = slow_topic_subscriber("drop").await;
    let mut p = broker.client().await;
    for i in 0..100 {
        p.publish("/topic/t", &format!("m{i}"), &[]).await;
    }
    for i in 0..100 {
        assert_eq!(body(&fast.expect(Command::Message).await), format!("m{i}"));
    }
    let s = broker.scrape().await;
    let t = [("destination", "/topic/t"), ("kind", "topic")];
    // 1 in the window + 10 parked; the other 89 dropped for the slow one only.
    assert_eq!(
        s.value("stompede_destination_messages_dropped_total", &t),
        89.0
    );
    let first = slow.expect(Command::Message).await;
    assert_eq!(body(&first), "m0");
    slow.ack(&first).await;
    for i in 1..=10 {
        let m = slow.expect(Command::Message).await;
        assert_eq!(body(&m), format!("m{i}"));
        slow.ack(&m).await;
    }
    slow.expect_nothing(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn slow_topic_subscriber_is_disconnected_under_that_policy() {
    let (broker, mut fast, mut slow) = slow_topic_subscriber("disconnect").await;
    let mut p = broker.client().await;
    for i in 0..30 {
        p.publish("/topic/t", &format!("m{i}"), &[]).await;
    }
    for i in 0..30 {
        assert_eq!(body(&fast.expect(Command::Message).await), format!("m{i}"));
    }
    let err = loop {
        let f = slow.recv().await;
        if f.command != Command::Message {
            break f;
        }
    };
    assert_eq!(err.command, Command::Error);
    assert_eq!(err.header("message"), Some("slow consumer"));
    slow.expect_closed().await;
}

#[tokio::test]
async fn connection_that_stops_reading_is_cut_off_at_its_outbound_bound() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__LIMITS__MAX_OUTBOUND_BYTES", "1048576"),
        ("STOMPEDE__DESTINATIONS__SUBSCRIBER_BACKLOG", "100000"),
    ]);
    // Each subscription's window is a quarter of the outbound bound in bytes,
    // so one stalled subscription only parks messages; eight subscriptions
    // that never read overflow the connection's bound and cut it off.
    let mut stalled = broker.raw().await;
    stalled.stomp_connect(&[("accept-version", "1.2")]).await;
    for i in 0..8 {
        let sub = format!(
            "SUBSCRIBE\nid:s{i}\ndestination:/topic/big\nprefetch-count:65535\nreceipt:r{i}\n\n\0"
        );
        stalled.send(sub.as_bytes()).await;
        assert_eq!(stalled.read_frame().await.command, Command::Receipt);
    }
    let mut reader = broker.client().await;
    reader.subscribe("/topic/big", "r", "auto").await;
    // The healthy subscriber reads as it goes, and gets everything.
    let reading = tokio::spawn(async move {
        for _ in 0..200 {
            assert_eq!(reader.expect(Command::Message).await.body.len(), 64 * 1024);
        }
    });

    let mut p = broker.client().await;
    let big = "y".repeat(64 * 1024);
    for _ in 0..200 {
        p.publish("/topic/big", &big, &[]).await;
    }
    tokio::time::timeout(TIMEOUT, reading)
        .await
        .expect("reader done")
        .expect("reader");
    broker
        .scrape_until("slow consumer disconnected", |s| {
            s.get("stompede_errors_total", &[("reason", "slow_consumer")])
                .unwrap_or(0.0)
                >= 1.0
        })
        .await;
    p.disconnect().await;
}

#[tokio::test]
async fn a_publisher_held_back_is_not_timed_out_for_silence() {
    // The broker stops reading a blocked publisher, so the heart-beats it
    // sends meanwhile sit unread; that must not count as silence.
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "20"),
        ("STOMPEDE__LIMITS__MAX_INFLIGHT_FRAMES", "4"),
        ("STOMPEDE__HEARTBEAT__RECEIVE_MIN_MS", "100"),
    ]);
    let dest = "/queue/held";
    let mut producer = broker
        .client_with(&[
            ("accept-version", "1.2"),
            ("host", "/"),
            ("heart-beat", "100,0"),
        ])
        .await;
    assert_eq!(producer.connected.header("heart-beat"), Some("0,100"));
    let sending = tokio::spawn(async move {
        for i in 0..200 {
            producer.publish(dest, &format!("m{i}"), &[]).await;
        }
        producer
    });
    let l = q(dest);
    broker
        .scrape_until("queue reaches its limit", |s| {
            s.get(READY, &labels(&l)).unwrap_or(0.0) >= 20.0
        })
        .await;
    // Held well past 3 x 100 ms without the broker reading a byte from it.
    holds_for(&broker, Duration::from_millis(800), |s| {
        match s
            .get("stompede_heartbeat_timeouts_total", &[])
            .unwrap_or(0.0)
        {
            t if t > 0.0 => Err("the held-back publisher was timed out".into()),
            _ => Ok(()),
        }
    })
    .await;
    let mut consumer = broker.client().await;
    consumer.subscribe(dest, "c", "auto").await;
    for i in 0..200 {
        assert_eq!(
            body(&consumer.expect(Command::Message).await),
            format!("m{i}")
        );
    }
    let mut producer = tokio::time::timeout(TIMEOUT, sending)
        .await
        .expect("resumed")
        .expect("task");
    producer
        .send_with_receipt(
            Frame::new(Command::Send)
                .with_header("destination", dest)
                .with_body("after"),
            "after",
        )
        .await;
}

/// Three publishers of 16 KiB SENDs against a 64 KiB memory budget, with the
/// default 256 in-flight frames but 128 KiB of in-flight bytes: once the
/// alarm is up, each publisher may have about 128 KiB (plus one frame) read
/// and not yet applied, not 256 frames of 16 KiB.
#[tokio::test]
async fn large_frames_in_flight_are_bounded_by_bytes_not_only_frames() {
    const INFLIGHT_BYTES: f64 = 131072.0;
    let broker = TestBroker::with(&[
        ("STOMPEDE__BROKER__MAX_BUFFERED_BYTES", "65536"),
        ("STOMPEDE__LIMITS__MAX_INFLIGHT_BYTES", "131072"),
    ]);
    let body16k = "x".repeat(16384);
    let mut producers = Vec::new();
    for name in ["/queue/big-a", "/queue/big-b", "/queue/big-c"] {
        let mut p = broker.client().await;
        let b = body16k.clone();
        producers.push(tokio::spawn(async move {
            // More than the sockets' buffers hold, so a paused publisher shows.
            for _ in 0..400 {
                p.publish(name, &b, &[]).await;
            }
        }));
    }
    broker
        .scrape_until("memory alarm raised", |s| {
            s.get("stompede_memory_alarm", &[]) == Some(1.0)
        })
        .await;
    holds_for(&broker, Duration::from_millis(300), |s| {
        let used = s.get("stompede_buffered_message_bytes", &[]).unwrap_or(0.0);
        let bound = 65536.0 + 3.0 * (INFLIGHT_BYTES + 2.0 * 16800.0);
        if used > bound {
            return Err(format!("buffered bytes grew to {used} past {bound}"));
        }
        Ok(())
    })
    .await;
    assert!(
        producers.iter().all(|p| !p.is_finished()),
        "publishers were not paused"
    );
}

/// A blocked queue of 10 holds at most what one publisher's in-flight bytes
/// allow beyond its bound: 128 KiB of 16 KiB SENDs is 8 frames, where the
/// frame bound alone (256) let 265 in.
#[tokio::test]
async fn a_blocked_queue_overshoots_by_in_flight_bytes_at_most() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "10"),
        ("STOMPEDE__LIMITS__MAX_INFLIGHT_BYTES", "131072"),
    ]);
    let dest = "/queue/blocked-big";
    let body16k = "x".repeat(16384);
    let mut producer = broker.client().await;
    let send_all = tokio::spawn(async move {
        // More than the sockets' buffers hold, so a paused publisher shows.
        for _ in 0..1000 {
            producer.publish(dest, &body16k, &[]).await;
        }
    });
    let l = q(dest);
    broker
        .scrape_until("queue reaches its limit", |s| {
            s.get(READY, &labels(&l)).unwrap_or(0.0) >= 10.0
        })
        .await;
    holds_for(&broker, Duration::from_millis(300), |s| {
        let ready = s.get(READY, &labels(&l)).unwrap_or(0.0);
        if ready > 10.0 + 8.0 {
            return Err(format!("queue grew past its bound: {ready}"));
        }
        Ok(())
    })
    .await;
    assert!(!send_all.is_finished(), "the publisher was never held back");
}
