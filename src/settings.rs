//! Configuration: embedded defaults, then an optional file, then
//! `STOMPEDE__SECTION__KEY` environment variables, later sources winning.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;
use thiserror::Error;

use crate::protocol::Limits;

/// The embedded `config/default.toml`: the single source of defaults.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// A configuration that could not be loaded; the message names the key.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("configuration error: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration error: key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// The whole configuration tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub broker: Broker,
    pub listeners: Listeners,
    pub log: Log,
    pub auth: Auth,
    pub limits: LimitSettings,
    pub heartbeat: Heartbeat,
    pub destinations: Destinations,
    pub transactions: Transactions,
    pub metrics: MetricsSettings,
    pub supervision: Supervision,
    pub websocket: WebSocket,
    pub http: Http,
    pub storage: Storage,
    pub tls: Tls,
    /// The file these settings were loaded from, read again on SIGHUP.
    #[serde(skip)]
    pub source: Option<std::path::PathBuf>,
    pub admin: Admin,
    pub cluster: Cluster,
}

/// Cluster mode: several nodes serving one set of destinations through NATS (docs/cluster.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Off: a single embedded broker that never connects to NATS.
    pub enabled: bool,
    /// NATS servers to connect to (any of them; the client follows the cluster's gossip).
    pub nats_urls: Vec<String>,
    /// This node's name, unique in the cluster: set on what it publishes, and its metrics label.
    pub node: String,
    /// JetStream replicas of each queue stream (1, 3 or 5; at most the NATS cluster's size).
    pub replicas: usize,
    /// First token of every subject and stream name stompede uses, so clusters can share NATS.
    pub stream_prefix: String,
    /// Topic messages from other nodes handed to local topics at once; more wait in NATS's
    /// subscription buffer (and are dropped there, counted, if it overflows).
    pub max_inflight: usize,
    /// How long start-up waits for the first NATS connection before failing.
    pub connect_timeout_ms: u64,
    /// How long JetStream waits for a node's ack before giving a queue message to another
    /// node (a node that died); held messages get progress acks well within it.
    pub ack_wait_ms: u64,
    /// Unacknowledged messages of one queue across all nodes (the consumer's max_ack_pending).
    pub max_ack_pending: usize,
    /// Most messages one pull asks for (also bounded by the local subscriptions' free windows).
    pub max_pull_batch: usize,
}

/// The admin API and status page on the HTTP listener (HTTP basic authentication).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Logins from `auth.users` that may use them; empty refuses everyone.
    pub users: Vec<String>,
    /// Most items in one list answer, and most consumers or subscriptions shown per item.
    pub max_list: usize,
}

/// Certificates for the TLS listeners (`listeners.stomp_tls`, `listeners.websocket_tls`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain, server certificate first.
    pub cert_file: std::path::PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: std::path::PathBuf,
    /// PEM CA certificates client certificates are verified against; empty = no client certificates.
    pub client_ca_file: std::path::PathBuf,
    /// With `client_ca_file`: refuse the handshake of a client without a certificate.
    pub require_client_cert: bool,
}

/// Durable storage of persistent queue messages (the journal, docs/storage.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Keep persistent messages in the journal; false keeps every message in memory only.
    pub enabled: bool,
    /// Directory holding `journal/` (relative to the working directory).
    pub dir: std::path::PathBuf,
    /// Sync every group commit; false only for tests and benchmarks (logged at warn).
    pub fsync: bool,
    /// Size of each preallocated segment file.
    pub segment_bytes: u64,
    /// Most bytes gathered into one write and fdatasync.
    pub max_batch_bytes: usize,
    /// Batches waiting for the writer before publishers are paused.
    pub queue_depth: usize,
    /// Compact the head segment when its live bytes fall below this fraction of it; 0 disables.
    pub compaction_threshold: f64,
    /// Most bytes the journal's segment files may take; beyond, persistent publishers are
    /// paused (the disk alarm) until acknowledgements free segments. 0: no limit.
    pub max_bytes: u64,
    /// Free bytes to keep on the filesystem of `dir`; below, persistent publishers are paused.
    pub min_free_bytes: u64,
    /// Body bytes of persistent messages a queue keeps in memory; the rest of a deeper queue
    /// stays on disk only and is read back as consumers catch up (paging).
    pub queue_resident_bytes: usize,
}

