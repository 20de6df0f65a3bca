//! Durable topic subscriptions over real sockets, in each broker's header
//! spelling (ActiveMQ, RabbitMQ, Artemis): a subscriber away keeps its
//! messages and gets them in order on return; UNSUBSCRIBE with the durable
//! headers removes the subscription and its backlog, a plain one keeps it;
//! persistent messages and the subscription itself survive a restart; the
//! backlog obeys the queue limits; and the bound on subscriptions holds.

mod common;

use common::{body, seg, AdminApi, Client, Scrape, TestBroker, ADMIN_TOML, QUIET};
use stompede::protocol::{Command, Frame};

/// CONNECT headers of a 1.2 client with `client-id`.
fn with_client_id(id: &str) -> [(&str, &str); 3] {
    [("accept-version", "1.2"), ("host", "/"), ("client-id", id)]
}

/// Connects as `id` once the broker has let go of the id's previous
/// connection (ended by an ERROR just now, so its session may still be
/// releasing its subscriptions).
async fn reconnect(broker: &TestBroker, id: &str) -> Client {
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    loop {
        if let Some(c) = Client::connect_if_accepted(broker.stomp(), &with_client_id(id)).await {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "client id {id} still held"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The ActiveMQ spelling of a durable SUBSCRIBE named `name`.
fn activemq(name: &str) -> Vec<(&str, &str)> {
    vec![
        ("activemq.subscriptionName", name),
        ("ack", "client-individual"),
    ]
}

/// The RabbitMQ spelling: named by the subscription id.
const RABBITMQ: [(&str, &str); 3] = [
    ("durable", "true"),
    ("auto-delete", "false"),
    ("ack", "client-individual"),
];

/// Publishes `bodies` to `topic`, each waiting for its RECEIPT.
async fn publish_all(c: &mut Client, topic: &str, bodies: &[&str], headers: &[(&str, &str)]) {
    for b in bodies {
        c.publish_sync(topic, b, headers).await;
    }
}

/// Subscribes (the backlog may come before the RECEIPT) and reads exactly
/// `want`, in order, then nothing more.
async fn backlog(
    c: &mut Client,
    topic: &str,
    id: &str,
    headers: &[(&str, &str)],
    want: &[&str],
) -> Vec<Frame> {
    let got = c.subscribe_take(topic, id, headers, want.len()).await;
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, want);
    c.expect_nothing(QUIET).await;
    got
}

/// UNSUBSCRIBE `id` with `headers`, waiting for the RECEIPT.
async fn unsubscribe(c: &mut Client, id: &str, headers: &[(&str, &str)]) {
    let mut f = Frame::new(Command::Unsubscribe).with_header("id", id);
    for (k, v) in headers {
        f = f.with_header(*k, *v);
    }
    c.send_with_receipt(f, &format!("unsub-{id}")).await;
}

#[tokio::test]
async fn activemq_subscriber_gets_what_was_published_while_away_in_order() {
    let broker = TestBroker::start();
    let mut sub = broker.client_with(&with_client_id("app-1")).await;
    sub.subscribe_with("/topic/orders", "s1", &activemq("orders-feed"))
        .await;
    sub.disconnect().await;

    let mut producer = broker.client().await;
    publish_all(
        &mut producer,
        "/topic/orders",
        &["m1", "m2", "m3", "m4", "m5"],
        &[],
    )
    .await;

    let mut sub = broker.client_with(&with_client_id("app-1")).await;
    let got = backlog(
        &mut sub,
        "/topic/orders",
        "s2",
        &activemq("orders-feed"),
        &["m1", "m2", "m3", "m4", "m5"],
    )
    .await;
    assert_eq!(got[0].header("destination"), Some("/topic/orders"));
    assert_eq!(got[0].header("subscription"), Some("s2"));
    for m in &got {
        sub.ack(m).await;
    }
    // Connected, it receives as any subscriber does.
    producer.publish_sync("/topic/orders", "live", &[]).await;
    assert_eq!(body(&sub.expect(Command::Message).await), "live");

    // A plain subscriber of the topic is unaffected, and a client without
    // the durable name gets only what is sent while it is there.
    let mut other = broker.client().await;
    other.subscribe("/topic/orders", "o", "auto").await;
    other.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn rabbitmq_durable_subscription_is_named_by_its_id_and_removed_by_persistent_unsubscribe() {
    let broker = TestBroker::start();
    let mut sub = broker.client().await;
    sub.subscribe_with("/topic/prices", "prices-1", &RABBITMQ)
        .await;
    sub.disconnect().await;

    let mut producer = broker.client().await;
    publish_all(&mut producer, "/topic/prices", &["p1", "p2", "p3"], &[]).await;

    let mut sub = broker.client().await;
    let got = backlog(
        &mut sub,
        "/topic/prices",
        "prices-1",
        &RABBITMQ,
        &["p1", "p2", "p3"],
    )
    .await;
    for m in &got {
        sub.ack(m).await;
    }
    // RabbitMQ removes it with UNSUBSCRIBE + persistent:true.
    unsubscribe(&mut sub, "prices-1", &[("persistent", "true")]).await;
    publish_all(&mut producer, "/topic/prices", &["gone-1", "gone-2"], &[]).await;
    // Subscribing again creates a fresh, empty subscription.
    sub.subscribe_with("/topic/prices", "prices-1", &RABBITMQ)
        .await;
    sub.expect_nothing(QUIET).await;

    // A RabbitMQ `auto-delete:true` subscription is not durable.
    let mut temp = broker.client().await;
    temp.subscribe_with(
        "/topic/prices",
        "t",
        &[("durable", "true"), ("auto-delete", "true")],
    )
    .await;
    temp.disconnect().await;
    producer.publish_sync("/topic/prices", "p4", &[]).await;
    let mut temp = broker.client().await;
    temp.subscribe_with(
        "/topic/prices",
        "t",
        &[("durable", "true"), ("auto-delete", "true")],
    )
    .await;
    temp.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn artemis_spellings_keep_a_backlog_and_unsubscribe_with_the_name_removes_it() {
    let broker = TestBroker::start();
    let mut producer = broker.client().await;
    for header in ["durable-subscription-name", "subscription-name"] {
        let topic = format!("/topic/artemis.{header}");
        let sub_headers = [(header, "feed"), ("ack", "client")];
        let mut sub = broker.client_with(&with_client_id("artemis-app")).await;
        sub.subscribe_with(&topic, "a", &sub_headers).await;
        sub.disconnect().await;
        publish_all(&mut producer, &topic, &["a1", "a2"], &[]).await;

        let mut sub = broker.client_with(&with_client_id("artemis-app")).await;
        let got = backlog(&mut sub, &topic, "a", &sub_headers, &["a1", "a2"]).await;
        sub.ack(&got[1]).await;
        unsubscribe(&mut sub, "a", &[(header, "feed")]).await;
        sub.disconnect().await;

        publish_all(&mut producer, &topic, &["after"], &[]).await;
        let mut sub = broker.client_with(&with_client_id("artemis-app")).await;
        sub.subscribe_with(&topic, "a", &sub_headers).await;
        sub.expect_nothing(QUIET).await;
        unsubscribe(&mut sub, "a", &[(header, "feed")]).await;
        sub.disconnect().await;
    }
}

#[tokio::test]
async fn plain_unsubscribe_keeps_the_subscription_and_the_durable_one_removes_it() {
    let broker = TestBroker::start();
    let mut producer = broker.client().await;
    let mut sub = broker.client_with(&with_client_id("keeper")).await;
    sub.subscribe_with("/topic/k", "s", &activemq("k")).await;
    unsubscribe(&mut sub, "s", &[]).await;
    publish_all(&mut producer, "/topic/k", &["k1", "k2"], &[]).await;
    // Unacknowledged messages of the last visit come back too.
    let got = backlog(&mut sub, "/topic/k", "s", &activemq("k"), &["k1", "k2"]).await;
    sub.ack(&got[0]).await;
    sub.disconnect().await;
    let mut sub = broker.client_with(&with_client_id("keeper")).await;
    let again = backlog(&mut sub, "/topic/k", "s", &activemq("k"), &["k2"]).await;
    assert_eq!(again[0].header("redelivered"), Some("true"), "{again:?}");

    // ActiveMQ's way: UNSUBSCRIBE with activemq.subscriptionName.
    unsubscribe(&mut sub, "s", &[("activemq.subscriptionName", "k")]).await;
    publish_all(&mut producer, "/topic/k", &["k3"], &[]).await;
    sub.subscribe_with("/topic/k", "s", &activemq("k")).await;
    sub.expect_nothing(QUIET).await;

    // Removing one that does not exist, with no subscription of that id, is an ERROR.
    let f = Frame::new(Command::Unsubscribe)
        .with_header("id", "nobody")
        .with_header("activemq.subscriptionName", "nothing");
    sub.expect_error_after(f, "no durable subscription").await;
}

#[tokio::test]
async fn a_client_id_is_used_by_one_connection_at_a_time() {
    let broker = TestBroker::start();
    let first = broker.client_with(&with_client_id("only-one")).await;
    let (mut second, reply) =
        Client::try_connect(broker.stomp(), &with_client_id("only-one")).await;
    assert_eq!(reply.command, Command::Error, "{reply:?}");
    let msg = reply.header("message").unwrap_or("");
    assert!(msg.contains("already connected"), "{msg}");
    second.expect_closed().await;
    first.disconnect().await;
    // Free again the moment the DISCONNECT's RECEIPT is in.
    let again = broker.client_with(&with_client_id("only-one")).await;
    again.disconnect().await;
}

#[tokio::test]
async fn activemq_and_artemis_names_need_a_client_id_and_names_keep_their_topic() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    let f = Frame::new(Command::Subscribe)
        .with_header("destination", "/topic/x")
        .with_header("id", "1")
        .with_header("activemq.subscriptionName", "x");
    c.expect_error_after(f, "needs a client-id").await;

    let mut c = reconnect(&broker, "changer").await;
    c.subscribe_with("/topic/a", "1", &activemq("n")).await;
    let f = Frame::new(Command::Subscribe)
        .with_header("destination", "/topic/a")
        .with_header("id", "2")
        .with_header("activemq.subscriptionName", "n");
    c.expect_error_after(f, "already consumed").await;

    let mut c = reconnect(&broker, "changer").await;
    let f = Frame::new(Command::Subscribe)
        .with_header("destination", "/topic/b")
        .with_header("id", "1")
        .with_header("activemq.subscriptionName", "n");
    c.expect_error_after(f, "already exists on /topic/a").await;

    // Its queue is the broker's, not the clients'.
    let mut c = broker.client().await;
    let f = Frame::new(Command::Send)
        .with_header("destination", "/queue/durable.changer.n")
        .with_body("sneaky");
    c.expect_error_after(f, "durable subscription's queue")
        .await;
}

#[tokio::test]
async fn wildcard_durable_subscription_with_a_selector_keeps_only_what_it_selects() {
    let broker = TestBroker::start();
    let headers = [
        ("activemq.subscriptionName", "ibm"),
        ("selector", "sym = 'IBM'"),
        ("ack", "auto"),
    ];
    let mut sub = broker.client_with(&with_client_id("trader")).await;
    sub.subscribe_with("/topic/stocks.*", "s", &headers).await;
    sub.disconnect().await;
    let mut producer = broker.client().await;
    producer
        .publish_sync("/topic/stocks.nyse", "ibm-1", &[("sym", "IBM")])
        .await;
    producer
        .publish_sync("/topic/stocks.nyse", "aapl", &[("sym", "AAPL")])
        .await;
    producer
        .publish_sync("/topic/stocks.lse", "ibm-2", &[("sym", "IBM")])
        .await;
    producer
        .publish_sync("/topic/bonds.lse", "bond", &[("sym", "IBM")])
        .await;
    let mut sub = broker.client_with(&with_client_id("trader")).await;
    let got = backlog(
        &mut sub,
        "/topic/stocks.*",
        "s",
        &headers,
        &["ibm-1", "ibm-2"],
    )
    .await;
    assert_eq!(got[1].header("destination"), Some("/topic/stocks.lse"));
}

#[tokio::test]
async fn persistent_backlog_and_the_subscription_survive_a_restart() {
    let broker = TestBroker::start();
    let mut sub = broker.client_with(&with_client_id("restarter")).await;
    sub.subscribe_with("/topic/r", "s", &activemq("r")).await;
    sub.disconnect().await;
    let mut producer = broker.client().await;
    producer
        .publish_sync("/topic/r", "p1", &[("persistent", "true")])
        .await;
    producer.publish_sync("/topic/r", "n1", &[]).await;
    producer
        .publish_sync("/topic/r", "p2", &[("persistent", "true")])
        .await;
    // A COMMIT's RECEIPT, too, follows the subscription's journal.
    let begin = Frame::new(Command::Begin).with_header("transaction", "t");
    producer.send_with_receipt(begin, "b").await;
    let send = Frame::new(Command::Send)
        .with_header("destination", "/topic/r")
        .with_header("transaction", "t")
        .with_header("persistent", "true")
        .with_body("t1");
    producer.send(send).await;
    let commit = Frame::new(Command::Commit).with_header("transaction", "t");
    producer.send_with_receipt(commit, "c").await;
    drop(producer);

    let broker = broker.restart(&[]);
    // Still bound after the restart: what is published now is kept too.
    let mut producer = broker.client().await;
    producer
        .publish_sync("/topic/r", "p3", &[("persistent", "true")])
        .await;
    let mut sub = broker.client_with(&with_client_id("restarter")).await;
    let got = backlog(
        &mut sub,
        "/topic/r",
        "s",
        &activemq("r"),
        &["p1", "p2", "t1", "p3"],
    )
    .await;
    for m in &got {
        let ack = sub.ack_frame(Command::Ack, m);
        sub.send_with_receipt(ack, &format!("ack-{}", body(m)))
            .await;
    }
    sub.disconnect().await;
    drop(producer);

    // Acknowledged messages do not come back; a removed subscription stays removed.
    let broker = broker.restart(&[]);
    let mut sub = broker.client_with(&with_client_id("restarter")).await;
    sub.subscribe_with("/topic/r", "s", &activemq("r")).await;
    sub.expect_nothing(QUIET).await;
    unsubscribe(&mut sub, "s", &[("activemq.subscriptionName", "r")]).await;
    sub.disconnect().await;
    let broker = broker.restart(&[]);
    let mut producer = broker.client().await;
    producer
        .publish_sync("/topic/r", "p4", &[("persistent", "true")])
        .await;
    let mut sub = broker.client_with(&with_client_id("restarter")).await;
    sub.subscribe_with("/topic/r", "s", &activemq("r")).await;
    sub.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn the_backlog_obeys_the_queue_limits() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "3"),
        ("STOMPEDE__DESTINATIONS__OVERFLOW", "drop-head"),
    ]);
    let mut sub = broker.client_with(&with_client_id("bounded")).await;
    sub.subscribe_with("/topic/b", "s", &activemq("b")).await;
    sub.disconnect().await;
    let mut producer = broker.client().await;
    publish_all(
        &mut producer,
        "/topic/b",
        &["b1", "b2", "b3", "b4", "b5"],
        &[],
    )
    .await;
    let mut sub = broker.client_with(&with_client_id("bounded")).await;
    backlog(
        &mut sub,
        "/topic/b",
        "s",
        &activemq("b"),
        &["b3", "b4", "b5"],
    )
    .await;

    // Under `reject` a full subscription drops the topic's copy, never the publisher.
    let broker = TestBroker::with(&[
        ("STOMPEDE__DESTINATIONS__MAX_QUEUE_MESSAGES", "2"),
        ("STOMPEDE__DESTINATIONS__OVERFLOW", "reject"),
    ]);
    let mut sub = broker.client_with(&with_client_id("bounded")).await;
    sub.subscribe_with("/topic/b", "s", &activemq("b")).await;
    sub.disconnect().await;
    let mut producer = broker.client().await;
    publish_all(&mut producer, "/topic/b", &["r1", "r2", "r3"], &[]).await;
    let mut sub = broker.client_with(&with_client_id("bounded")).await;
    backlog(&mut sub, "/topic/b", "s", &activemq("b"), &["r1", "r2"]).await;
}

