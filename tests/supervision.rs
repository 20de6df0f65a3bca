//! Supervision: failed session, destination and transaction actors are
//! restarted, and neither the broker, other clients nor a message goes with them.
//! Faults are injected with the `fault-injection` feature's SEND header.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use stompede::protocol::{Command, Frame};

async fn restarts(broker: &TestBroker, kind: &str) -> f64 {
    let (_, text) = broker.http_get("/metrics").await;
    let key = format!("stompede_actor_restarts_total{{kind=\"{kind}\"}}");
    parse_metrics(&text).get(&key).copied().unwrap_or(0.0)
}

fn fault(destination: &str, target: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", destination)
        .with_header("x-stompede-fault", target)
        .with_body("fault")
}

#[tokio::test]
async fn failed_session_tells_client_and_its_unacked_messages_go_to_others() {
    let broker = TestBroker::start();
    let mut other = broker.client().await;
    other
        .subscribe_with(
            "/queue/sv",
            "o",
            &[("ack", "client-individual"), ("prefetch-count", "1")],
        )
        .await;
    let mut victim = broker.client().await;
    victim
        .subscribe_with(
            "/queue/sv",
            "v",
            &[("ack", "client-individual"), ("prefetch-count", "10")],
        )
        .await;
    let mut p = broker.client().await;
    for i in 0..6 {
        p.publish("/queue/sv", &format!("m{i}"), &[]).await;
    }
    p.send_with_receipt(
        Frame::new(Command::Send)
            .with_header("destination", "/queue/none")
            .with_body("x"),
        "r",
    )
    .await;
    // `other` has a window of one and holds its first message unacked; the victim gets the rest.
    let first = other.expect(Command::Message).await;
    let mut held = HashSet::new();
    for _ in 0..5 {
        let m = victim.expect(Command::Message).await;
        held.insert(String::from_utf8_lossy(&m.body).to_string());
    }
    victim.send(fault("/queue/sv", "session")).await;
    let err = victim.expect_error().await;
    assert_eq!(
        err.header("message"),
        Some("session failed, please reconnect")
    );

    other.ack(&first).await;
    let mut redelivered = HashSet::new();
    for _ in 0..5 {
        let m = other.expect(Command::Message).await;
        assert_eq!(
            m.header("redelivered"),
            Some("true"),
            "repeat delivery must be flagged: {m:?}"
        );
        redelivered.insert(String::from_utf8_lossy(&m.body).to_string());
        other.ack(&m).await;
    }
    assert_eq!(held, redelivered);
    assert_eq!(restarts(&broker, "session").await, 1.0);
    other.disconnect().await;
}

#[tokio::test]
async fn failed_destination_restarts_with_its_messages() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    for i in 0..20 {
        p.publish("/queue/df", &format!("m{i}"), &[]).await;
    }
    // The fault SEND crashes the queue, then is itself published to the restarted queue.
    p.send_with_receipt(fault("/queue/df", "destination"), "after-fault")
        .await;
    let mut c = broker.client().await;
    c.subscribe("/queue/df", "s", "auto").await;
    for i in 0..20 {
        let m = c.expect(Command::Message).await;
        assert_eq!(&m.body[..], format!("m{i}").as_bytes());
    }
    let m = c.expect(Command::Message).await;
    assert_eq!(&m.body[..], b"fault");
    assert_eq!(restarts(&broker, "destination").await, 1.0);
    p.disconnect().await;
    c.disconnect().await;
}

#[tokio::test]
async fn failed_transaction_restarts_holding_its_frames() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.subscribe("/queue/tf", "s", "auto").await;
    let mut p = broker.client().await;
    p.send(Frame::new(Command::Begin).with_header("transaction", "t"))
        .await;
    for i in 0..3 {
        p.publish("/queue/tf", &format!("m{i}"), &[("transaction", "t")])
            .await;
    }
    p.send(fault("/queue/tf", "transaction").with_header("transaction", "t"))
        .await;
    p.send_with_receipt(
        Frame::new(Command::Commit).with_header("transaction", "t"),
        "c",
    )
    .await;
    for body in ["m0", "m1", "m2", "fault"] {
        let m = c.expect(Command::Message).await;
        assert_eq!(&m.body[..], body.as_bytes());
    }
    assert_eq!(restarts(&broker, "transaction").await, 1.0);
    p.disconnect().await;
}

