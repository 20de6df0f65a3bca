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

/// A broker on 127.0.0.1 with ports chosen by the OS, its journal in a
/// directory of its own (removed after the broker stops).
pub struct TestBroker {
    pub handle: BrokerHandle,
    pub store_dir: TempDir,
}

impl TestBroker {
    /// Default settings (ports 0).
    pub fn start() -> TestBroker {
        Self::with(&[])
    }

    /// Default settings with `STOMPEDE__…` style overrides, e.g.
    /// `("STOMPEDE__LIMITS__MAX_HEADERS", "5")`.
    pub fn with(overrides: &[(&str, &str)]) -> TestBroker {
        let store_dir = TempDir::new("store");
        let env = test_env(&store_dir, overrides);
        let settings = Settings::load(None, env).expect("test settings");
        let handle = BrokerHandle::spawn(settings).expect("broker starts");
        TestBroker { handle, store_dir }
    }

    /// The STOMP listener's address.
    pub fn stomp(&self) -> SocketAddr {
        self.handle.addrs.stomp
    }

    /// The HTTP listener's address.
    pub fn http(&self) -> SocketAddr {
        self.handle.addrs.http
    }

    /// The WebSocket listener's address (STOMP over WebSocket at path `/ws`).
    pub fn websocket(&self) -> SocketAddr {
        self.handle.addrs.websocket
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

/// Every listener on 127.0.0.1 port 0, a short shutdown grace and the
/// journal in `store`, then `overrides`.
fn test_env(store: &TempDir, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let dir = store.path.display().to_string();
    let env: Vec<(String, String)> = [
        ("STOMPEDE__LISTENERS__STOMP", "127.0.0.1:0"),
        ("STOMPEDE__LISTENERS__HTTP", "127.0.0.1:0"),
        ("STOMPEDE__LISTENERS__WEBSOCKET", "127.0.0.1:0"),
        ("STOMPEDE__BROKER__SHUTDOWN_GRACE_MS", "2000"),
        ("STOMPEDE__STORAGE__DIR", dir.as_str()),
        // Small segments: every test broker preallocates one.
        ("STOMPEDE__STORAGE__SEGMENT_BYTES", "1048576"),
    ]
    .iter()
    .chain(overrides)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env
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

// ---------------------------------------------------------------------------
// Helpers for the core-protocol tests: config files, byte-exact raw frames,
// and the real `stompede` binary as a child process.
// ---------------------------------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("stompede-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// Writes `contents` to `name` inside the directory; returns the file's path.
    pub fn write(&self, name: &str, contents: &str) -> std::path::PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

impl TestBroker {
    /// A broker configured by a TOML file (loaded with `--config` semantics)
    /// plus `STOMPEDE__…` overrides; for settings env vars cannot express,
    /// such as `auth.users`.
    pub fn with_config(toml: &str, overrides: &[(&str, &str)]) -> TestBroker {
        let dir = TempDir::new("config");
        let path = dir.write("stompede.toml", toml);
        let store_dir = TempDir::new("store");
        let env = test_env(&store_dir, overrides);
        let settings = Settings::load(Some(&path), env).expect("test settings from file");
        let handle = BrokerHandle::spawn(settings).expect("broker starts");
        TestBroker { handle, store_dir }
    }
}

impl RawClient {
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

    /// Reads the EOL the broker writes after every frame's NUL, so that a
    /// test asserting silence next does not take it for a heart-beat.
    pub async fn expect_frame_eol(&mut self) {
        let next = self.read_exact(1).await;
        assert_eq!(next, b"\n", "a frame's NUL must be followed by an EOL");
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
            if let Some(end) = find(&self.buf, b"\n\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let body_start = end + 2;
                let length = head
                    .lines()
                    .skip(1)
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                let total = match length {
                    Some(n) => Some(body_start + n + 1),
                    None => find(&self.buf[body_start..], b"\0").map(|i| body_start + i + 1),
                };
                if let Some(total) = total {
                    if self.buf.len() >= total {
                        return self.buf.split_to(total).to_vec();
                    }
                }
            }
            let n = tokio::time::timeout(TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("no complete frame in time")
                .expect("read");
            assert!(
                n > 0,
                "connection closed while waiting for a frame; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
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
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The real `stompede` binary running as a child process.
pub struct BrokerProcess {
    pub child: tokio::process::Child,
    pub stomp: SocketAddr,
    pub http: SocketAddr,
    /// Everything the process printed so far (stdout and stderr, by line).
    pub output: std::sync::Arc<std::sync::Mutex<String>>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    _cwd: TempDir,
}

/// Builds a command for the binary: run from an empty directory (the
/// defaults are embedded), with no inherited `STOMPEDE__*` or `RUST_LOG`.
fn binary_command(args: &[&str], env: &[(&str, &str)], cwd: &TempDir) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stompede"));
    cmd.args(args)
        .current_dir(&cwd.path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("STOMPEDE__") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Removes ANSI colour sequences so log lines can be parsed either way.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// From a "listening" log line (text or JSON format): (listener, address).
pub fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    let line = strip_ansi(line);
    if !line.contains("listening") {
        return None;
    }
    let field = |name: &str| -> Option<String> {
        for pat in [
            format!("{name}=\""),
            format!("\"{name}\":\""),
            format!("{name}="),
        ] {
            if let Some(i) = line.find(&pat) {
                let rest = &line[i + pat.len()..];
                let end = rest.find(['"', ' ', ',', '}']).unwrap_or(rest.len());
                return Some(rest[..end].to_string());
            }
        }
        None
    };
    let listener = field("listener")?;
    let addr = field("addr")?.parse().ok()?;
    Some((listener, addr))
}

impl BrokerProcess {
    /// Starts the binary (listeners on 127.0.0.1:0 unless `env` says
    /// otherwise) and waits for its "listening" log lines.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> BrokerProcess {
        let mut full: Vec<(&str, &str)> = vec![
            ("STOMPEDE__LISTENERS__STOMP", "127.0.0.1:0"),
            ("STOMPEDE__LISTENERS__HTTP", "127.0.0.1:0"),
            ("STOMPEDE__LISTENERS__WEBSOCKET", "127.0.0.1:0"),
            // Small segments: every test broker preallocates one (in its own working directory).
            ("STOMPEDE__STORAGE__SEGMENT_BYTES", "1048576"),
        ];
        full.extend_from_slice(env);
        Self::start_exact(args, &full).await
    }

    /// Like `start`, with exactly `env` (no listener variables added).
    pub async fn start_exact(args: &[&str], env: &[(&str, &str)]) -> BrokerProcess {
        let cwd = TempDir::new("cwd");
        let mut child = binary_command(args, env, &cwd)
            .spawn()
            .expect("spawn stompede binary");
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        spawn_line_reader(stdout, output.clone(), tx.clone());
        spawn_line_reader(stderr, output.clone(), tx);
        let mut p = BrokerProcess {
            child,
            stomp: "0.0.0.0:0".parse().expect("addr"),
            http: "0.0.0.0:0".parse().expect("addr"),
            output,
            lines,
            _cwd: cwd,
        };
        let (mut stomp, mut http) = (None, None);
        while stomp.is_none() || http.is_none() {
            let line = p.next_line().await;
            match parse_listening(&line) {
                Some((l, a)) if l == "stomp" => stomp = Some(a),
                Some((l, a)) if l == "http" => http = Some(a),
                _ => {}
            }
        }
        p.stomp = stomp.expect("stomp address");
        p.http = http.expect("http address");
        p
    }

    /// The next line the process prints.
    pub async fn next_line(&mut self) -> String {
        match tokio::time::timeout(TIMEOUT, self.lines.recv()).await {
            Ok(Some(l)) => l,
            Ok(None) => panic!(
                "stompede exited; output:\n{}",
                self.output.lock().expect("output lock")
            ),
            Err(_) => panic!(
                "no output from stompede within {TIMEOUT:?}; so far:\n{}",
                self.output.lock().expect("output lock")
            ),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("process still running")
    }

    /// Sends SIGTERM with the `kill` command.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and waits for it to go.
    pub async fn kill9(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-KILL", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -KILL failed: {status}");
        let exit = self.wait_exit().await;
        assert!(!exit.success(), "killed broker reported success: {exit}");
    }

    /// Waits (with the timeout) for the process to exit.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        match tokio::time::timeout(TIMEOUT, self.child.wait()).await {
            Ok(s) => s.expect("wait for stompede"),
            Err(_) => panic!(
                "stompede did not exit within {TIMEOUT:?}; output:\n{}",
                self.output.lock().expect("output lock")
            ),
        }
    }

    /// A connected 1.2 frame client.
    pub async fn client(&self) -> Client {
        Client::connect(self.stomp, &[("accept-version", "1.2"), ("host", "/")]).await
    }
}

fn spawn_line_reader<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    r: R,
    output: std::sync::Arc<std::sync::Mutex<String>>,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut o) = output.lock() {
                o.push_str(&line);
                o.push('\n');
            }
            let _ = tx.send(line);
        }
    });
}

