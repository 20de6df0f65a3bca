//! Starting an accepted connection on its worker arbiter: the TLS
//! handshake (for `stomp_tls` and `websocket_tls`) and the WebSocket upgrade
//! (for both WebSocket ports) run first, each within
//! `limits.connect_timeout_ms`; then the `Connection` actor starts, and the
//! listener is told (`Registered`), or told the slot is free again
//! (`ConnectionClosed`) when a handshake failed.

use std::net::SocketAddr;
use std::sync::Arc;

use actix::Addr;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::{ConnectionClosed, Listener, Registered};
use crate::connection::Connection;
use crate::model::Transport;
use crate::shared::Shared;
use crate::websocket;

/// Runs `transport`'s handshakes on `stream`, then starts its connection.
pub(super) async fn start(
    id: u64,
    transport: Transport,
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    listener: Addr<Listener>,
) {
    let started = if transport.is_tls() {
        match tls_handshake(stream, peer, &shared).await {
            Some((tls, login)) => launch(id, transport, tls, peer, login, shared, &listener).await,
            None => None,
        }
    } else {
        launch(id, transport, stream, peer, None, shared, &listener).await
    };
    match started {
        Some(addr) => listener.do_send(Registered { id, addr }),
        None => listener.do_send(ConnectionClosed { id }),
    }
}

async fn launch<S>(
    id: u64,
    transport: Transport,
    io: S,
    peer: SocketAddr,
    certificate_login: Option<String>,
    shared: Arc<Shared>,
    listener: &Addr<Listener>,
) -> Option<Addr<Connection>>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let me = listener.clone().recipient();
    if transport.is_websocket() {
        let ws = websocket::accept(io, peer, &shared).await?;
        return Some(Connection::start_as(
            id,
            ws,
            peer,
            transport,
            certificate_login,
            shared,
            me,
        ));
    }
    Some(Connection::start_as(
        id,
        io,
        peer,
        transport,
        certificate_login,
        shared,
        me,
    ))
}

/// The TLS handshake with the certificates current now; the client
/// certificate's common name, if one was presented and verified.
async fn tls_handshake(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<(TlsStream<TcpStream>, Option<String>)> {
    let config = shared.tls.load_full()?;
    let accept = TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(shared.settings.connect_timeout(), accept).await {
        Ok(Ok(tls)) => {
            let login = crate::tls::certificate_login(tls.get_ref().1);
            Some((tls, login))
        }
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(peer = %peer, "TLS handshake timed out");
            None
        }
    }
}
