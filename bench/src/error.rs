//! Why a benchmark step failed. Every variant says which wait or which frame
//! went wrong, because the tool's output is all a user has to go on.

use stompede::protocol::ProtocolError;
use thiserror::Error;

/// A failure that ends a scenario (a lost or duplicated message is not an
/// error but a failed check, reported in the results).
#[derive(Debug, Error)]
pub enum BenchError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("timed out after {secs:.1}s waiting for {what}")]
    Timeout { what: String, secs: f64 },
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot decode the broker's bytes: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("broker sent ERROR: {0}")]
    Broker(String),
    #[error("broker closed the connection while {0}")]
    Closed(String),
    #[error("unexpected {got} frame while {during}")]
    Unexpected { got: &'static str, during: String },
    #[error("cannot read broker memory: {0}")]
    Rss(String),
    #[error("scenario did not finish within {0:.0}s (watchdog)")]
    Watchdog(f64),
    #[error("worker task failed: {0}")]
    Task(String),
}

impl From<tokio::task::JoinError> for BenchError {
    fn from(e: tokio::task::JoinError) -> Self {
        BenchError::Task(e.to_string())
    }
}

/// Result alias for the tool.
pub type Result<T> = std::result::Result<T, BenchError>;
