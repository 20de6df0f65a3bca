//! [`RawClient`]: a plain TCP socket to the STOMP port for byte-exact tests
//! (escaping, EOLs, heart-beats, malformed input).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use stompede::protocol::{Frame, Inbound, Limits, StompCodec, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

use super::TIMEOUT;

/// A raw socket for byte-exact tests.
pub struct RawClient {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl RawClient {
    /// Connects to `addr`; nothing is sent.
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

    /// A raw client on a stream already connected (for socket options).
    pub fn over(stream: TcpStream) -> RawClient {
        RawClient {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends a CONNECT frame built from `headers` (raw, unescaped) and
    /// returns the reply frame.
    pub async fn stomp_connect(&mut self, headers: &[(&str, &str)]) -> Frame {
        let mut bytes = b"CONNECT\n".to_vec();
        for (k, v) in headers {
            bytes.extend_from_slice(format!("{k}:{v}\n").as_bytes());
        }
        bytes.extend_from_slice(b"\n\0");
        self.send(&bytes).await;
        self.read_frame().await
    }

    /// Reads until the peer closes; returns everything buffered and read.
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
            self.fill("no frame in time").await;
        }
    }

    /// The exact bytes of the next frame, from its command line through its
    /// NUL, skipping heart-beat EOLs before it. Honours `content-length`, so
    /// bodies containing NUL octets come back whole.
    pub async fn read_raw_frame(&mut self) -> Vec<u8> {
        loop {
            while matches!(self.buf.first(), Some(b'\n')) || self.buf.starts_with(b"\r\n") {
                let n = if self.buf[0] == b'\n' { 1 } else { 2 };
                let _ = self.buf.split_to(n);
            }
            if let Some(total) = raw_frame_len(&self.buf) {
                if self.buf.len() >= total {
                    return self.buf.split_to(total).to_vec();
                }
            }
            self.fill("no complete frame in time").await;
        }
    }

    /// Reads exactly `n` bytes.
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill(&format!(
                "not enough bytes in time ({} of {n})",
                self.buf.len()
            ))
            .await;
        }
        self.buf.split_to(n).to_vec()
    }

    /// Reads the EOL the broker writes after every frame's NUL, so that a
    /// test asserting silence next does not take it for a heart-beat.
    pub async fn expect_frame_eol(&mut self) {
        let next = self.read_exact(1).await;
        assert_eq!(next, b"\n", "a frame's NUL must be followed by an EOL");
    }

    /// Whatever bytes arrive within `within`: buffered bytes first, else one
    /// read. `None` if nothing arrived; `Some(empty)` if the peer closed.
    pub async fn read_chunk(&mut self, within: Duration) -> Option<Vec<u8>> {
        if !self.buf.is_empty() {
            return Some(self.buf.split().to_vec());
        }
        match tokio::time::timeout(within, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => None,
            Ok(Ok(_)) => Some(self.buf.split().to_vec()),
            Ok(Err(_)) => Some(Vec::new()),
        }
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

    /// One read into the buffer; panics with `what` on timeout, or on a
    /// close, showing what was buffered.
    async fn fill(&mut self, what: &str) {
        let n = tokio::time::timeout(TIMEOUT, self.stream.read_buf(&mut self.buf))
            .await
            .unwrap_or_else(|_| panic!("{what}"))
            .expect("read");
        assert!(
            n > 0,
            "connection closed while waiting ({what}); buffered: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }
}

/// The length of the frame at the start of `buf` (through its NUL), once
/// its headers — and, without `content-length`, its NUL — have arrived.
fn raw_frame_len(buf: &[u8]) -> Option<usize> {
    let end = find(buf, b"\n\n")?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let body_start = end + 2;
    let length = head
        .lines()
        .skip(1)
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(n) => Some(body_start + n + 1),
        None => find(&buf[body_start..], b"\0").map(|i| body_start + i + 1),
    }
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
