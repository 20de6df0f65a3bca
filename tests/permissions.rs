//! Per-destination permissions (`auth.acl`): read allows SUBSCRIBE, write
//! allows SEND, for the groups listed; wildcards and `{login}`; a denied
//! frame gets ERROR naming the verb and the destination (a SEND inside a
//! transaction at the SEND) and is counted in `stompede_auth_denied_total`.

mod common;

use common::*;
use stompede::protocol::{Command, Frame};

fn config(anonymous: bool) -> String {
    let hash = stompede::auth::hash("alice-pw").expect("hash");
    format!(
        r#"
[auth]
anonymous = {anonymous}
failure_delay_ms = 0
users = [
  {{ login = "alice", passcode_hash = "{hash}", groups = ["producers", "users"] }},
  {{ login = "bob", passcode = "bob-pw", groups = ["consumers", "users"] }},
]
acl = [
  {{ destination = "/queue/orders.>", read = ["consumers"], write = ["producers"] }},
  {{ destination = "/queue/inbox.{{login}}", read = ["users"], write = ["users"] }},
  {{ destination = "/topic/*.news", read = ["users", "anonymous"], write = ["producers"] }},
]
"#
    )
}

async fn login(broker: &TestBroker, user: &str, pass: &str) -> Client {
    broker
        .client_with(&[
            ("accept-version", "1.2"),
            ("host", "/"),
            ("login", user),
            ("passcode", pass),
        ])
        .await
}

fn send(dest: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", dest)
        .with_body("x")
}

fn subscribe(dest: &str) -> Frame {
    Frame::new(Command::Subscribe)
        .with_header("destination", dest)
        .with_header("id", "1")
        .with_header("receipt", "sub")
}

#[tokio::test]
async fn granted_groups_send_and_subscribe_through_wildcards() {
    let broker = TestBroker::with_config(&config(false), &[]);
    let mut alice = login(&broker, "alice", "alice-pw").await;
    let mut bob = login(&broker, "bob", "bob-pw").await;
    bob.subscribe("/queue/orders.eu.de", "1", "auto").await;
    alice
        .publish_sync("/queue/orders.eu.de", "order 1", &[])
        .await;
    assert_eq!(body(&bob.expect(Command::Message).await), "order 1");
    // `*` is one segment; users may read the news topics.
    bob.subscribe("/topic/sport.news", "2", "auto").await;
    alice.publish_sync("/topic/sport.news", "goal", &[]).await;
    assert_eq!(body(&bob.expect(Command::Message).await), "goal");
}

#[tokio::test]
async fn denied_send_and_subscribe_get_error_naming_verb_and_destination() {
    let broker = TestBroker::with_config(&config(false), &[]);
    let mut bob = login(&broker, "bob", "bob-pw").await;
    let e = bob
        .expect_error_after(send("/queue/orders.eu"), "permission denied")
        .await;
    assert_eq!(
        e.header("message"),
        Some("permission denied: SEND to '/queue/orders.eu'")
    );
    bob.expect_closed().await;

    let mut alice = login(&broker, "alice", "alice-pw").await;
    let e = alice
        .expect_error_after(subscribe("/queue/orders.eu"), "permission denied")
        .await;
    assert_eq!(
        e.header("message"),
        Some("permission denied: SUBSCRIBE to '/queue/orders.eu'")
    );
    assert_eq!(e.header("receipt-id"), Some("sub"));

    let scrape = broker.scrape().await;
    assert_eq!(
        scrape.value("stompede_auth_denied_total", &[("verb", "SEND")]),
        1.0
    );
    assert_eq!(
        scrape.value("stompede_auth_denied_total", &[("verb", "SUBSCRIBE")]),
        1.0
    );
}

#[tokio::test]
async fn a_star_is_exactly_one_segment() {
    let broker = TestBroker::with_config(&config(false), &[]);
    let mut bob = login(&broker, "bob", "bob-pw").await;
    bob.expect_error_after(
        subscribe("/topic/a.b.news"),
        "SUBSCRIBE to '/topic/a.b.news'",
    )
    .await;
}

