//! The frames only a server sends about the client's own frames: RECEIPT and
//! ERROR. Built here, once, so every transport and actor writes them alike.

use bytes::Bytes;

use super::{Command, Frame, Version};

/// The content type of every ERROR body. The charset is spelled out because
/// some clients (stompit 1.0) fail on a bare `text/plain`.
pub const ERROR_CONTENT_TYPE: &str = "text/plain;charset=utf-8";

/// Longest `message` header of an ERROR frame, in bytes: messages quote
/// client bytes (commands, header values), which may be kilobytes long.
pub const MAX_ERROR_MESSAGE: usize = 512;

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
/// `message` goes through [`sanitize_message`], since it may quote client bytes.
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
    frame = frame.with_header("message", sanitize_message(&message.into()));
    if let Some(r) = receipt_id {
        frame = frame.with_header("receipt-id", r);
    }
    frame = frame.with_header("content-type", ERROR_CONTENT_TYPE);
    if let ErrorVersion::Negotiated(v) = version {
        frame = frame.with_header("version", v.as_str());
    }
    frame.with_body(detail)
}

/// `message` made safe to send as a header value in any version, escaped or
/// not: control characters (NUL, CR, LF, ESC…) are written as `\xNN` (or
/// `\u{N}` beyond Latin-1), and the result is cut to [`MAX_ERROR_MESSAGE`]
/// bytes, ending in `…` when cut. Every ERROR's `message` passes here, so no
/// quoted client byte can end the frame early or forge a header line.
pub fn sanitize_message(message: &str) -> String {
    const ELLIPSIS: char = '…';
    let mut out = String::with_capacity(message.len().min(MAX_ERROR_MESSAGE));
    // Where to cut if the rest does not fit: after the last whole character
    // (or escape) that leaves room for the ellipsis.
    let mut cut = 0;
    for c in message.chars() {
        if c.is_control() {
            let n = u32::from(c);
            if n < 0x100 {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:x}}}"));
            }
        } else {
            out.push(c);
        }
        if out.len() > MAX_ERROR_MESSAGE {
            out.truncate(cut);
            out.push(ELLIPSIS);
            break;
        }
        if out.len() + ELLIPSIS.len_utf8() <= MAX_ERROR_MESSAGE {
            cut = out.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_made_visible() {
        assert_eq!(sanitize_message("a\0b\nc\r\x1b"), "a\\x00b\\x0ac\\x0d\\x1b");
        assert_eq!(sanitize_message("\u{85}é"), "\\x85é");
        assert_eq!(sanitize_message("plain 'text'"), "plain 'text'");
    }

    #[test]
    fn long_messages_are_cut_with_an_ellipsis() {
        let exact = "x".repeat(MAX_ERROR_MESSAGE);
        assert_eq!(sanitize_message(&exact), exact);
        let cut = sanitize_message(&"é".repeat(MAX_ERROR_MESSAGE));
        assert!(cut.len() <= MAX_ERROR_MESSAGE, "{}", cut.len());
        assert!(cut.ends_with('…'));
        let escaped = sanitize_message(&"\0".repeat(MAX_ERROR_MESSAGE));
        assert!(escaped.len() <= MAX_ERROR_MESSAGE && escaped.ends_with('…'));
    }

    #[test]
    fn error_frames_carry_the_sanitized_message() {
        let f = error_frame("bad 'F\0O'", "", None, ErrorVersion::None);
        assert_eq!(f.header("message"), Some("bad 'F\\x00O'"));
    }
}