#[tokio::test]
async fn durable_subscriptions_are_bounded() {
    let broker = TestBroker::with(&[("STOMPEDE__DESTINATIONS__MAX_DURABLE_SUBSCRIPTIONS", "2")]);
    let mut c = broker.client_with(&with_client_id("many")).await;
    c.subscribe_with("/topic/a", "1", &activemq("one")).await;
    c.subscribe_with("/topic/a", "2", &activemq("two")).await;
    let f = Frame::new(Command::Subscribe)
        .with_header("destination", "/topic/a")
        .with_header("id", "3")
        .with_header("activemq.subscriptionName", "three");
    c.expect_error_after(f, "destinations.max_durable_subscriptions")
        .await;
    let registered = |n: f64| move |s: &Scrape| s.value("stompede_durable_subscriptions", &[]) == n;
    broker.scrape_until("two registered", registered(2.0)).await;
    // The existing ones still open; removing one makes room.
    let mut c = reconnect(&broker, "many").await;
    c.subscribe_with("/topic/a", "1", &activemq("one")).await;
    unsubscribe(&mut c, "1", &[("activemq.subscriptionName", "one")]).await;
    c.subscribe_with("/topic/a", "3", &activemq("three")).await;
    unsubscribe(&mut c, "3", &[("activemq.subscriptionName", "three")]).await;
    broker.scrape_until("one registered", registered(1.0)).await;
}

