//! Cluster mode (issue 17, docs/cluster.md): three stompede nodes, each in
//! this process on its own ports, over a 3-server NATS cluster with JetStream
//! started by the test on loopback (`NatsCluster`). Needs `nats-server`
//! (tests/setup.sh); fails without it.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use stompede::protocol::{Command, Frame};
use stompede::{BrokerHandle, Settings};

const QUIET: Duration = Duration::from_millis(300);

/// Three nodes `a`, `b`, `c` on `nats`, streams with `replicas`.
fn three_nodes(nats: &NatsCluster, replicas: usize) -> Vec<TestBroker> {
    ["a", "b", "c"]
        .iter()
        .map(|n| TestBroker::with_config(&nats.cluster_toml(n, replicas), &[]))
        .collect()
}

/// Waits until a topic publish on `from` reaches every client in `subs`
/// (subscribed to `/topic/warm-up`): NATS propagates a subscription's
/// interest between its servers asynchronously, so the first publishes after
/// start-up may find no route yet. Each round is one receipted SEND; the
/// condition (every subscriber got one) is what ends the loop.
async fn warm_up(from: &mut Client, subs: &mut [Client]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut reached = vec![false; subs.len()];
    while !reached.iter().all(|r| *r) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "topic relay never reached every node: {reached:?}"
        );
        from.publish_sync("/topic/warm-up", "w", &[]).await;
        for (i, s) in subs.iter_mut().enumerate() {
            while let Some(f) = s.try_recv(Duration::from_millis(50)).await {
                assert_eq!(f.command, Command::Message, "{f:?}");
                reached[i] = true;
            }
        }
    }
}

/// Ends the warm-up subscriptions; drains their messages so the test starts
/// from a quiet connection.
async fn end_warm_up(subs: &mut [Client]) {
    for s in subs.iter_mut() {
        s.send(Frame::new(Command::Unsubscribe).with_header("id", "warm"))
            .await;
        // Whatever warm-up message was still on its way arrives before the ping's answer.
        let _ = s.ping_collect().await;
    }
}

async fn warm_subscribers(nodes: &[TestBroker]) -> Vec<Client> {
    let mut subs = Vec::new();
    for n in nodes {
        let mut c = n.client().await;
        c.subscribe("/topic/warm-up", "warm", "auto").await;
        subs.push(c);
    }
    subs
}

#[tokio::test]
async fn a_topic_message_reaches_subscribers_on_every_node_exactly_once() {
    let nats = NatsCluster::start().await;
    let nodes = three_nodes(&nats, 1);
    let mut subs = warm_subscribers(&nodes).await;
    for n in &nodes {
        let mut p = n.client().await;
        warm_up(&mut p, &mut subs).await;
    }
    end_warm_up(&mut subs).await;
    for s in subs.iter_mut() {
        s.subscribe("/topic/news.today", "news", "auto").await;
    }
    // Every node publishes 20: each subscriber, wherever it is, gets all 60 once, and
    // each publisher's messages in the order it sent them.
    for (i, n) in nodes.iter().enumerate() {
        let mut p = n.client().await;
        for k in 0..20 {
            p.publish_sync("/topic/news.today", &format!("{i}-{k}"), &[])
                .await;
        }
    }
    for (j, s) in subs.iter_mut().enumerate() {
        let msgs = s.recv_messages(60).await;
        let mut per_node: HashMap<String, Vec<u32>> = HashMap::new();
        for m in &msgs {
            assert_eq!(m.header("destination"), Some("/topic/news.today"));
            assert_eq!(m.header("subscription"), Some("news"));
            let b = body(m);
            let (node, k) = b.split_once('-').expect("node-k body");
            per_node
                .entry(node.to_string())
                .or_default()
                .push(k.parse().expect("k"));
        }
        for node in ["0", "1", "2"] {
            assert_eq!(
                per_node.get(node).cloned().unwrap_or_default(),
                (0..20).collect::<Vec<u32>>(),
                "subscriber on node {j}, messages of node {node}"
            );
        }
        s.ping().await;
        s.expect_nothing(QUIET).await;
    }
    // Counted on both sides: 60 out in all, and each node took in the 40 of the others.
    for (n, name) in nodes.iter().zip(["a", "b", "c"]) {
        let s = n.scrape().await;
        let took = s.value(
            "stompede_cluster_relayed_total",
            &[("direction", "in"), ("node", name)],
        );
        assert!(took >= 40.0, "node {name} took in {took}");
    }
}