/// What the steady consumers saw.
#[derive(Default)]
struct Seen {
    unflagged: HashMap<String, u32>,
    acked: HashSet<String>,
    last: Option<Instant>,
    max_gap: Duration,
}

#[tokio::test]
async fn repeated_faults_under_load_lose_nothing_and_harm_no_one() {
    const PRODUCERS: usize = 3;
    const PER_PRODUCER: usize = 1000;
    const SESSION_FAULTS: usize = 4;
    const DESTINATION_FAULTS: usize = 3;
    const TX_FAULTS: usize = 3;
    const TX_SIZE: usize = 10;
    let broker = TestBroker::start();
    let dest = "/queue/load";
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut expected: HashSet<String> = HashSet::new();

    let mut consumers = Vec::new();
    for k in 0..3 {
        let mut c = broker.client().await;
        c.subscribe_with(
            dest,
            &format!("c{k}"),
            &[("ack", "client-individual"), ("prefetch-count", "50")],
        )
        .await;
        let seen = seen.clone();
        consumers.push(tokio::spawn(async move {
            let mut c = c;
            #[allow(clippy::infinite_loop)]
            loop {
                let f = c.recv().await;
                assert_eq!(f.command, Command::Message, "steady consumer got {f:?}");
                let body = String::from_utf8_lossy(&f.body).to_string();
                {
                    let mut s = seen.lock().unwrap();
                    let now = Instant::now();
                    if let Some(last) = s.last {
                        s.max_gap = s.max_gap.max(now - last);
                    }
                    s.last = Some(now);
                    if f.header("redelivered") != Some("true") {
                        *s.unflagged.entry(body.clone()).or_default() += 1;
                    }
                    assert!(s.acked.insert(body.clone()), "{body} acknowledged twice");
                }
                c.ack(&f).await;
            }
        }));
    }

    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        for i in 0..PER_PRODUCER {
            expected.insert(format!("p{p}-{i}"));
        }
        let mut c = broker.client().await;
        producers.push(tokio::spawn(async move {
            for i in 0..PER_PRODUCER {
                c.publish(dest, &format!("p{p}-{i}"), &[]).await;
            }
            c.disconnect().await;
        }));
    }

    // Victims take messages without acking them, then their session fails.
    for v in 0..SESSION_FAULTS {
        let mut victim = broker.client().await;
        victim
            .subscribe_with(
                dest,
                &format!("v{v}"),
                &[("ack", "client-individual"), ("prefetch-count", "5")],
            )
            .await;
        victim.send(fault(dest, "session")).await;
        // It may hold deliveries (never acked) before the ERROR arrives.
        let err = loop {
            let f = victim.recv().await;
            if f.command != Command::Message {
                break f;
            }
        };
        assert_eq!(err.command, Command::Error, "{err:?}");
        assert_eq!(
            err.header("message"),
            Some("session failed, please reconnect")
        );
    }
    let mut f = broker.client().await;
    for d in 0..DESTINATION_FAULTS {
        f.send_with_receipt(
            fault(dest, "destination").with_body(format!("df{d}")),
            &format!("d{d}"),
        )
        .await;
        expected.insert(format!("df{d}"));
    }
    for t in 0..TX_FAULTS {
        let tx = format!("tx{t}");
        f.send(Frame::new(Command::Begin).with_header("transaction", tx.as_str()))
            .await;
        for i in 0..TX_SIZE {
            f.publish(dest, &format!("t{t}-{i}"), &[("transaction", tx.as_str())])
                .await;
            expected.insert(format!("t{t}-{i}"));
        }
        f.send(
            fault(dest, "transaction")
                .with_header("transaction", tx.as_str())
                .with_body(format!("tf{t}")),
        )
        .await;
        expected.insert(format!("tf{t}"));
        f.send_with_receipt(
            Frame::new(Command::Commit).with_header("transaction", tx.as_str()),
            &format!("c{t}"),
        )
        .await;
    }
    for p in producers {
        p.await.expect("producer");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = {
            let s = seen.lock().unwrap();
            expected.iter().all(|e| s.acked.contains(e))
        };
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every message was consumed in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f.disconnect().await;
    for c in &consumers {
        assert!(
            !c.is_finished(),
            "a steady consumer stopped early (error or close)"
        );
        c.abort();
    }

    {
        let s = seen.lock().unwrap();
        for e in &expected {
            assert!(
                s.unflagged.get(e).copied().unwrap_or(0) <= 1,
                "{e} delivered twice unflagged"
            );
        }
        assert!(
            s.max_gap < Duration::from_secs(1),
            "steady consumers paused for {:?}",
            s.max_gap
        );
    }
    assert_eq!(restarts(&broker, "session").await, SESSION_FAULTS as f64);
    assert_eq!(
        restarts(&broker, "destination").await,
        DESTINATION_FAULTS as f64
    );
    assert_eq!(restarts(&broker, "transaction").await, TX_FAULTS as f64);

    // Back to baseline: no subscription, unacked message or connection left behind.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, text) = broker.http_get("/metrics").await;
        let m = parse_metrics(&text);
        let sum = |prefix: &str| -> f64 {
            m.iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| v)
                .sum()
        };
        let left = (
            sum("stompede_destination_consumers{"),
            sum("stompede_destination_messages_unacked{"),
            sum("stompede_connections{"),
        );
        if left == (0.0, 0.0, 0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "state left behind (consumers, unacked, connections): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn destination_failing_past_its_budget_is_quarantined_to_its_dead_letter_queue() {
    let broker = TestBroker::with(&[("STOMPEDE__SUPERVISION__MAX_RESTARTS", "2")]);
    let mut p = broker.client().await;
    for i in 0..5 {
        p.publish("/queue/storm", &format!("m{i}"), &[]).await;
    }
    // Three failures in the window: two restarts are allowed, the third quarantines.
    for f in 0..3 {
        p.send(fault("/queue/storm", "destination").with_body(format!("f{f}")))
            .await;
    }
    p.send_with_receipt(
        Frame::new(Command::Send)
            .with_header("destination", "/queue/storm")
            .with_body("after"),
        "after",
    )
    .await;
    assert_eq!(restarts(&broker, "destination").await, 3.0);

    // Everything that waited in the quarantined queue is in its dead-letter queue, in order.
    let mut dlq = broker.client().await;
    dlq.subscribe("/queue/DLQ.storm", "d", "auto").await;
    for body in ["m0", "m1", "m2", "m3", "m4", "f0", "f1"] {
        let m = dlq.expect(Command::Message).await;
        assert_eq!(String::from_utf8_lossy(&m.body), body);
        assert_eq!(m.header("x-death-reason"), Some("destination-failed"));
        assert_eq!(m.header("x-original-destination"), Some("/queue/storm"));
    }
    // The name lives on in a fresh actor: later messages are served normally.
    let mut c = broker.client().await;
    c.subscribe("/queue/storm", "s", "auto").await;
    let mut rest = Vec::new();
    for _ in 0..2 {
        rest.push(String::from_utf8_lossy(&c.expect(Command::Message).await.body).to_string());
    }
    assert_eq!(rest, ["f2", "after"]);
    c.expect_nothing(std::time::Duration::from_millis(100))
        .await;
    dlq.expect_nothing(std::time::Duration::from_millis(100))
        .await;
}

