//! Running under systemd: `config/stompede.service` passes `systemd-analyze
//! verify` without a single diagnostic, and the real binary, started with
//! the unit's own `ExecStart` arguments and a `$NOTIFY_SOCKET`, says
//! `READY=1` once its listeners accept and `STOPPING=1` on SIGTERM.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use common::*;
use stompede::protocol::Command;
use tokio::net::UnixDatagram;

/// Where the unit expects the binary and the configuration.
const INSTALLED_BINARY: &str = "/usr/local/bin/stompede";
const INSTALLED_CONFIG: &str = "/etc/stompede/stompede.toml";

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/stompede.service");
    std::fs::read_to_string(path).expect("config/stompede.service exists")
}

/// `(section, key, value)` for every assignment of the unit, in order.
fn assignments(unit: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not an assignment: {line}"));
        out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// The value(s) of `[Service] key`.
fn service(unit: &str, key: &str) -> Vec<String> {
    assignments(unit)
        .into_iter()
        .filter(|(s, k, _)| s == "Service" && k == key)
        .map(|(_, _, v)| v)
        .collect()
}

/// Runs `systemd-analyze verify` on `unit` saved as `stompede.service`:
/// (exit status success, everything it printed).
fn verify(unit: &str) -> (bool, String) {
    let tool = require_program("systemd-analyze", "systemd");
    let dir = TempDir::new("unit");
    let path = dir.write("stompede.service", unit);
    let out = Process::new(tool)
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The unit with its commands pointing at the binary this build made
/// (`verify` checks that every command exists and is executable).
fn unit_for_this_build() -> String {
    let text = unit_text();
    assert!(
        text.contains(INSTALLED_BINARY),
        "the unit runs {INSTALLED_BINARY}"
    );
    text.replace(INSTALLED_BINARY, env!("CARGO_BIN_EXE_stompede"))
}

#[test]
fn the_unit_passes_systemd_analyze_verify_without_a_diagnostic() {
    let (ok, out) = verify(&unit_for_this_build());
    assert!(
        ok && out.trim().is_empty(),
        "systemd-analyze verify reported:\n{out}"
    );

    // The same harness sees a misspelt value and an unknown key (which
    // systemd only warns about, exiting 0), so a pass means something.
    let broken = unit_for_this_build().replace("ProtectSystem=strict", "ProtectSystem=strickt");
    let (_, out) = verify(&format!("{broken}\n[Service]\nNoSuchOption=yes\n"));
    assert!(
        out.contains("strickt") && out.contains("NoSuchOption"),
        "verify missed the errors:\n{out}"
    );
    // And a command that does not exist (the unit as shipped, on a machine without it).
    let (ok, out) = verify(
        &unit_for_this_build().replace(env!("CARGO_BIN_EXE_stompede"), "/nonexistent/stompede"),
    );
    assert!(
        !ok && out.contains("/nonexistent/stompede"),
        "verify accepted a missing binary:\n{out}"
    );
}

#[test]
fn the_unit_is_a_hardened_notify_service_with_a_data_directory() {
    let unit = unit_text();
    let one = |key: &str| -> String {
        let v = service(&unit, key);
        assert_eq!(v.len(), 1, "[Service] {key}: {v:?}");
        v[0].clone()
    };
    assert_eq!(one("Type"), "notify");
    assert_eq!(
        one("ExecStart"),
        format!("{INSTALLED_BINARY} --config {INSTALLED_CONFIG}")
    );
    assert_eq!(
        one("ExecStartPre"),
        format!("{INSTALLED_BINARY} check-config {INSTALLED_CONFIG}")
    );
    assert_eq!(one("StateDirectory"), "stompede");
    assert_eq!(one("ReadWritePaths"), "/var/lib/stompede");
    assert_eq!(one("WorkingDirectory"), "/var/lib/stompede");
    assert_eq!(one("User"), "stompede");
    assert!(one("LimitNOFILE").parse::<u32>().is_ok_and(|n| n >= 16384));
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(one(key), want, "{key}");
    }
    // The notify socket is AF_UNIX: restricting families must keep it.
    assert!(one("RestrictAddressFamilies")
        .split_whitespace()
        .any(|f| f == "AF_UNIX"));
    // The graceful shutdown (broker.shutdown_grace_ms, 5 s by default) fits in the stop timeout.
    assert!(one("TimeoutStopSec").parse::<u32>().is_ok_and(|s| s > 5));
    // production.toml, the file the README installs as the unit's config, keeps the journal there.
    let production = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml"),
    )
    .expect("config/production.toml");
    assert!(
        production.contains("dir = \"/var/lib/stompede\""),
        "production.toml's storage.dir is the StateDirectory"
    );
}

