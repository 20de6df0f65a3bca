//! TLS listeners: STOMP over TLS and wss with certificates made at test time
//! (rcgen), a client trusting another CA refused, TLS below 1.2 refused,
//! mutual TLS where the certificate's common name is the login, and SIGHUP
//! reloading the certificate and users with an open connection kept.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use common::*;
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use stompede::protocol::{Command, Frame, Inbound, Limits, Outbound, StompCodec};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::{Encoder, Framed};

/// A certificate authority made for one test.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("ca cert");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM) for `names`, common name `cn`.
    fn issue(&self, cn: &str, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.pem.as_bytes()).expect("ca pem"))
            .expect("add root");
        roots
    }
}

// Deprecated from rustls 0.23.48 on, as in src/tls.rs.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(ca: &Ca, client: Option<&(String, String)>) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(ca.roots());
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
            )
            .expect("client cert"),
    };
    Arc::new(config)
}

async fn tls(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(TIMEOUT, TlsConnector::from(config).connect(name, tcp))
        .await
        .expect("TLS handshake timed out")
}

/// A STOMP frame client over any byte stream.
struct Stomp<S> {
    framed: Framed<S, ClientCodec>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stomp<S> {
    async fn connect(io: S, headers: &[(&str, &str)]) -> (Stomp<S>, Frame) {
        let mut s = Stomp {
            framed: Framed::new(io, ClientCodec(StompCodec::new(Limits::default()))),
        };
        let mut f = Frame::new(Command::Connect)
            .with_header("accept-version", "1.2")
            .with_header("host", "/");
        for (k, v) in headers {
            f = f.with_header(*k, *v);
        }
        s.send(f).await;
        let reply = s.recv().await;
        s.framed
            .codec_mut()
            .0
            .set_version(stompede::protocol::Version::V1_2);
        (s, reply)
    }

    async fn send(&mut self, f: Frame) {
        self.framed.send(f).await.expect("send");
    }

    async fn recv(&mut self) -> Frame {
        loop {
            match tokio::time::timeout(TIMEOUT, self.framed.next()).await {
                Ok(Some(Ok(Inbound::Frame(f)))) => return f,
                Ok(Some(Ok(Inbound::Heartbeat))) => continue,
                other => panic!("no frame: {other:?}"),
            }
        }
    }

    /// SEND with a receipt and wait for it.
    async fn send_receipted(&mut self, dest: &str, text: &str) {
        self.send(
            Frame::new(Command::Send)
                .with_header("destination", dest)
                .with_header("receipt", "r")
                .with_body(text.to_string()),
        )
        .await;
        let r = self.recv().await;
        assert_eq!(r.command, Command::Receipt, "{r:?}");
    }
}

/// Writes the server's certificate files into `dir`; returns the config TOML.
fn tls_config(
    dir: &TempDir,
    server: &(String, String),
    client_ca: Option<&Ca>,
    extra: &str,
) -> String {
    let cert = dir.write("server.pem", &server.0);
    let key = dir.write("server.key", &server.1);
    let ca = match client_ca {
        Some(ca) => dir.write("clients.pem", &ca.pem).display().to_string(),
        None => String::new(),
    };
    format!(
        "[listeners]\nstomp_tls = \"127.0.0.1:0\"\nwebsocket_tls = \"127.0.0.1:0\"\n\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nclient_ca_file = \"{ca}\"\n{extra}",
        cert.display(),
        key.display()
    )
}

fn server_cert(ca: &Ca) -> (String, String) {
    ca.issue("stompede test", &["localhost", "127.0.0.1"])
}

#[tokio::test]
async fn stomp_over_tls_works_and_another_ca_is_refused() {
    let ca = Ca::new("test ca");
    let dir = TempDir::new("tls");
    let broker = TestBroker::with_config(&tls_config(&dir, &server_cert(&ca), None, ""), &[]);
    let addr = broker.handle.addrs.stomp_tls.expect("stomp_tls bound");

    let io = tls(addr, client_config(&ca, None))
        .await
        .expect("handshake");
    let (mut a, reply) = Stomp::connect(io, &[]).await;
    assert_eq!(reply.command, Command::Connected, "{reply:?}");
    a.send(
        Frame::new(Command::Subscribe)
            .with_header("destination", "/queue/tls")
            .with_header("id", "1")
            .with_header("receipt", "s"),
    )
    .await;
    assert_eq!(a.recv().await.command, Command::Receipt);
    a.send_receipted("/queue/tls", "secret stuff").await;
    let m = a.recv().await;
    assert_eq!(m.command, Command::Message);
    assert_eq!(body(&m), "secret stuff");
    let scrape = broker.scrape().await;
    assert_eq!(
        scrape.value("stompede_connections_opened_total", &[("transport", "tls")]),
        1.0
    );

    let stranger = Ca::new("other ca");
    let refused = tls(addr, client_config(&stranger, None)).await;
    assert!(
        refused.is_err(),
        "a client trusting another CA completed the handshake"
    );
}

#[tokio::test]
async fn tls_1_2_is_accepted_and_1_1_refused() {
    let ca = Ca::new("test ca");
    let dir = TempDir::new("tls");
    let broker = TestBroker::with_config(&tls_config(&dir, &server_cert(&ca), None, ""), &[]);
    let addr = broker.handle.addrs.stomp_tls.expect("stomp_tls bound");

    let only_1_2 = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("1.2")
        .with_root_certificates(ca.roots())
        .with_no_client_auth();
    let io = tls(addr, Arc::new(only_1_2))
        .await
        .expect("TLS 1.2 handshake");
    assert_eq!(
        io.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let (_c, reply) = Stomp::connect(io, &[]).await;
    assert_eq!(reply.command, Command::Connected);

    // rustls cannot speak TLS 1.1, so the ClientHello is written by hand;
    // the same hello saying 1.2 gets a ServerHello, so only the version differs.
    assert_eq!(
        hello_reply(addr, [0x03, 0x03]).await.first(),
        Some(&0x16),
        "1.2 hello"
    );
    let reply = hello_reply(addr, [0x03, 0x02]).await;
    // An alert (0x15): protocol_version (70).
    assert_eq!(reply.first(), Some(&0x15), "{reply:02x?}");
    assert_eq!(reply.last(), Some(&70), "{reply:02x?}");
}

/// Sends a ClientHello of `version` (no supported_versions extension, so
/// that is the version offered) and returns the first bytes of the answer.
async fn hello_reply(addr: SocketAddr, version: [u8; 2]) -> Vec<u8> {
    let mut hello = version.to_vec();
    hello.extend_from_slice(&[7u8; 32]); // random
    hello.push(0); // no session id
                   // ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-ECDSA-AES128-SHA
    hello.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x09]);
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    let extensions: Vec<u8> = [
        // supported_groups: x25519, secp256r1
        &[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17][..],
        // ec_point_formats: uncompressed
        &[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00],
        // signature_algorithms: ecdsa_secp256r1_sha256
        &[0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03],
    ]
    .concat();
    hello.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    hello.extend_from_slice(&extensions);
    let mut handshake = vec![0x01, 0x00];
    handshake.extend_from_slice(&(hello.len() as u16).to_be_bytes());
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(&record).await.expect("write hello");
    let mut reply = vec![0u8; 7];
    tokio::time::timeout(TIMEOUT, tcp.read_exact(&mut reply))
        .await
        .expect("the broker answers")
        .expect("read answer");
    reply
}

