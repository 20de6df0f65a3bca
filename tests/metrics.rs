//! Metrics and health endpoints, as an operator sees them: real traffic over
//! real sockets, then `/metrics` must show exactly that traffic, and pass
//! `promtool check metrics`.

mod common;

use std::io::Write;
use std::process::{Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use futures_util::{SinkExt, StreamExt};
use stompede::metrics::{Metrics, OTHER};
use stompede::protocol::{Command, Frame, Limits, StompCodec, Version};
use tokio_util::codec::Framed;

const PUBLISHED: &str = "stompede_destination_messages_published_total";
const DELIVERED: &str = "stompede_destination_messages_delivered_total";
const READY: &str = "stompede_destination_messages_ready";
const UNACKED: &str = "stompede_destination_messages_unacked";
const PENDING: &str = "stompede_outbound_pending_bytes";

fn dest<'a>(name: &'a str, kind: &'a str) -> [(&'a str, &'a str); 2] {
    [("destination", name), ("kind", kind)]
}

/// Pipes `text` to `promtool check metrics`, which must exit 0.
fn promtool_check_metrics(text: &str) {
    let promtool = require_program("promtool", "prometheus");
    let mut child = Process::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool finishes");
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn queue_traffic_is_counted_per_destination_and_passes_promtool() {
    let broker = TestBroker::start();
    let mut producer = broker.client().await;
    let bodies: Vec<String> = (1..=5).map(|n| "x".repeat(n)).collect();
    for b in &bodies {
        producer.publish_sync("/queue/m", b, &[]).await;
    }
    let s = broker.scrape().await;
    let q = dest("/queue/m", "queue");
    assert_eq!(s.value(PUBLISHED, &q), 5.0);
    assert_eq!(s.value(READY, &q), 5.0);
    assert_eq!(s.value("stompede_destination_consumers", &q), 0.0);

    let mut consumer = broker.client().await;
    let msgs = consumer
        .subscribe_take("/queue/m", "s1", &[("ack", "client-individual")], 5)
        .await;
    assert_eq!(msgs.len(), 5);
    let s = broker.scrape().await;
    assert_eq!(s.value(READY, &q), 0.0);
    assert_eq!(s.value(UNACKED, &q), 5.0);
    assert_eq!(s.value("stompede_destination_consumers", &q), 1.0);

    // NACK the 3-byte message: it comes straight back, flagged redelivered.
    consumer.nack(&msgs[2]).await;
    let again = consumer.ping_collect().await;
    assert_eq!(again.len(), 1, "one redelivery: {again:?}");
    assert_eq!(again[0].header("redelivered"), Some("true"));
    for m in msgs.iter().filter(|m| m.body != msgs[2].body).chain(&again) {
        consumer.settle_sync(Command::Ack, m).await;
    }

    let s = broker.scrape().await;
    let v = |name: &str| s.value(name, &q);
    assert_eq!(v(PUBLISHED), 5.0);
    assert_eq!(v(DELIVERED), 6.0);
    assert_eq!(v("stompede_destination_messages_acked_total"), 5.0);
    assert_eq!(v("stompede_destination_messages_nacked_total"), 1.0);
    assert_eq!(v("stompede_destination_messages_redelivered_total"), 1.0);
    assert_eq!(v("stompede_destination_messages_dead_lettered_total"), 0.0);
    assert_eq!(v("stompede_destination_messages_dropped_total"), 0.0);
    assert_eq!(v("stompede_destination_published_bytes_total"), 15.0);
    assert_eq!(v("stompede_destination_delivered_bytes_total"), 18.0);
    assert_eq!(v(READY), 0.0);
    assert_eq!(v(UNACKED), 0.0);
    assert_eq!(v("stompede_destination_consumers"), 1.0);
    // First deliveries only: a redelivery's wait says nothing about routing.
    assert_eq!(
        v("stompede_destination_delivery_latency_seconds_count"),
        5.0
    );
    let mut inf = q.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        s.value("stompede_destination_delivery_latency_seconds_bucket", &inf),
        5.0
    );
    assert_eq!(s.value("stompede_destinations", &[("kind", "queue")]), 1.0);
    assert_eq!(s.value("stompede_destinations_folded", &[]), 0.0);
    promtool_check_metrics(&s.text);
}

