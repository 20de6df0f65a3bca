//! The admin API over real HTTP against the real broker: every route refuses
//! without an admin's credentials, the reads describe what STOMP clients
//! did, and each action's effect is checked through STOMP (a purged queue
//! delivers nothing old, a closed client gets ERROR, replayed dead letters
//! arrive at their queue once).

mod common;

use common::*;
use serde_json::Value;
use stompede::protocol::{Command, Frame};

const APP_CONNECT: [(&str, &str); 4] = [
    ("accept-version", "1.2"),
    ("host", "/"),
    ("login", APP.0),
    ("passcode", APP.1),
];

/// Every route, as (method, path).
const ROUTES: [(&str, &str); 9] = [
    ("GET", "/api/overview"),
    ("GET", "/api/destinations"),
    ("GET", "/api/destinations/%2Fqueue%2Fx"),
    ("DELETE", "/api/destinations/%2Fqueue%2Fx/messages"),
    ("DELETE", "/api/destinations/%2Fqueue%2Fx"),
    ("POST", "/api/destinations/%2Fqueue%2FDLQ.x/replay"),
    ("GET", "/api/connections"),
    ("GET", "/api/connections/1"),
    ("DELETE", "/api/connections/1"),
];

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn every_route_answers_401_without_an_admins_credentials_and_metrics_stay_open() {
    let broker = admin_broker(&[]);
    let wrong = [
        None,
        Some((ADMIN.0, "not-the-password")),
        Some((APP.0, APP.1)),
        Some(("nobody", "x")),
    ];
    for (method, path) in ROUTES.iter().chain(&[("GET", "/"), ("GET", "/status.js")]) {
        for creds in wrong {
            let a = http_request(broker.http(), method, path, creds, &[]).await;
            assert_eq!(a.status, 401, "{method} {path} with {creds:?}: {a:?}");
            let challenge = a.header("www-authenticate").unwrap_or("");
            assert!(challenge.starts_with("Basic realm="), "{a:?}");
            assert!(a.json()["error"].as_str().is_some(), "{a:?}");
        }
    }
    for path in ["/metrics", "/healthz", "/readyz"] {
        let (status, _) = broker.http_get(path).await;
        assert_eq!(status, 200, "{path} must need no credentials");
    }
    // And with them, the first read works.
    let api = AdminApi::of(&broker);
    assert_eq!(
        api.get("/api/overview").await["version"],
        env!("CARGO_PKG_VERSION")
    );
}

#[tokio::test]
async fn no_admin_users_means_nobody_gets_in() {
    let broker = TestBroker::with_config(
        "[auth]\nusers = [{ login = \"ops\", passcode = \"ops-secret\" }]\n",
        &[],
    );
    let a = http_request(broker.http(), "GET", "/api/overview", Some(ADMIN), &[]).await;
    assert_eq!(a.status, 401, "{a:?}");
}