impl Storage {
    /// The journal's own configuration.
    pub fn store_config(&self) -> crate::store::StoreConfig {
        crate::store::StoreConfig {
            dir: self.dir.clone(),
            segment_bytes: self.segment_bytes,
            max_batch_bytes: self.max_batch_bytes,
            queue_depth: self.queue_depth,
            compaction_threshold: self.compaction_threshold,
            fsync: self.fsync,
            ..crate::store::StoreConfig::default()
        }
    }
}

/// STOMP over WebSocket (the listener address is `listeners.websocket`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSocket {
    /// `Origin` values a browser handshake may carry (exact, e.g.
    /// `https://app.example.com`); `"*"` allows any. Others get HTTP 403.
    pub allowed_origins: Vec<String>,
}

/// Optional pages served by the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Serve the demo chat page at `/chat/`.
    pub chat_page: bool,
    /// Directory holding `stomp.umd.min.js` (from the @stomp/stompjs npm
    /// package), served to the chat page as `/chat/vendor/stomp.umd.min.js`.
    pub chat_vendor_dir: std::path::PathBuf,
}

/// Restart budget of every supervised actor (session, transaction,
/// destination): see `supervision::RestartBudget`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervision {
    pub max_restarts: usize,
    pub restart_window_ms: u64,
}

/// Process-level settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    pub workers: usize,
    pub shutdown_grace_ms: u64,
    pub max_buffered_bytes: usize,
}

/// Metrics export: which destinations get Prometheus series of their own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Most destinations with series of their own at a time; the rest share `destination="_other"`.
    pub max_destinations: usize,
    /// Glob patterns (`*` = any characters); a destination must match one to get its own series.
    pub include: Vec<String>,
    /// Glob patterns; a destination matching any of them is always folded into `_other`.
    pub exclude: Vec<String>,
    /// Count per message (per-destination series and frame counters); false only to measure their cost.
    pub enabled: bool,
}

/// Listener addresses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listeners {
    pub stomp: SocketAddr,
    pub http: SocketAddr,
    /// STOMP over WebSocket, path `/ws`.
    pub websocket: SocketAddr,
    /// STOMP over TLS; empty = off.
    pub stomp_tls: String,
    /// STOMP over WebSocket over TLS (wss); empty = off.
    pub websocket_tls: String,
}

impl Listeners {
    /// A TLS listener's address, `None` when it is off (validated at load).
    pub fn tls_addr(value: &str) -> Option<SocketAddr> {
        value.parse().ok()
    }
}

/// Logging output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub format: LogFormat,
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Authentication.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub anonymous: bool,
    pub users: Vec<User>,
    /// Per-destination permissions (see `auth::Acl`); empty = everything allowed.
    pub acl: Vec<AclEntry>,
    /// Argon2 passcode checks running at once, off the actor threads.
    pub max_verifications: usize,
    /// Delay before answering the first failed login from an address (ms); doubles per failure.
    pub failure_delay_ms: u64,
    /// Longest such delay (ms).
    pub max_failure_delay_ms: u64,
    /// Addresses whose failed logins are remembered.
    pub max_tracked_addresses: usize,
}

/// One account.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub login: String,
    /// Plain text, for local use only (logged at warn).
    #[serde(default)]
    pub passcode: Option<String>,
    /// An Argon2id PHC string from `stompede hash-password`.
    #[serde(default)]
    pub passcode_hash: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// One permission entry: who may read (SUBSCRIBE) and write (SEND) where.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclEntry {
    /// A pattern: `.`/`/`-separated segments, `*` one segment, a final `>` the rest, `{login}` the user's own.
    pub destination: String,
    #[serde(default)]
    pub read: Vec<String>,
    #[serde(default)]
    pub write: Vec<String>,
}

