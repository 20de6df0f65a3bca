//! `WsIo`: a WebSocket connection seen as a byte stream, so the same
//! `Connection` actor (codec, heart-beats, limits) serves TCP and WebSocket.
//!
//! Inbound, the payloads of text and binary messages are concatenated into
//! one byte stream for the incremental codec: a frame split over several
//! messages and several frames in one message both decode. Ping is answered
//! by tungstenite while reading; Close is answered and reads as end of
//! stream. A text message that is not UTF-8 is refused with Close 1007 and
//! a message over the size limit with Close 1009 (the
//! connection's reader takes any read error as the end of the stream, so the
//! refusal is the WebSocket's own; a STOMP frame over the limit, however it
//! is split into messages, gets the codec's ERROR frame as on TCP).
//!
//! Outbound, bytes written are collected until `flush`, and each flush sends
//! them as one message. The connection's writer flushes once per chunk of
//! whole frames, so a message never ends inside a frame. The message is text
//! when the chunk is valid UTF-8 (what browsers and stomp.js read most
//! simply) and binary otherwise (a body that is not UTF-8 must arrive byte
//! for byte).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Utf8Bytes};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// An accepted WebSocket connection as `AsyncRead + AsyncWrite`.
pub struct WsIo<S = TcpStream> {
    ws: WebSocketStream<S>,
    /// The unread rest of the last message received.
    inbound: Bytes,
    /// Bytes written since the last flush: the next message.
    outbound: BytesMut,
    close_sent: bool,
    read_ended: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsIo<S> {
    /// Wraps a stream whose handshake is complete.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        WsIo {
            ws,
            inbound: Bytes::new(),
            outbound: BytesMut::new(),
            close_sent: false,
            read_ended: false,
        }
    }

    /// Answers a read error with the matching Close frame (best effort: the
    /// connection ends right after) and returns it as an I/O error.
    fn read_error(&mut self, e: WsError, cx: &mut Context<'_>) -> io::Error {
        let (code, reason) = match &e {
            WsError::Capacity(CapacityError::MessageTooLong { max_size, .. }) => (
                CloseCode::Size,
                format!("message larger than {max_size} bytes"),
            ),
            WsError::Capacity(_) => (CloseCode::Size, "message too large".to_string()),
            WsError::Protocol(_) => (CloseCode::Protocol, "protocol error".to_string()),
            // RFC 6455 requires failing the connection; 1007 with a hint
            // tells clients that send every frame as text (stomp.py's
            // default) why a non-UTF-8 body ended it.
            WsError::Utf8(_) => (
                CloseCode::Invalid,
                "text message is not UTF-8; send binary messages for binary bodies".to_string(),
            ),
            WsError::Io(_) => return to_io(e),
            // Only the broker's own failures are 1011; none of the rest can
            // come from reading a server socket, but say what we know.
            _ => (CloseCode::Error, String::new()),
        };
        tracing::debug!(error = %e, "websocket read refused");
        if !self.close_sent && self.ws().poll_ready(cx).is_ready() {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            if self.ws().start_send(Message::Close(Some(frame))).is_ok() {
                self.close_sent = true;
                let _ = self.ws().poll_flush(cx);
            }
        }
        to_io(e)
    }

    fn message(chunk: Bytes) -> Message {
        match Utf8Bytes::try_from(chunk.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(chunk),
        }
    }

    fn ws(&mut self) -> Pin<&mut WebSocketStream<S>> {
        Pin::new(&mut self.ws)
    }
}

fn to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        loop {
            if !me.inbound.is_empty() {
                let n = me.inbound.len().min(buf.remaining());
                buf.put_slice(&me.inbound[..n]);
                me.inbound.advance(n);
                return Poll::Ready(Ok(()));
            }
            if me.read_ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(me.ws().poll_next(cx)) {
                Some(Ok(Message::Text(text))) => me.inbound = Bytes::from(text),
                Some(Ok(Message::Binary(data))) => me.inbound = data,
                // tungstenite queues the pong itself and sends it on the next read or write.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => {
                    // tungstenite has queued the Close reply; send it before
                    // the connection drops the socket.
                    me.close_sent = true;
                    let _ = me.ws().poll_flush(cx);
                    me.read_ended = true;
                }
                None => me.read_ended = true,
                Some(Err(e)) => {
                    me.read_ended = true;
                    return Poll::Ready(Err(me.read_error(e, cx)));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().outbound.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let mut n = 0;
        for b in bufs {
            me.outbound.extend_from_slice(b);
            n += b.len();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if !me.outbound.is_empty() {
            ready!(me.ws().poll_ready(cx)).map_err(to_io)?;
            let chunk = me.outbound.split().freeze();
            me.ws().start_send(Self::message(chunk)).map_err(to_io)?;
        }
        me.ws().poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(Pin::new(&mut *me).poll_flush(cx))?;
        if !me.close_sent {
            ready!(me.ws().poll_ready(cx)).map_err(to_io)?;
            let frame = CloseFrame {
                code: CloseCode::Normal,
                reason: Utf8Bytes::from_static(""),
            };
            me.ws()
                .start_send(Message::Close(Some(frame)))
                .map_err(to_io)?;
            me.close_sent = true;
        }
        me.ws().poll_close(cx).map_err(to_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_chunks_go_as_text_others_as_binary() {
        assert!(matches!(
            WsIo::<TcpStream>::message(Bytes::from_static(b"MESSAGE\n\nhi\0")),
            Message::Text(_)
        ));
        assert!(matches!(
            WsIo::<TcpStream>::message(Bytes::from_static(b"MESSAGE\n\n\xff\0")),
            Message::Binary(_)
        ));
    }
}