#[tokio::test]
async fn overview_and_destinations_describe_what_clients_did() {
    let broker = admin_broker(&[]);
    let api = AdminApi::of(&broker);
    let mut c = broker.client_with(&APP_CONNECT).await;
    for i in 0..3 {
        c.publish_sync("/queue/orders", &format!("o{i}"), &[]).await;
    }
    c.subscribe("/topic/news", "n", "auto").await;

    let o = api.get("/api/overview").await;
    assert_eq!(o["connections"], 1, "{o}");
    assert_eq!(o["destinations"], 2, "{o}");
    assert_eq!(o["memory_alarm"], false, "{o}");
    assert_eq!(o["disk_alarm"], false, "{o}");
    assert!(o["uptime_seconds"].as_u64().is_some(), "{o}");

    let list = api.get("/api/destinations").await;
    assert_eq!(names(&list), ["/queue/orders", "/topic/news"], "{list}");
    let orders = &list["items"][0];
    assert_eq!(orders["kind"], "queue");
    assert_eq!(orders["depth"], 3, "{orders}");
    assert_eq!(orders["messages_in"], 3, "{orders}");
    assert_eq!(orders["consumers"], 0, "{orders}");
    assert_eq!(orders["dead_letter_queue"], "/queue/DLQ.orders");
    assert!(orders["rate_in"].as_f64().is_some(), "{orders}");
    let news = &list["items"][1];
    assert_eq!(
        (news["kind"].as_str(), news["consumers"].as_u64()),
        (Some("topic"), Some(1))
    );

    // One destination, with its consumers; the name is URL-encoded.
    // (an exclusive consumer elsewhere, so that the view shows the flag both ways)
    let mut exclusive = broker.client_with(&APP_CONNECT).await;
    exclusive
        .subscribe_with(
            "/queue/orders.exclusive",
            "x",
            &[("activemq.exclusive", "true")],
        )
        .await;
    let news = api.get("/api/destinations/%2Ftopic%2Fnews").await;
    let consumer = &news["consumer_list"][0];
    assert_eq!(consumer["ack"], "auto", "{news}");
    assert_eq!(consumer["prefetch"].as_u64().map(|p| p > 0), Some(true));
    assert_eq!(consumer["exclusive"], false, "{news}");
    let queue = api
        .get("/api/destinations/%2Fqueue%2Forders.exclusive")
        .await;
    assert_eq!(queue["consumer_list"][0]["exclusive"], true, "{queue}");
    let unknown = api
        .expect("GET", "/api/destinations/%2Fqueue%2Fnone", 404)
        .await;
    assert!(
        unknown["error"]
            .as_str()
            .unwrap_or("")
            .contains("/queue/none"),
        "{unknown}"
    );

    // The consumer's connection: who, how, what it subscribed.
    let conns = api.get("/api/connections").await;
    assert_eq!(conns["total"], 2, "{conns}");
    // In id order: the producer and news subscriber first, then the exclusive consumer.
    let conn = &conns["items"][0];
    assert_eq!(conn["id"], consumer["connection"], "{conns} vs {news}");
    assert_eq!(conn["login"], "app");
    assert_eq!(conn["version"], "1.2");
    assert_eq!(conn["transport"], "tcp");
    assert_eq!(conn["subscriptions"][0]["id"], "n");
    assert!(
        conn["bytes_in"].as_u64() > Some(0) && conn["bytes_out"].as_u64() > Some(0),
        "{conn}"
    );
    let one = api.get(&format!("/api/connections/{}", conn["id"])).await;
    assert_eq!(one["peer"], conn["peer"]);
    api.expect("GET", "/api/connections/999999", 404).await;
    api.expect("GET", "/api/connections/abc", 400).await;
}