impl std::fmt::Debug for User {
    // Passcodes never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("login", &self.login)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Per-connection and broker-wide bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub max_frame_size: usize,
    /// Largest frame before CONNECT is accepted (the CONNECT frame included).
    pub max_frame_size_before_connect: usize,
    pub max_headers: usize,
    pub max_header_line: usize,
    pub max_command_len: usize,
    pub max_connections: usize,
    /// Most connections from one client address, every listener together.
    pub max_connections_per_ip: usize,
    pub max_subscriptions: usize,
    pub connect_timeout_ms: u64,
    /// Time a frame may take to arrive once its first byte has.
    pub frame_timeout_ms: u64,
    /// Time a closing connection keeps reading (and discarding) after its
    /// write side is shut, so the client reads the last frame, not a reset.
    pub close_linger_ms: u64,
    /// Bytes a closing connection reads (and discards) at most meanwhile.
    pub close_linger_bytes: usize,
    pub max_inflight_frames: usize,
    /// Body bytes in flight, about (see `connection::reader::InFlight`).
    pub max_inflight_bytes: usize,
    pub max_outbound_bytes: usize,
    /// Longest destination name a client may use, in bytes.
    pub max_destination_length: usize,
    /// Most live destinations a client may bring into existence.
    pub max_destinations: usize,
}

/// Heart-beat negotiation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub send_min_ms: u64,
    pub receive_min_ms: u64,
    pub grace: f64,
}

/// Destination naming and delivery policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destinations {
    pub queue_prefix: String,
    pub topic_prefix: String,
    pub dead_letter_prefix: String,
    pub max_deliveries: u32,
    pub nack: crate::model::NackMode,
    pub redelivery_delay_ms: u64,
    pub redelivery_backoff: f64,
    pub redelivery_max_delay_ms: u64,
    pub default_prefetch: u32,
    pub max_prefetch: u32,
    pub idle_timeout_ms: u64,
    pub subscriber_backlog: usize,
    pub subscriber_backlog_bytes: usize,
    pub max_queue_messages: usize,
    pub max_queue_bytes: usize,
    pub overflow: crate::model::Overflow,
    pub slow_consumer: crate::model::SlowConsumer,
    pub policies: Vec<crate::model::PolicyOverride>,
    pub selector_lookahead: usize,
    /// Most durable topic subscriptions the broker keeps (docs/destinations.md).
    pub max_durable_subscriptions: usize,
}

/// Transaction bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transactions {
    pub max_per_connection: usize,
    pub max_frames: usize,
    /// Most bytes (message footprints) one transaction may hold.
    pub max_bytes: usize,
}