#[tokio::test]
async fn a_wildcard_subscriber_gets_what_another_node_publishes() {
    let nats = NatsCluster::start().await;
    let nodes = three_nodes(&nats, 1);
    let mut subs = warm_subscribers(&nodes).await;
    let mut p = nodes[0].client().await;
    warm_up(&mut p, &mut subs).await;
    end_warm_up(&mut subs).await;
    let mut w = nodes[1].client().await;
    w.subscribe("/topic/stocks.*.nyse", "w", "auto").await;
    p.publish_sync("/topic/stocks.ibm.nyse", "ibm", &[]).await;
    p.publish_sync("/topic/stocks.ibm.lse", "not-me", &[]).await;
    p.publish_sync("/topic/stocks.sap.nyse", "sap", &[]).await;
    let got: Vec<String> = w.recv_messages(2).await.iter().map(body).collect();
    assert_eq!(got, ["ibm", "sap"]);
    w.ping().await;
    w.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn readyz_says_not_ready_while_nats_is_unreachable_and_series_carry_the_node() {
    let mut nats = NatsCluster::start().await;
    let node = TestBroker::with_config(&nats.cluster_toml("solo", 1), &[]);
    assert_eq!(node.http_get("/readyz").await.0, 200);
    let s = node.scrape().await;
    assert_eq!(
        s.value("stompede_cluster_backplane_connected", &[("node", "solo")]),
        1.0
    );
    // Process metrics too, so the dashboards' Node variable filters every panel.
    for name in ["stompede_build_info", "process_start_time_seconds"] {
        assert!(s.has_label(name, "node", "solo"), "{name}:\n{}", s.text);
    }
    for i in 0..3 {
        nats.kill(i);
    }
    node.scrape_until("backplane disconnected", |s| {
        s.get("stompede_cluster_backplane_connected", &[("node", "solo")]) == Some(0.0)
    })
    .await;
    assert_eq!(node.http_get("/readyz").await.0, 503);
}

#[tokio::test]
async fn start_up_fails_naming_nats_when_no_server_answers() {
    nats_server_binary();
    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = TempDir::new("cluster-down");
    let toml = format!(
        "[cluster]\nenabled = true\nnats_urls = [\"nats://127.0.0.1:{port}\"]\nnode = \"x\"\nconnect_timeout_ms = 500\n\
         [listeners]\nstomp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nwebsocket = \"127.0.0.1:0\"\n\
         [storage]\ndir = \"{}\"\n",
        dir.path.display()
    );
    let path = dir.write("c.toml", &toml);
    let settings = Settings::load(Some(&path), std::iter::empty()).expect("settings");
    let err = BrokerHandle::spawn(settings).err().expect("start-up fails");
    assert!(err.to_string().contains("NATS"), "{err}");
}

#[tokio::test]
async fn without_cluster_mode_there_is_no_backplane() {
    let node = TestBroker::start();
    let s = node.scrape().await;
    assert!(s.get("stompede_cluster_backplane_connected", &[]).is_none());
    assert_eq!(node.http_get("/readyz").await.0, 200);
}

/// SEND with a receipt, waiting up to 20 s for it: the first publish to a replicated stream
/// waits for its creation and leader election (seconds on a loaded 2-core machine), and so
/// does one while a new leader is elected after a NATS server died.
async fn send_patiently(p: &mut Client, destination: &str, text: &str) {
    let receipt = format!("r-{text}");
    p.send(
        Frame::new(Command::Send)
            .with_header("destination", destination)
            .with_header("receipt", receipt.as_str())
            .with_body(text.to_string()),
    )
    .await;
    let r = p
        .try_recv(Duration::from_secs(20))
        .await
        .expect("a RECEIPT once JetStream stored the message");
    assert_eq!(r.command, Command::Receipt, "{r:?}");
    assert_eq!(r.header("receipt-id"), Some(receipt.as_str()));
}

/// The next frame, which must be a MESSAGE, within 20 s (a new stream's
/// creation and leader election take seconds on a loaded machine, as for
/// `send_patiently`); panics naming `what`.
async fn next_message(c: &mut Client, what: &str) -> Frame {
    let f = c
        .try_recv(Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("no {what} within 20 s"));
    assert_eq!(f.command, Command::Message, "{what}: {f:?}");
    f
}

/// Three nodes with streams of `replicas` and these extra settings.
fn three_nodes_with(
    nats: &NatsCluster,
    replicas: usize,
    extra: &[(&str, &str)],
) -> Vec<TestBroker> {
    ["a", "b", "c"]
        .iter()
        .map(|n| TestBroker::with_config(&nats.cluster_toml(n, replicas), extra))
        .collect()
}

/// Reads MESSAGEs from `subs` (acking each) until `n` arrived in all; returns
/// (body, redelivered) pairs in arrival order.
async fn drain(subs: &mut [Client], n: usize) -> Vec<(String, bool)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} messages arrived",
            got.len()
        );
        for s in subs.iter_mut() {
            while let Some(f) = s.try_recv(Duration::from_millis(20)).await {
                assert_eq!(f.command, Command::Message, "{f:?}");
                got.push((body(&f), f.header("redelivered") == Some("true")));
                s.ack(&f).await;
            }
        }
    }
    got
}

