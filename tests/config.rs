//! Configuration layering and start-up, through the real `stompede` binary:
//! embedded defaults, `--config FILE`, `STOMPEDE__SECTION__KEY` overrides,
//! rejection of unknown keys and invalid values, and the logged addresses.

mod common;

use common::*;
use stompede::protocol::{Command, Frame};

/// Subscribes `n` times on one connection and reports how many were accepted
/// before the broker refused one (or `n` if none was refused).
async fn subscriptions_allowed(broker: &BrokerProcess, n: usize) -> usize {
    let mut c = broker.client().await;
    for i in 0..n {
        let f = Frame::new(Command::Subscribe)
            .with_header("destination", format!("/queue/cfg-{i}"))
            .with_header("id", i.to_string())
            .with_header("receipt", format!("r{i}"));
        c.send(f).await;
        let reply = c.recv().await;
        match reply.command {
            Command::Receipt => continue,
            Command::Error => {
                let message = reply.header("message").unwrap_or("");
                assert!(message.contains("too many subscriptions"), "{reply:?}");
                return i;
            }
            _ => panic!("unexpected {reply:?}"),
        }
    }
    n
}

/// Exit status and output of a start that must fail; asserts both.
async fn start_fails(args: &[&str], env: &[(&str, &str)], names: &[&str]) -> String {
    let (status, output) = run_binary_to_exit(args, env).await;
    assert!(
        !status.success(),
        "expected a failed start, got {status}; output:\n{output}"
    );
    for name in names {
        assert!(
            output.contains(name),
            "the error should name {name:?}; output:\n{output}"
        );
    }
    output
}

#[tokio::test]
async fn binary_logs_each_bound_address_and_serves_on_it() {
    let broker = BrokerProcess::start(&[], &[]).await;
    assert_ne!(broker.stomp.port(), 0);
    assert_ne!(broker.http.port(), 0);
    let c = broker.client().await;
    assert_eq!(c.connected.header("version"), Some("1.2"));
    let (status, body) = http_get(broker.http, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let output = broker.output.lock().expect("output").clone();
    let listening: Vec<&str> = output
        .lines()
        .filter(|l| parse_listening(l).is_some())
        .collect();
    // stomp, http and websocket.
    assert_eq!(listening.len(), 3, "one line per listener:\n{output}");
    for line in listening {
        // Not a terminal, so no colour codes in what log collectors read.
        assert!(!line.contains('\u{1b}'), "ANSI codes in log line: {line:?}");
    }
}

#[tokio::test]
async fn listener_address_comes_from_the_environment() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let broker = BrokerProcess::start(&[], &[("STOMPEDE__LISTENERS__STOMP", &addr)]).await;
    assert_eq!(broker.stomp.to_string(), addr);
    broker.client().await;
}

#[tokio::test]
async fn json_log_format_when_configured() {
    let broker = BrokerProcess::start(&[], &[("STOMPEDE__LOG__FORMAT", "json")]).await;
    let output = broker.output.lock().expect("output").clone();
    let line = output
        .lines()
        .find(|l| l.contains("\"listener\":\"stomp\""))
        .unwrap_or_else(|| panic!("no JSON listening line:\n{output}"));
    assert!(
        line.starts_with('{') && line.ends_with('}'),
        "not a JSON object: {line}"
    );
}

#[tokio::test]
async fn env_overrides_file_which_overrides_defaults() {
    // Defaults: 1000 subscriptions per connection.
    let broker = BrokerProcess::start(&[], &[]).await;
    assert_eq!(subscriptions_allowed(&broker, 3).await, 3);

    let dir = TempDir::new("layering");
    let file = dir.write("limits.toml", "[limits]\nmax_subscriptions = 1\n");
    let file = file.to_str().expect("utf-8 path");
    let broker = BrokerProcess::start(&["--config", file], &[]).await;
    assert_eq!(
        subscriptions_allowed(&broker, 3).await,
        1,
        "file beats default"
    );

    let broker = BrokerProcess::start(
        &["--config", file],
        &[("STOMPEDE__LIMITS__MAX_SUBSCRIPTIONS", "2")],
    )
    .await;
    assert_eq!(subscriptions_allowed(&broker, 3).await, 2, "env beats file");
}

#[tokio::test]
async fn file_can_set_listeners() {
    let dir = TempDir::new("listeners");
    let file = dir.write(
        "listeners.toml",
        "[listeners]\nstomp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nwebsocket = \"127.0.0.1:0\"\n",
    );
    let file = file.to_str().expect("utf-8 path");
    // No listener variables at all: the file alone keeps off the default ports.
    let broker = BrokerProcess::start_exact(&["--config", file], &[]).await;
    assert_eq!(broker.stomp.ip().to_string(), "127.0.0.1");
    assert_ne!(broker.stomp.port(), 61613);
    broker.client().await;
}

#[tokio::test]
async fn unknown_key_in_config_file_is_rejected_naming_it() {
    let dir = TempDir::new("unknown");
    let file = dir.write("bad.toml", "[limits]\nmax_frames_ize = 3\n");
    start_fails(
        &["--config", file.to_str().expect("path")],
        &[],
        &["max_frames_ize"],
    )
    .await;
    let file = dir.write("bad2.toml", "[nonsense]\nanswer = 42\n");
    start_fails(
        &["--config", file.to_str().expect("path")],
        &[],
        &["nonsense"],
    )
    .await;
}

#[tokio::test]
async fn invalid_value_in_config_file_is_rejected_naming_it() {
    let dir = TempDir::new("invalid");
    let file = dir.write("bad.toml", "[limits]\nmax_headers = \"lots\"\n");
    start_fails(
        &["--config", file.to_str().expect("path")],
        &[],
        &["max_headers"],
    )
    .await;
    let file = dir.write("bad2.toml", "[heartbeat]\ngrace = 0.5\n");
    start_fails(
        &["--config", file.to_str().expect("path")],
        &[],
        &["heartbeat.grace"],
    )
    .await;
}

#[tokio::test]
async fn invalid_or_unknown_env_values_are_rejected_naming_the_key() {
    start_fails(
        &[],
        &[("STOMPEDE__LIMITS__MAX_HEADERS", "lots")],
        &["max_headers"],
    )
    .await;
    start_fails(
        &[],
        &[("STOMPEDE__LIMITS__MAX_HEADERS", "0")],
        &["limits.max_headers"],
    )
    .await;
    start_fails(
        &[],
        &[("STOMPEDE__LISTENERS__STOMP", "not-an-address")],
        &["stomp"],
    )
    .await;
    start_fails(&[], &[("STOMPEDE__LOG__FORMAT", "xml")], &["format"]).await;
    start_fails(
        &[],
        &[("STOMPEDE__LIMITS__MAX_FRAMES_IZE", "1")],
        &["max_frames_ize"],
    )
    .await;
}

#[tokio::test]
async fn missing_config_file_fails_clearly() {
    let dir = TempDir::new("missing");
    let path = dir.path.join("does-not-exist.toml");
    let path = path.to_str().expect("path");
    let output = start_fails(&["--config", path], &[], &["does-not-exist.toml"]).await;
    assert!(output.contains("not found"), "{output}");
    start_fails(&["--config"], &[], &["--config"]).await;
}

#[tokio::test]
async fn a_taken_port_fails_the_start_naming_the_listener() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    start_fails(
        &[],
        &[
            ("STOMPEDE__LISTENERS__STOMP", &addr),
            ("STOMPEDE__LISTENERS__HTTP", "127.0.0.1:0"),
        ],
        &["stomp", &addr],
    )
    .await;
}
