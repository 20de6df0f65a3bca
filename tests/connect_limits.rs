//! Bounds on clients that have not (yet) proved who they are: a small frame
//! limit until CONNECT is accepted, and at most
//! `limits.max_connections_per_ip` connections from one address while other
//! addresses still connect.

mod common;

use common::*;
use stompede::protocol::{Command, Frame};
use tokio::net::TcpSocket;

/// A CONNECT of about `size` bytes, in headers under the header-line limit.
fn big_connect(size: usize) -> Vec<u8> {
    let mut bytes = b"CONNECT\naccept-version:1.2\nhost:/\n".to_vec();
    let line = format!("x-pad:{}\n", "p".repeat(8 * 1024));
    while bytes.len() < size {
        bytes.extend_from_slice(line.as_bytes());
    }
    bytes.extend_from_slice(b"\n\0");
    bytes
}

#[tokio::test]
async fn frames_before_connect_are_held_to_the_small_limit() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_FRAME_SIZE_BEFORE_CONNECT", "32768")]);
    let mut raw = broker.raw().await;
    raw.send(&big_connect(40 * 1024)).await;
    let reply = raw.read_frame().await;
    assert_eq!(reply.command, Command::Error, "{reply:?}");
    let message = reply.header("message").unwrap_or("");
    assert!(message.contains("32768"), "{message}");
    raw.expect_closed().await;

    // Under the limit it connects, and after CONNECT the full limit applies.
    let mut raw = broker.raw().await;
    raw.send(&big_connect(20 * 1024)).await;
    assert_eq!(raw.read_frame().await.command, Command::Connected);
    let mut c = broker.client().await;
    let body = "b".repeat(100 * 1024);
    c.send_with_receipt(
        Frame::new(Command::Send)
            .with_header("destination", "/queue/big")
            .with_body(body),
        "big",
    )
    .await;
}

#[tokio::test]
async fn the_default_pre_connect_limit_is_64_kib() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    raw.send(&big_connect(70 * 1024)).await;
    let reply = raw.read_frame().await;
    assert_eq!(reply.command, Command::Error, "{reply:?}");
    assert!(
        reply.header("message").unwrap_or("").contains("65536"),
        "{reply:?}"
    );
}

/// A connection to `to` from the loopback address `from` (127.0.0.x).
async fn client_from(from: &str, to: std::net::SocketAddr) -> Option<Client> {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("addr"))
        .expect("bind loopback alias");
    let stream = socket.connect(to).await.ok()?;
    Client::over(stream, &[("accept-version", "1.2"), ("host", "/")]).await
}

#[tokio::test]
async fn one_address_is_held_to_its_share_while_others_connect() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_CONNECTIONS_PER_IP", "3")]);
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(
            client_from("127.0.0.1", broker.stomp())
                .await
                .expect("within the share"),
        );
    }
    let (mut c, reply) =
        Client::try_connect(broker.stomp(), &[("accept-version", "1.2"), ("host", "/")]).await;
    assert_eq!(reply.command, Command::Error, "{reply:?}");
    assert_eq!(
        reply.header("message"),
        Some("too many connections from this address")
    );
    c.expect_closed().await;
    // Another address is not affected.
    let mut other = client_from("127.0.0.2", broker.stomp())
        .await
        .expect("another address connects");
    other.publish_sync("/queue/x", "hi", &[]).await;
    // A freed slot is usable again.
    mine.pop().expect("one").disconnect().await;
    let again = async {
        loop {
            if let Some(c) = client_from("127.0.0.1", broker.stomp()).await {
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(TIMEOUT, again)
        .await
        .expect("slot freed");
}

/// What one connection of a flood got: admitted (kept open), or refused
/// with this ERROR `message`, followed by a clean close.
enum Outcome {
    Admitted(Box<Client>),
    Refused(String),
}

async fn flood_connection(to: std::net::SocketAddr) -> Outcome {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let stream = socket.connect(to).await.expect("connect");
    let mut raw = RawClient::over(stream);
    let reply = raw
        .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    match reply.command {
        Command::Connected => {
            raw.expect_frame_eol().await;
            let client = Client::over_connected(raw.stream, reply);
            Outcome::Admitted(Box::new(client))
        }
        Command::Error => {
            let message = reply.header("message").expect("message header").to_string();
            // A clean end of stream, not a reset: the refusal lingers.
            let rest = raw.read_until_closed().await;
            assert!(
                rest.iter().all(|b| *b == b'\n'),
                "more after the refusal: {rest:?}"
            );
            Outcome::Refused(message)
        }
        _ => panic!("neither CONNECTED nor ERROR: {reply:?}"),
    }
}

#[tokio::test]
async fn a_flood_from_one_address_is_refused_while_another_connects_meanwhile() {
    const SHARE: usize = 5;
    const FLOOD: usize = 200;
    let share = SHARE.to_string();
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_CONNECTIONS_PER_IP", share.as_str())]);
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..FLOOD {
        flood.spawn(flood_connection(broker.stomp()));
    }
    // While the flood is under way, another address connects and is served.
    let mut other = client_from("127.0.0.2", broker.stomp())
        .await
        .expect("another address connects during the flood");
    other.publish_sync("/queue/flood", "hi", &[]).await;

    let (mut admitted, mut refused) = (Vec::new(), 0);
    while let Some(outcome) = flood.join_next().await {
        match outcome.expect("task") {
            Outcome::Admitted(c) => admitted.push(c),
            Outcome::Refused(message) => {
                assert_eq!(message, "too many connections from this address");
                refused += 1;
            }
        }
    }
    assert_eq!(admitted.len(), SHARE, "admitted from one address");
    assert_eq!(refused, FLOOD - SHARE);
    let s = broker.scrape().await;
    assert_eq!(
        s.value("stompede_errors_total", &[("reason", "connection_limit")]),
        (FLOOD - SHARE) as f64
    );
    // The admitted ones and the other address still work.
    for c in &mut admitted {
        c.publish_sync("/queue/flood", "still here", &[]).await;
    }
    other.publish_sync("/queue/flood", "after", &[]).await;
}