#[tokio::test]
async fn a_durable_subscription_is_a_queue_in_metrics_and_the_admin_api() {
    let broker = TestBroker::with_config(ADMIN_TOML, &[]);
    let login = [
        ("accept-version", "1.2"),
        ("host", "/"),
        ("client-id", "watched"),
        ("login", "app"),
        ("passcode", "app-secret"),
    ];
    let producer_login = [
        ("accept-version", "1.2"),
        ("host", "/"),
        ("login", "app"),
        ("passcode", "app-secret"),
    ];
    let mut sub = broker.client_with(&login).await;
    sub.subscribe_with("/topic/w", "s", &activemq("feed")).await;
    sub.disconnect().await;
    let mut producer = broker.client_with(&producer_login).await;
    publish_all(&mut producer, "/topic/w", &["w1", "w2"], &[]).await;

    let name = "/queue/durable.watched.feed";
    let api = AdminApi::of(&broker);
    let d = api
        .destination_until(name, "two waiting", |d| d["depth"] == 2)
        .await;
    assert_eq!(d["kind"], "queue", "{d}");
    assert_eq!(d["consumers"], 0, "{d}");
    let s = broker.scrape().await;
    let labels = [("destination", name), ("kind", "queue")];
    assert_eq!(s.value("stompede_destination_messages_ready", &labels), 2.0);

    // An operator deleting the queue removes the subscription with it.
    let out = api
        .expect("DELETE", &format!("/api/destinations/{}", seg(name)), 200)
        .await;
    assert_eq!(out["discarded"], 2, "{out}");
    publish_all(&mut producer, "/topic/w", &["w3"], &[]).await;
    let mut sub = broker.client_with(&login).await;
    sub.subscribe_with("/topic/w", "s", &activemq("feed")).await;
    sub.expect_nothing(QUIET).await;
}
