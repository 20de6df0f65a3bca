//! The client always gets its ERROR: when the broker closes a connection for
//! a protocol error while the client is still writing (here a 1 MiB header
//! line sent in one write, a hundred times the header-line limit), the
//! client reads the ERROR frame, with its `message`, and then a clean end
//! of stream, never a reset: the broker shuts its write side and discards
//! input for up to `limits.close_linger_ms` / `limits.close_linger_bytes`
//! before it closes. Over TCP before and after CONNECT, and over WebSocket.

mod common;

use bytes::BytesMut;
use common::*;
use futures_util::{SinkExt, StreamExt};
use stompede::protocol::{Command, Frame, Inbound, Limits, StompCodec, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::Decoder;

/// Each case runs this many times: the reset it guards against is a race.
const ROUNDS: usize = 10;

/// A header line of 1 MiB: far over `limits.max_header_line` (10 KiB).
fn huge_header() -> Vec<u8> {
    let mut line = b"x-huge:".to_vec();
    line.resize(1024 * 1024, b'h');
    line.push(b'\n');
    line
}

/// Decodes the first frame of `bytes` (a 1.2 decoder).
fn first_frame(bytes: &[u8]) -> Option<Frame> {
    let mut codec = StompCodec::new(Limits::default());
    codec.set_version(Version::V1_2);
    let mut buf = BytesMut::from(bytes);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(Inbound::Frame(f))) => return Some(f),
            Ok(Some(Inbound::Heartbeat)) => continue,
            _ => return None,
        }
    }
}

/// A connection to `addr` whose send buffer is small, as over a real
/// network: a 1 MiB write is not absorbed by the kernel at once, so it is
/// still in progress when the broker finds the error.
async fn slow_link(addr: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(8 * 1024).expect("SO_SNDBUF");
    socket.connect(addr).await.expect("connect")
}

/// Writes `bytes` in one write, and only then reads to the end (as a client
/// that writes a frame before it looks for replies): everything received.
async fn write_then_read_to_end(stream: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    tokio::time::timeout(TIMEOUT, stream.write_all(bytes))
        .await
        .expect("the broker stopped reading")
        .unwrap_or_else(|e| panic!("the broker reset the connection during the write: {e}"));
    let mut got = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut got))
        .await
        .expect("the broker did not close in time")
        .unwrap_or_else(|e| {
            panic!(
                "after {:?} the connection ended with {e}, not a clean close",
                String::from_utf8_lossy(&got[..got.len().min(200)])
            )
        });
    got
}

fn assert_header_error(got: &[u8]) {
    let frame = first_frame(got).unwrap_or_else(|| {
        panic!(
            "no ERROR frame before the close; got {:?}",
            String::from_utf8_lossy(&got[..got.len().min(200)])
        )
    });
    assert_eq!(frame.command, Command::Error, "{frame:?}");
    assert_eq!(
        frame.header("message"),
        Some("header line longer than 10240 bytes"),
        "{frame:?}"
    );
}

#[tokio::test]
async fn a_huge_header_before_connect_gets_its_error_then_a_clean_close() {
    let broker = TestBroker::start();
    let mut frame = b"CONNECT\naccept-version:1.2\nhost:/\n".to_vec();
    frame.extend(huge_header());
    frame.extend_from_slice(b"\n\0");
    for _ in 0..ROUNDS {
        let mut stream = slow_link(broker.stomp()).await;
        let got = write_then_read_to_end(&mut stream, &frame).await;
        assert_header_error(&got);
    }
}

#[tokio::test]
async fn a_huge_header_after_connect_gets_its_error_then_a_clean_close() {
    let broker = TestBroker::start();
    let mut frame = b"SEND\ndestination:/queue/huge\n".to_vec();
    frame.extend(huge_header());
    frame.extend_from_slice(b"\nbody\0");
    for _ in 0..ROUNDS {
        let mut raw = RawClient::over(slow_link(broker.stomp()).await);
        let reply = raw
            .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
            .await;
        assert_eq!(reply.command, Command::Connected, "{reply:?}");
        raw.expect_frame_eol().await;
        let got = write_then_read_to_end(&mut raw.stream, &frame).await;
        assert_header_error(&got);
    }
}

#[tokio::test]
async fn over_websocket_the_error_comes_then_a_close_not_a_reset() {
    let broker = TestBroker::start();
    let mut frame = b"CONNECT\naccept-version:1.2\nhost:/\n".to_vec();
    frame.extend(huge_header());
    frame.extend_from_slice(b"\n\0");
    for _ in 0..ROUNDS {
        let mut req = format!("ws://{}/ws", broker.websocket())
            .into_client_request()
            .expect("request");
        req.headers_mut().insert(
            "sec-websocket-protocol",
            "v12.stomp".parse().expect("header value"),
        );
        let tcp = slow_link(broker.websocket()).await;
        let (mut ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(req, tcp))
            .await
            .expect("handshake timed out")
            .expect("upgrade");
        // The frame, then more: the client is still writing when the broker
        // finds the error.
        for message in [frame.clone(), huge_header()] {
            ws.send(Message::binary(message)).await.unwrap_or_else(|e| {
                panic!("the broker reset the connection during the write: {e}")
            });
        }
        let mut got = Vec::new();
        let mut closed = false;
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while let Some(msg) = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the broker did not close in time")
        {
            match msg {
                Ok(Message::Text(t)) => got.extend_from_slice(t.as_bytes()),
                Ok(Message::Binary(b)) => got.extend_from_slice(&b),
                Ok(Message::Close(_)) => closed = true,
                Ok(_) => {}
                Err(e) => panic!(
                    "after {:?} the WebSocket ended with {e}, not a close",
                    String::from_utf8_lossy(&got)
                ),
            }
        }
        assert_header_error(&got);
        assert!(closed, "no Close frame after the ERROR");
    }
}
