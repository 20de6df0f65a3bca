//! The runner shared by the interoperability tests (`tests/interop.rs` for
//! TCP clients, `tests/interop_ws.rs` for WebSocket ones): a fresh broker
//! with `auth.anonymous = false` and one account, one program of
//! `tests/interop/` (one client library, one STOMP version) run against it,
//! and the broker's metrics checked for what the client cannot see.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

const CONFIG: &str = r#"
[auth]
anonymous = false
users = [{ login = "interop", passcode = "secret" }]
"#;

/// Exit status the programs use for a missing library or a wrong version.
const MISSING: i32 = 3;

/// The longest a program may take; each of its own waits is bounded too.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);

/// The listener a program connects to; it is given that listener's host and
/// port (WebSocket programs add the path `/ws`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Tcp,
    WebSocket,
}

impl Listener {
    /// The `transport` label of the broker's connection metrics.
    fn label(self) -> &'static str {
        match self {
            Listener::Tcp => "tcp",
            Listener::WebSocket => "ws",
        }
    }
}

/// Runs `interpreter tests/interop/<script> HOST PORT LOGIN PASSCODE VERSION`
/// against a fresh broker's STOMP TCP listener and checks the run and the
/// broker's view of it; returns the broker for checks of one client's own.
pub async fn scenario(interpreter: &str, script: &str, client: &str, version: &str) -> TestBroker {
    scenario_on(Listener::Tcp, interpreter, script, client, version).await
}

/// [`scenario`] against the given listener.
pub async fn scenario_on(
    listener: Listener,
    interpreter: &str,
    script: &str,
    client: &str,
    version: &str,
) -> TestBroker {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let broker = TestBroker::with_config(CONFIG, &[]);
    let addr = match listener {
        Listener::Tcp => broker.stomp(),
        Listener::WebSocket => broker.websocket(),
    };
    let run = tokio::process::Command::new(interpreter)
        .arg(dir.join(script))
        .args([&addr.ip().to_string(), &addr.port().to_string()])
        .args(["interop", "secret", version])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(PROGRAM_TIMEOUT, run).await {
        Err(_) => panic!("{client} {version}: {script} did not finish within {PROGRAM_TIMEOUT:?}"),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{client} {version}: `{interpreter}` is not installed: run tests/setup.sh")
        }
        Ok(Err(e)) => panic!("{client} {version}: cannot run {interpreter}: {e}"),
        Ok(Ok(out)) => out,
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(MISSING) {
        panic!("{client} {version}: a client library is missing or has the wrong version (run tests/setup.sh):\n{stderr}");
    }
    assert!(
        out.status.success(),
        "{client} {version} deviated ({}):\n--- stdout\n{stdout}--- stderr\n{stderr}",
        out.status
    );
    let pass = format!("PASS {client} {version}");
    assert!(
        stdout.lines().any(|l| l == pass),
        "{client} {version}: exited 0 without `{pass}`:\n{stdout}{stderr}"
    );
    broker_saw_a_clean_run(&broker, listener, client, version).await;
    broker
}

/// The broker's side of a passing run: exactly two connections (the refused
/// one and the real one), one ERROR (the refused login), no heart-beat
/// timeout, the NACK (1.1 and 1.2) and the redelivery counted, and the queue
/// left empty with nothing unacknowledged.
async fn broker_saw_a_clean_run(
    broker: &TestBroker,
    listener: Listener,
    client: &str,
    version: &str,
) {
    let queue = format!("/queue/interop.{client}.{version}");
    let who = format!("{client} {version}");
    let s = assert_interop_run_settled(broker, &queue, version, &who).await;
    let opened = s.value(
        "stompede_connections_opened_total",
        &[("transport", listener.label())],
    );
    assert_eq!(opened, 2.0, "{who}: connections opened");
}

/// Waits until the broker has no connection left and returns how many
/// frames of `command` it received: for clients whose DISCONNECT has no
/// receipt the program could wait for.
pub async fn frames_received_once_closed(broker: &TestBroker, command: &str) -> f64 {
    let s = broker
        .scrape_until("every connection to be closed", |s| {
            s.samples
                .iter()
                .filter(|(n, _, _)| n == "stompede_connections")
                .all(|(_, _, v)| *v == 0.0)
        })
        .await;
    s.value("stompede_frames_received_total", &[("command", command)])
}
