//! Shared test helpers: a real broker on port 0 and a small STOMP client over
//! a real TCP socket. Every wait has a timeout, so a bug fails fast instead of
//! hanging the suite.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use stompede::protocol::{Command, Frame, Inbound, Limits, Outbound, StompCodec, Version};
use stompede::{BrokerHandle, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder, Framed};

/// How long any single expectation may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A broker on 127.0.0.1 with ports chosen by the OS.
pub struct TestBroker {
    pub handle: BrokerHandle,
}

impl TestBroker {
    /// Default settings (ports 0).
    pub fn start() -> TestBroker {
        Self::with(&[])
    }

    /// Default settings with `STOMPEDE__…` style overrides, e.g.
    /// `("STOMPEDE__LIMITS__MAX_HEADERS", "5")`.
    pub fn with(overrides: &[(&str, &str)]) -> TestBroker {
        let mut env: Vec<(String, String)> = vec![
            ("STOMPEDE__LISTENERS__STOMP".into(), "127.0.0.1:0".into()),
            ("STOMPEDE__LISTENERS__HTTP".into(), "127.0.0.1:0".into()),
            ("STOMPEDE__BROKER__SHUTDOWN_GRACE_MS".into(), "2000".into()),
        ];
        env.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let settings = Settings::load(None, env).expect("test settings");
        let handle = BrokerHandle::spawn(settings).expect("broker starts");
        TestBroker { handle }
    }

    /// The STOMP listener's address.
    pub fn stomp(&self) -> SocketAddr {
        self.handle.addrs.stomp
    }

    /// The HTTP listener's address.
    pub fn http(&self) -> SocketAddr {
        self.handle.addrs.http
    }

    /// A raw TCP connection to the STOMP port.
    pub async fn raw(&self) -> RawClient {
        RawClient::connect(self.stomp()).await
    }

    /// A client that has completed CONNECT with `accept-version:1.2`.
    pub async fn client(&self) -> Client {
        Client::connect(self.stomp(), &[("accept-version", "1.2"), ("host", "/")]).await
    }

    /// A client connected with the given CONNECT headers.
    pub async fn client_with(&self, headers: &[(&str, &str)]) -> Client {
        Client::connect(self.stomp(), headers).await
    }

    /// GET `path` on the HTTP listener: (status, body).
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.http(), path).await
    }
}

/// A minimal HTTP/1.0 GET.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .expect("http connect timeout")
        .expect("http connect");
    let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("http write");
    let mut buf = Vec::new();
    tokio::time::timeout(TIMEOUT, s.read_to_end(&mut buf))
        .await
        .expect("http read timeout")
        .expect("http read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A raw socket for byte-exact tests.
pub struct RawClient {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timeout")
            .expect("connect");
        RawClient {
            stream,
            buf: BytesMut::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads until `n` bytes are buffered or the peer closes; returns them.
    pub async fn read_until_closed(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        tokio::time::timeout(TIMEOUT, self.stream.read_to_end(&mut out))
            .await
            .expect("peer did not close in time")
            .expect("read");
        let mut all = self.buf.split().to_vec();
        all.extend(out);
        all
    }

    /// Reads one frame (skipping heart-beats) with a 1.2 decoder.
    pub async fn read_frame(&mut self) -> Frame {
        let mut codec = StompCodec::new(Limits::default());
        codec.set_version(Version::V1_2);
        loop {
            if let Some(item) = codec.decode(&mut self.buf).expect("decode") {
                match item {
                    Inbound::Frame(f) => return f,
                    Inbound::Heartbeat => continue,
                }
            }
            let n = tokio::time::timeout(TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("no frame in time")
                .expect("read");
            assert!(n > 0, "connection closed while waiting for a frame");
        }
    }

    /// Reads exactly `n` bytes.
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let r = tokio::time::timeout(TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("not enough bytes in time")
                .expect("read");
            assert!(r > 0, "closed after {} of {n} bytes", self.buf.len());
        }
        self.buf.split_to(n).to_vec()
    }

    /// Asserts the peer closes the connection (EOF or reset) within the timeout.
    pub async fn expect_closed(&mut self) {
        let mut scratch = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)).await {
                Err(_) => panic!("connection still open"),
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(_)) => continue,
            }
        }
    }
}

/// A frame-level STOMP client.
pub struct Client {
    pub framed: Framed<TcpStream, ClientCodec>,
    pub version: Version,
    pub connected: Frame,
}

/// The broker's codec, used from the client side.
pub struct ClientCodec(pub StompCodec);

impl Decoder for ClientCodec {
    type Item = Inbound;
    type Error = stompede::protocol::ProtocolError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, Self::Error> {
        self.0.decode(src)
    }
}

impl Encoder<Frame> for ClientCodec {
    type Error = stompede::protocol::ProtocolError;
    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Self::Error> {
        self.0.encode(Outbound::Frame(item), dst)
    }
}

impl Client {
    /// Connects and expects CONNECTED.
    pub async fn connect(addr: SocketAddr, headers: &[(&str, &str)]) -> Client {
        let (mut client, reply) = Self::try_connect(addr, headers).await;
        assert_eq!(
            reply.command,
            Command::Connected,
            "CONNECT refused: {reply:?}"
        );
        let v = match reply.header("version") {
            Some("1.1") => Version::V1_1,
            Some("1.2") => Version::V1_2,
            _ => Version::V1_0,
        };
        client.framed.codec_mut().0.set_version(v);
        client.version = v;
        client.connected = reply;
        client
    }