#[tokio::test]
async fn dead_letters_are_counted_on_both_queues() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "1")]);
    let mut producer = broker.client().await;
    for i in 0..3 {
        producer
            .publish_sync("/queue/dl", &format!("m{i}"), &[])
            .await;
    }
    let mut consumer = broker.client().await;
    let msgs = consumer
        .subscribe_take("/queue/dl", "s", &[("ack", "client-individual")], 3)
        .await;
    consumer.settle_sync(Command::Nack, &msgs[0]).await;

    let q = dest("/queue/dl", "queue");
    let dlq = dest("/queue/DLQ.dl", "queue");
    // The dead letter reaches its queue through the router, after the NACK's
    // receipt. A scrape reads families one after another while the queue
    // updates them, so wait until the last of its updates is visible too.
    let s = broker
        .scrape_until("the dead letter in /queue/DLQ.dl", |s| {
            s.get(READY, &dlq) == Some(1.0)
                && s.get(PUBLISHED, &dlq) == Some(1.0)
                && s.get("stompede_destination_published_bytes_total", &dlq) == Some(2.0)
        })
        .await;
    assert_eq!(
        s.value("stompede_destination_messages_dead_lettered_total", &q),
        1.0
    );
    assert_eq!(
        s.value("stompede_destination_messages_nacked_total", &q),
        1.0
    );
    assert_eq!(s.value(UNACKED, &q), 2.0);
    assert_eq!(s.value(READY, &q), 0.0);
    assert_eq!(s.value(PUBLISHED, &dlq), 1.0);
    assert_eq!(
        s.value("stompede_destination_published_bytes_total", &dlq),
        2.0
    );
    assert_eq!(s.value("stompede_destinations", &[("kind", "queue")]), 2.0);
}

#[tokio::test]
async fn topic_backlog_and_drops_are_counted() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__SUBSCRIBER_BACKLOG", "1")]);
    let mut sub = broker.client().await;
    sub.subscribe_with(
        "/topic/t",
        "s",
        &[("ack", "client-individual"), ("prefetch-count", "1")],
    )
    .await;
    let mut producer = broker.client().await;
    for i in 0..3 {
        producer
            .publish_sync("/topic/t", &format!("m{i}"), &[])
            .await;
    }
    let t = dest("/topic/t", "topic");
    let s = broker.scrape().await;
    assert_eq!(s.value(PUBLISHED, &t), 3.0);
    assert_eq!(s.value(DELIVERED, &t), 1.0, "window of one");
    assert_eq!(s.value(UNACKED, &t), 1.0);
    assert_eq!(s.value(READY, &t), 1.0, "backlog of one");
    assert_eq!(
        s.value("stompede_destination_messages_dropped_total", &t),
        1.0
    );
    assert_eq!(s.value("stompede_destination_consumers", &t), 1.0);

    let first = sub.expect(Command::Message).await;
    // The ACK's RECEIPT comes first, then the parked message it made room for.
    let ack = sub.ack_frame(Command::Ack, &first);
    let before = send_collect(&mut sub, ack, "ack-1").await;
    assert!(before.is_empty(), "{before:?}");
    let second = sub.expect(Command::Message).await;
    assert_eq!(body(&second), "m1");
    let s = broker.scrape().await;
    assert_eq!(s.value(DELIVERED, &t), 2.0);
    assert_eq!(s.value(READY, &t), 0.0);
    assert_eq!(s.value(UNACKED, &t), 1.0);
    assert_eq!(
        s.value("stompede_destination_messages_acked_total", &t),
        1.0
    );
    assert_eq!(s.value("stompede_destinations", &[("kind", "topic")]), 1.0);
}

/// Sends `frame` with a receipt and returns what arrived before the RECEIPT.
async fn send_collect(c: &mut Client, frame: Frame, receipt: &str) -> Vec<Frame> {
    c.send(frame.with_header("receipt", receipt)).await;
    let mut before = Vec::new();
    loop {
        let f = c.recv().await;
        if f.command == Command::Receipt && f.header("receipt-id") == Some(receipt) {
            return before;
        }
        before.push(f);
    }
}