/// Runs the binary expecting it to exit on its own (e.g. a bad
/// configuration): (exit status, stdout + stderr).
pub async fn run_binary_to_exit(
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let cwd = TempDir::new("cwd");
    let out = tokio::time::timeout(TIMEOUT, binary_command(args, env, &cwd).output())
        .await
        .expect("stompede did not exit in time")
        .expect("run stompede");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

/// Source of unique receipt and transaction names for the helpers below.
static UNIQUE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn unique(prefix: &str) -> String {
    let n = UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{n}")
}

/// A frame's body as text.
pub fn body(f: &Frame) -> String {
    String::from_utf8_lossy(&f.body).into_owned()
}

impl TestBroker {
    /// A client connected with `accept-version:<version>` ("1.0", "1.1" or "1.2").
    pub async fn client_version(&self, version: &str) -> Client {
        let c = self
            .client_with(&[("accept-version", version), ("host", "/")])
            .await;
        assert_eq!(c.connected.header("version").unwrap_or("1.0"), version);
        c
    }
}

impl Client {
    /// Round-trips a frame with no effect (BEGIN and ABORT of a fresh
    /// transaction, each with a receipt) and returns every frame that arrived
    /// before the receipts. On return the broker has handled every frame this
    /// client sent before, and every MESSAGE a destination handed to this
    /// connection before the call started has been read.
    pub async fn ping_collect(&mut self) -> Vec<Frame> {
        let tx = unique("ping");
        let mut before = Vec::new();
        for cmd in [Command::Begin, Command::Abort] {
            let receipt = unique("ping-receipt");
            self.send(
                Frame::new(cmd)
                    .with_header("transaction", tx.as_str())
                    .with_header("receipt", receipt.as_str()),
            )
            .await;
            loop {
                let f = self.recv().await;
                if f.command == Command::Receipt && f.header("receipt-id") == Some(&receipt) {
                    break;
                }
                before.push(f);
            }
        }
        before
    }

    /// Like [`Client::ping_collect`], asserting nothing arrived before the receipts.
    pub async fn ping(&mut self) {
        let before = self.ping_collect().await;
        assert!(
            before.is_empty(),
            "unexpected frames before ping receipt: {before:?}"
        );
    }

    /// The next `n` frames, each of which must be a MESSAGE.
    pub async fn recv_messages(&mut self, n: usize) -> Vec<Frame> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.expect(Command::Message).await);
        }
        out
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

    /// SEND with a receipt: on return the destination has taken the message.
    pub async fn publish_sync(&mut self, destination: &str, body: &str, headers: &[(&str, &str)]) {
        let mut f = Frame::new(Command::Send)
            .with_header("destination", destination)
            .with_body(body.to_string());
        for (k, v) in headers {
            f = f.with_header(*k, *v);
        }
        let receipt = unique("send");
        self.send_with_receipt(f, &receipt).await;
    }

    /// ACK or NACK `msg` (version-appropriate) with a receipt, waiting for it.
    pub async fn settle_sync(&mut self, command: Command, msg: &Frame) {
        let f = self.ack_frame(command, msg);
        let receipt = unique("settle");
        self.send_with_receipt(f, &receipt).await;
    }

    /// Sends `frame` and expects an ERROR (then the close) whose `message`
    /// contains `needle`; returns the ERROR.
    pub async fn expect_error_after(&mut self, frame: Frame, needle: &str) -> Frame {
        self.send(frame).await;
        let e = self.expect_error().await;
        let msg = e.header("message").unwrap_or("");
        assert!(
            msg.contains(needle),
            "ERROR message {msg:?} does not mention {needle:?}"
        );
        e
    }
}