    /// Sends CONNECT and returns whatever comes back first.
    pub async fn try_connect(addr: SocketAddr, headers: &[(&str, &str)]) -> (Client, Frame) {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timeout")
            .expect("connect");
        let mut framed = Framed::new(stream, ClientCodec(StompCodec::new(Limits::default())));
        let mut f = Frame::new(Command::Connect);
        for (k, v) in headers {
            f = f.with_header(*k, *v);
        }
        framed.send(f).await.expect("send CONNECT");
        let mut client = Client {
            framed,
            version: Version::V1_0,
            connected: Frame::new(Command::Connected),
        };
        let reply = client.recv().await;
        (client, reply)
    }

    pub async fn send(&mut self, frame: Frame) {
        tokio::time::timeout(TIMEOUT, self.framed.send(frame))
            .await
            .expect("send timeout")
            .expect("send");
    }

    /// The next frame (heart-beats skipped).
    pub async fn recv(&mut self) -> Frame {
        loop {
            match tokio::time::timeout(TIMEOUT, self.framed.next()).await {
                Err(_) => panic!("no frame within {TIMEOUT:?}"),
                Ok(None) => panic!("connection closed while waiting for a frame"),
                Ok(Some(Err(e))) => panic!("decode error: {e}"),
                Ok(Some(Ok(Inbound::Heartbeat))) => continue,
                Ok(Some(Ok(Inbound::Frame(f)))) => return f,
            }
        }
    }

    /// The next frame, which must have `command`.
    pub async fn expect(&mut self, command: Command) -> Frame {
        let f = self.recv().await;
        assert_eq!(f.command, command, "unexpected frame: {f:?}");
        f
    }

    /// Asserts no frame arrives within `d`.
    pub async fn expect_nothing(&mut self, d: Duration) {
        loop {
            match tokio::time::timeout(d, self.framed.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Inbound::Heartbeat))) => continue,
                Ok(other) => panic!("expected nothing, got {other:?}"),
            }
        }
    }

    /// Expects an ERROR frame and then the connection closing.
    pub async fn expect_error(&mut self) -> Frame {
        let f = self.expect(Command::Error).await;
        assert!(
            f.header("message").is_some(),
            "ERROR without message header: {f:?}"
        );
        self.expect_closed().await;
        f
    }

    /// Asserts the broker closes the connection.
    pub async fn expect_closed(&mut self) {
        loop {
            match tokio::time::timeout(TIMEOUT, self.framed.next()).await {
                Err(_) => panic!("connection still open"),
                Ok(None) | Ok(Some(Err(_))) => return,
                Ok(Some(Ok(Inbound::Heartbeat))) => continue,
                Ok(Some(Ok(Inbound::Frame(f)))) => panic!("expected close, got {f:?}"),
            }
        }
    }

    /// SEND with optional extra headers.
    pub async fn publish(&mut self, destination: &str, body: &str, headers: &[(&str, &str)]) {
        let mut f = Frame::new(Command::Send)
            .with_header("destination", destination)
            .with_body(body.to_string());
        for (k, v) in headers {
            f = f.with_header(*k, *v);
        }
        self.send(f).await;
    }

    /// Sends `frame` with a `receipt` header and waits for its RECEIPT.
    pub async fn send_with_receipt(&mut self, frame: Frame, receipt: &str) {
        self.send(frame.with_header("receipt", receipt)).await;
        let r = self.expect(Command::Receipt).await;
        assert_eq!(r.header("receipt-id"), Some(receipt));
    }

    /// SUBSCRIBE and wait until it is active (receipt).
    pub async fn subscribe(&mut self, destination: &str, id: &str, ack: &str) {
        self.subscribe_with(destination, id, &[("ack", ack)]).await;
    }

    /// SUBSCRIBE with extra headers, waiting until active.
    pub async fn subscribe_with(&mut self, destination: &str, id: &str, headers: &[(&str, &str)]) {
        let mut f = Frame::new(Command::Subscribe)
            .with_header("destination", destination)
            .with_header("id", id);
        for (k, v) in headers {
            f = f.with_header(*k, *v);
        }
        self.send_with_receipt(f, &format!("sub-{id}")).await;
    }

    /// ACK a MESSAGE the version-appropriate way.
    pub async fn ack(&mut self, msg: &Frame) {
        let f = self.ack_frame(Command::Ack, msg);
        self.send(f).await;
    }

    /// NACK a MESSAGE the version-appropriate way.
    pub async fn nack(&mut self, msg: &Frame) {
        let f = self.ack_frame(Command::Nack, msg);
        self.send(f).await;
    }

    /// Builds an ACK/NACK for `msg` as the negotiated version requires.
    pub fn ack_frame(&self, command: Command, msg: &Frame) -> Frame {
        let f = Frame::new(command);
        match self.version {
            Version::V1_2 => {
                f.with_header("id", msg.header("ack").expect("MESSAGE has ack header"))
            }
            Version::V1_1 => f
                .with_header("message-id", msg.header("message-id").expect("message-id"))
                .with_header(
                    "subscription",
                    msg.header("subscription").expect("subscription"),
                ),
            Version::V1_0 => {
                f.with_header("message-id", msg.header("message-id").expect("message-id"))
            }
        }
    }

    /// DISCONNECT with receipt, then expect the close.
    pub async fn disconnect(mut self) {
        self.send(Frame::new(Command::Disconnect).with_header("receipt", "bye"))
            .await;
        let r = self.expect(Command::Receipt).await;
        assert_eq!(r.header("receipt-id"), Some("bye"));
        self.expect_closed().await;
    }
}

/// Parses a Prometheus text exposition into `series{labels} -> value`.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}
