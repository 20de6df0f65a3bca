//! STOMP over WebSocket (RFC 6455) for browser clients.
//!
//! The `Listener` accepts TCP connections on `listeners.websocket` and hands
//! each to [`accept`], which runs the upgrade handshake (path [`PATH`], origin
//! check, subprotocol negotiation) and returns a [`WsIo`]: the WebSocket as a
//! byte stream. The listener then starts the ordinary `Connection` actor on it
//! with transport label `"ws"`; nothing above the adapter knows the transport.

mod adapter;
pub mod handshake;

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

pub use adapter::WsIo;
pub use handshake::{PATH, SUBPROTOCOLS};

use crate::shared::Shared;

/// Room for the read buffer tungstenite allocates per connection up front:
/// most connections are idle, and larger messages grow it on demand.
const READ_BUFFER: usize = 8 * 1024;

/// The WebSocket limits for `shared`'s settings: one message, and one
/// WebSocket frame, may not exceed `limits.max_frame_size`.
pub fn config(shared: &Shared) -> WebSocketConfig {
    let max = shared.settings.limits.max_frame_size;
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// Runs the upgrade handshake on `stream` (bounded by `limits.connect_timeout_ms`).
/// `None` when it failed or was refused; the reason is logged here.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<WsIo<S>> {
    let ws = handshake_on(stream, peer, shared).await?;
    Some(WsIo::new(ws))
}

/// The whole HTTP response that refuses an upgrade over
/// `limits.max_connections` (`max`): 503 with `Retry-After`, sent at accept
/// without reading the request, so that a refusal costs no handshake and
/// holds no slot (a browser's STOMP client sees the WebSocket fail to open).
pub fn busy_response(max: usize) -> Vec<u8> {
    let body = format!("too many connections: the broker accepts at most {max}\n");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn handshake_on<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<WebSocketStream<S>> {
    let allowed = &shared.settings.websocket.allowed_origins;
    let mut agreed = None;
    // The shape of the error is tungstenite's (`Callback`), not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match handshake::check(req, resp, allowed) {
            Ok((resp, a)) => {
                agreed = Some(a);
                Ok(resp)
            }
            Err(refusal) => {
                tracing::warn!(peer = %peer, transport = "ws", reason = refusal.reason(), error = %refusal, "websocket handshake refused");
                Err(refusal.response())
            }
        }
    };
    let upgrade =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config(shared)));
    let ws = match tokio::time::timeout(shared.settings.connect_timeout(), upgrade).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer, transport = "ws", error = %e, "websocket handshake failed");
            return None;
        }
        Err(_) => {
            tracing::info!(peer = %peer, transport = "ws", "websocket handshake timed out");
            return None;
        }
    };
    let agreed = agreed.unwrap_or_default();
    tracing::debug!(
        peer = %peer,
        transport = "ws",
        subprotocol = agreed.subprotocol.unwrap_or(""),
        origin = agreed.origin.as_deref().unwrap_or(""),
        "websocket handshake accepted"
    );
    Some(ws)
}
