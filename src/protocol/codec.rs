//! `StompCodec`: a resumable tokio-util Decoder/Encoder for STOMP 1.0–1.2.
//! (Interface only; the implementation is being written.)

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{Frame, ProtocolError, Version};

/// Size bounds the decoder enforces while reading, before buffering more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole frame (command, headers and body) in bytes.
    pub max_frame_size: usize,
    /// Most headers in one frame.
    pub max_headers: usize,
    /// Longest header line in bytes (name, colon and value, before unescaping).
    pub max_header_line: usize,
    /// Longest command line in bytes.
    pub max_command_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: 4 * 1024 * 1024,
            max_headers: 100,
            max_header_line: 8 * 1024,
            max_command_len: 32,
        }
    }
}

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A complete frame.
    Frame(Frame),
    /// One or more EOLs between frames: a heart-beat.
    Heartbeat,
}

/// What the encoder writes.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Any frame; headers are escaped per the codec's version unless the
    /// command is CONNECT, STOMP or CONNECTED.
    Frame(Frame),
    /// A MESSAGE built from per-delivery headers (subscription, message-id, ack…)
    /// followed by headers shared by every delivery of the same message.
    Message {
        delivery: Vec<(&'static str, String)>,
        shared: Arc<[(String, String)]>,
        body: Bytes,
    },
    /// A heart-beat: a single LF.
    Heartbeat,
}

/// Resumable STOMP codec. See the module docs.
#[derive(Debug)]
pub struct StompCodec {
    limits: Limits,
    version: Option<Version>,
}

impl StompCodec {
    /// A codec that enforces `limits`; headers are not unescaped until a
    /// version is set.
    pub fn new(limits: Limits) -> Self {
        StompCodec {
            limits,
            version: None,
        }
    }

    /// Sets the negotiated version, which decides header escaping.
    pub fn set_version(&mut self, version: Version) {
        self.version = Some(version);
    }
}

impl Decoder for StompCodec {
    type Item = Inbound;
    type Error = ProtocolError;

    fn decode(&mut self, _src: &mut BytesMut) -> Result<Option<Inbound>, ProtocolError> {
        let _ = self.limits;
        todo!()
    }
}

impl Encoder<Outbound> for StompCodec {
    type Error = ProtocolError;

    fn encode(&mut self, _item: Outbound, _dst: &mut BytesMut) -> Result<(), ProtocolError> {
        todo!()
    }
}
