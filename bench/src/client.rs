//! A lean STOMP client on the broker's codec: frames are encoded into one
//! buffer and written in batches; reads go through a `FramedRead`. Every wait
//! takes a deadline, so no call can hang.

use std::collections::HashSet;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{FutureExt, StreamExt};
use stompede::protocol::{
    Command, Frame, Inbound, Limits, Outbound, ProtocolError, StompCodec, Version,
};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_util::codec::{Encoder, FramedRead};

use crate::ack::{self, AckMode};
use crate::cli::ConnArgs;
use crate::error::{BenchError, Result};

/// Writes above this many buffered bytes go to the socket even mid-batch, so
/// a batch of large bodies does not pile up in memory.
pub const FLUSH_AT: usize = 64 * 1024;

/// One STOMP connection, split so reading and writing never wait on each other's buffers.
pub struct Conn {
    reader: FramedRead<OwnedReadHalf, StompCodec>,
    half: OwnedWriteHalf,
    encoder: StompCodec,
    out: BytesMut,
    /// The version the broker chose in CONNECTED.
    pub version: Version,
    /// Longest wait for any single answer.
    pub timeout: Duration,
    receipts: u64,
    /// RECEIPTs that arrived ahead of an older one still awaited. RabbitMQ
    /// answers persistent SENDs when its disk confirms them, which need not be
    /// in the order they were sent.
    early: HashSet<String>,
}

impl Conn {
    /// Opens a TCP connection and completes CONNECT/CONNECTED.
    pub async fn connect(args: &ConnArgs, limits: Limits) -> Result<Conn> {
        let addr = format!("{}:{}", args.host, args.port);
        let deadline = Instant::now() + args.timeout;
        let stream = timeout_at(deadline, TcpStream::connect(&addr))
            .await
            .map_err(|_| BenchError::Timeout {
                what: format!("TCP connect to {addr}"),
                secs: args.timeout.as_secs_f64(),
            })?
            .map_err(|source| BenchError::Connect {
                addr: addr.clone(),
                source,
            })?;
        // Latency runs send one small frame at a time; Nagle would hold it back.
        stream.set_nodelay(true)?;
        let (read, half) = stream.into_split();
        let mut conn = Conn {
            reader: FramedRead::new(read, StompCodec::new(limits)),
            half,
            encoder: StompCodec::new(limits),
            out: BytesMut::with_capacity(FLUSH_AT),
            version: args.version,
            timeout: args.timeout,
            receipts: 0,
            early: HashSet::new(),
        };
        conn.push(connect_frame(args))?;
        conn.flush().await?;
        let connected = conn.recv("CONNECTED").await?;
        if connected.command != Command::Connected {
            return Err(unexpected(&connected, "waiting for CONNECTED"));
        }
        let version = match connected.header("version") {
            Some("1.1") => Version::V1_1,
            Some("1.2") => Version::V1_2,
            _ => Version::V1_0,
        };
        conn.version = version;
        conn.encoder.set_version(version);
        conn.reader.decoder_mut().set_version(version);
        Ok(conn)
    }

    /// Encodes a frame into the write buffer; nothing is sent until [`Conn::flush`].
    pub fn push(&mut self, frame: Frame) -> Result<()> {
        self.encoder.encode(Outbound::Frame(frame), &mut self.out)?;
        Ok(())
    }

    /// Bytes waiting to be written.
    pub fn buffered(&self) -> usize {
        self.out.len()
    }

    /// Writes everything buffered, waiting at most the timeout.
    pub async fn flush(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        self.flush_by(deadline).await
    }

