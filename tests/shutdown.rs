//! Graceful shutdown: on SIGTERM the real binary tells every connected
//! client ("broker shutting down"), closes them, and exits 0. An embedded
//! broker (`BrokerHandle`) stops the same way.

mod common;

use common::*;
use stompede::protocol::Command;

#[tokio::test]
async fn sigterm_tells_clients_closes_them_and_exits_zero() {
    let mut broker = BrokerProcess::start(&[], &[]).await;
    let mut connected = broker.client().await;
    connected.subscribe("/queue/bye", "s", "client").await;
    let mut other = Client::connect(broker.stomp, &[("host", "/")]).await;
    // A TCP connection that has not sent CONNECT yet is told too.
    let mut fresh = RawClient::connect(broker.stomp).await;
    // The broker has registered `fresh` once it answers a later connection.
    broker.client().await;

    broker.terminate();
    for c in [&mut connected, &mut other] {
        let err = c.expect(Command::Error).await;
        assert_eq!(
            err.header("message"),
            Some("broker shutting down"),
            "{err:?}"
        );
        c.expect_closed().await;
    }
    let err = fresh.read_frame().await;
    assert_eq!(
        err.header("message"),
        Some("broker shutting down"),
        "{err:?}"
    );
    fresh.expect_closed().await;

    let status = broker.wait_exit().await;
    assert!(
        status.success(),
        "exit status {status}; output:\n{}",
        broker.output.lock().expect("output")
    );
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(broker.stomp).await.is_err());
}

#[tokio::test]
async fn sigterm_with_no_clients_exits_zero_promptly() {
    let mut broker = BrokerProcess::start(&[], &[]).await;
    broker.terminate();
    let status = broker.wait_exit().await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn stopping_an_embedded_broker_tells_clients() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    let stopper = tokio::task::spawn_blocking(move || broker.handle.stop());
    let err = c.expect(Command::Error).await;
    assert_eq!(err.header("message"), Some("broker shutting down"));
    c.expect_closed().await;
    tokio::time::timeout(TIMEOUT, stopper)
        .await
        .expect("broker did not stop in time")
        .expect("stop");
}
