//! [`Client`]: a frame-level STOMP client over TCP using the broker's own
//! codec — connecting, receiving and the expectations a test makes about
//! what arrives. The STOMP commands it sends are in `commands.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use stompede::protocol::{
    Command, Frame, Inbound, Limits, Outbound, ProtocolError, StompCodec, Version,
};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder, Framed};

use super::frames::{frame, negotiated};
use super::TIMEOUT;

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
    type Error = ProtocolError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, Self::Error> {
        self.0.decode(src)
    }
}

impl Encoder<Frame> for ClientCodec {
    type Error = ProtocolError;
    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Self::Error> {
        self.0.encode(Outbound::Frame(item), dst)
    }
}

/// Opens a socket, sends CONNECT with `headers` and reads the first frame
/// back; `Err` says which step failed.
async fn handshake(
    addr: SocketAddr,
    headers: &[(&str, &str)],
) -> Result<(Framed<TcpStream, ClientCodec>, Frame), String> {
    let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    handshake_on(stream, headers).await
}

/// Sends CONNECT with `headers` on `stream` and reads the first frame back.
async fn handshake_on(
    stream: TcpStream,
    headers: &[(&str, &str)],
) -> Result<(Framed<TcpStream, ClientCodec>, Frame), String> {
    let mut framed = Framed::new(stream, ClientCodec(StompCodec::new(Limits::default())));
    framed
        .send(frame(Command::Connect, headers))
        .await
        .map_err(|e| format!("send CONNECT: {e}"))?;
    loop {
        match tokio::time::timeout(TIMEOUT, framed.next()).await {
            Err(_) => return Err(format!("no frame within {TIMEOUT:?}")),
            Ok(None) => return Err("connection closed while waiting for a frame".into()),
            Ok(Some(Err(e))) => return Err(format!("decode error: {e}")),
            Ok(Some(Ok(Inbound::Heartbeat))) => continue,
            Ok(Some(Ok(Inbound::Frame(f)))) => return Ok((framed, f)),
        }
    }
}

impl Client {
    /// Connects and expects CONNECTED.
    pub async fn connect(addr: SocketAddr, headers: &[(&str, &str)]) -> Client {
        let (client, reply) = Self::try_connect(addr, headers).await;
        assert_eq!(
            reply.command,
            Command::Connected,
            "CONNECT refused: {reply:?}"
        );
        client.negotiate(reply)
    }

    /// Sends CONNECT and returns whatever comes back first.
    pub async fn try_connect(addr: SocketAddr, headers: &[(&str, &str)]) -> (Client, Frame) {
        let (framed, reply) = handshake(addr, headers)
            .await
            .unwrap_or_else(|e| panic!("CONNECT to {addr}: {e}"));
        let client = Client {
            framed,
            version: Version::V1_0,
            connected: Frame::new(Command::Connected),
        };
        (client, reply)
    }

    /// Like `connect`, but `None` instead of a panic when the broker refuses
    /// (ERROR, close or reset): for polling until a connection is accepted.
    pub async fn connect_if_accepted(addr: SocketAddr, headers: &[(&str, &str)]) -> Option<Client> {
        let (framed, reply) = handshake(addr, headers).await.ok()?;
        if reply.command != Command::Connected {
            return None;
        }
        let client = Client {
            framed,
            version: Version::V1_0,
            connected: Frame::new(Command::Connected),
        };
        Some(client.negotiate(reply))
    }

    /// Like `connect_if_accepted`, on a socket the test opened itself (for
    /// example bound to a chosen local address).
    pub async fn over(stream: TcpStream, headers: &[(&str, &str)]) -> Option<Client> {
        let (framed, reply) = handshake_on(stream, headers).await.ok()?;
        if reply.command != Command::Connected {
            return None;
        }
        let client = Client {
            framed,
            version: Version::V1_0,
            connected: Frame::new(Command::Connected),
        };
        Some(client.negotiate(reply))
    }

    /// A client on `stream`, whose CONNECT was already answered with
    /// `connected` (read by the test itself), nothing else buffered.
    pub fn over_connected(stream: TcpStream, connected: Frame) -> Client {
        let client = Client {
            framed: Framed::new(stream, ClientCodec(StompCodec::new(Limits::default()))),
            version: Version::V1_0,
            connected: Frame::new(Command::Connected),
        };
        client.negotiate(connected)
    }

    /// Adopts the version CONNECTED settled on, for decoding and for ACKs.
    fn negotiate(mut self, connected: Frame) -> Client {
        let v = negotiated(&connected);
        self.framed.codec_mut().0.set_version(v);
        self.version = v;
        self.connected = connected;
        self
    }

    /// Sends one frame as it is.
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

    /// The next frame if one arrives within `d` (heart-beats skipped); panics
    /// on a closed connection or a decode error.
    pub async fn try_recv(&mut self, d: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => return None,
                Ok(None) => panic!("connection closed while waiting for a frame"),
                Ok(Some(Err(e))) => panic!("decode error: {e}"),
                Ok(Some(Ok(Inbound::Heartbeat))) => continue,
                Ok(Some(Ok(Inbound::Frame(f)))) => return Some(f),
            }
        }
    }

    /// The next frame, which must have `command`.
    pub async fn expect(&mut self, command: Command) -> Frame {
        let f = self.recv().await;
        assert_eq!(f.command, command, "unexpected frame: {f:?}");
        f
    }

    /// The next `n` frames, each of which must be a MESSAGE.
    pub async fn recv_messages(&mut self, n: usize) -> Vec<Frame> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.expect(Command::Message).await);
        }
        out
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
}