impl Client {
    /// SUBSCRIBE (with a receipt) where messages may already be waiting, so
    /// deliveries can come before the RECEIPT: returns the MESSAGEs read until
    /// both the receipt and at least `n` MESSAGEs have arrived.
    pub async fn subscribe_take(
        &mut self,
        destination: &str,
        id: &str,
        headers: &[(&str, &str)],
        n: usize,
    ) -> Vec<Frame> {
        let receipt = unique("sub");
        let mut f = Frame::new(Command::Subscribe)
            .with_header("destination", destination)
            .with_header("id", id)
            .with_header("receipt", receipt.as_str());
        for (k, v) in headers {
            f = f.with_header(*k, *v);
        }
        self.send(f).await;
        let mut msgs = Vec::new();
        let mut receipted = false;
        while !receipted || msgs.len() < n {
            let f = self.recv().await;
            match f.command {
                Command::Receipt if f.header("receipt-id") == Some(&receipt) => receipted = true,
                Command::Message => msgs.push(f),
                _ => panic!("unexpected frame while subscribing: {f:?}"),
            }
        }
        msgs
    }
}

// ---------------------------------------------------------------------------
// Helpers for the metrics tests: structured scrapes, waiting on a metric, and
// the outside programs (promtool, prometheus) they require.
// ---------------------------------------------------------------------------