#[tokio::test]
async fn login_in_a_pattern_is_the_users_own() {
    let broker = TestBroker::with_config(&config(false), &[]);
    let mut alice = login(&broker, "alice", "alice-pw").await;
    alice.subscribe("/queue/inbox.alice", "1", "auto").await;
    alice.publish_sync("/queue/inbox.alice", "note", &[]).await;
    assert_eq!(body(&alice.expect(Command::Message).await), "note");
    alice
        .expect_error_after(
            subscribe("/queue/inbox.bob"),
            "SUBSCRIBE to '/queue/inbox.bob'",
        )
        .await;
}

#[tokio::test]
async fn with_anonymous_off_anything_not_granted_is_denied() {
    let broker = TestBroker::with_config(&config(false), &[]);
    let mut alice = login(&broker, "alice", "alice-pw").await;
    alice
        .expect_error_after(send("/queue/elsewhere"), "SEND to '/queue/elsewhere'")
        .await;
}

#[tokio::test]
async fn a_denied_send_in_a_transaction_fails_at_the_send() {
    let broker = TestBroker::with_config(&config(false), &[]);
    let mut bob = login(&broker, "bob", "bob-pw").await;
    bob.send_with_receipt(
        Frame::new(Command::Begin).with_header("transaction", "t"),
        "begun",
    )
    .await;
    // No COMMIT is sent: the ERROR must come from the SEND itself.
    bob.expect_error_after(
        send("/queue/orders.eu").with_header("transaction", "t"),
        "permission denied: SEND to '/queue/orders.eu'",
    )
    .await;
}

#[tokio::test]
async fn anonymous_clients_are_the_anonymous_group_and_unmatched_names_stay_open() {
    let broker = TestBroker::with_config(&config(true), &[]);
    let mut anon = broker.client().await;
    anon.subscribe("/topic/sport.news", "1", "auto").await;
    // Matched by no entry: open while anonymous access is on.
    anon.publish_sync("/queue/public", "hi", &[]).await;
    anon.expect_error_after(send("/topic/sport.news"), "SEND to '/topic/sport.news'")
        .await;
    // An unlisted login is anonymous, not that login's own inbox.
    let mut pretender = login(&broker, "carol", "x").await;
    pretender
        .expect_error_after(
            subscribe("/queue/inbox.carol"),
            "SUBSCRIBE to '/queue/inbox.carol'",
        )
        .await;
}

#[tokio::test]
async fn no_acl_keeps_everything_allowed_for_authenticated_users() {
    let broker = TestBroker::with_config(
        r#"
[auth]
anonymous = false
users = [{ login = "app", passcode = "pw" }]
"#,
        &[],
    );
    let mut app = login(&broker, "app", "pw").await;
    app.subscribe("/queue/anything", "1", "auto").await;
    app.publish_sync("/queue/anything", "ok", &[]).await;
    assert_eq!(body(&app.expect(Command::Message).await), "ok");
}

#[tokio::test]
async fn sighup_reloads_permissions_for_open_sessions() {
    let dir = TempDir::new("acl-reload");
    let users = "[auth]\nanonymous = false\nusers = [{ login = \"app\", passcode = \"pw\", groups = [\"apps\"] }]\n";
    let path = dir.write(
        "stompede.toml",
        &format!("{users}acl = [{{ destination = \"/queue/>\", read = [\"apps\"], write = [\"apps\"] }}]\n"),
    );
    let mut broker = BrokerProcess::start(&["--config", path.to_str().expect("utf-8")], &[]).await;
    let mut app = Client::connect(
        broker.stomp,
        &[
            ("accept-version", "1.2"),
            ("host", "/"),
            ("login", "app"),
            ("passcode", "pw"),
        ],
    )
    .await;
    app.publish_sync("/queue/jobs", "allowed", &[]).await;
    dir.write(
        "stompede.toml",
        &format!(
            "{users}acl = [{{ destination = \"/queue/>\", read = [\"apps\"], write = [] }}]\n"
        ),
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &broker.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    loop {
        let line = strip_ansi(&broker.next_line().await);
        assert!(!line.contains("reload failed"), "{line}");
        if line.contains("reloaded") {
            break;
        }
    }
    // The same session, the same destination: decided again under the new rules.
    app.expect_error_after(
        send("/queue/jobs"),
        "permission denied: SEND to '/queue/jobs'",
    )
    .await;
    broker.terminate();
    broker.wait_exit().await;
}
