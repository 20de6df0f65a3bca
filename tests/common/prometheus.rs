//! [`PrometheusServer`]: a real `prometheus` process scraping a test broker,
//! queried through its HTTP API.

use std::net::SocketAddr;
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{http_get, require_program, TempDir};

/// How long Prometheus may take to start and scrape what the test expects.
pub const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(30);

/// A `prometheus` child process with its own config, data directory and
/// port; killed on drop, so a failing test does not leave it running.
pub struct PrometheusServer {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl PrometheusServer {
    /// Starts Prometheus scraping `target` (host:port serving /metrics) every second.
    pub fn start(target: SocketAddr) -> PrometheusServer {
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("prometheus.log")).unwrap_or_default()
    }

    /// Runs an instant query; `None` while the server is not answering yet.
    pub async fn query(&mut self, promql: &str) -> Option<Vec<Value>> {
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
    pub async fn wait_for(&mut self, promql: &str, want: f64) {
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
pub fn sample_value(s: &Value) -> f64 {
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
