//! The admin API's actions on persistent messages, through the real binary
//! on a real disk: what a purge removed and what a replay moved stay so
//! after `kill -9` right after the answer (the answer follows the fsync).

mod common;

use common::*;

/// The binary with the admin accounts, its journal in `store` (kept across restarts).
async fn broker(store: &TempDir, config: &std::path::Path) -> BrokerProcess {
    let dir = store.path.display().to_string();
    let env = [
        ("STOMPEDE__STORAGE__DIR", dir.as_str()),
        ("STOMPEDE__DESTINATIONS__MAX_DELIVERIES", "1"),
    ];
    BrokerProcess::start(&["--config", config.to_str().expect("path")], &env).await
}

async fn act(b: &BrokerProcess, method: &str, path: &str) -> serde_json::Value {
    let a = http_request(b.http, method, path, Some(ADMIN), &[]).await;
    assert_eq!(a.status, 200, "{method} {path}: {a:?}");
    a.json()
}

#[tokio::test]
async fn a_purge_and_a_replay_outlive_kill_9() {
    let store = TempDir::new("admin-durable");
    let config = store.write("stompede.toml", ADMIN_TOML);
    let mut b = broker(&store, &config).await;
    let mut c = b.client().await;
    for text in ["gone1", "gone2"] {
        send_receipted(&mut c, "/queue/purged", text, true).await;
    }
    // Two dead letters of /queue/work, to be replayed.
    for text in ["w1", "w2"] {
        send_receipted(&mut c, "/queue/work", text, true).await;
    }
    let got = c
        .subscribe_take("/queue/work", "w", &[("ack", "client-individual")], 2)
        .await;
    for m in &got {
        c.settle_sync(stompede::protocol::Command::Nack, m).await;
    }
    let mut tries = 0;
    while act(&b, "GET", "/api/destinations/%2Fqueue%2FDLQ.work").await["depth"] != 2 {
        tries += 1;
        assert!(tries < 250, "the dead letters never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(c);

    let purged = act(&b, "DELETE", "/api/destinations/%2Fqueue%2Fpurged/messages").await;
    assert_eq!(purged["purged"], 2, "{purged}");
    let replayed = act(&b, "POST", "/api/destinations/%2Fqueue%2FDLQ.work/replay").await;
    assert_eq!(replayed["replayed"], 2, "{replayed}");
    b.kill9().await;

    let b = broker(&store, &config).await;
    let mut c = b.client().await;
    expect_exactly(&mut c, "/queue/purged", "auto", &[]).await;
    expect_exactly(&mut c, "/queue/DLQ.work", "auto", &[]).await;
    expect_exactly(&mut c, "/queue/work", "auto", &["w1", "w2"]).await;
}