#[tokio::test]
async fn broker_wide_counters_follow_the_traffic() {
    let broker = TestBroker::start();
    let mut c12 = broker.client().await;
    let mut c11 = broker.client_version("1.1").await;
    let mut c10 = broker.client_version("1.0").await;
    let conns = |v: &'static str| [("transport", "tcp"), ("version", v)];
    let s = broker.scrape().await;
    for v in ["1.0", "1.1", "1.2"] {
        assert_eq!(s.value("stompede_connections", &conns(v)), 1.0, "{v}");
    }
    assert_eq!(
        s.value("stompede_connections_opened_total", &[("transport", "tcp")]),
        3.0
    );

    c12.subscribe("/queue/w", "s1", "auto").await;
    c11.publish_sync("/queue/w", "a", &[]).await;
    c11.publish_sync("/queue/w", "b", &[]).await;
    c12.recv_messages(2).await;
    let tx = |cmd: Command, t: &str| Frame::new(cmd).with_header("transaction", t);
    assert!(send_collect(&mut c11, tx(Command::Begin, "t1"), "r1")
        .await
        .is_empty());
    c11.send(
        tx(Command::Send, "t1")
            .with_header("destination", "/queue/w")
            .with_body("c"),
    )
    .await;
    assert!(send_collect(&mut c11, tx(Command::Commit, "t1"), "r2")
        .await
        .is_empty());
    c12.recv_messages(1).await;
    assert!(send_collect(&mut c11, tx(Command::Begin, "t2"), "r3")
        .await
        .is_empty());
    assert!(send_collect(&mut c11, tx(Command::Abort, "t2"), "r4")
        .await
        .is_empty());
    assert!(send_collect(&mut c11, tx(Command::Begin, "t3"), "r5")
        .await
        .is_empty());
    // DISCONNECT with t3 still open: the session aborts it.
    c11.disconnect().await;
    c10.send(
        Frame::new(Command::Send)
            .with_header("destination", "/nowhere/x")
            .with_body("z"),
    )
    .await;
    c10.expect_error().await;

    let s = broker
        .scrape_until("closed connections to leave the gauge", |s| {
            s.get("stompede_connections", &conns("1.0")) == Some(0.0)
                && s.get("stompede_connections", &conns("1.1")) == Some(0.0)
        })
        .await;
    assert_eq!(s.value("stompede_connections", &conns("1.2")), 1.0);
    let received = |c: &str| s.value("stompede_frames_received_total", &[("command", c)]);
    let sent = |c: &str| s.value("stompede_frames_sent_total", &[("command", c)]);
    assert_eq!(received("CONNECT"), 3.0);
    assert_eq!(received("SUBSCRIBE"), 1.0);
    assert_eq!(received("SEND"), 4.0);
    assert_eq!(received("BEGIN"), 3.0);
    assert_eq!(received("COMMIT"), 1.0);
    assert_eq!(received("ABORT"), 1.0);
    assert_eq!(received("DISCONNECT"), 1.0);
    assert_eq!(
        received("ACK") + received("NACK") + received("UNSUBSCRIBE"),
        0.0
    );
    assert_eq!(sent("CONNECTED"), 3.0);
    assert_eq!(sent("MESSAGE"), 3.0);
    // subscribe 1, publish_sync 2, r1..r5, DISCONNECT 1
    assert_eq!(sent("RECEIPT"), 9.0);
    assert_eq!(sent("ERROR"), 1.0);
    assert_eq!(
        s.value("stompede_errors_total", &[("reason", "destination")]),
        1.0
    );
    let tx_total = |o: &str| s.value("stompede_transactions_total", &[("outcome", o)]);
    assert_eq!(
        (
            tx_total("begun"),
            tx_total("committed"),
            tx_total("aborted")
        ),
        (3.0, 1.0, 2.0)
    );
    assert_eq!(s.value("stompede_auth_failures_total", &[]), 0.0);
    assert_eq!(s.value("stompede_heartbeat_timeouts_total", &[]), 0.0);
    for kind in stompede::metrics::RESTARTABLE {
        assert_eq!(
            s.value("stompede_actor_restarts_total", &[("kind", kind)]),
            0.0
        );
    }
    promtool_check_metrics(&s.text);
}

