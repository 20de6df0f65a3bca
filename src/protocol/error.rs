//! Errors found in bytes from a client: each becomes an ERROR frame, then a close.

use thiserror::Error;

/// A malformed or over-limit frame. The `Display` text is what goes into the
/// ERROR frame's `message` header, so it must say what was wrong.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("unknown command '{0}'")]
    UnknownCommand(String),
    #[error("command line longer than {limit} bytes")]
    CommandTooLong { limit: usize },
    #[error("too many headers (limit {limit})")]
    TooManyHeaders { limit: usize },
    #[error("header line longer than {limit} bytes")]
    HeaderLineTooLong { limit: usize },
    #[error("header line without ':' separator")]
    MissingColon,
    #[error("invalid escape sequence '\\{0}' in header")]
    InvalidEscape(char),
    /// A backslash at the very end of a header value, with nothing to escape.
    #[error("incomplete escape sequence (a trailing '\\') in header")]
    IncompleteEscape,
    #[error("header is not valid UTF-8")]
    InvalidUtf8,
    /// A NUL octet in a header name or value: the frame grammar has no place for one.
    #[error("header contains a NUL octet")]
    NulInHeader,
    #[error("invalid content-length '{0}'")]
    InvalidContentLength(String),
    #[error("frame larger than {limit} bytes")]
    FrameTooLarge { limit: usize },
    #[error("frame body of content-length {0} is not followed by a NUL octet")]
    MissingNul(usize),
    #[error("i/o error: {0}")]
    Io(String),
}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        ProtocolError::Io(e.to_string())
    }
}

impl ProtocolError {
    /// A short, fixed label for metrics (`stompede_errors_total{reason}`).
    pub fn reason(&self) -> super::ErrorReason {
        match self {
            ProtocolError::UnknownCommand(_) => super::ErrorReason::UnknownCommand,
            ProtocolError::CommandTooLong { .. }
            | ProtocolError::TooManyHeaders { .. }
            | ProtocolError::HeaderLineTooLong { .. }
            | ProtocolError::FrameTooLarge { .. } => super::ErrorReason::Limit,
            ProtocolError::MissingColon
            | ProtocolError::InvalidEscape(_)
            | ProtocolError::IncompleteEscape
            | ProtocolError::InvalidUtf8
            | ProtocolError::NulInHeader
            | ProtocolError::InvalidContentLength(_)
            | ProtocolError::MissingNul(_) => super::ErrorReason::Malformed,
            ProtocolError::Io(_) => super::ErrorReason::Io,
        }
    }
}
