//! Refusing a connection over `limits.max_connections` or
//! `limits.max_connections_per_ip`, at accept and for every transport alike:
//! the refusal is written at once (a STOMP ERROR on TCP, an HTTP 503 on the
//! WebSocket port, with no upgrade handshake; on the TLS ports, where no
//! handshake has run, the socket is only closed), and the socket is gone
//! within twice `limits.close_linger_ms`, whatever the client does: the
//! write may take that long, then the linger of every close
//! (`connection/linger.rs`) reads what the client sends meanwhile.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::Encoder;

use crate::connection::linger::{self, Linger};
use crate::model::Transport;
use crate::protocol::{error_frame, Command, ErrorReason, ErrorVersion, Outbound, StompCodec};
use crate::shared::Shared;
use crate::websocket;

/// Which bound a refused connection hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bound {
    /// `limits.max_connections`.
    Total,
    /// `limits.max_connections_per_ip`.
    PerAddress,
}

/// Tells the client on `stream` that the broker is full, then closes it.
/// `log` is `Some(refusals not logged since the last line)` when this one
/// may be logged: a flood of refusals must not become a flood of log lines.
pub(super) fn refuse(
    shared: &Arc<Shared>,
    transport: Transport,
    stream: TcpStream,
    peer: SocketAddr,
    bound: Bound,
    log: Option<u64>,
) {
    let (max, message, whom) = match bound {
        Bound::Total => (
            shared.settings.limits.max_connections,
            "too many connections",
            "",
        ),
        Bound::PerAddress => (
            shared.settings.limits.max_connections_per_ip,
            "too many connections from this address",
            " from one address",
        ),
    };
    if let Some(not_logged) = log {
        tracing::warn!(
            peer = %peer,
            transport = transport.label(),
            max,
            not_logged,
            "connection refused: {message} (logged at most once per {}s)",
            super::LOG_INTERVAL.as_secs()
        );
    }
    shared
        .metrics
        .connections_refused
        .with_label_values(&[transport.label()])
        .inc();
    let refusal = match transport {
        // No TLS handshake has run: nothing readable can be said.
        Transport::Tls | Transport::Wss => Vec::new(),
        Transport::Tcp => {
            shared
                .metrics
                .errors
                .with_label_values(&[ErrorReason::ConnectionLimit.label()])
                .inc();
            shared.metrics.frame_sent(Command::Error).inc();
            let frame = error_frame(
                message,
                format!("the broker accepts at most {max} connections{whom}"),
                None,
                ErrorVersion::None,
            );
            let mut buf = BytesMut::new();
            let _ = StompCodec::new(shared.settings.codec_limits())
                .encode(Outbound::Frame(frame), &mut buf);
            buf.to_vec()
        }
        Transport::Ws => websocket::busy_response(max),
    };
    actix_rt::spawn(say_and_close(stream, refusal, Linger::of(shared)));
}

async fn say_and_close(mut stream: TcpStream, refusal: Vec<u8>, linger: Linger) {
    let said = async {
        stream.write_all(&refusal).await?;
        stream.shutdown().await
    };
    // A client that does not read cannot hold the socket: the write is bounded too.
    if let Ok(Ok(())) = tokio::time::timeout(linger.time, said).await {
        linger::discard(&mut stream, std::future::ready(()), linger).await;
    }
}
