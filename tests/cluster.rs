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