#[tokio::test]
async fn auth_failures_and_heartbeat_timeouts_are_counted() {
    let broker = TestBroker::with_config(
        "[auth]\nanonymous = false\nusers = [{ login = \"app\", passcode = \"secret\" }]\n",
        &[("STOMPEDE__HEARTBEAT__RECEIVE_MIN_MS", "100")],
    );
    let (mut bad, reply) = Client::try_connect(
        broker.stomp(),
        &[
            ("accept-version", "1.2"),
            ("login", "app"),
            ("passcode", "nope"),
        ],
    )
    .await;
    assert_eq!(reply.command, Command::Error);
    bad.expect_closed().await;

    // Promises a heart-beat every 100 ms, then stays silent.
    let mut quiet = broker
        .client_with(&[
            ("accept-version", "1.2"),
            ("login", "app"),
            ("passcode", "secret"),
            ("heart-beat", "100,0"),
        ])
        .await;
    let open = [("transport", "tcp"), ("version", "1.2")];
    assert_eq!(
        broker.scrape().await.value("stompede_connections", &open),
        1.0
    );
    let e = quiet.expect_error().await;
    assert_eq!(e.header("message"), Some("heart-beat timeout"));

    let s = broker
        .scrape_until("the timed-out connection to leave the gauge", |s| {
            s.get("stompede_connections", &open) == Some(0.0)
        })
        .await;
    assert_eq!(s.value("stompede_auth_failures_total", &[]), 1.0);
    assert_eq!(s.value("stompede_errors_total", &[("reason", "auth")]), 1.0);
    assert_eq!(s.value("stompede_heartbeat_timeouts_total", &[]), 1.0);
    assert_eq!(
        s.value("stompede_errors_total", &[("reason", "heartbeat_timeout")]),
        1.0
    );
    assert_eq!(
        s.value("stompede_connections_opened_total", &[("transport", "tcp")]),
        2.0
    );
}

const CARDINALITY: &str = r#"
[metrics]
max_destinations = 2
include = ["/queue/keep.*", "/topic/*"]
exclude = ["/queue/keep.tmp*"]
"#;

#[tokio::test]
async fn destinations_beyond_the_cap_or_patterns_are_folded_into_other() {
    let broker = TestBroker::with_config(CARDINALITY, &[]);
    let mut p = broker.client().await;
    // Creation order decides who gets the two slots.
    for (name, n) in [
        ("/queue/keep.a", 2),
        ("/queue/other", 5),
        ("/queue/keep.tmp1", 4),
        ("/queue/keep.b", 1),
        ("/queue/keep.c", 3),
    ] {
        for _ in 0..n {
            p.publish_sync(name, "1234", &[]).await;
        }
    }
    let s = broker.scrape().await;
    assert_eq!(s.value(PUBLISHED, &dest("/queue/keep.a", "queue")), 2.0);
    assert_eq!(s.value(PUBLISHED, &dest("/queue/keep.b", "queue")), 1.0);
    for folded in ["/queue/other", "/queue/keep.tmp1", "/queue/keep.c"] {
        assert!(
            !s.has_label(PUBLISHED, "destination", folded),
            "{folded} must not have its own series"
        );
        assert!(!s.has_label(READY, "destination", folded), "{folded}");
    }
    let other = dest(OTHER, "queue");
    assert_eq!(s.value(PUBLISHED, &other), 12.0);
    assert_eq!(s.value(READY, &other), 12.0);
    assert_eq!(
        s.value("stompede_destination_published_bytes_total", &other),
        48.0
    );
    assert_eq!(s.value("stompede_destinations_folded", &[]), 3.0);
    assert_eq!(s.value("stompede_destinations", &[("kind", "queue")]), 5.0);
    let own = s
        .samples
        .iter()
        .filter(|(n, l, _)| n == PUBLISHED && !l.iter().any(|(_, v)| v == OTHER))
        .count();
    assert_eq!(own, 2, "at most max_destinations own series");
    promtool_check_metrics(&s.text);
}

