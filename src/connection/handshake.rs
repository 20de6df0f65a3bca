//! The CONNECT/STOMP handshake: version, login and heart-beats, as a pure
//! function from the client's frame to the CONNECTED reply or an error.

use thiserror::Error;

use super::heartbeat::{BadHeartbeat, Heartbeats};
use crate::auth::AuthError;
use crate::protocol::{Command, ErrorReason, Frame, Version};
use crate::shared::Shared;

/// Why a CONNECT was refused.
#[derive(Debug, Error)]
pub enum HandshakeError {
    #[error("no common protocol version (client accepts '{0}')")]
    NoCommonVersion(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Heartbeat(#[from] BadHeartbeat),
}

impl HandshakeError {
    /// Whether this is a login failure (counted and logged as such).
    pub fn is_auth(&self) -> bool {
        matches!(self, HandshakeError::Auth(_))
    }

    /// The ERROR frame body.
    pub fn detail(&self) -> String {
        match self {
            HandshakeError::NoCommonVersion(_) => {
                format!("supported versions are {}", Version::supported_list())
            }
            HandshakeError::Auth(_) => "check login and passcode".into(),
            HandshakeError::Heartbeat(_) => "heart-beat must be 'cx,cy' in milliseconds".into(),
        }
    }

    /// Metric label.
    pub fn reason(&self) -> ErrorReason {
        match self {
            HandshakeError::NoCommonVersion(_) => ErrorReason::Version,
            HandshakeError::Auth(_) => ErrorReason::Auth,
            HandshakeError::Heartbeat(_) => ErrorReason::Malformed,
        }
    }
}

/// A successful handshake.
pub struct Accepted {
    pub version: Version,
    pub heartbeats: Heartbeats,
    pub login: Option<String>,
    pub connected: Frame,
}

/// Checks a CONNECT or STOMP frame and builds the CONNECTED reply.
pub fn accept(frame: &Frame, shared: &Shared, session: u64) -> Result<Accepted, HandshakeError> {
    let accept_version = frame.header("accept-version");
    let version = Version::negotiate(accept_version)
        .ok_or_else(|| HandshakeError::NoCommonVersion(accept_version.unwrap_or("").to_string()))?;
    let hb = &shared.settings.heartbeat;
    // 1.0 has no heart-beats.
    let heartbeats = if version == Version::V1_0 {
        Heartbeats::negotiate(None, hb.send_min_ms, hb.receive_min_ms)?
    } else {
        Heartbeats::negotiate(
            frame.header("heart-beat"),
            hb.send_min_ms,
            hb.receive_min_ms,
        )?
    };
    shared
        .auth
        .check(frame.header("login"), frame.header("passcode"))?;
    let mut connected = Frame::new(Command::Connected)
        .with_header("version", version.as_str())
        .with_header("server", concat!("stompede/", env!("CARGO_PKG_VERSION")))
        .with_header("session", session.to_string());
    if version > Version::V1_0 {
        connected = connected.with_header("heart-beat", heartbeats.header());
    }
    Ok(Accepted {
        version,
        heartbeats,
        login: frame.header("login").map(str::to_string),
        connected,
    })
}