/// One sample of a scrape: (name, labels sorted by name, value).
pub type Sample = (String, Vec<(String, String)>, f64);

/// One Prometheus text exposition, parsed.
pub struct Scrape {
    pub text: String,
    /// Every sample.
    pub samples: Vec<Sample>,
    /// `# TYPE` of each family.
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// Parses the text format (label values may contain escaped quotes).
    pub fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = HashMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                if let Some((n, t)) = rest.split_once(' ') {
                    types.insert(n.to_string(), t.to_string());
                }
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), Vec::new()),
                Some((n, rest)) => (n.to_string(), parse_labels(rest)),
            };
            samples.push((name, labels, value));
        }
        Scrape {
            text: text.to_string(),
            samples,
            types,
        }
    }

    /// The value of `name` with exactly these labels, if present.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|(_, _, v)| *v)
    }

    /// Like [`Scrape::get`], panicking with the family's lines when absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|| {
            let lines: Vec<&str> = self.text.lines().filter(|l| l.starts_with(name)).collect();
            panic!("no sample {name}{labels:?}; have:\n{}", lines.join("\n"))
        })
    }

    /// Whether some sample of `name` has label `key` = `value`.
    pub fn has_label(&self, name: &str, key: &str, value: &str) -> bool {
        self.samples
            .iter()
            .any(|(n, l, _)| n == name && l.iter().any(|(k, v)| k == key && v == value))
    }

    /// Every sample name.
    pub fn names(&self) -> std::collections::HashSet<String> {
        self.samples.iter().map(|(n, _, _)| n.clone()).collect()
    }
}

/// Parses `a="x",b="y\"z"}` (the part after `{`).
fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim_start_matches(',').to_string();
        if key.is_empty() || key == "}" {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label {key} value must be quoted");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((key, value));
        if chars.peek() == Some(&'}') {
            break;
        }
    }
    out.sort();
    out
}

impl TestBroker {
    /// GET /metrics (must answer 200), parsed.
    pub async fn scrape(&self) -> Scrape {
        let (status, body) = self.http_get("/metrics").await;
        assert_eq!(status, 200, "/metrics answered {status}: {body}");
        Scrape::parse(&body)
    }

