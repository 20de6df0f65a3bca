//! The frames only a server sends about the client's own frames: RECEIPT and
//! ERROR. Built here, once, so every transport and actor writes them alike.

use bytes::Bytes;

use super::{Command, Frame, Version};

/// The content type of every ERROR body. The charset is spelled out because
/// some clients (stompit 1.0) fail on a bare `text/plain`.
pub const ERROR_CONTENT_TYPE: &str = "text/plain;charset=utf-8";

/// A RECEIPT for the client frame that asked for `receipt_id`.
pub fn receipt_frame(receipt_id: impl Into<String>) -> Frame {
    Frame::new(Command::Receipt).with_header("receipt-id", receipt_id)
}

/// Where an ERROR frame states protocol versions, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorVersion {
    /// Before the handshake: no `version` header.
    None,
    /// After the handshake: the negotiated version.
    Negotiated(Version),
    /// A failed negotiation: every version the broker speaks, as the spec asks.
    Supported,
}

/// An ERROR frame: `message` says what was wrong in a line, `detail` (the
/// body) explains; `receipt_id` answers the offending frame's `receipt`.
pub fn error_frame(
    message: impl Into<String>,
    detail: impl Into<Bytes>,
    receipt_id: Option<String>,
    version: ErrorVersion,
) -> Frame {
    let mut frame = Frame::new(Command::Error);
    if version == ErrorVersion::Supported {
        frame = frame.with_header("version", Version::supported_list());
    }
    frame = frame.with_header("message", message);
    if let Some(r) = receipt_id {
        frame = frame.with_header("receipt-id", r);
    }
    frame = frame.with_header("content-type", ERROR_CONTENT_TYPE);
    if let ErrorVersion::Negotiated(v) = version {
        frame = frame.with_header("version", v.as_str());
    }
    frame.with_body(detail)
}
