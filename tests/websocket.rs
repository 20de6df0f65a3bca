//! STOMP over WebSocket: the upgrade (path, subprotocols, origins), the byte
//! stream under it (frames split over messages, batched in one, binary
//! bodies), delivery between TCP and WebSocket clients, and the connection's
//! behaviour (limits, heart-beats, errors, metrics) on this transport.
//! A real broker, a real WebSocket client (tokio-tungstenite).

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use common::*;
use futures_util::{SinkExt, StreamExt};
use stompede::protocol::{Command, Frame, Inbound, Limits, Outbound, StompCodec, Version};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::codec::{Decoder, Encoder};

/// A STOMP client over a WebSocket.
struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    codec: StompCodec,
    /// Frames decoded from messages already read.
    frames: VecDeque<Frame>,
    /// The `Sec-WebSocket-Protocol` the broker answered with.
    protocol: Option<String>,
}

impl Ws {
    /// Upgrades `ws://addr{path}` offering `protocols`, with an optional Origin.
    async fn try_open(
        addr: SocketAddr,
        path: &str,
        protocols: &[&str],
        origin: Option<&str>,
    ) -> Result<Ws, WsError> {
        let mut req = format!("ws://{addr}{path}").into_client_request()?;
        if !protocols.is_empty() {
            let offer = protocols.join(", ").parse().expect("header value");
            req.headers_mut().insert("sec-websocket-protocol", offer);
        }
        if let Some(o) = origin {
            req.headers_mut()
                .insert("origin", o.parse().expect("header value"));
        }
        let (socket, resp) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(req))
            .await
            .expect("handshake timed out")?;
        let protocol = resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().expect("ascii").to_string());
        Ok(Ws {
            socket,
            codec: StompCodec::new(Limits::default()),
            frames: VecDeque::new(),
            protocol,
        })
    }

    /// Upgrades `/ws` offering `v12.stomp`.
    async fn open(addr: SocketAddr) -> Ws {
        Self::try_open(addr, "/ws", &["v12.stomp"], None)
            .await
            .expect("upgrade accepted")
    }

    /// Opens and completes CONNECT (1.2) with extra CONNECT headers.
    async fn connected(addr: SocketAddr, headers: &[(&str, &str)]) -> Ws {
        let mut ws = Self::open(addr).await;
        ws.stomp_connect(headers).await;
        ws
    }

    async fn stomp_connect(&mut self, headers: &[(&str, &str)]) {
        let mut f = Frame::new(Command::Connect)
            .with_header("accept-version", "1.2")
            .with_header("host", "/");
        for (k, v) in headers {
            f = f.with_header(*k, *v);
        }
        self.send_frame(f).await;
        let reply = self.recv().await;
        assert_eq!(reply.command, Command::Connected, "{reply:?}");
        self.codec.set_version(Version::V1_2);
    }

    async fn send(&mut self, m: Message) {
        tokio::time::timeout(TIMEOUT, self.socket.send(m))
            .await
            .expect("send timed out")
            .expect("send");
    }

    async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    /// Encodes `frame` and sends it as one text message.
    async fn send_frame(&mut self, frame: Frame) {
        let bytes = encode(frame);
        self.send_text(std::str::from_utf8(&bytes).expect("utf-8 frame"))
            .await;
    }

    /// The next message of any kind.
    async fn next_message(&mut self) -> Message {
        match tokio::time::timeout(TIMEOUT, self.socket.next()).await {
            Err(_) => panic!("no WebSocket message within {TIMEOUT:?}"),
            Ok(None) => panic!("WebSocket ended while waiting for a message"),
            Ok(Some(Err(e))) => panic!("WebSocket error: {e}"),
            Ok(Some(Ok(m))) => m,
        }
    }

    /// The next text or binary message's payload.
    async fn next_data(&mut self) -> Message {
        loop {
            match self.next_message().await {
                m @ (Message::Text(_) | Message::Binary(_)) => return m,
                Message::Close(c) => panic!("closed while waiting for data: {c:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame (heart-beats skipped). Every message from the broker
    /// must hold whole frames: one that ends inside a frame fails the test.
    async fn recv(&mut self) -> Frame {
        loop {
            if let Some(f) = self.frames.pop_front() {
                return f;
            }
            let msg = self.next_data().await;
            self.frames
                .extend(decode_whole(&mut self.codec, &msg.into_data()));
        }
    }

    async fn expect(&mut self, command: Command) -> Frame {
        let f = self.recv().await;
        assert_eq!(f.command, command, "unexpected frame: {f:?}");
        f
    }

    async fn subscribe(&mut self, destination: &str, id: &str) {
        let receipt = format!("sub-{id}");
        self.send_frame(
            Frame::new(Command::Subscribe)
                .with_header("destination", destination)
                .with_header("id", id)
                .with_header("receipt", receipt.as_str()),
        )
        .await;
        let r = self.expect(Command::Receipt).await;
        assert_eq!(r.header("receipt-id"), Some(receipt.as_str()));
    }

    /// Reads until the broker's Close frame; returns the frames before it
    /// and the Close. The stream must end right after.
    async fn expect_close(&mut self) -> (Vec<Frame>, Option<CloseFrame>) {
        let mut before: Vec<Frame> = self.frames.drain(..).collect();
        let close = loop {
            match self.next_message().await {
                Message::Close(c) => break c,
                m @ (Message::Text(_) | Message::Binary(_)) => {
                    before.extend(decode_whole(&mut self.codec, &m.into_data()))
                }
                _ => continue,
            }
        };
        match tokio::time::timeout(TIMEOUT, self.socket.next()).await {
            Err(_) => panic!("TCP connection still open after the Close frame"),
            Ok(None | Some(Err(_))) => {}
            Ok(Some(Ok(m))) => panic!("message after Close: {m:?}"),
        }
        (before, close)
    }
}

fn encode(frame: Frame) -> BytesMut {
    let mut buf = BytesMut::new();
    StompCodec::new(Limits::default())
        .encode(Outbound::Frame(frame), &mut buf)
        .expect("encode");
    buf
}

/// Decodes every frame in one message's payload, which must end on a frame boundary.
fn decode_whole(codec: &mut StompCodec, payload: &[u8]) -> Vec<Frame> {
    let mut buf = BytesMut::from(payload);
    let mut out = Vec::new();
    while let Some(item) = codec.decode(&mut buf).expect("decode") {
        if let Inbound::Frame(f) = item {
            out.push(f);
        }
    }
    assert!(
        buf.is_empty(),
        "a WebSocket message ended inside a frame; left over: {:?}",
        String::from_utf8_lossy(&buf)
    );
    out
}

fn send(destination: &str, body: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", destination)
        .with_body(body.to_string())
}

/// The HTTP status of a refused upgrade.
fn refused_status(r: Result<Ws, WsError>) -> u16 {
    match r {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(ws) => panic!("upgrade accepted with protocol {:?}", ws.protocol),
    }
}

#[tokio::test]
async fn each_stomp_subprotocol_is_negotiated() {
    let broker = TestBroker::start();
    for p in ["v10.stomp", "v11.stomp", "v12.stomp", "stomp"] {
        let mut ws = Ws::try_open(broker.websocket(), "/ws", &[p], None)
            .await
            .unwrap_or_else(|e| panic!("{p} refused: {e}"));
        assert_eq!(ws.protocol.as_deref(), Some(p));
        ws.stomp_connect(&[]).await;
    }
    // stomp.js offers every version: the broker picks the newest.
    let ws = Ws::try_open(
        broker.websocket(),
        "/ws",
        &["v10.stomp", "v11.stomp", "v12.stomp"],
        None,
    )
    .await
    .expect("accepted");
    assert_eq!(ws.protocol.as_deref(), Some("v12.stomp"));
    // No offer at all: plain STOMP, and no protocol header in the answer.
    let mut ws = Ws::try_open(broker.websocket(), "/ws", &[], None)
        .await
        .expect("accepted");
    assert_eq!(ws.protocol, None);
    ws.stomp_connect(&[]).await;
}

#[tokio::test]
async fn foreign_subprotocols_and_other_paths_are_refused() {
    let broker = TestBroker::start();
    let r = Ws::try_open(broker.websocket(), "/ws", &["mqtt"], None).await;
    assert_eq!(refused_status(r), 400);
    let r = Ws::try_open(broker.websocket(), "/stomp", &["v12.stomp"], None).await;
    assert_eq!(refused_status(r), 404);
}

#[tokio::test]
async fn origin_outside_the_allowed_list_is_refused_with_403() {
    let broker = TestBroker::with_config(
        "[websocket]\nallowed_origins = [\"http://chat.example\"]\n",
        &[],
    );
    let addr = broker.websocket();
    let r = Ws::try_open(addr, "/ws", &["v12.stomp"], Some("http://evil.example")).await;
    assert_eq!(refused_status(r), 403);
    let mut ok = Ws::try_open(addr, "/ws", &["v12.stomp"], Some("http://chat.example"))
        .await
        .expect("listed origin accepted");
    ok.stomp_connect(&[]).await;
    // Only browsers send Origin; a client without one is not a cross-site page.
    let mut no_origin = Ws::try_open(addr, "/ws", &["v12.stomp"], None)
        .await
        .expect("no origin accepted");
    no_origin.stomp_connect(&[]).await;
}

#[tokio::test]
async fn frame_split_over_messages_and_frames_batched_in_one_message() {
    let broker = TestBroker::start();
    let mut ws = Ws::open(broker.websocket()).await;
    for piece in ["CONN", "ECT\naccept-version:1.2\nho", "st:/\n\n", "\0"] {
        ws.send_text(piece).await;
    }
    assert_eq!(ws.recv().await.command, Command::Connected);
    ws.codec.set_version(Version::V1_2);

    let mut batch = encode(
        Frame::new(Command::Subscribe)
            .with_header("destination", "/queue/batch")
            .with_header("id", "s")
            .with_header("receipt", "r-sub"),
    );
    batch.extend_from_slice(&encode(
        send("/queue/batch", "one").with_header("receipt", "r-1"),
    ));
    batch.extend_from_slice(b"\n");
    batch.extend_from_slice(&encode(
        send("/queue/batch", "two").with_header("receipt", "r-2"),
    ));
    ws.send(Message::binary(batch.freeze())).await;

    let (mut receipts, mut bodies) = (Vec::new(), Vec::new());
    while receipts.len() < 3 || bodies.len() < 2 {
        let f = ws.recv().await;
        match f.command {
            Command::Receipt => receipts.push(f.header("receipt-id").expect("id").to_string()),
            Command::Message => bodies.push(body(&f)),
            _ => panic!("unexpected {f:?}"),
        }
    }
    assert_eq!(receipts, ["r-sub", "r-1", "r-2"]);
    assert_eq!(bodies, ["one", "two"]);
}

#[tokio::test]
async fn binary_body_with_nul_bytes_arrives_byte_for_byte() {
    let broker = TestBroker::start();
    let mut consumer = Ws::connected(broker.websocket(), &[]).await;
    consumer.subscribe("/queue/bin", "a").await;
    let mut producer = Ws::connected(broker.websocket(), &[]).await;
    let payload: &[u8] = b"\x00\x01\xff\x00end";
    let mut frame = Frame::new(Command::Send)
        .with_header("destination", "/queue/bin")
        .with_header("content-type", "application/octet-stream")
        .with_header("receipt", "sent");
    frame.body = bytes::Bytes::from_static(payload);
    producer.send(Message::binary(encode(frame).freeze())).await;
    producer.expect(Command::Receipt).await;

    // Not UTF-8, so it must come as a binary message, exactly these bytes.
    let Message::Binary(got) = consumer.next_data().await else {
        panic!("a non-UTF-8 body must arrive in a binary message")
    };
    let id = decode_whole(&mut consumer.codec, &got)[0]
        .header("message-id")
        .expect("message-id")
        .to_string();
    let mut expected = format!(
        "MESSAGE\nsubscription:a\nmessage-id:{id}\ndestination:/queue/bin\n\
         content-type:application/octet-stream\ncontent-length:{}\n\n",
        payload.len()
    )
    .into_bytes();
    expected.extend_from_slice(payload);
    expected.extend_from_slice(b"\0\n");
    assert_eq!(&got[..], &expected[..]);
}

#[tokio::test]
async fn tcp_publisher_reaches_websocket_subscriber_and_back() {
    let broker = TestBroker::start();
    let mut tcp = broker.client().await;
    tcp.subscribe("/topic/from-ws", "t", "auto").await;
    let mut ws = Ws::connected(broker.websocket(), &[]).await;
    ws.subscribe("/topic/from-tcp", "w").await;

    tcp.publish("/topic/from-tcp", "hello browser", &[]).await;
    let m = ws.expect(Command::Message).await;
    assert_eq!(body(&m), "hello browser");
    assert_eq!(m.header("destination"), Some("/topic/from-tcp"));
    assert_eq!(m.header("subscription"), Some("w"));

    ws.send_frame(send("/topic/from-ws", "hello socket")).await;
    let m = tcp.expect(Command::Message).await;
    assert_eq!(body(&m), "hello socket");
    assert_eq!(m.header("destination"), Some("/topic/from-ws"));
    assert_eq!(m.header("subscription"), Some("t"));
}

#[tokio::test]
async fn oversize_message_is_refused_with_close_1009() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_FRAME_SIZE", "1024")]);
    let mut ws = Ws::connected(broker.websocket(), &[]).await;
    let big = encode(send("/queue/big", &"x".repeat(2048)));
    ws.send(Message::binary(big.freeze())).await;
    let (before, close) = ws.expect_close().await;
    assert!(before.is_empty(), "nothing but the Close: {before:?}");
    let close = close.expect("close frame");
    assert_eq!(close.code, CloseCode::Size);
    assert_eq!(close.reason.as_str(), "message larger than 1024 bytes");
}

#[tokio::test]
async fn oversize_frame_split_into_small_messages_gets_the_same_error_as_on_tcp() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__MAX_FRAME_SIZE", "1024")]);
    let mut ws = Ws::connected(broker.websocket(), &[]).await;
    // The content-length in the second message already exceeds the limit:
    // the broker refuses there, and nothing more is sent to a closed socket.
    let pieces: [&[u8]; 2] = [
        b"SEND\ndestination:/queue/big\n",
        b"receipt:r\ncontent-length:2048\n\nxxxxxxxx",
    ];
    for piece in pieces {
        ws.send(Message::binary(piece.to_vec())).await;
    }
    let (before, close) = ws.expect_close().await;
    assert_eq!(before.len(), 1, "one ERROR before the close: {before:?}");
    assert_eq!(before[0].command, Command::Error);
    assert_eq!(
        before[0].header("message"),
        Some("frame larger than 1024 bytes")
    );
    assert_eq!(close.expect("close frame").code, CloseCode::Normal);

    let mut tcp = broker.raw().await;
    tcp.stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    tcp.send(&pieces.concat()).await;
    let error = tcp.read_frame().await;
    assert_eq!(error.header("message"), before[0].header("message"));
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let broker = TestBroker::start();
    let mut ws = Ws::connected(broker.websocket(), &[]).await;
    ws.send(Message::Ping("are you there".into())).await;
    match ws.next_message().await {
        Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
}

/// Opens `n` sockets to `addr` that send nothing; asserts the broker closes
/// every one well before `limits.connect_timeout_ms` (30 s in these tests).
async fn idle_sockets_are_closed_promptly(addr: SocketAddr, n: usize) {
    let started = tokio::time::Instant::now();
    let mut idle = Vec::new();
    for _ in 0..n {
        idle.push(RawClient::connect(addr).await);
    }
    for raw in &mut idle {
        raw.expect_closed().await;
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "{n} idle sockets held {took:?}"
    );
}

#[tokio::test]
async fn websocket_and_tcp_share_the_connection_limit_checked_at_accept() {
    let limit = [
        ("STOMPEDE__LIMITS__MAX_CONNECTIONS", "1"),
        ("STOMPEDE__LIMITS__CONNECT_TIMEOUT_MS", "30000"),
    ];

    // A TCP client holds the only slot: WebSocket sockets are refused at
    // accept, an upgrade with HTTP 503 and idle sockets without waiting.
    let broker = TestBroker::with(&limit);
    let _tcp = broker.client().await;
    let refused = Ws::try_open(broker.websocket(), "/ws", &["v12.stomp"], None).await;
    assert_eq!(refused_status(refused), 503);
    idle_sockets_are_closed_promptly(broker.websocket(), 50).await;
    let s = broker.scrape().await;
    assert!(s.value("stompede_connections_refused_total", &[("transport", "ws")]) >= 51.0);

    // A WebSocket client holds it: TCP and further WebSocket clients are refused.
    let broker = TestBroker::with(&limit);
    let _ws = Ws::connected(broker.websocket(), &[]).await;
    let (mut refused, reply) =
        Client::try_connect(broker.stomp(), &[("accept-version", "1.2")]).await;
    assert_eq!(reply.command, Command::Error, "{reply:?}");
    assert_eq!(reply.header("message"), Some("too many connections"));
    refused.expect_closed().await;
    idle_sockets_are_closed_promptly(broker.stomp(), 50).await;
    let refused = Ws::try_open(broker.websocket(), "/ws", &["v12.stomp"], None).await;
    assert_eq!(refused_status(refused), 503);
    idle_sockets_are_closed_promptly(broker.websocket(), 50).await;
    let s = broker.scrape().await;
    assert!(
        s.value(
            "stompede_connections_refused_total",
            &[("transport", "tcp")]
        ) >= 51.0
    );
}

#[tokio::test]
async fn metrics_label_websocket_connections_ws() {
    let broker = TestBroker::start();
    let _ws = Ws::connected(broker.websocket(), &[]).await;
    let open = [("transport", "ws"), ("version", "1.2")];
    let s = broker
        .scrape_until("one open ws connection", |s| {
            s.get("stompede_connections", &open) == Some(1.0)
        })
        .await;
    assert_eq!(
        s.value("stompede_connections_opened_total", &[("transport", "ws")]),
        1.0
    );
    assert_ne!(
        s.get(
            "stompede_connections",
            &[("transport", "tcp"), ("version", "1.2")]
        ),
        Some(1.0),
        "the WebSocket connection was counted as tcp"
    );
}

#[tokio::test]
async fn heartbeats_flow_and_silence_is_detected_over_websocket() {
    let broker = TestBroker::with(&[
        ("STOMPEDE__HEARTBEAT__SEND_MIN_MS", "50"),
        ("STOMPEDE__HEARTBEAT__RECEIVE_MIN_MS", "50"),
    ]);
    let mut ws = Ws::connected(broker.websocket(), &[("heart-beat", "100,100")]).await;
    // The broker's heart-beat is an EOL in a message of its own.
    match ws.next_data().await {
        Message::Text(t) => assert_eq!(t.as_str(), "\n"),
        other => panic!("expected a heart-beat, got {other:?}"),
    }
    // This client promised one every 100 ms and sends nothing.
    let (before, close) = ws.expect_close().await;
    let error = before.last().expect("an ERROR before the close");
    assert_eq!(error.command, Command::Error);
    assert_eq!(error.header("message"), Some("heart-beat timeout"));
    assert_eq!(close.expect("close frame").code, CloseCode::Normal);
}

#[tokio::test]
async fn client_close_is_answered_and_the_connection_is_released() {
    let broker = TestBroker::start();
    let mut ws = Ws::connected(broker.websocket(), &[]).await;
    let open = [("transport", "ws"), ("version", "1.2")];
    broker
        .scrape_until("the ws connection counted", |s| {
            s.get("stompede_connections", &open) == Some(1.0)
        })
        .await;
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "bye".into(),
    })))
    .await;
    let (before, close) = ws.expect_close().await;
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(close.expect("close reply").code, CloseCode::Away);
    broker
        .scrape_until("the ws connection released", |s| {
            s.get("stompede_connections", &open) == Some(0.0)
        })
        .await;
}