#[tokio::test]
async fn retired_destinations_lose_their_series_and_free_their_slot() {
    let broker = TestBroker::with_config(
        "[metrics]\nmax_destinations = 1\n",
        &[("STOMPEDE__DESTINATIONS__IDLE_TIMEOUT_MS", "200")],
    );
    let mut p = broker.client().await;
    p.publish_sync("/topic/t.a", "x", &[]).await;
    p.publish_sync("/topic/t.b", "x", &[]).await;
    let s = broker.scrape().await;
    assert_eq!(s.value(PUBLISHED, &dest("/topic/t.a", "topic")), 1.0);
    assert_eq!(s.value(PUBLISHED, &dest(OTHER, "topic")), 1.0);
    assert_eq!(s.value("stompede_destinations_folded", &[]), 1.0);
    assert_eq!(s.value("stompede_destinations", &[("kind", "topic")]), 2.0);

    // The session holds the topics' addresses until it ends; then idle
    // topics retire and stop. One scrape reads the families one after
    // another while a topic may be releasing its slot, so wait until all
    // three facts hold together rather than reading two after seeing one.
    p.disconnect().await;
    let s = broker
        .scrape_until(
            "idle topics to retire, free their slot and lose their series",
            |s| {
                s.get("stompede_destinations", &[("kind", "topic")]) == Some(0.0)
                    && s.get("stompede_destinations_folded", &[]) == Some(0.0)
                    && [
                        PUBLISHED,
                        DELIVERED,
                        READY,
                        UNACKED,
                        "stompede_destination_consumers",
                    ]
                    .iter()
                    .all(|family| !s.has_label(family, "destination", "/topic/t.a"))
            },
        )
        .await;
    // The shared series keep their history.
    assert_eq!(s.value(PUBLISHED, &dest(OTHER, "topic")), 1.0);

    let mut p = broker.client().await;
    p.publish_sync("/topic/t.b", "x", &[]).await;
    let s = broker.scrape().await;
    assert_eq!(
        s.value(PUBLISHED, &dest("/topic/t.b", "topic")),
        1.0,
        "the freed slot goes to the next destination"
    );
}

/// A connected 1.2 client whose socket has a tiny receive buffer, so that
/// what the broker writes piles up when the test does not read.
async fn stalled_client(broker: &TestBroker) -> Client {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = tokio::time::timeout(TIMEOUT, sock.connect(broker.stomp()))
        .await
        .expect("connect timeout")
        .expect("connect");
    let mut framed = Framed::new(stream, ClientCodec(StompCodec::new(Limits::default())));
    framed
        .send(
            Frame::new(Command::Connect)
                .with_header("accept-version", "1.2")
                .with_header("host", "/"),
        )
        .await
        .expect("send CONNECT");
    let mut c = Client {
        framed,
        version: Version::V1_2,
        connected: Frame::new(Command::Connected),
    };
    c.connected = c.expect(Command::Connected).await;
    c.framed.codec_mut().0.set_version(Version::V1_2);
    c
}

const MIB: usize = 1024 * 1024;
const STALL_MESSAGES: usize = 12;

/// Subscribes `reader` to `queue` and publishes 12 MiB it will not read yet;
/// returns once the broker holds more than 4 MiB it could not write.
async fn stall(broker: &TestBroker, reader: &mut Client, queue: &str) {
    reader.subscribe(queue, "s", "auto").await;
    let mut p = broker.client().await;
    let big = "x".repeat(MIB);
    for _ in 0..STALL_MESSAGES {
        p.publish_sync(queue, &big, &[]).await;
    }
    broker
        .scrape_until("unwritten bytes above 4 MiB", |s| {
            s.get(PENDING, &[]).is_some_and(|v| v > (4 * MIB) as f64)
        })
        .await;
}

#[tokio::test]
async fn outbound_pending_bytes_rise_for_a_stalled_reader_and_return_to_zero() {
    let broker = TestBroker::start();
    assert_eq!(broker.scrape().await.value(PENDING, &[]), 0.0);

    let mut reader = stalled_client(&broker).await;
    stall(&broker, &mut reader, "/queue/big").await;
    let msgs = reader.recv_messages(STALL_MESSAGES).await;
    assert!(msgs.iter().all(|m| m.body.len() == MIB));
    broker
        .scrape_until("pending bytes back to 0 after reading", |s| {
            s.get(PENDING, &[]) == Some(0.0)
        })
        .await;

    // A reader that goes away with data still queued takes it off the total.
    let mut gone = stalled_client(&broker).await;
    stall(&broker, &mut gone, "/queue/big2").await;
    drop(gone);
    broker
        .scrape_until("pending bytes back to 0 after the reader left", |s| {
            s.get(PENDING, &[]) == Some(0.0)
        })
        .await;
}

