//! Interoperability with real STOMP client libraries: each test starts a
//! broker with `auth.anonymous = false` and one account, runs one program of
//! `tests/interop/` (one client library, one STOMP version) against it, and
//! then checks from the broker's metrics what the client cannot see: no
//! heart-beat timeout, no hidden reconnect, no ERROR but the refused login,
//! the NACK counted, nothing left unacknowledged.
//!
//! The scenario every program runs, as far as its library allows: a wrong
//! passcode is refused; connect with login/passcode and heart-beats 1000,1000;
//! subscribe to a queue (client-individual; client in 1.0) and a topic (auto);
//! SEND with a receipt, user headers and a content-type, received intact; a
//! binary body with NUL bytes (content-length); NACK and redelivery with
//! `redelivered:true` (1.0, which has no NACK: UNSUBSCRIBE and subscribe
//! again); ACK; a committed and an aborted transaction; UNSUBSCRIBE; 3.5 s
//! idle on heart-beats (1.1, 1.2); DISCONNECT with a receipt.
//!
//! The programs need outside packages (python3 + stomp.py, node +
//! tests/interop/node_modules, ruby + ruby-stomp, php + php-stomp):
//! `tests/setup.sh` installs them. A missing one FAILS its test with that advice; nothing is skipped.
//! The Rust client (iridium-stomp) runs in `tests/interop_rust_client.rs`.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;

const CONFIG: &str = r#"
[auth]
anonymous = false
users = [{ login = "interop", passcode = "secret" }]
"#;

/// Exit status the programs use for a missing library or a wrong version.
const MISSING: i32 = 3;

/// The longest a program may take; each of its own waits is bounded too.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `interpreter tests/interop/<script> HOST PORT LOGIN PASSCODE VERSION`
/// against a fresh broker and checks the run and the broker's view of it;
/// returns the broker for checks of one client's own.
async fn scenario(interpreter: &str, script: &str, client: &str, version: &str) -> TestBroker {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let broker = TestBroker::with_config(CONFIG, &[]);
    let addr = broker.stomp();
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
    broker_saw_a_clean_run(&broker, client, version).await;
    broker
}

/// The broker's side of a passing run: exactly two connections (the refused
/// one and the real one), one ERROR (the refused login), no heart-beat
/// timeout, the NACK (1.1 and 1.2) and the redelivery counted, and the queue
/// left empty with nothing unacknowledged.
async fn broker_saw_a_clean_run(broker: &TestBroker, client: &str, version: &str) {
    let queue = format!("/queue/interop.{client}.{version}");
    let q = [("destination", queue.as_str()), ("kind", "queue")];
    let s = broker
        .scrape_until("the interop queue to be settled", |s| {
            s.get("stompede_destination_messages_unacked", &q) == Some(0.0)
                && s.get("stompede_destination_messages_ready", &q) == Some(0.0)
        })
        .await;
    let opened = s.value("stompede_connections_opened_total", &[("transport", "tcp")]);
    assert_eq!(opened, 2.0, "{client} {version}: connections opened");
    let timeouts = s.value("stompede_heartbeat_timeouts_total", &[]);
    assert_eq!(timeouts, 0.0, "{client} {version}: heart-beat timeouts");
    let errors: Vec<String> = s
        .samples
        .iter()
        .filter(|(n, _, v)| n == "stompede_errors_total" && *v > 0.0)
        .map(|(_, l, v)| format!("{l:?}={v}"))
        .collect();
    assert_eq!(
        errors,
        [r#"[("reason", "auth")]=1"#],
        "{client} {version}: ERROR frames other than the refused login"
    );
    let nacks = if version == "1.0" { 0.0 } else { 1.0 };
    let nacked = s.value("stompede_destination_messages_nacked_total", &q);
    assert_eq!(nacked, nacks, "{client} {version}: NACKs");
    let redelivered = s.value("stompede_destination_messages_redelivered_total", &q);
    assert_eq!(redelivered, 1.0, "{client} {version}: redeliveries");
}

#[tokio::test]
async fn stomp_py_1_0() {
    scenario("python3", "stomp_py.py", "stomp-py", "1.0").await;
}

#[tokio::test]
async fn stomp_py_1_1() {
    scenario("python3", "stomp_py.py", "stomp-py", "1.1").await;
}

#[tokio::test]
async fn stomp_py_1_2() {
    scenario("python3", "stomp_py.py", "stomp-py", "1.2").await;
}

#[tokio::test]
async fn stompjs_1_0() {
    scenario("node", "stompjs.mjs", "stompjs", "1.0").await;
}

#[tokio::test]
async fn stompjs_1_1() {
    scenario("node", "stompjs.mjs", "stompjs", "1.1").await;
}

#[tokio::test]
async fn stompjs_1_2() {
    scenario("node", "stompjs.mjs", "stompjs", "1.2").await;
}

#[tokio::test]
async fn stompit_1_0() {
    scenario("node", "stompit.mjs", "stompit", "1.0").await;
}

#[tokio::test]
async fn stompit_1_1() {
    scenario("node", "stompit.mjs", "stompit", "1.1").await;
}

#[tokio::test]
async fn stompit_1_2() {
    scenario("node", "stompit.mjs", "stompit", "1.2").await;
}

#[tokio::test]
async fn ruby_stomp_1_0() {
    scenario("ruby", "ruby_stomp.rb", "ruby-stomp", "1.0").await;
}

#[tokio::test]
async fn ruby_stomp_1_1() {
    scenario("ruby", "ruby_stomp.rb", "ruby-stomp", "1.1").await;
}

#[tokio::test]
async fn ruby_stomp_1_2() {
    scenario("ruby", "ruby_stomp.rb", "ruby-stomp", "1.2").await;
}

/// PHP's stomp extension has no heart-beats and cannot ask a receipt for
/// DISCONNECT (its destructor sends a bare one), so the program skips both;
/// here the broker shows that the DISCONNECT came and the connection closed.
async fn php_stomp(version: &str) {
    let broker = scenario("php", "php_stomp.php", "php-stomp", version).await;
    let s = broker
        .scrape_until("the PHP connection to be closed", |s| {
            s.samples
                .iter()
                .filter(|(n, _, _)| n == "stompede_connections")
                .all(|(_, _, v)| *v == 0.0)
        })
        .await;
    let disconnects = s.value(
        "stompede_frames_received_total",
        &[("command", "DISCONNECT")],
    );
    assert_eq!(disconnects, 1.0, "php-stomp {version}: DISCONNECT frames");
}

#[tokio::test]
async fn php_stomp_1_0() {
    php_stomp("1.0").await;
}

#[tokio::test]
async fn php_stomp_1_1() {
    php_stomp("1.1").await;
}

#[tokio::test]
async fn php_stomp_1_2() {
    php_stomp("1.2").await;
}
