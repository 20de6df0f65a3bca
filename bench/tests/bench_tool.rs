//! The `stompede-bench` load generator, run as a user runs it, against a real
//! broker: tiny loads, checking its exactly-once accounting and exit status
//! (never its speed).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use stompede::{BrokerHandle, Settings};
use tokio::process::Command;

/// The broker, started in this process through the `stompede` library on
/// ports chosen by the OS; it stops when dropped.
struct TestBroker {
    handle: BrokerHandle,
}

impl TestBroker {
    /// Default settings.
    fn start() -> TestBroker {
        Self::with(&[])
    }

    /// Default settings with `STOMPEDE__…` overrides, as the binary reads
    /// them from its environment.
    fn with(overrides: &[(&str, &str)]) -> TestBroker {
        let env = [
            ("STOMPEDE__LISTENERS__STOMP", "127.0.0.1:0"),
            ("STOMPEDE__LISTENERS__HTTP", "127.0.0.1:0"),
            ("STOMPEDE__LISTENERS__WEBSOCKET", "127.0.0.1:0"),
            ("STOMPEDE__BROKER__SHUTDOWN_GRACE_MS", "2000"),
            // In memory: many brokers run at once in this process, and a journal is locked by one.
            ("STOMPEDE__STORAGE__ENABLED", "false"),
        ]
        .iter()
        .chain(overrides)
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let settings = Settings::load(None, env).expect("test settings");
        let handle = BrokerHandle::spawn(settings).expect("broker starts");
        TestBroker { handle }
    }

    /// The STOMP listener's address.
    fn stomp(&self) -> SocketAddr {
        self.handle.addrs.stomp
    }
}

/// Generous: a run is a few thousand messages, but CI machines are shared.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

struct Run {
    code: Option<i32>,
    json: Value,
    table: String,
}

/// Runs the bench binary with JSON on stdout (the table goes to stderr).
async fn bench(port: u16, args: &[&str]) -> Run {
    let port = port.to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_stompede-bench"))
        .args(args)
        .args(["--port", &port, "--json", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stompede-bench");
    let out = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .expect("stompede-bench did not end by itself")
        .expect("wait for stompede-bench");
    let table = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}); stderr:\n{table}"));
    Run {
        code: out.status.code(),
        json,
        table,
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Asserts one stream's check: `n` expected, all arrived once.
fn assert_exactly_once(check: &Value, n: u64) {
    assert_eq!(check["ok"], Value::Bool(true), "{check}");
    assert_eq!(u(&check["expected"]), n, "{check}");
    assert_eq!(u(&check["unique"]), n, "{check}");
    assert_eq!(u(&check["missing"]), 0, "{check}");
    assert_eq!(u(&check["duplicates"]), 0, "{check}");
    assert_eq!(u(&check["unexpected"]), 0, "{check}");
}

#[tokio::test]
async fn queue_run_counts_every_message_exactly_once() {
    let broker = TestBroker::start();
    let run = bench(broker.stomp().port(), &["queue", "--count", "2000"]).await;
    assert_eq!(run.code, Some(0), "{}", run.table);
    let r = &run.json["results"][0];
    assert_eq!(run.json["ok"], Value::Bool(true));
    assert_eq!(r["scenario"], "queue");
    assert_eq!(u(&r["sent"]), 2000);
    assert_eq!(u(&r["delivered"]), 2000);
    let checks = r["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 1);
    assert_exactly_once(&checks[0], 2000);
    assert!(run.table.contains("queue 1/1 auto 256B"), "{}", run.table);
}

#[tokio::test]
async fn queue_shared_by_consumers_with_client_acks_is_checked_across_them() {
    let broker = TestBroker::start();
    let args = [
        "queue",
        "--producers",
        "2",
        "--consumers",
        "2",
        "--ack",
        "client",
        "--ack-every",
        "10",
        "--count",
        "1000",
    ];
    let run = bench(broker.stomp().port(), &args).await;
    assert_eq!(run.code, Some(0), "{}", run.table);
    let r = &run.json["results"][0];
    assert_eq!(u(&r["sent"]), 2000);
    assert_exactly_once(&r["checks"][0], 2000);
}

#[tokio::test]
async fn topic_run_checks_each_subscriber_got_every_message() {
    let broker = TestBroker::start();
    let args = ["topic", "--subscribers", "3", "--count", "500"];
    let run = bench(broker.stomp().port(), &args).await;
    assert_eq!(run.code, Some(0), "{}", run.table);
    let r = &run.json["results"][0];
    assert_eq!(u(&r["sent"]), 500);
    assert_eq!(u(&r["delivered"]), 1500);
    let checks = r["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 3);
    for c in checks {
        assert_exactly_once(c, 500);
    }
}

#[tokio::test]
async fn messages_a_broker_drops_fail_the_run_and_are_named() {
    // A one-message backlog with a one-message window: a topic subscriber
    // that acknowledges each message misses almost everything a fast
    // producer publishes.
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__SUBSCRIBER_BACKLOG", "1"),
        ("STOMPEDE__DESTINATIONS__SLOW_CONSUMER", "drop"),
    ]);
    let args = [
        "topic",
        "--subscribers",
        "2",
        "--ack",
        "client-individual",
        "--prefetch",
        "1",
        "--max-lag",
        "0",
        "--count",
        "5000",
        "--timeout",
        "2",
    ];
    let run = bench(broker.stomp().port(), &args).await;
    assert_eq!(run.code, Some(1), "{}", run.table);
    assert_eq!(run.json["ok"], Value::Bool(false));
    let r = &run.json["results"][0];
    assert_eq!(u(&r["sent"]), 5000);
    let missing: u64 = r["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| u(&c["missing"]))
        .sum();
    assert!(missing > 0, "{}", run.json);
    assert!(run.table.contains("CHECK FAILED"), "{}", run.table);
}

#[tokio::test]
async fn an_unreachable_broker_fails_the_run_quickly() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let run = bench(port, &["queue", "--count", "10", "--timeout", "2"]).await;
    assert_eq!(run.code, Some(1), "{}", run.table);
    let errors = run.json["results"][0]["errors"].to_string();
    assert!(errors.contains("cannot connect"), "{errors}");
}