#[tokio::test]
async fn broker_shutdown_tells_websocket_clients_then_closes() {
    let broker = TestBroker::start();
    let mut ws = Ws::connected(broker.websocket(), &[]).await;
    let stopper = tokio::task::spawn_blocking(move || broker.handle.stop());
    let (before, close) = ws.expect_close().await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].command, Command::Error);
    assert_eq!(before[0].header("message"), Some("broker shutting down"));
    assert_eq!(close.expect("close frame").code, CloseCode::Normal);
    tokio::time::timeout(TIMEOUT, stopper)
        .await
        .expect("broker stopped in time")
        .expect("stopper");
}

#[test]
fn documented_defaults_port_9615_and_any_origin() {
    let s = stompede::Settings::defaults();
    assert_eq!(s.listeners.websocket.port(), 9615);
    assert_eq!(s.websocket.allowed_origins, ["*"]);
    assert!(!s.http.chat_page, "the chat page is off by default");
}

#[tokio::test]
async fn text_message_that_is_not_utf8_is_closed_with_1007() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
    let broker = TestBroker::start();
    let mut ws = Ws::connected(broker.websocket(), &[]).await;
    // A raw text frame: tungstenite's Message::Text cannot hold invalid UTF-8.
    let payload = b"SEND\ndestination:/queue/u\n\n\xff\xfe\0".to_vec();
    let frame = WsFrame::message(payload, OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(frame)).await;
    let (before, close) = ws.expect_close().await;
    assert!(before.is_empty(), "nothing but the Close: {before:?}");
    let close = close.expect("close frame");
    assert_eq!(close.code, CloseCode::Invalid, "RFC 6455 7.4.1: 1007");
    assert!(
        close
            .reason
            .as_str()
            .starts_with("text message is not UTF-8"),
        "{}",
        close.reason
    );
}