    /// Scrapes until `ok` holds; panics naming `what` with the last scrape after [`TIMEOUT`].
    pub async fn scrape_until(&self, what: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let s = self.scrape().await;
            if ok(&s) {
                return s;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for {what}; last scrape:\n{}", s.text);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The path of an outside program a test needs. Panics — never skips — when
/// it is not on PATH, naming the Debian package that provides it.
pub fn require_program(name: &str, package: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is required by this test and is not on PATH: install it (apt-get install {package})")
        })
}

impl Client {
    /// Like `connect`, but `None` instead of a panic when the broker refuses
    /// (ERROR, close or reset): for polling until a connection is accepted.
    pub async fn connect_if_accepted(addr: SocketAddr, headers: &[(&str, &str)]) -> Option<Client> {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .ok()?
            .ok()?;
        let mut framed = Framed::new(stream, ClientCodec(StompCodec::new(Limits::default())));
        let mut f = Frame::new(Command::Connect);
        for (k, v) in headers {
            f = f.with_header(*k, *v);
        }
        framed.send(f).await.ok()?;
        let reply = loop {
            match tokio::time::timeout(TIMEOUT, framed.next()).await.ok()?? {
                Ok(Inbound::Heartbeat) => continue,
                Ok(Inbound::Frame(f)) => break f,
                Err(_) => return None,
            }
        };
        if reply.command != Command::Connected {
            return None;
        }
        let v = match reply.header("version") {
            Some("1.1") => Version::V1_1,
            Some("1.2") => Version::V1_2,
            _ => Version::V1_0,
        };
        framed.codec_mut().0.set_version(v);
        Some(Client {
            framed,
            version: v,
            connected: reply,
        })
    }
}

// ---------------------------------------------------------------------------
// Helpers for the WebSocket tests that run JavaScript (stomp.js in Node, the
// chat page in Chromium): the npm folder tests/browser and its packages.
// ---------------------------------------------------------------------------

/// tests/browser: package.json, lockfile, the Node scripts and (once
/// `npm ci --prefix tests/browser` ran) node_modules.
pub fn browser_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Panics — never skips — unless `node` is on PATH and each npm package in
/// `packages` is installed under tests/browser/node_modules.
pub fn require_node_packages(packages: &[&str]) -> std::path::PathBuf {
    let node = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("node"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`node` is required by this test and is not on PATH: run tests/setup.sh")
        });
    for p in packages {
        let manifest = browser_dir()
            .join("node_modules")
            .join(p)
            .join("package.json");
        assert!(
            manifest.is_file(),
            "npm package {p} is required by this test and is not installed in tests/browser: \
             run tests/setup.sh (or `npm ci --prefix tests/browser`)"
        );
    }
    node
}

/// Runs `node script args...` in tests/browser with a deadline; panics with
/// its output unless it exits 0 and prints OK.
pub async fn run_node_script(node: &std::path::Path, script: &str, args: &[&str], limit: Duration) {
    let run = tokio::process::Command::new(node)
        .arg(browser_dir().join(script))
        .args(args)
        .current_dir(browser_dir())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {limit:?}"))
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.lines().any(|l| l == "OK"),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

// ---------------------------------------------------------------------------
// Helpers for the durable-queue tests.
// ---------------------------------------------------------------------------

/// Long enough for a wrongly kept message to show up after a restart.
pub const QUIET: Duration = Duration::from_millis(300);

/// A SEND to `dest`, waiting for its RECEIPT.
pub async fn send_receipted(c: &mut Client, dest: &str, text: &str, persistent: bool) {
    let mut f = Frame::new(Command::Send)
        .with_header("destination", dest)
        .with_body(text.to_string());
    if persistent {
        f = f.with_header("persistent", "true");
    }
    c.send_with_receipt(f, &format!("r-{text}")).await;
}

/// `frame` with a receipt, returning the RECEIPT (or failing on anything else).
pub async fn with_receipt(c: &mut Client, frame: Frame, id: &str) {
    c.send_with_receipt(frame, id).await;
}

/// Subscribes to `dest` and reads exactly `bodies`, in order, then nothing more.
pub async fn expect_exactly(c: &mut Client, dest: &str, ack: &str, bodies: &[&str]) -> Vec<Frame> {
    c.subscribe_with(dest, dest, &[("ack", ack), ("prefetch-count", "100")])
        .await;
    let mut got = Vec::new();
    for want in bodies {
        let m = c.expect(Command::Message).await;
        assert_eq!(body(&m), *want, "{m:?}");
        got.push(m);
    }
    c.expect_nothing(QUIET).await;
    got
}
