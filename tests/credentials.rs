//! Hashed credentials: `stompede hash-password`, Argon2id passcodes
//! accepted at CONNECT, plain passcodes warned about at start, and failed
//! logins from one address answered ever later.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use stompede::protocol::Command;
use tokio::io::AsyncWriteExt;

fn connect_as(login: &str, passcode: &str) -> Vec<(&'static str, String)> {
    vec![
        ("accept-version", "1.2".into()),
        ("host", "/".into()),
        ("login", login.into()),
        ("passcode", passcode.into()),
    ]
}

async fn try_login(broker: &TestBroker, login: &str, passcode: &str) -> Command {
    let headers = connect_as(login, passcode);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_c, reply) = Client::try_connect(broker.stomp(), &h).await;
    reply.command
}

#[tokio::test]
async fn hash_password_prints_a_hash_of_standard_input() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stompede"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stompede hash-password");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"correct horse\n").await.expect("write");
    drop(stdin);
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("hash-password exits")
        .expect("output");
    assert!(out.status.success(), "{out:?}");
    let hash = String::from_utf8(out.stdout).expect("utf-8");
    let hash = hash.trim_end();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(stompede::auth::verify(hash, "correct horse"));
    assert!(!stompede::auth::verify(hash, "correct horse\n"));

    // Empty input is refused, not hashed.
    let (status, text) = run_binary_to_exit(&["hash-password"], &[]).await;
    assert!(!status.success(), "{text}");
    assert!(text.contains("empty"), "{text}");
}

#[tokio::test]
async fn a_hashed_passcode_logs_in_and_wrong_or_missing_ones_do_not() {
    let hash = stompede::auth::hash("s3cret").expect("hash");
    let broker = TestBroker::with_config(
        &format!(
            "[auth]\nanonymous = false\nfailure_delay_ms = 0\nusers = [{{ login = \"app\", passcode_hash = \"{hash}\" }}]\n"
        ),
        &[],
    );
    assert_eq!(
        try_login(&broker, "app", "s3cret").await,
        Command::Connected
    );
    assert_eq!(try_login(&broker, "app", "s3cre").await, Command::Error);
    assert_eq!(try_login(&broker, "nobody", "s3cret").await, Command::Error);
    let (_c, reply) = Client::try_connect(broker.stomp(), &[("accept-version", "1.2")]).await;
    assert_eq!(reply.command, Command::Error);
    assert!(
        reply
            .header("message")
            .unwrap_or("")
            .contains("authentication required"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_bad_hash_stops_the_start_naming_the_user() {
    let dir = TempDir::new("badhash");
    let path = dir.write(
        "bad.toml",
        "[auth]\nusers = [{ login = \"app\", passcode_hash = \"not-a-hash\" }]\n",
    );
    let (status, text) =
        run_binary_to_exit(&["--config", path.to_str().expect("utf-8")], &[]).await;
    assert!(!status.success(), "{text}");
    assert!(
        text.contains("user 'app'") && text.contains("passcode_hash"),
        "{text}"
    );
}

#[tokio::test]
async fn a_plain_passcode_is_logged_at_warn_at_start() {
    let dir = TempDir::new("plain");
    let path = dir.write(
        "plain.toml",
        "[auth]\nusers = [{ login = \"local\", passcode = \"pw\" }]\n",
    );
    let mut broker = BrokerProcess::start(&["--config", path.to_str().expect("utf-8")], &[]).await;
    let all = broker.output.lock().expect("output").clone();
    assert!(
        all.contains("plain-text passcode") && all.contains("local") && all.contains("WARN"),
        "{all}"
    );
    broker.terminate();
    broker.wait_exit().await;
}

#[tokio::test]
async fn failed_logins_from_one_address_are_answered_later_and_later() {
    let broker = TestBroker::with_config(
        "[auth]\nanonymous = false\nfailure_delay_ms = 300\nmax_failure_delay_ms = 600\nusers = [{ login = \"app\", passcode = \"pw\" }]\n",
        &[],
    );
    let mut took = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        assert_eq!(try_login(&broker, "app", "wrong").await, Command::Error);
        took.push(start.elapsed());
    }
    assert!(took[0] >= Duration::from_millis(300), "{took:?}");
    assert!(took[1] >= Duration::from_millis(600), "doubled: {took:?}");
    assert!(took[2] >= Duration::from_millis(600), "{took:?}");
    assert!(
        took[2] < Duration::from_millis(600 + 1000),
        "capped: {took:?}"
    );
    // The right passcode is still answered at once.
    let start = Instant::now();
    assert_eq!(try_login(&broker, "app", "pw").await, Command::Connected);
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_login_flood_does_not_stall_message_traffic() {
    // One worker thread: every connection shares it, so a passcode check
    // run on it would stall the probe. One check at a time: the flood queues.
    let hash = stompede::auth::hash("pw").expect("hash");
    let broker = TestBroker::with_config(
        &format!(
            "[broker]\nworkers = 1\n[auth]\nanonymous = false\nmax_verifications = 1\nusers = [{{ login = \"app\", passcode_hash = \"{hash}\" }}]\n"
        ),
        &[],
    );
    let mut probe = {
        let headers = connect_as("app", "pw");
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        broker.client_with(&h).await
    };
    let addr = broker.stomp();
    let started = Instant::now();
    let flood = tokio::spawn(async move {
        let logins = (0..20).map(|_| async move {
            let headers = connect_as("app", "pw");
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Client::connect(addr, &h).await
        });
        futures_util::future::join_all(logins).await.len()
    });
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while !flood.is_finished() {
        let t = Instant::now();
        probe.publish_sync("/queue/probe", "p", &[]).await;
        slowest = slowest.max(t.elapsed());
        probes += 1;
    }
    let flood_took = started.elapsed();
    assert_eq!(flood.await.expect("flood"), 20);
    println!("flood of 20 logins took {flood_took:?}; {probes} probes, slowest {slowest:?}");
    assert!(
        probes >= 5,
        "the flood ended too soon to tell ({flood_took:?})"
    );
    assert!(
        slowest < flood_took / 4,
        "a probe waited {slowest:?} during a {flood_took:?} login flood"
    );
}
