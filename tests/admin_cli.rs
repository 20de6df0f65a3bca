//! The `stompede` command line run as a process: `check-config` (exit 0 or
//! 1 naming the problem), `run --config`, and `stompede admin ...` against
//! a real broker, each action's effect checked through STOMP.

mod common;

use std::process::Output;

use common::*;
use stompede::protocol::Command;

/// Runs `stompede args...` with `env`, to its exit (bounded by the test timeout x 6).
async fn stompede(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stompede"));
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .env_remove("STOMPEDE_ADMIN_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(TIMEOUT * 6, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("stompede {args:?} did not exit"))
        .expect("run stompede")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `stompede admin --url ... --user ops <args>` with the admin password.
async fn admin(broker: &TestBroker, args: &[&str]) -> Output {
    let url = format!("http://{}", broker.http());
    let mut all = vec!["admin", "--url", &url, "--user", ADMIN.0];
    all.extend_from_slice(args);
    stompede(&all, &[("STOMPEDE_ADMIN_PASSWORD", ADMIN.1)]).await
}

/// Like [`admin`], which must succeed; its standard output.
async fn admin_ok(broker: &TestBroker, args: &[&str]) -> String {
    let o = admin(broker, args).await;
    assert!(
        o.status.success(),
        "admin {args:?} failed: {}{}",
        out(&o),
        err(&o)
    );
    out(&o)
}

#[tokio::test]
async fn check_config_exits_0_for_a_valid_file_and_1_naming_the_problem() {
    let dir = TempDir::new("check-config");
    let good = dir.write("good.toml", ADMIN_TOML);
    let o = stompede(&["check-config", good.to_str().expect("path")], &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("is valid"), "{}", out(&o));

    for (name, text, needle) in [
        (
            "unknown.toml",
            "[limits]\nmax_frames_ize = 3\n",
            "max_frames_ize",
        ),
        (
            "zero.toml",
            "[limits]\nmax_headers = 0\n",
            "limits.max_headers",
        ),
        (
            "admin.toml",
            "[admin]\nusers = [\"ghost\"]\n",
            "admin.users",
        ),
    ] {
        let file = dir.write(name, text);
        let o = stompede(&["check-config", file.to_str().expect("path")], &[]).await;
        assert_eq!(o.status.code(), Some(1), "{name}: {}{}", out(&o), err(&o));
        assert!(
            err(&o).contains("is invalid") && err(&o).contains(needle),
            "{name}: {}",
            err(&o)
        );
    }
    let o = stompede(&["check-config", "/nonexistent/stompede.toml"], &[]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("not found"), "{}", err(&o));
    let o = stompede(&["check-config"], &[]).await;
    assert_eq!(o.status.code(), Some(2), "a usage error is clap's 2");
}

#[tokio::test]
async fn run_subcommand_takes_a_config_file() {
    let dir = TempDir::new("run");
    let file = dir.write("stompede.toml", ADMIN_TOML);
    let broker =
        BrokerProcess::start(&["run", "--config", file.to_str().expect("path")], &[]).await;
    let (status, _) = http_get(broker.http, "/api/overview").await;
    assert_eq!(status, 401, "the file's admin settings are in force");
}

#[tokio::test]
async fn admin_lists_destinations_and_connections_as_tables_and_json() {
    let broker = admin_broker(&[]);
    let mut c = broker
        .client_with(&[
            ("accept-version", "1.2"),
            ("host", "/"),
            ("login", APP.0),
            ("passcode", APP.1),
        ])
        .await;
    c.publish_sync("/queue/cli", "a", &[]).await;
    c.publish_sync("/queue/cli", "b", &[]).await;

    let table = admin_ok(&broker, &["destinations"]).await;
    let mut lines = table.lines();
    let header = lines.next().unwrap_or("");
    assert!(
        header.starts_with("NAME") && header.contains("DEPTH"),
        "{table}"
    );
    let row: Vec<&str> = lines
        .find(|l| l.starts_with("/queue/cli"))
        .unwrap_or_else(|| panic!("no row for /queue/cli:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["/queue/cli", "queue", "2"], "{table}");

    let json: serde_json::Value =
        serde_json::from_str(&admin_ok(&broker, &["destinations", "--json"]).await).expect("JSON");
    assert_eq!(json["items"][0]["name"], "/queue/cli");
    let one: serde_json::Value =
        serde_json::from_str(&admin_ok(&broker, &["--json", "destination", "/queue/cli"]).await)
            .expect("JSON");
    assert_eq!(one["depth"], 2);

    let conns = admin_ok(&broker, &["connections"]).await;
    assert!(
        conns.starts_with("ID") && conns.contains(" app "),
        "{conns}"
    );
    let overview = admin_ok(&broker, &["overview"]).await;
    assert!(
        overview.contains("connections") && overview.contains(env!("CARGO_PKG_VERSION")),
        "{overview}"
    );
}

#[tokio::test]
async fn admin_purge_delete_close_and_replay_take_effect() {
    let broker = admin_broker(&[("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "1")]);
    let mut c = broker.client().await;
    for b in ["x", "y"] {
        c.publish_sync("/queue/purged", b, &[]).await;
    }
    let said = admin_ok(&broker, &["purge", "/queue/purged"]).await;
    assert_eq!(said, "purged 2 messages from /queue/purged\n");
    c.publish_sync("/queue/purged", "after", &[]).await;
    expect_exactly(&mut c, "/queue/purged", "auto", &["after"]).await;

    // Dead letters, replayed home.
    c.publish_sync("/queue/jobs", "j1", &[]).await;
    let m = c
        .subscribe_take("/queue/jobs", "j", &[("ack", "client-individual")], 1)
        .await;
    c.settle_sync(Command::Nack, &m[0]).await;
    AdminApi::of(&broker)
        .destination_until("/queue/DLQ.jobs", "the dead letter", |d| d["depth"] == 1)
        .await;
    let said = admin_ok(&broker, &["replay", "/queue/DLQ.jobs"]).await;
    assert!(
        said.starts_with("replayed 1 messages from /queue/DLQ.jobs"),
        "{said}"
    );
    let again = c.expect(Command::Message).await;
    assert_eq!(body(&again), "j1");

    // Close a connection, then delete a destination.
    let mut victim = broker.client().await;
    victim.subscribe("/queue/gone", "g", "auto").await;
    let conns: serde_json::Value =
        serde_json::from_str(&admin_ok(&broker, &["--json", "connections"]).await).expect("JSON");
    let id = conns["items"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["subscriptions"][0]["id"] == "g"))
        .and_then(|c| c["id"].as_u64())
        .unwrap_or_else(|| panic!("victim not listed: {conns}"));
    let said = admin_ok(&broker, &["close", &id.to_string(), "--reason", "upgrade"]).await;
    assert_eq!(said, format!("closed connection {id}\n"));
    let e = victim.expect_error().await;
    assert!(
        e.header("message").unwrap_or("").contains("upgrade"),
        "{e:?}"
    );

    let said = admin_ok(&broker, &["delete", "/queue/purged"]).await;
    assert!(said.starts_with("deleted /queue/purged"), "{said}");
    let o = admin(&broker, &["delete", "/queue/purged"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("404") && err(&o).contains("/queue/purged"),
        "{}",
        err(&o)
    );
}

#[tokio::test]
async fn admin_without_the_right_password_or_broker_fails_clearly() {
    let broker = admin_broker(&[]);
    let url = format!("http://{}", broker.http());
    let o = stompede(
        &["admin", "--url", &url, "--user", ADMIN.0, "destinations"],
        &[("STOMPEDE_ADMIN_PASSWORD", "wrong")],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("401") && err(&o).contains("STOMPEDE_ADMIN_PASSWORD"),
        "{}",
        err(&o)
    );
    let o = stompede(&["admin", "--url", &url, "overview"], &[]).await;
    assert_eq!(o.status.code(), Some(1), "no --user: refused");
    assert!(err(&o).contains("401"), "{}", err(&o));

    // Nothing listens on a port just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", free.local_addr().expect("addr"));
    drop(free);
    let o = stompede(&["admin", "--url", &dead, "overview"], &[]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("cannot reach"), "{}", err(&o));
}