impl Settings {
    /// Loads defaults, then `file` if given, then variables from `env`
    /// (pass `std::env::vars()` in production; tests pass their own map).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).required(true));
        }
        let vars: HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("STOMPEDE__"))
            .collect();
        builder = builder.add_source(
            Environment::with_prefix("STOMPEDE")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars)),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.source = file.map(Path::to_path_buf);
        settings.validate()?;
        Ok(settings)
    }

    /// Built-in defaults only.
    pub fn defaults() -> Settings {
        // The embedded defaults are checked by a unit test, so this cannot fail in a build that passed its tests.
        match Settings::load(None, std::iter::empty()) {
            Ok(s) => s,
            Err(e) => panic!("embedded default configuration is invalid: {e}"),
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let positive: &[(&'static str, u64)] = &[
            ("transactions.max_bytes", self.transactions.max_bytes as u64),
            (
                "limits.max_frame_size_before_connect",
                self.limits.max_frame_size_before_connect as u64,
            ),
            (
                "limits.max_connections_per_ip",
                self.limits.max_connections_per_ip as u64,
            ),
            ("auth.max_verifications", self.auth.max_verifications as u64),
            ("limits.frame_timeout_ms", self.limits.frame_timeout_ms),
            ("limits.max_frame_size", self.limits.max_frame_size as u64),
            ("limits.max_headers", self.limits.max_headers as u64),
            ("limits.max_header_line", self.limits.max_header_line as u64),
            ("limits.max_command_len", self.limits.max_command_len as u64),
            (
                "limits.max_inflight_frames",
                self.limits.max_inflight_frames as u64,
            ),
            (
                "limits.max_inflight_bytes",
                self.limits.max_inflight_bytes as u64,
            ),
            (
                "limits.max_destination_length",
                self.limits.max_destination_length as u64,
            ),
            (
                "limits.max_destinations",
                self.limits.max_destinations as u64,
            ),
            (
                "destinations.max_deliveries",
                self.destinations.max_deliveries as u64,
            ),
            (
                "destinations.default_prefetch",
                self.destinations.default_prefetch as u64,
            ),
            ("admin.max_list", self.admin.max_list as u64),
        ];
        for &(key, value) in positive {
            if value == 0 {
                return Err(SettingsError::Invalid {
                    key,
                    reason: "must be greater than 0".into(),
                });
            }
        }
        if self.destinations.default_prefetch > self.destinations.max_prefetch {
            return Err(SettingsError::Invalid {
                key: "destinations.default_prefetch",
                reason: "must not exceed destinations.max_prefetch".into(),
            });
        }
        if !(self.heartbeat.grace >= 1.0 && self.heartbeat.grace.is_finite()) {
            return Err(SettingsError::Invalid {
                key: "heartbeat.grace",
                reason: "must be a number >= 1.0".into(),
            });
        }
        for (key, prefix) in [
            ("destinations.queue_prefix", &self.destinations.queue_prefix),
            ("destinations.topic_prefix", &self.destinations.topic_prefix),
        ] {
            if !prefix.starts_with('/') || !prefix.ends_with('/') || prefix.len() < 3 {
                return Err(SettingsError::Invalid {
                    key,
                    reason: format!("'{prefix}' must look like /name/"),
                });
            }
        }
        if self.destinations.queue_prefix == self.destinations.topic_prefix {
            return Err(SettingsError::Invalid {
                key: "destinations.topic_prefix",
                reason: "must differ from destinations.queue_prefix".into(),
            });
        }
        if !self
            .destinations
            .dead_letter_prefix
            .starts_with(&self.destinations.queue_prefix)
        {
            return Err(SettingsError::Invalid {
                key: "destinations.dead_letter_prefix",
                reason: "must start with the queue prefix".into(),
            });
        }
        for login in &self.admin.users {
            if !self.auth.users.iter().any(|u| &u.login == login) {
                return Err(SettingsError::Invalid {
                    key: "admin.users",
                    reason: format!(
                        "'{login}' is not a login in auth.users, so it has no password"
                    ),
                });
            }
        }
        self.validate_redelivery()?;
        self.validate_cluster()?;
        for (key, value) in [
            ("listeners.stomp_tls", &self.listeners.stomp_tls),
            ("listeners.websocket_tls", &self.listeners.websocket_tls),
        ] {
            if value.is_empty() {
                continue;
            }
            if Listeners::tls_addr(value).is_none() {
                return Err(SettingsError::Invalid {
                    key,
                    reason: format!("'{value}' is not an address like 0.0.0.0:61614"),
                });
            }
            if self.tls.cert_file.as_os_str().is_empty() || self.tls.key_file.as_os_str().is_empty()
            {
                return Err(SettingsError::Invalid {
                    key: "tls.cert_file",
                    reason: format!("{key} needs tls.cert_file and tls.key_file"),
                });
            }
        }
        if self.storage.enabled {
            if let Err(e) = self.storage.store_config().validate() {
                return Err(SettingsError::Invalid {
                    key: "storage",
                    reason: e.to_string(),
                });
            }
            let max = self.storage.max_bytes;
            if max != 0 && max < 2 * self.storage.segment_bytes {
                // Reclaim never deletes the active segment, so one segment could never drain.
                return Err(SettingsError::Invalid {
                    key: "storage.max_bytes",
                    reason: "must be 0 or at least two segments (2 * storage.segment_bytes)".into(),
                });
            }
        }
        Ok(())
    }

    /// The redelivery settings, globally and in each policy.
    fn validate_cluster(&self) -> Result<(), SettingsError> {
        let c = &self.cluster;
        if !c.enabled {
            return Ok(());
        }
        let invalid = |key, reason: &str| {
            Err(SettingsError::Invalid {
                key,
                reason: reason.into(),
            })
        };
        // Both are used verbatim as NATS subject tokens and stream-name parts.
        let token = |v: &str| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !token(&c.node) {
            return invalid(
                "cluster.node",
                "must be set, of letters, digits, '-' and '_' only",
            );
        }
        if !token(&c.stream_prefix) {
            return invalid(
                "cluster.stream_prefix",
                "must be set, of letters, digits, '-' and '_' only",
            );
        }
        if c.nats_urls.is_empty() {
            return invalid("cluster.nats_urls", "must name at least one NATS server");
        }
        if !(1..=5).contains(&c.replicas) {
            return invalid("cluster.replicas", "must be between 1 and 5");
        }
        if c.max_inflight == 0 {
            return invalid("cluster.max_inflight", "must be greater than 0");
        }
        if c.max_ack_pending == 0 || c.max_pull_batch == 0 {
            return invalid(
                "cluster.max_ack_pending",
                "max_ack_pending and max_pull_batch must be greater than 0",
            );
        }
        if c.ack_wait_ms < 300 {
            return invalid("cluster.ack_wait_ms", "must be at least 300");
        }
        Ok(())
    }

    fn validate_redelivery(&self) -> Result<(), SettingsError> {
        let d = &self.destinations;
        let invalid = |key, reason: String| Err(SettingsError::Invalid { key, reason });
        if !(d.redelivery_backoff >= 1.0 && d.redelivery_backoff.is_finite()) {
            return invalid(
                "destinations.redelivery_backoff",
                "must be a number >= 1.0".into(),
            );
        }
        for p in &d.policies {
            if let Some(b) = p.redelivery_backoff {
                if !(b >= 1.0 && b.is_finite()) {
                    return invalid(
                        "destinations.policies",
                        format!("{}: redelivery_backoff must be a number >= 1.0", p.pattern),
                    );
                }
            }
            if p.max_deliveries == Some(0) {
                return invalid(
                    "destinations.policies",
                    format!("{}: max_deliveries must be greater than 0", p.pattern),
                );
            }
            if let Some(dlq) = &p.dead_letter {
                if !dlq.starts_with(&d.queue_prefix) || dlq.len() == d.queue_prefix.len() {
                    return invalid(
                        "destinations.policies",
                        format!("{}: dead_letter '{dlq}' must be a queue name", p.pattern),
                    );
                }
            }
        }
        Ok(())
    }

    /// The codec limits.
    pub fn codec_limits(&self) -> Limits {
        Limits {
            max_frame_size: self.limits.max_frame_size,
            max_headers: self.limits.max_headers,
            max_header_line: self.limits.max_header_line,
            max_command_len: self.limits.max_command_len,
        }
    }

    /// The codec limits until CONNECT is accepted: a stranger's frames are small.
    pub fn pre_connect_limits(&self) -> Limits {
        Limits {
            max_frame_size: self
                .limits
                .max_frame_size_before_connect
                .min(self.limits.max_frame_size),
            ..self.codec_limits()
        }
    }

    /// How long a new connection may take to send CONNECT.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.connect_timeout_ms)
    }

    /// How long one frame may take to arrive, from its first byte.
    pub fn frame_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.frame_timeout_ms)
    }

    /// How long a closing socket keeps reading after its write side is shut.
    pub fn close_linger(&self) -> Duration {
        Duration::from_millis(self.limits.close_linger_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn embedded_defaults_load() {
        let s = Settings::load(None, env(&[])).expect("defaults");
        assert_eq!(s.listeners.stomp.port(), 61613);
        assert_eq!(s.limits.max_frame_size, 4 * 1024 * 1024);
    }

    #[test]
    fn built_in_codec_limits_are_the_embedded_defaults() {
        // Clients, tests and the bench build codecs from `Limits::default()`;
        // the broker from default.toml. They must not drift apart.
        assert_eq!(Settings::defaults().codec_limits(), Limits::default());
    }

    #[test]
    fn chat_vendor_dir_default_is_outside_the_test_tree() {
        let dir = Settings::defaults().http.chat_vendor_dir;
        assert_eq!(dir, Path::new("node_modules/@stomp/stompjs/bundles"));
    }

    #[test]
    fn env_overrides_listener() {
        let s = Settings::load(
            None,
            env(&[("STOMPEDE__LISTENERS__STOMP", "127.0.0.1:7000")]),
        )
        .expect("load");
        assert_eq!(s.listeners.stomp.to_string(), "127.0.0.1:7000");
    }

    #[test]
    fn redelivery_settings_come_from_the_environment_too() {
        let s = Settings::load(
            None,
            env(&[
                ("STOMPEDE__DESTINATIONS__NACK", "requeue-tail"),
                ("STOMPEDE__DESTINATIONS__REDELIVERY_DELAY_MS", "250"),
                ("STOMPEDE__DESTINATIONS__REDELIVERY_BACKOFF", "1.5"),
            ]),
        )
        .expect("load");
        let d = &s.destinations;
        assert_eq!(d.nack, crate::model::NackMode::RequeueTail);
        assert_eq!((d.redelivery_delay_ms, d.redelivery_backoff), (250, 1.5));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Settings::load(None, env(&[("STOMPEDE__LIMITS__MAX_FRAMES_IZE", "1")]))
            .expect_err("unknown key");
        assert!(e.to_string().contains("max_frames_ize"), "{e}");
    }

    #[test]
    fn a_tls_listener_needs_an_address_and_a_certificate() {
        let e = Settings::load(None, env(&[("STOMPEDE__LISTENERS__STOMP_TLS", "nowhere")]))
            .expect_err("bad address");
        assert!(e.to_string().contains("listeners.stomp_tls"), "{e}");
        let e = Settings::load(
            None,
            env(&[("STOMPEDE__LISTENERS__WEBSOCKET_TLS", "127.0.0.1:0")]),
        )
        .expect_err("no certificate");
        assert!(e.to_string().contains("tls.cert_file"), "{e}");
        let off = Settings::defaults();
        assert_eq!(Listeners::tls_addr(&off.listeners.stomp_tls), None);
    }

    #[test]
    fn invalid_value_is_named() {
        let e = Settings::load(None, env(&[("STOMPEDE__LIMITS__MAX_HEADERS", "lots")]))
            .expect_err("bad value");
        assert!(e.to_string().contains("max_headers"), "{e}");
        let e =
            Settings::load(None, env(&[("STOMPEDE__LIMITS__MAX_HEADERS", "0")])).expect_err("zero");
        assert!(e.to_string().contains("limits.max_headers"), "{e}");
    }

    #[test]
    fn cluster_mode_is_off_by_default_and_checked_when_on() {
        assert!(!Settings::defaults().cluster.enabled);
        let on = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("STOMPEDE__CLUSTER__ENABLED", "true")];
            pairs.extend_from_slice(extra);
            Settings::load(None, env(&pairs))
        };
        assert!(on(&[]).is_ok());
        for (key, value, named) in [
            ("STOMPEDE__CLUSTER__NODE", "a.b", "cluster.node"),
            ("STOMPEDE__CLUSTER__NODE", "", "cluster.node"),
            (
                "STOMPEDE__CLUSTER__STREAM_PREFIX",
                "x y",
                "cluster.stream_prefix",
            ),
            ("STOMPEDE__CLUSTER__REPLICAS", "7", "cluster.replicas"),
            (
                "STOMPEDE__CLUSTER__MAX_INFLIGHT",
                "0",
                "cluster.max_inflight",
            ),
            (
                "STOMPEDE__CLUSTER__ACK_WAIT_MS",
                "10",
                "cluster.ack_wait_ms",
            ),
        ] {
            let e = on(&[(key, value)]).expect_err(key);
            assert!(e.to_string().contains(named), "{key}={value}: {e}");
        }
        // Off, the same values are not looked at.
        let off = Settings::load(None, env(&[("STOMPEDE__CLUSTER__NODE", "a.b")]));
        assert!(off.is_ok());
    }
}