    /// Writes everything buffered, waiting until `deadline` at most.
    pub async fn flush_by(&mut self, deadline: Instant) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let secs = self.timeout.as_secs_f64();
        let written = timeout_at(deadline, self.half.write_all_buf(&mut self.out))
            .await
            .map_err(|_| BenchError::Timeout {
                what: "the broker to read what we sent".into(),
                secs,
            })?;
        if let Err(e) = written {
            return Err(self.explain(e));
        }
        self.out.clear();
        Ok(())
    }

    /// A broker that refuses a frame sends ERROR and closes, so our write
    /// fails; the ERROR, if it already arrived, says why.
    fn explain(&mut self, e: std::io::Error) -> BenchError {
        match self.try_recv("ERROR") {
            Err(broker @ BenchError::Broker(_)) => broker,
            _ => e.into(),
        }
    }

    /// The next frame (heart-beats skipped), waiting at most the timeout.
    pub async fn recv(&mut self, what: &str) -> Result<Frame> {
        let deadline = Instant::now() + self.timeout;
        self.recv_by(deadline, what).await
    }

    /// The next frame (heart-beats skipped), waiting until `deadline` at most.
    /// An ERROR frame becomes [`BenchError::Broker`].
    pub async fn recv_by(&mut self, deadline: Instant, what: &str) -> Result<Frame> {
        loop {
            let item = timeout_at(deadline, self.reader.next())
                .await
                .map_err(|_| BenchError::Timeout {
                    what: what.to_string(),
                    secs: self.timeout.as_secs_f64(),
                })?;
            if let Some(frame) = self.frame_of(item, what)? {
                return Ok(frame);
            }
        }
    }

    /// A frame already received and decodable without waiting, if any.
    pub fn try_recv(&mut self, what: &str) -> Result<Option<Frame>> {
        while let Some(item) = self.reader.next().now_or_never() {
            if let Some(frame) = self.frame_of(item, what)? {
                return Ok(Some(frame));
            }
        }
        Ok(None)
    }

    /// Waits for any frame without a deadline of its own: callers race it
    /// against their own timers.
    pub async fn recv_any(&mut self, what: &str) -> Result<Frame> {
        loop {
            let item = self.reader.next().await;
            if let Some(frame) = self.frame_of(item, what)? {
                return Ok(frame);
            }
        }
    }

    fn frame_of(
        &self,
        item: Option<std::result::Result<Inbound, ProtocolError>>,
        what: &str,
    ) -> Result<Option<Frame>> {
        match item {
            None => Err(BenchError::Closed(format!("waiting for {what}"))),
            Some(Err(ProtocolError::Io(e))) => {
                Err(BenchError::Closed(format!("waiting for {what} ({e})")))
            }
            Some(Err(e)) => Err(e.into()),
            Some(Ok(Inbound::Heartbeat)) => Ok(None),
            Some(Ok(Inbound::Frame(f))) if f.command == Command::Error => {
                Err(BenchError::Broker(error_text(&f)))
            }
            Some(Ok(Inbound::Frame(f))) => Ok(Some(f)),
        }
    }

    /// A fresh receipt id for this connection.
    pub fn receipt_id(&mut self) -> String {
        self.receipts += 1;
        format!("r{}", self.receipts)
    }

    /// Reads until the RECEIPT for `id`. A RECEIPT for a later request of
    /// this connection is kept for when it is awaited; any other frame is an
    /// error.
    pub async fn await_receipt_by(&mut self, id: &str, deadline: Instant) -> Result<()> {
        if self.early.remove(id) {
            return Ok(());
        }
        let what = format!("RECEIPT {id}");
        loop {
            let frame = self.recv_by(deadline, &what).await?;
            match (frame.command, frame.header("receipt-id")) {
                (Command::Receipt, Some(got)) if got == id => return Ok(()),
                (Command::Receipt, Some(got)) if self.is_pending(got) => {
                    self.early.insert(got.to_string());
                }
                _ => return Err(unexpected(&frame, &format!("waiting for {what}"))),
            }
        }
    }

    /// Whether `id` names a receipt this connection asked for and has not yet seen.
    fn is_pending(&self, id: &str) -> bool {
        id.strip_prefix('r')
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n >= 1 && n <= self.receipts && !self.early.contains(id))
    }

    /// Subscribes and waits for the broker's receipt, so messages sent after
    /// this returns are routed to the subscription.
    pub async fn subscribe(
        &mut self,
        destination: &str,
        id: &str,
        ack: AckMode,
        prefetch: Option<u32>,
        extra: &[(String, String)],
    ) -> Result<()> {
        let receipt = self.receipt_id();
        let mut f = Frame::new(Command::Subscribe)
            .with_header("destination", destination)
            .with_header("id", id)
            .with_header("ack", ack::header_value(ack));
        if let Some(n) = prefetch {
            f = f
                .with_header("prefetch-count", n.to_string())
                .with_header("activemq.prefetchSize", n.to_string());
        }
        f.headers.extend(extra.iter().cloned());
        self.push(f.with_header("receipt", receipt.clone()))?;
        self.flush().await?;
        let deadline = Instant::now() + self.timeout;
        self.await_receipt_by(&receipt, deadline).await
    }

    /// DISCONNECT with a receipt, so everything sent before was processed.
    pub async fn disconnect(mut self) -> Result<()> {
        let receipt = self.receipt_id();
        self.push(Frame::new(Command::Disconnect).with_header("receipt", receipt.clone()))?;
        self.flush().await?;
        let deadline = Instant::now() + self.timeout;
        self.await_receipt_by(&receipt, deadline).await
    }

    /// The ACK for `msg` in this connection's version; `None` if the broker
    /// gave no id to acknowledge it by.
    pub fn ack_frame(&self, msg: &Frame) -> Option<Frame> {
        let f = Frame::new(Command::Ack);
        match self.version {
            Version::V1_2 => msg
                .header("ack")
                .or_else(|| msg.header("message-id"))
                .map(|id| f.with_header("id", id)),
            Version::V1_1 => {
                let id = msg.header("message-id")?;
                let sub = msg.header("subscription")?;
                Some(
                    f.with_header("subscription", sub)
                        .with_header("message-id", id),
                )
            }
            Version::V1_0 => msg
                .header("message-id")
                .map(|id| f.with_header("message-id", id)),
        }
    }
}

/// Codec limits that admit the frames a run produces, whatever the body size.
pub fn limits_for(body: usize) -> Limits {
    let default = Limits::default();
    Limits {
        max_frame_size: default.max_frame_size.max(body.saturating_mul(2)),
        max_headers: 1000,
        max_header_line: 64 * 1024,
        max_command_len: default.max_command_len,
    }
}

fn connect_frame(args: &ConnArgs) -> Frame {
    let mut f = Frame::new(Command::Connect);
    if args.version != Version::V1_0 {
        f = f
            .with_header("accept-version", args.version.as_str())
            .with_header("host", args.vhost.as_str())
            .with_header("heart-beat", "0,0");
    }
    if let Some(login) = &args.login {
        f = f.with_header("login", login.as_str());
    }
    if let Some(passcode) = &args.passcode {
        f = f.with_header("passcode", passcode.as_str());
    }
    f
}

fn error_text(f: &Frame) -> String {
    let message = f.header("message").unwrap_or("(no message header)");
    let body = String::from_utf8_lossy(&f.body);
    let body = body.trim();
    if body.is_empty() {
        message.to_string()
    } else {
        format!("{message}: {body}")
    }
}

/// An error for a frame that is not what `during` expected.
pub fn unexpected(f: &Frame, during: &str) -> BenchError {
    BenchError::Unexpected {
        got: f.command.as_str(),
        during: during.to_string(),
    }
}