#[tokio::test]
async fn transaction_failing_past_its_budget_is_abandoned_and_commits_nothing() {
    let broker = TestBroker::with(&[("STOMPEDE__SUPERVISION__MAX_RESTARTS", "1")]);
    let mut c = broker.client().await;
    c.subscribe("/queue/txstorm", "s", "auto").await;
    let mut p = broker.client().await;
    p.send(Frame::new(Command::Begin).with_header("transaction", "t"))
        .await;
    p.publish("/queue/txstorm", "m0", &[("transaction", "t")])
        .await;
    // The first failure is within the budget: the actor comes back holding m0
    // and stages the fault frame too. The second spends the budget.
    p.send_with_receipt(
        fault("/queue/txstorm", "transaction").with_header("transaction", "t"),
        "f0",
    )
    .await;
    p.send(fault("/queue/txstorm", "transaction").with_header("transaction", "t"))
        .await;
    let err = p.expect_error().await;
    assert_eq!(err.header("message"), Some("transaction 't' failed"));
    assert_eq!(restarts(&broker, "transaction").await, 2.0);
    let (_, text) = broker.http_get("/metrics").await;
    assert_eq!(
        parse_metrics(&text).get("stompede_errors_total{reason=\"internal\"}"),
        Some(&1.0)
    );

    // Nothing the abandoned transaction held reaches the queue.
    let mut q = broker.client().await;
    q.publish("/queue/txstorm", "after", &[]).await;
    let m = c.expect(Command::Message).await;
    assert_eq!(&m.body[..], b"after");
    c.disconnect().await;
}
