//! A real Prometheus server scrapes the broker, and PromQL through its HTTP
//! API returns per-destination values equal to the traffic the test made.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// How long Prometheus may take to start and scrape what the test expects.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(30);

/// A `prometheus` child process with its own config, data directory and
/// port; killed on drop, so a failing test does not leave it running.
struct PrometheusServer {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl PrometheusServer {
    /// Starts Prometheus scraping `target` (host:port serving /metrics) every second.
    fn start(target: SocketAddr) -> PrometheusServer {
        let binary = require_program("prometheus", "prometheus");
        let dir = TempDir::new("prometheus");
        let config = dir.write(
            "prometheus.yml",
            &format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: stompede\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        );
        let addr = free_port();
        let log = std::fs::File::create(dir.path.join("prometheus.log")).expect("log file");
        let child = Process::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        PrometheusServer { child, addr, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("prometheus.log")).unwrap_or_default()
    }

    /// Runs an instant query; `None` while the server is not answering yet.
    async fn query(&mut self, promql: &str) -> Option<Vec<Value>> {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("prometheus exited ({status}):\n{}", self.log());
        }
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let addr = self.addr;
        // The server may not listen yet: a refused connection is not an answer.
        let conn = tokio::net::TcpStream::connect(addr).await;
        drop(conn.ok()?);
        let (status, body) = http_get(addr, &path).await;
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&body).expect("query answer is JSON");
        assert_eq!(v["status"], "success", "{body}");
        Some(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// Polls `promql` until its single result equals `want`.
    async fn wait_for(&mut self, promql: &str, want: f64) {
        let deadline = tokio::time::Instant::now() + PROMETHEUS_TIMEOUT;
        let mut last = None;
        loop {
            if let Some(result) = self.query(promql).await {
                let values: Vec<f64> = result.iter().map(sample_value).collect();
                if values == [want] {
                    return;
                }
                last = Some(values);
            }
            if tokio::time::Instant::now() >= deadline {
                let targets = http_get(self.addr, "/api/v1/targets").await.1;
                panic!(
                    "`{promql}` never returned {want} (last: {last:?})\ntargets: {targets}\nlog:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of one instant-vector sample: `{"value": [ts, "1"]}`.
fn sample_value(s: &Value) -> f64 {
    s["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A localhost address nobody listens on right now.
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn prometheus_scrapes_per_destination_values_equal_to_the_traffic() {
    let broker = TestBroker::start();
    let mut prom = PrometheusServer::start(broker.http());
    prom.wait_for("up{job=\"stompede\"}", 1.0).await;

    let mut producer = broker.client().await;
    for i in 0..7 {
        producer
            .publish_sync("/queue/prom", &format!("m{i}"), &[])
            .await;
    }
    for _ in 0..2 {
        producer
            .publish_sync("/topic/prom", "0123456789", &[])
            .await;
    }
    let mut consumer = broker.client().await;
    let msgs = consumer
        .subscribe_take(
            "/queue/prom",
            "s",
            &[("ack", "client-individual"), ("prefetch-count", "3")],
            3,
        )
        .await;
    // No receipts: each ACK makes room for a delivery that would arrive
    // before its RECEIPT. Prometheus is polled for the outcome instead.
    for m in &msgs {
        consumer.ack(m).await;
    }
    // The window of 3 refills after the ACKs: 3 more are now unacknowledged.
    let queue = r#"destination="/queue/prom",kind="queue""#;
    prom.wait_for(
        &format!("stompede_destination_messages_published_total{{{queue}}}"),
        7.0,
    )
    .await;
    prom.wait_for(
        &format!("stompede_destination_messages_acked_total{{{queue}}}"),
        3.0,
    )
    .await;
    prom.wait_for(
        &format!("stompede_destination_messages_delivered_total{{{queue}}}"),
        6.0,
    )
    .await;
    prom.wait_for(
        &format!("stompede_destination_messages_ready{{{queue}}}"),
        1.0,
    )
    .await;
    prom.wait_for(
        &format!("stompede_destination_messages_unacked{{{queue}}}"),
        3.0,
    )
    .await;
    prom.wait_for(&format!("stompede_destination_consumers{{{queue}}}"), 1.0)
        .await;
    prom.wait_for(
        "sum by (kind) (stompede_destination_published_bytes_total{kind=\"topic\"})",
        20.0,
    )
    .await;
    prom.wait_for(
        "stompede_destination_delivery_latency_seconds_count{destination=\"/queue/prom\"}",
        6.0,
    )
    .await;
}