#[tokio::test]
async fn lists_are_pages_capped_at_admin_max_list() {
    let broker = admin_broker(&[("STOMPEDE__ADMIN__MAX_LIST", "2")]);
    let api = AdminApi::of(&broker);
    let mut c = broker.client().await;
    for q in ["/queue/c", "/queue/a", "/queue/b"] {
        c.publish_sync(q, "x", &[]).await;
    }
    let first = api.get("/api/destinations").await;
    assert_eq!(first["total"], 3);
    assert_eq!(
        names(&first),
        ["/queue/a", "/queue/b"],
        "sorted, and capped at 2"
    );
    let asked_more = api.get("/api/destinations?limit=100").await;
    assert_eq!(
        names(&asked_more).len(),
        2,
        "?limit cannot pass admin.max_list"
    );
    let rest = api.get("/api/destinations?offset=2").await;
    assert_eq!(names(&rest), ["/queue/c"]);
    let one = api.get("/api/destinations?limit=1&offset=1").await;
    assert_eq!(names(&one), ["/queue/b"]);
    let matching = api
        .get(&format!("/api/destinations?name={}", seg("/queue/[bc]*")))
        .await;
    assert_eq!(matching["total"], 0, "globs know only *: {matching}");
    let matching = api
        .get(&format!("/api/destinations?name={}", seg("*c")))
        .await;
    assert_eq!(names(&matching), ["/queue/c"]);
    let bad = api.expect("GET", "/api/destinations?limit=lots", 400).await;
    assert!(
        bad["error"].as_str().unwrap_or("").contains("limit"),
        "{bad}"
    );
    let a = http_request(
        broker.http(),
        "GET",
        "/api/destinations?limit=lots",
        None,
        &[],
    )
    .await;
    assert_eq!(a.status, 401, "credentials are checked first: {a:?}");
    let _others = (broker.client().await, broker.client().await);
    let conns = api.get("/api/connections").await;
    assert_eq!(conns["total"], 3);
    assert_eq!(conns["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn purge_empties_a_queue_so_a_consumer_gets_nothing_old() {
    let broker = admin_broker(&[]);
    let api = AdminApi::of(&broker);
    let mut c = broker.client().await;
    let name = "/queue/to purge";
    for i in 0..5 {
        let persistent = if i % 2 == 0 { "true" } else { "false" };
        c.publish_sync(name, &format!("old{i}"), &[("persistent", persistent)])
            .await;
    }
    let path = format!("/api/destinations/{}/messages", seg(name));
    let out = api.expect("DELETE", &path, 200).await;
    assert_eq!(out["purged"], 5, "{out}");
    assert_eq!(out["destination"], name);
    let after = api.get(&format!("/api/destinations/{}", seg(name))).await;
    assert_eq!(after["depth"], 0, "{after}");
    // The first thing a consumer gets is what was sent after the purge.
    c.publish_sync(name, "new", &[]).await;
    let got = expect_exactly(&mut c, name, "auto", &["new"]).await;
    assert_eq!(got.len(), 1);
    api.expect("DELETE", "/api/destinations/%2Fqueue%2Fnone/messages", 404)
        .await;
}

#[tokio::test]
async fn deleting_a_destination_errors_its_consumers_and_the_name_starts_afresh() {
    let broker = admin_broker(&[]);
    let api = AdminApi::of(&broker);
    let mut consumer = broker.client().await;
    consumer
        .subscribe_with(
            "/queue/doomed",
            "d",
            &[("ack", "client"), ("prefetch-count", "1")],
        )
        .await;
    let mut producer = broker.client().await;
    producer.publish_sync("/queue/doomed", "held", &[]).await;
    consumer.expect(Command::Message).await;
    producer.publish_sync("/queue/doomed", "waiting", &[]).await;

    let out = api
        .expect(
            "DELETE",
            "/api/destinations/%2Fqueue%2Fdoomed?reason=decommissioned",
            200,
        )
        .await;
    assert_eq!(
        (out["deleted"].as_bool(), out["discarded"].as_u64()),
        (Some(true), Some(2)),
        "{out}"
    );
    let err = consumer.expect_error().await;
    let message = err.header("message").unwrap_or("");
    assert!(
        message.contains("/queue/doomed") && message.contains("decommissioned"),
        "{err:?}"
    );
    api.expect("GET", "/api/destinations/%2Fqueue%2Fdoomed", 404)
        .await;
    api.expect("DELETE", "/api/destinations/%2Fqueue%2Fdoomed", 404)
        .await;

    // The name works again, empty.
    producer.publish_sync("/queue/doomed", "reborn", &[]).await;
    expect_exactly(&mut producer, "/queue/doomed", "auto", &["reborn"]).await;
}

#[tokio::test]
async fn closing_a_connection_sends_its_client_error_with_the_reason() {
    let broker = admin_broker(&[]);
    let api = AdminApi::of(&broker);
    let mut victim = broker.client_with(&APP_CONNECT).await;
    let conns = api.get("/api/connections").await;
    let id = conns["items"][0]["id"].as_u64().expect("id");
    let out = api
        .expect(
            "DELETE",
            &format!("/api/connections/{id}?reason=maintenance%20window"),
            200,
        )
        .await;
    assert_eq!(out["closed"], true);
    let err = victim.expect_error().await;
    assert!(
        err.header("message")
            .unwrap_or("")
            .contains("maintenance window"),
        "{err:?}"
    );
    assert_eq!(body(&err), "maintenance window");
    // Gone from the list once its actor stopped (polled: the listener hears of it after the close).
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while api.get("/api/connections").await["total"] != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "closed connection still listed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    api.expect("DELETE", &format!("/api/connections/{id}"), 404)
        .await;
}

#[tokio::test]
async fn replay_moves_dead_letters_back_to_their_queue_once() {
    let broker = admin_broker(&[("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "1")]);
    let api = AdminApi::of(&broker);
    let mut c = broker.client().await;
    let bodies = ["r0", "r1", "r2"];
    for b in bodies {
        c.publish_sync("/queue/work", b, &[("persistent", "true")])
            .await;
    }
    // One delivery each, NACKed: each goes to the dead-letter queue.
    let got = c
        .subscribe_take(
            "/queue/work",
            "w",
            &[("ack", "client-individual"), ("prefetch-count", "10")],
            3,
        )
        .await;
    for m in &got {
        c.settle_sync(Command::Nack, m).await;
    }
    c.send_with_receipt(
        Frame::new(Command::Unsubscribe).with_header("id", "w"),
        "unsub",
    )
    .await;
    let dlq = api
        .destination_until("/queue/DLQ.work", "three dead letters", |d| d["depth"] == 3)
        .await;
    assert_eq!(dlq["kind"], "queue");
    let work = api.get("/api/destinations/%2Fqueue%2Fwork").await;
    assert_eq!(
        (work["depth"].as_u64(), work["dead_lettered"].as_u64()),
        (Some(0), Some(3)),
        "{work}"
    );

    // Only a dead-letter queue can be replayed.
    let refused = api
        .expect("POST", "/api/destinations/%2Fqueue%2Fwork/replay", 400)
        .await;
    assert!(refused["error"]
        .as_str()
        .unwrap_or("")
        .contains("not a dead-letter queue"));

    let out = api
        .expect("POST", "/api/destinations/%2Fqueue%2FDLQ.work/replay", 200)
        .await;
    assert_eq!(
        (out["replayed"].as_u64(), out["skipped"].as_u64()),
        (Some(3), Some(0)),
        "{out}"
    );
    assert_eq!(out["remaining"], 0, "{out}");
    // Home again, in order, once, without the dead-letter history.
    let back = expect_exactly(&mut c, "/queue/work", "auto", &bodies).await;
    for m in &back {
        assert!(m.header("x-death-reason").is_none(), "{m:?}");
        assert_eq!(m.header("persistent"), Some("true"), "{m:?}");
    }
    let dlq = api.get("/api/destinations/%2Fqueue%2FDLQ.work").await;
    assert_eq!(dlq["depth"], 0, "{dlq}");
    let again = api
        .expect("POST", "/api/destinations/%2Fqueue%2FDLQ.work/replay", 200)
        .await;
    assert_eq!(again["replayed"], 0, "{again}");
}

#[tokio::test]
async fn replay_leaves_messages_that_name_no_original_destination() {
    let broker = admin_broker(&[]);
    let api = AdminApi::of(&broker);
    let mut c = broker.client().await;
    c.publish_sync("/queue/DLQ.manual", "orphan", &[]).await;
    let out = api
        .expect(
            "POST",
            "/api/destinations/%2Fqueue%2FDLQ.manual/replay",
            200,
        )
        .await;
    assert_eq!(
        (out["replayed"].as_u64(), out["skipped"].as_u64()),
        (Some(0), Some(1)),
        "{out}"
    );
    expect_exactly(&mut c, "/queue/DLQ.manual", "auto", &["orphan"]).await;
}

#[tokio::test]
async fn actions_sent_by_a_page_of_another_site_are_refused() {
    let broker = admin_broker(&[]);
    let mut c = broker.client().await;
    c.publish_sync("/queue/kept", "x", &[]).await;
    let path = "/api/destinations/%2Fqueue%2Fkept/messages";
    let evil = [("Origin", "http://evil.example")];
    let a = http_request(broker.http(), "DELETE", path, Some(ADMIN), &evil).await;
    assert_eq!(a.status, 403, "{a:?}");
    let api = AdminApi::of(&broker);
    assert_eq!(
        api.get("/api/destinations/%2Fqueue%2Fkept").await["depth"],
        1
    );
    // The status page itself sends its own origin.
    let own = format!("http://{}", broker.http());
    let a = http_request(
        broker.http(),
        "DELETE",
        path,
        Some(ADMIN),
        &[("Origin", &own)],
    )
    .await;
    assert_eq!(a.status, 200, "{a:?}");
}
