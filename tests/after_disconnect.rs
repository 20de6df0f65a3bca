//! Nothing a client sends after DISCONNECT takes effect (issue 18, item 11),
//! even when it arrives in the same write as the DISCONNECT. A real broker,
//! raw sockets.

mod common;

use common::*;
use stompede::protocol::Command;

/// A 1.2 session on a raw socket.
async fn session(broker: &TestBroker) -> RawClient {
    let mut raw = broker.raw().await;
    let f = raw
        .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    raw
}

/// Publishes `body` to `destination` and waits for the destination to take it.
async fn marker(broker: &TestBroker, destination: &str, body: &str) {
    let mut producer = session(broker).await;
    let frame = format!(
        "SEND\ndestination:{destination}\nreceipt:m\ncontent-length:{}\n\n{body}\0",
        body.len()
    );
    producer.send(frame.as_bytes()).await;
    let r = producer.read_frame().await;
    assert_eq!(r.command, Command::Receipt, "{r:?}");
}

#[tokio::test]
async fn frames_pipelined_after_disconnect_have_no_effect() {
    let broker = TestBroker::start();
    let mut client = session(&broker).await;
    client
        .send(
            b"DISCONNECT\nreceipt:bye\n\n\0\
              SEND\ndestination:/queue/after\ncontent-length:5\n\nlater\0",
        )
        .await;
    let r = client.read_frame().await;
    assert_eq!(r.command, Command::Receipt, "{r:?}");
    assert_eq!(r.header("receipt-id"), Some("bye"));
    client.expect_closed().await;

    // The SEND was not published: the first message on the queue is a
    // marker sent afterwards.
    marker(&broker, "/queue/after", "marker").await;
    let mut consumer = broker.client().await;
    consumer.subscribe("/queue/after", "s", "auto").await;
    let m = consumer.expect(Command::Message).await;
    assert_eq!(body(&m), "marker", "a SEND after DISCONNECT was published");
}