#[tokio::test]
async fn process_metrics_are_exported_under_their_conventional_names() {
    let broker = TestBroker::start();
    let s = broker.scrape().await;
    assert!(s.value("process_resident_memory_bytes", &[]) > 0.0);
    assert!(s.value("process_virtual_memory_bytes", &[]) > 0.0);
    assert!(s.value("process_open_fds", &[]) > 0.0);
    assert!(s.value("process_max_fds", &[]) > 0.0);
    assert!(s.value("process_threads", &[]) > 0.0);
    let started = s.value("process_start_time_seconds", &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    // This test process started the broker thread: seconds ago, not at the epoch.
    assert!(
        started > now - 3600.0 && started <= now + 1.0,
        "{started} vs {now}"
    );
    assert!(s.value("process_cpu_seconds_total", &[]) >= 0.0);
    assert_eq!(
        s.types.get("process_cpu_seconds_total").map(String::as_str),
        Some("counter")
    );
    assert!(!s.text.contains("stompede_process_"), "{}", s.text);
    // One family each: the two registries do not both export them.
    assert_eq!(s.text.matches("# TYPE process_open_fds ").count(), 1);
    promtool_check_metrics(&s.text);
}

#[tokio::test]
async fn healthz_and_readyz_answer_200_on_a_running_broker() {
    let broker = TestBroker::start();
    assert_eq!(broker.http_get("/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(
        broker.http_get("/readyz").await,
        (200, "ready\n".to_string())
    );
    assert_eq!(broker.http_get("/nope").await.0, 404);
}

#[tokio::test]
async fn readyz_is_503_until_the_listeners_are_reported_bound() {
    // The HTTP endpoint alone, so that the state before the broker flips the
    // flag (after binding every listener) can be observed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let ready = Arc::new(AtomicBool::new(false));
    let flag = ready.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let metrics = Arc::new(Metrics::new(10).expect("metrics"));
            let (server, handle) =
                stompede::http::serve(listener, metrics, flag).expect("http serve");
            tx.send(handle).expect("hand over the server handle");
            let _ = server.await;
        })
    });
    let handle = rx.recv_timeout(TIMEOUT).expect("HTTP server did not start");
    assert_eq!(
        http_get(addr, "/readyz").await,
        (503, "not ready\n".to_string())
    );
    assert_eq!(http_get(addr, "/healthz").await, (200, "ok\n".to_string()));
    ready.store(true, Ordering::Release);
    assert_eq!(
        http_get(addr, "/readyz").await,
        (200, "ready\n".to_string())
    );
    tokio::time::timeout(TIMEOUT, handle.stop(true))
        .await
        .expect("server stops");
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("join")
        .expect("server thread");
}

#[tokio::test]
async fn readyz_turns_503_once_shutdown_begins_while_healthz_stays_200() {
    let broker = TestBroker::with(&[("STOMPEDE__BROKER__SHUTDOWN_GRACE_MS", "10000")]);
    // A reader that cannot take its data keeps the broker draining for a while.
    let mut reader = stalled_client(&broker).await;
    stall(&broker, &mut reader, "/queue/big").await;
    let mut watcher = broker.client().await;
    let http = broker.http();
    let TestBroker {
        handle,
        store_dir: _store,
    } = broker;
    let stopping = tokio::task::spawn_blocking(move || drop(handle));

    let e = watcher.expect(Command::Error).await;
    assert_eq!(e.header("message"), Some("broker shutting down"));
    assert_eq!(
        http_get(http, "/readyz").await,
        (503, "not ready\n".to_string())
    );
    assert_eq!(http_get(http, "/healthz").await, (200, "ok\n".to_string()));

    // Let the reader drain so the broker can finish stopping.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, reader.framed.next()).await {}
    tokio::time::timeout(2 * TIMEOUT, stopping)
        .await
        .expect("broker stops")
        .expect("stop thread");
}

#[tokio::test]
async fn counting_can_be_switched_off_without_changing_delivery() {
    let broker = TestBroker::with(&[("STOMPEDE__METRICS__ENABLED", "false")]);
    let mut c = broker.client().await;
    c.subscribe("/queue/off", "s", "auto").await;
    let mut p = broker.client().await;
    for i in 0..10 {
        p.publish("/queue/off", &format!("m{i}"), &[]).await;
    }
    for i in 0..10 {
        assert_eq!(body(&c.expect(Command::Message).await), format!("m{i}"));
    }
    let s = broker.scrape().await;
    assert!(
        !s.has_label(PUBLISHED, "destination", "/queue/off"),
        "no per-destination series while counting is off"
    );
    assert_eq!(
        s.get("stompede_frames_received_total", &[("command", "SEND")])
            .unwrap_or(0.0),
        0.0
    );
    assert_eq!(
        s.value(
            "stompede_connections",
            &[("transport", "tcp"), ("version", "1.2")]
        ),
        2.0
    );
}
