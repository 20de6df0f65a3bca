//! [`TestBroker`]: the broker in this test process, every listener on
//! 127.0.0.1 port 0, and the clients and scrapes a test makes of it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use stompede::{BrokerHandle, Settings};

use super::{http_get, Client, RawClient, Scrape, TempDir, TIMEOUT};

/// The listener variables every test broker starts with, so tests never
/// collide on a port.
pub(super) const PORT_ZERO: [(&str, &str); 3] = [
    ("STOMPEDE__LISTENERS__STOMP", "127.0.0.1:0"),
    ("STOMPEDE__LISTENERS__HTTP", "127.0.0.1:0"),
    ("STOMPEDE__LISTENERS__WEBSOCKET", "127.0.0.1:0"),
];

/// Small journal segments: every test broker preallocates one.
pub(super) const SMALL_SEGMENTS: (&str, &str) = ("STOMPEDE__STORAGE__SEGMENT_BYTES", "1048576");

/// The CONNECT headers of a plain 1.2 client.
pub(super) const CONNECT_1_2: [(&str, &str); 2] = [("accept-version", "1.2"), ("host", "/")];

/// A broker on 127.0.0.1 with ports chosen by the OS, its journal in a
/// directory of its own (removed after the broker stops).
pub struct TestBroker {
    pub handle: BrokerHandle,
    pub store_dir: TempDir,
}

impl TestBroker {
    /// Default settings (ports 0).
    pub fn start() -> TestBroker {
        Self::with(&[])
    }

    /// Default settings with `STOMPEDE__…` style overrides, e.g.
    /// `("STOMPEDE__LIMITS__MAX_HEADERS", "5")`.
    pub fn with(overrides: &[(&str, &str)]) -> TestBroker {
        Self::spawn(None, overrides)
    }

    /// A broker configured by a TOML file (loaded with `--config` semantics)
    /// plus `STOMPEDE__…` overrides; for settings env vars cannot express,
    /// such as `auth.users`.
    pub fn with_config(toml: &str, overrides: &[(&str, &str)]) -> TestBroker {
        let dir = TempDir::new("config");
        let path = dir.write("stompede.toml", toml);
        Self::spawn(Some(&path), overrides)
    }

    /// Loads settings as the binary would (optional file, then environment)
    /// and starts the broker.
    fn spawn(file: Option<&Path>, overrides: &[(&str, &str)]) -> TestBroker {
        Self::spawn_on(TempDir::new("store"), file, overrides)
    }

    /// Stops the broker gracefully and starts a new one on the same journal
    /// (default settings plus `overrides`): a restart, in this process.
    pub fn restart(self, overrides: &[(&str, &str)]) -> TestBroker {
        let TestBroker { handle, store_dir } = self;
        handle.stop();
        // The destination actors live on worker threads that `stop` does not
        // join, and the last of them holds the journal (and its lock) a
        // moment longer: poll until the lock is free.
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let settings =
                Settings::load(None, test_env(&store_dir, overrides)).expect("test settings");
            match BrokerHandle::spawn(settings) {
                Ok(handle) => return TestBroker { handle, store_dir },
                Err(stompede::broker::StartError::Store(stompede::store::StoreError::Locked(
                    _,
                ))) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("broker restarts: {e}"),
            }
        }
    }

    fn spawn_on(store_dir: TempDir, file: Option<&Path>, overrides: &[(&str, &str)]) -> TestBroker {
        let settings =
            Settings::load(file, test_env(&store_dir, overrides)).expect("test settings");
        let handle = BrokerHandle::spawn(settings).expect("broker starts");
        TestBroker { handle, store_dir }
    }

    /// The STOMP listener's address.
    pub fn stomp(&self) -> SocketAddr {
        self.handle.addrs.stomp
    }

    /// The HTTP listener's address.
    pub fn http(&self) -> SocketAddr {
        self.handle.addrs.http
    }

    /// The WebSocket listener's address (STOMP over WebSocket at path `/ws`).
    pub fn websocket(&self) -> SocketAddr {
        self.handle.addrs.websocket
    }

    /// A raw TCP connection to the STOMP port.
    pub async fn raw(&self) -> RawClient {
        RawClient::connect(self.stomp()).await
    }

    /// A client that has completed CONNECT with `accept-version:1.2`.
    pub async fn client(&self) -> Client {
        Client::connect(self.stomp(), &CONNECT_1_2).await
    }

    /// A client connected with the given CONNECT headers.
    pub async fn client_with(&self, headers: &[(&str, &str)]) -> Client {
        Client::connect(self.stomp(), headers).await
    }

    /// A client connected with `accept-version:<version>` ("1.0", "1.1" or "1.2").
    pub async fn client_version(&self, version: &str) -> Client {
        let c = self
            .client_with(&[("accept-version", version), ("host", "/")])
            .await;
        assert_eq!(c.connected.header("version").unwrap_or("1.0"), version);
        c
    }

    /// GET `path` on the HTTP listener: (status, body).
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.http(), path).await
    }

    /// GET /metrics (must answer 200), parsed.
    pub async fn scrape(&self) -> Scrape {
        let (status, body) = self.http_get("/metrics").await;
        assert_eq!(status, 200, "/metrics answered {status}: {body}");
        Scrape::parse(&body)
    }

    /// Scrapes until `ok` holds; panics naming `what` with the last scrape after [`TIMEOUT`].
    pub async fn scrape_until(&self, what: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let s = self.scrape().await;
            if ok(&s) {
                return s;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for {what}; last scrape:\n{}", s.text);
            }
            // A poll interval, not synchronisation: the condition is re-checked.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Every listener on port 0, a short shutdown grace and the journal in
/// `store`, then `overrides`.
fn test_env(store: &TempDir, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let dir = store.path.display().to_string();
    let own = [
        ("STOMPEDE__BROKER__SHUTDOWN_GRACE_MS", "2000"),
        ("STOMPEDE__STORAGE__DIR", dir.as_str()),
        SMALL_SEGMENTS,
    ];
    PORT_ZERO
        .iter()
        .chain(&own)
        .chain(overrides)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
