//! The admin API as tests use it: a broker with an admin account, and
//! requests made with (or without) its credentials.

use std::net::SocketAddr;

use super::{http_request, HttpAnswer, TestBroker};

/// The admin login and its password.
pub const ADMIN: (&str, &str) = ("ops", "ops-secret");

/// An account that may use STOMP but not the admin API.
pub const APP: (&str, &str) = ("app", "app-secret");

/// `auth.users` with [`ADMIN`] and [`APP`], and `admin.users = ["ops"]`.
pub const ADMIN_TOML: &str = r#"
[auth]
users = [{ login = "ops", passcode = "ops-secret" }, { login = "app", passcode = "app-secret" }]

[admin]
users = ["ops"]
"#;

/// A broker with [`ADMIN_TOML`] and `overrides`.
pub fn admin_broker(overrides: &[(&str, &str)]) -> TestBroker {
    TestBroker::with_config(ADMIN_TOML, overrides)
}

/// A destination name as one URL path segment.
pub fn seg(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Requests to one broker's admin API as [`ADMIN`].
pub struct AdminApi {
    pub addr: SocketAddr,
}

impl AdminApi {
    /// The API of `broker`.
    pub fn of(broker: &TestBroker) -> Self {
        AdminApi {
            addr: broker.http(),
        }
    }

    /// `method path` as the admin; the answer must have `status`.
    pub async fn expect(&self, method: &str, path: &str, status: u16) -> serde_json::Value {
        let a: HttpAnswer = http_request(self.addr, method, path, Some(ADMIN), &[]).await;
        assert_eq!(a.status, status, "{method} {path}: {} {}", a.status, a.body);
        a.json()
    }

    /// GET `path` as the admin, which must answer 200.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        self.expect("GET", path, 200).await
    }

    /// GET /api/destinations/{name} until `ok` holds (or panic after the test timeout).
    pub async fn destination_until(
        &self,
        name: &str,
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + super::TIMEOUT;
        let path = format!("/api/destinations/{}", seg(name));
        loop {
            let a = http_request(self.addr, "GET", &path, Some(ADMIN), &[]).await;
            if a.status == 200 && ok(&a.json()) {
                return a.json();
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {what}; last answer: {} {}",
                    a.status, a.body
                );
            }
            // A poll interval, not synchronisation: the condition is re-checked.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