#[tokio::test]
async fn queue_messages_from_every_node_reach_exactly_one_consumer_on_any_node() {
    let nats = NatsCluster::start().await;
    let nodes = three_nodes(&nats, 3);
    let mut subs = Vec::new();
    for n in &nodes {
        let mut c = n.client().await;
        c.subscribe_with(
            "/queue/jobs",
            "j",
            &[("ack", "client-individual"), ("prefetch", "10")],
        )
        .await;
        subs.push(c);
    }
    let mut expected = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let mut p = n.client().await;
        for k in 0..100 {
            let b = format!("{i}-{k}");
            // The RECEIPT comes once JetStream stored it.
            send_patiently(&mut p, "/queue/jobs", &b).await;
            expected.push(b);
        }
    }
    let got = drain(&mut subs, 300).await;
    let mut bodies: Vec<String> = got.iter().map(|(b, _)| b.clone()).collect();
    bodies.sort();
    expected.sort();
    assert_eq!(bodies, expected, "every receipted message exactly once");
    for s in subs.iter_mut() {
        s.ping().await;
        s.expect_nothing(QUIET).await;
    }
}

#[tokio::test]
async fn a_cumulative_ack_acknowledges_every_message_it_covers() {
    let nats = NatsCluster::start().await;
    let nodes = three_nodes(&nats, 1);
    let mut p = nodes[0].client().await;
    for k in 0..50 {
        p.publish_sync("/queue/batch", &format!("m{k}"), &[]).await;
    }
    let mut c = nodes[1].client().await;
    let msgs = c
        .subscribe_take(
            "/queue/batch",
            "b",
            &[("ack", "client"), ("prefetch", "100")],
            50,
        )
        .await;
    assert_eq!(msgs.len(), 50);
    let last = msgs.last().expect("a last message");
    let ack = c.ack_frame(Command::Ack, last);
    c.send_with_receipt(ack, "ack-all").await;
    c.disconnect().await;
    // Had any been left unacknowledged, the disconnect would have released it at once.
    let mut other = nodes[2].client().await;
    other
        .subscribe("/queue/batch", "o", "client-individual")
        .await;
    other.expect_nothing(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_disconnecting_consumer_releases_what_it_held_to_another_node_at_once() {
    let nats = NatsCluster::start().await;
    let nodes = three_nodes(&nats, 1);
    let mut p = nodes[0].client().await;
    p.publish_sync("/queue/held", "x", &[]).await;
    let mut c = nodes[1].client().await;
    let first = c
        .subscribe_take("/queue/held", "h", &[("ack", "client")], 1)
        .await;
    assert_eq!(body(&first[0]), "x");
    drop(c);
    // Far sooner than the 30 s ack wait: released with a NAK when the connection ended.
    let mut other = nodes[2].client().await;
    other
        .subscribe("/queue/held", "o", "client-individual")
        .await;
    let again = other.expect(Command::Message).await;
    assert_eq!(body(&again), "x");
    assert_eq!(again.header("redelivered"), Some("true"));
}

#[tokio::test]
async fn a_nacked_message_is_redelivered_then_dead_lettered_at_the_limit() {
    let nats = NatsCluster::start().await;
    let nodes = three_nodes_with(&nats, 1, &[("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "2")]);
    let mut p = nodes[0].client().await;
    p.publish_sync("/queue/poison", "bad", &[]).await;
    let mut c = nodes[1].client().await;
    c.subscribe("/queue/poison", "p", "client-individual").await;
    let m1 = next_message(&mut c, "first delivery").await;
    assert_eq!(m1.header("redelivered"), None);
    c.nack(&m1).await;
    let m2 = next_message(&mut c, "redelivery after NACK").await;
    assert_eq!(body(&m2), "bad");
    assert_eq!(m2.header("redelivered"), Some("true"));
    c.nack(&m2).await;
    let mut d = nodes[2].client().await;
    d.subscribe("/queue/DLQ.poison", "d", "client-individual")
        .await;
    let dead = next_message(&mut d, "dead letter").await;
    assert_eq!(body(&dead), "bad");
    assert_eq!(dead.header("x-death-reason"), Some("delivery-limit"));
    c.ping().await;
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn with_nats_unreachable_a_queue_send_gets_an_error_not_a_silent_drop() {
    let mut nats = NatsCluster::start().await;
    let node = TestBroker::with_config(&nats.cluster_toml("solo", 1), &[]);
    let mut p = node.client().await;
    p.publish_sync("/queue/q", "stored", &[]).await;
    for i in 0..3 {
        nats.kill(i);
    }
    node.scrape_until("backplane disconnected", |s| {
        s.get("stompede_cluster_backplane_connected", &[("node", "solo")]) == Some(0.0)
    })
    .await;
    let send = Frame::new(Command::Send)
        .with_header("destination", "/queue/q")
        .with_header("receipt", "r1");
    let err = p.expect_error_after(send, "unreachable").await;
    assert!(err.header("message").is_some(), "{err:?}");
}

#[tokio::test]
async fn with_three_replicas_the_loss_of_one_nats_server_loses_nothing() {
    let mut nats = NatsCluster::start().await;
    // Each node connects to the first two servers only; the third one goes.
    let toml = |node: &str| {
        format!(
            "[cluster]\nenabled = true\nnats_urls = [\"{}\", \"{}\"]\nnode = \"{node}\"\nreplicas = 3\n",
            nats.servers[0].url(),
            nats.servers[1].url()
        )
    };
    let a = TestBroker::with_config(&toml("a"), &[]);
    let b = TestBroker::with_config(&toml("b"), &[]);
    let mut p = a.client().await;
    for k in 0..20 {
        send_patiently(&mut p, "/queue/r3", &format!("m{k}")).await;
    }
    nats.kill(2);
    for k in 20..40 {
        // The stream may be electing a new leader: the RECEIPT can take a few seconds.
        send_patiently(&mut p, "/queue/r3", &format!("m{k}")).await;
    }
    let mut c = b.client().await;
    c.subscribe_with(
        "/queue/r3",
        "r",
        &[("ack", "client-individual"), ("prefetch", "50")],
    )
    .await;
    let got = drain(std::slice::from_mut(&mut c), 40).await;
    let mut bodies: Vec<String> = got.into_iter().map(|(b, _)| b).collect();
    bodies.sort();
    let mut want: Vec<String> = (0..40).map(|k| format!("m{k}")).collect();
    want.sort();
    assert_eq!(bodies, want);
}

#[tokio::test]
async fn a_node_killed_under_load_loses_nothing_receipted_its_messages_go_to_other_nodes() {
    let nats = NatsCluster::start().await;
    let dir = TempDir::new("cluster-kill");
    // A short ack wait, so the killed node's messages come back within the test's patience.
    let fast = "ack_wait_ms = 1000\n";
    let victim_toml = dir.write("a.toml", &format!("{}{fast}", nats.cluster_toml("a", 1)));
    let path = victim_toml.display().to_string();
    let mut victim = BrokerProcess::start(&["--config", &path], &[]).await;
    let b = TestBroker::with_config(&format!("{}{fast}", nats.cluster_toml("b", 1)), &[]);
    let c = TestBroker::with_config(&format!("{}{fast}", nats.cluster_toml("c", 1)), &[]);

    // The victim's consumer takes what it can and never acknowledges.
    let mut held = victim.client().await;
    held.subscribe_with(
        "/queue/work",
        "v",
        &[("ack", "client-individual"), ("prefetch", "20")],
    )
    .await;
    let mut p = b.client().await;
    let mut sent = Vec::new();
    for k in 0..100 {
        let text = format!("m{k}");
        send_patiently(&mut p, "/queue/work", &text).await;
        sent.push(text);
    }
    // Under load: the victim holds a window's worth when it dies.
    let took = held.recv_messages(20).await;
    assert_eq!(took.len(), 20);
    victim.kill9().await;

    let mut survivor = c.client().await;
    survivor
        .subscribe_with(
            "/queue/work",
            "s",
            &[("ack", "client-individual"), ("prefetch", "50")],
        )
        .await;
    let got = drain(std::slice::from_mut(&mut survivor), 100).await;
    let mut bodies: Vec<String> = got.iter().map(|(b, _)| b.clone()).collect();
    bodies.sort();
    sent.sort();
    assert_eq!(
        bodies, sent,
        "every receipted message, once, after the kill"
    );
    // What the victim held comes back flagged as a redelivery.
    let held_bodies: Vec<String> = took.iter().map(body).collect();
    for (b, redelivered) in &got {
        if held_bodies.contains(b) {
            assert!(
                redelivered,
                "{b} was held by the killed node: redelivered:true"
            );
        }
    }
    survivor.ping().await;
    survivor.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn a_committed_transaction_reaches_the_stream_and_leaves_nothing_in_the_local_journal() {
    let nats = NatsCluster::start().await;
    let nodes = three_nodes(&nats, 1);
    let mut c = nodes[1].client().await;
    c.subscribe_with("/queue/tx", "t", &[("ack", "client-individual")])
        .await;
    let mut p = nodes[0].client().await;
    // The first SEND waits out the stream's creation.
    send_patiently(&mut p, "/queue/tx", "first").await;
    let f = next_message(&mut c, "the first message").await;
    c.ack(&f).await;

    p.send(Frame::new(Command::Begin).with_header("transaction", "t1"))
        .await;
    for k in 0..3 {
        p.send(
            Frame::new(Command::Send)
                .with_header("destination", "/queue/tx")
                .with_header("transaction", "t1")
                .with_header("persistent", "true")
                .with_body(format!("tx{k}")),
        )
        .await;
    }
    p.send(
        Frame::new(Command::Commit)
            .with_header("transaction", "t1")
            .with_header("receipt", "c1"),
    )
    .await;
    let r = p
        .try_recv(Duration::from_secs(20))
        .await
        .expect("a RECEIPT for the COMMIT");
    assert_eq!(r.header("receipt-id"), Some("c1"), "{r:?}");
    let mut got = Vec::new();
    for k in 0..3 {
        let f = next_message(&mut c, &format!("transacted message {k}")).await;
        got.push(body(&f));
        c.ack(&f).await;
    }
    got.sort();
    assert_eq!(got, ["tx0", "tx1", "tx2"]);
    // The committing node's own journal holds none of them.
    let s = nodes[0].scrape().await;
    assert_eq!(
        s.value("stompede_store_live_messages", &[("node", "a")]),
        0.0,
        "{}",
        s.text
    );
}

#[tokio::test]
async fn a_restarted_cluster_queue_keeps_sending_progress_for_what_its_consumers_hold() {
    let nats = NatsCluster::start().await;
    // A short ack wait: without progress acks a held message goes to another
    // node's consumer about 3 s after the queue's restart (progress every 1 s).
    let fast = "ack_wait_ms = 3000\n";
    let a = TestBroker::with_config(&format!("{}{fast}", nats.cluster_toml("a", 1)), &[]);
    let b = TestBroker::with_config(&format!("{}{fast}", nats.cluster_toml("b", 1)), &[]);
    let mut holder = a.client().await;
    holder
        .subscribe_with(
            "/queue/pt",
            "h",
            &[("ack", "client-individual"), ("prefetch", "1")],
        )
        .await;
    let mut p = a.client().await;
    send_patiently(&mut p, "/queue/pt", "held").await;
    let m = next_message(&mut holder, "the held message").await;
    assert_eq!(body(&m), "held");
    let mut other = b.client().await;
    other
        .subscribe_with("/queue/pt", "o", &[("ack", "client-individual")])
        .await;

    // Node a's queue actor panics and its supervisor restarts it.
    p.send_with_receipt(
        Frame::new(Command::Send)
            .with_header("destination", "/queue/pt")
            .with_header("x-stompede-fault", "destination")
            .with_body("fault"),
        "after-fault",
    )
    .await;
    a.scrape_until("the queue's restart", |s| {
        s.get(
            "stompede_actor_restarts_total",
            &[("kind", "destination"), ("node", "a")],
        )
        .is_some_and(|v| v >= 1.0)
    })
    .await;
    // Two and a half ack waits: the held message stays with its holder throughout.
    let until = tokio::time::Instant::now() + Duration::from_millis(7500);
    while let Some(f) = other
        .try_recv(until.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        assert_ne!(
            body(&f),
            "held",
            "taken from its holder after the restart: {f:?}"
        );
        other.ack(&f).await;
        if tokio::time::Instant::now() >= until {
            break;
        }
    }
    holder.ack(&m).await;
}