/// A datagram socket in a directory of its own, as systemd's `$NOTIFY_SOCKET`.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
    _dir: TempDir,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let dir = TempDir::new("notify");
        let path = dir.path.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind notify socket");
        NotifySocket {
            socket,
            path,
            _dir: dir,
        }
    }

    fn env(&self) -> String {
        self.path.to_str().expect("utf-8 path").to_string()
    }

    /// The next datagram, as text.
    async fn recv(&self) -> String {
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(TIMEOUT, self.socket.recv(&mut buf))
            .await
            .expect("no notification within the timeout")
            .expect("recv");
        String::from_utf8(buf[..n].to_vec()).expect("utf-8 notification")
    }

    /// Nothing waiting right now.
    fn assert_empty(&self) {
        let mut buf = [0u8; 512];
        match self.socket.try_recv(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!(
                "unexpected notification: {:?}",
                other.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
            ),
        }
    }
}

/// The `ExecStart` arguments of the unit, with its config path replaced by `config`.
fn exec_start_args(config: &Path) -> Vec<String> {
    let unit = unit_text();
    let exec = service(&unit, "ExecStart").pop().expect("ExecStart");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some(INSTALLED_BINARY));
    words
        .map(|w| {
            if w == INSTALLED_CONFIG {
                config.to_str().expect("utf-8 path").to_string()
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// `KEY=VALUE` lines of a notification.
fn fields(message: &str) -> Vec<(&str, &str)> {
    message
        .lines()
        .map(|l| {
            l.split_once('=')
                .unwrap_or_else(|| panic!("bad line {l:?}"))
        })
        .collect()
}

/// The address after `what on ` in the STATUS line.
fn status_addr(status: &str, what: &str) -> SocketAddr {
    let at = status
        .find(&format!("{what} on "))
        .unwrap_or_else(|| panic!("no {what} in {status:?}"));
    let rest = &status[at + what.len() + 4..];
    let end = rest.find(',').unwrap_or(rest.len());
    rest[..end].parse().expect("an address")
}

#[tokio::test]
async fn ready_once_the_listeners_accept_and_stopping_on_sigterm() {
    let notify = NotifySocket::bind();
    let config_dir = TempDir::new("config");
    let config = config_dir.write("stompede.toml", "[log]\nformat = \"text\"\n");
    let args = exec_start_args(&config);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut broker = BrokerProcess::spawn(&args, &[("NOTIFY_SOCKET", &notify.env())]);

    // The first thing the broker says to systemd: READY=1, with where it listens.
    let ready = notify.recv().await;
    let f = fields(&ready);
    assert_eq!(f.first(), Some(&("READY", "1")), "{ready}");
    let status = f
        .iter()
        .find(|(k, _)| *k == "STATUS")
        .map(|(_, v)| *v)
        .expect("a STATUS line");
    let (stomp, http) = (status_addr(status, "STOMP"), status_addr(status, "HTTP"));
    // At that instant, with no retry: the STOMP port completes a handshake
    // and /readyz says ready.
    let mut client = Client::connect(stomp, &[("accept-version", "1.2"), ("host", "/")]).await;
    assert_eq!(http_get(http, "/readyz").await, (200, "ready\n".into()));
    broker.await_listening().await;
    assert_eq!((broker.stomp, broker.http), (stomp, http), "{status}");
    notify.assert_empty();

    broker.terminate();
    let stopping = notify.recv().await;
    assert_eq!(
        fields(&stopping).first(),
        Some(&("STOPPING", "1")),
        "{stopping}"
    );
    let error = client.expect(Command::Error).await;
    assert_eq!(error.header("message"), Some("broker shutting down"));
    let exit = broker.wait_exit().await;
    assert!(exit.success(), "exit {exit}");
    notify.assert_empty();
}

#[tokio::test]
async fn no_ready_when_a_listener_cannot_bind() {
    let notify = NotifySocket::bind();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut broker = BrokerProcess::spawn(
        &[],
        &[
            ("NOTIFY_SOCKET", &notify.env()),
            ("STOMPEDE__LISTENERS__STOMP", &addr),
        ],
    );
    let exit = broker.wait_exit().await;
    assert!(!exit.success(), "started on a taken port: {exit}");
    notify.assert_empty();
}