#[tokio::test]
async fn wss_carries_stomp() {
    let ca = Ca::new("test ca");
    let dir = TempDir::new("tls");
    let broker = TestBroker::with_config(&tls_config(&dir, &server_cert(&ca), None, ""), &[]);
    let addr = broker
        .handle
        .addrs
        .websocket_tls
        .expect("websocket_tls bound");
    let io = tls(addr, client_config(&ca, None))
        .await
        .expect("handshake");
    let mut req = "wss://localhost/ws".into_client_request().expect("request");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "v12.stomp".parse().expect("header"),
    );
    let (mut ws, resp) = tokio_tungstenite::client_async(req, io)
        .await
        .expect("upgrade over TLS");
    assert_eq!(resp.status(), 101);
    let mut buf = BytesMut::new();
    StompCodec::new(Limits::default())
        .encode(
            Outbound::Frame(Frame::new(Command::Connect).with_header("accept-version", "1.2")),
            &mut buf,
        )
        .expect("encode");
    ws.send(Message::binary(buf.freeze())).await.expect("send");
    let reply = loop {
        match tokio::time::timeout(TIMEOUT, ws.next()).await {
            Ok(Some(Ok(m @ (Message::Text(_) | Message::Binary(_))))) => break m.into_data(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no reply: {other:?}"),
        }
    };
    assert!(
        reply.starts_with(b"CONNECTED\n"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
}

/// The client always gets its ERROR over TLS too (tests/error_before_close.rs
/// has the plain cases): a 1 MiB header line in one write, on a link whose
/// send buffer cannot absorb it, is answered with the ERROR and then
/// close_notify, not a reset.
#[tokio::test]
async fn a_huge_header_over_tls_gets_its_error_then_close_notify() {
    let ca = Ca::new("test ca");
    let dir = TempDir::new("tls");
    let broker = TestBroker::with_config(&tls_config(&dir, &server_cert(&ca), None, ""), &[]);
    let addr = broker.handle.addrs.stomp_tls.expect("stomp_tls bound");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(8 * 1024).expect("SO_SNDBUF");
    let tcp = socket.connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut io = TlsConnector::from(client_config(&ca, None))
        .connect(name, tcp)
        .await
        .expect("handshake");
    let mut frame = b"CONNECT\naccept-version:1.2\nhost:/\nx-huge:".to_vec();
    frame.resize(1024 * 1024, b'h');
    frame.extend_from_slice(b"\n\n\0");
    tokio::time::timeout(TIMEOUT, io.write_all(&frame))
        .await
        .expect("the broker stopped reading")
        .unwrap_or_else(|e| panic!("the broker reset the connection during the write: {e}"));
    let mut got = Vec::new();
    tokio::time::timeout(TIMEOUT, io.read_to_end(&mut got))
        .await
        .expect("the broker did not close in time")
        .unwrap_or_else(|e| panic!("the ERROR was followed by {e}, not close_notify"));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("ERROR\n"), "{text}");
    assert!(
        text.contains("message:header line longer than 10240 bytes\n"),
        "{text}"
    );
}

const MUTUAL: &str = r#"
require_client_cert = true

[auth]
anonymous = false
users = [{ login = "alice", groups = ["users"] }]
acl = [{ destination = "/queue/inbox.{login}", read = ["users"], write = ["users"] }]
"#;

#[tokio::test]
async fn a_client_certificate_names_the_login() {
    let ca = Ca::new("test ca");
    let dir = TempDir::new("tls");
    let broker =
        TestBroker::with_config(&tls_config(&dir, &server_cert(&ca), Some(&ca), MUTUAL), &[]);
    let addr = broker.handle.addrs.stomp_tls.expect("stomp_tls bound");
    let alice = ca.issue("alice", &["alice.example"]);

    let io = tls(addr, client_config(&ca, Some(&alice)))
        .await
        .expect("handshake");
    // No login or passcode: the certificate is the credential.
    let (mut c, reply) = Stomp::connect(io, &[]).await;
    assert_eq!(reply.command, Command::Connected, "{reply:?}");
    // `{login}` is the certificate's common name.
    c.send_receipted("/queue/inbox.alice", "mine").await;
    c.send(
        Frame::new(Command::Send)
            .with_header("destination", "/queue/inbox.bob")
            .with_body("x"),
    )
    .await;
    let e = c.recv().await;
    assert_eq!(e.command, Command::Error);
    assert_eq!(
        e.header("message"),
        Some("permission denied: SEND to '/queue/inbox.bob'")
    );

    // A login header that is not the certificate's is refused.
    let io = tls(addr, client_config(&ca, Some(&alice)))
        .await
        .expect("handshake");
    let (_c, reply) = Stomp::connect(io, &[("login", "bob")]).await;
    assert_eq!(reply.command, Command::Error, "{reply:?}");

    // Without a certificate there is no handshake at all.
    let mut no_cert = tls(addr, client_config(&ca, None)).await;
    if let Ok(io) = &mut no_cert {
        // TLS 1.3 reports the refusal on the first read.
        let mut b = [0u8; 1];
        let _ = io.write_all(b"CONNECT\n\n\0").await;
        let read = tokio::time::timeout(TIMEOUT, io.read(&mut b))
            .await
            .expect("answer");
        assert!(
            !matches!(read, Ok(n) if n > 0),
            "a client without a certificate was served"
        );
    }
    // A certificate from another CA is refused too.
    let forged = Ca::new("forger").issue("alice", &["alice.example"]);
    let mut forged_io = tls(addr, client_config(&ca, Some(&forged))).await;
    if let Ok(io) = &mut forged_io {
        let mut b = [0u8; 1];
        let _ = io.write_all(b"CONNECT\n\n\0").await;
        let read = tokio::time::timeout(TIMEOUT, io.read(&mut b))
            .await
            .expect("answer");
        assert!(
            !matches!(read, Ok(n) if n > 0),
            "a forged certificate was served"
        );
    }
}

#[tokio::test]
async fn sighup_reloads_certificate_and_users_keeping_open_connections() {
    let ca = Ca::new("test ca");
    let dir = TempDir::new("tls");
    let first = server_cert(&ca);
    let users = |list: &str| {
        format!("\n[auth]\nanonymous = false\nfailure_delay_ms = 0\nusers = [{list}]\n")
    };
    let path = dir.write(
        "stompede.toml",
        &tls_config(
            &dir,
            &first,
            None,
            &users(r#"{ login = "old", passcode = "pw" }"#),
        ),
    );
    let mut broker = BrokerProcess::start(&["--config", path.to_str().expect("utf-8")], &[]).await;
    let addr = loop {
        if let Some((l, a)) = parse_listening(&strip_ansi(&broker.next_line().await)) {
            if l == "stomp_tls" {
                break a;
            }
        }
    };
    let peer_cert = |io: &TlsStream<TcpStream>| {
        io.get_ref()
            .1
            .peer_certificates()
            .expect("server certificate")[0]
            .to_vec()
    };
    let io = tls(addr, client_config(&ca, None))
        .await
        .expect("handshake");
    assert_eq!(
        peer_cert(&io),
        CertificateDer::from_pem_slice(first.0.as_bytes())
            .expect("pem")
            .to_vec()
    );
    let (mut open, reply) = Stomp::connect(io, &[("login", "old"), ("passcode", "pw")]).await;
    assert_eq!(reply.command, Command::Connected, "{reply:?}");

    let second = server_cert(&ca);
    dir.write(
        "stompede.toml",
        &tls_config(
            &dir,
            &second,
            None,
            &users(r#"{ login = "new", passcode = "pw2" }"#),
        ),
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &broker.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    loop {
        let line = strip_ansi(&broker.next_line().await);
        assert!(!line.contains("reload failed"), "{line}");
        if line.contains("reloaded") {
            break;
        }
    }
    let io = tls(addr, client_config(&ca, None))
        .await
        .expect("handshake");
    assert_eq!(
        peer_cert(&io),
        CertificateDer::from_pem_slice(second.0.as_bytes())
            .expect("pem")
            .to_vec()
    );
    let (_n, reply) = Stomp::connect(io, &[("login", "new"), ("passcode", "pw2")]).await;
    assert_eq!(
        reply.command,
        Command::Connected,
        "new user after reload: {reply:?}"
    );
    let io = tls(addr, client_config(&ca, None))
        .await
        .expect("handshake");
    let (_o, reply) = Stomp::connect(io, &[("login", "old"), ("passcode", "pw")]).await;
    assert_eq!(
        reply.command,
        Command::Error,
        "removed user after reload: {reply:?}"
    );
    // The connection opened before the reload still works.
    open.send_receipted("/queue/after-reload", "still here")
        .await;
    broker.terminate();
    broker.wait_exit().await;
}

#[tokio::test]
async fn a_missing_certificate_stops_the_start_naming_the_file() {
    let dir = TempDir::new("tls");
    let missing = dir.path.join("nope.pem");
    let missing = missing.to_str().expect("utf-8");
    let (status, text) = run_binary_to_exit(
        &[],
        &[
            ("STOMPEDE__LISTENERS__STOMP_TLS", "127.0.0.1:0"),
            ("STOMPEDE__TLS__CERT_FILE", missing),
            ("STOMPEDE__TLS__KEY_FILE", missing),
        ],
    )
    .await;
    assert!(!status.success(), "{text}");
    assert!(text.contains(missing), "{text}");
}
