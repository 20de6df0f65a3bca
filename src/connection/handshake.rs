//! The CONNECT/STOMP handshake: version, login and heart-beats, as a pure
//! function from the client's frame to the CONNECTED reply or an error.

use std::sync::Arc;

use thiserror::Error;

use super::heartbeat::{BadHeartbeat, Heartbeats};
use crate::auth::{AuthError, Identity};
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
    /// Another connection holds this `client-id` (as ActiveMQ refuses it).
    #[error("client id '{0}' is already connected")]
    ClientIdInUse(String),
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
            HandshakeError::ClientIdInUse(_) => {
                "one connection per client-id at a time; close the other connection first".into()
            }
        }
    }

    /// Metric label.
    pub fn reason(&self) -> ErrorReason {
        match self {
            HandshakeError::NoCommonVersion(_) => ErrorReason::Version,
            HandshakeError::Auth(_) => ErrorReason::Auth,
            HandshakeError::Heartbeat(_) => ErrorReason::Malformed,
            HandshakeError::ClientIdInUse(_) => ErrorReason::Limit,
        }
    }
}

/// What the CONNECT frame agreed on, before the login is checked.
pub struct Negotiated {
    pub version: Version,
    pub heartbeats: Heartbeats,
}

/// Checks a CONNECT or STOMP frame's version and heart-beats.
pub fn negotiate(frame: &Frame, shared: &Shared) -> Result<Negotiated, HandshakeError> {
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
    Ok(Negotiated {
        version,
        heartbeats,
    })
}

/// Who the client is: the login its verified TLS certificate names (a
/// `login` header, if any, must agree), or its `login`/`passcode` checked
/// against the accounts, a hashed passcode on the verifier's threads.
pub async fn authenticate(
    shared: Arc<Shared>,
    certificate: Option<String>,
    login: Option<String>,
    passcode: Option<String>,
) -> Result<Identity, HandshakeError> {
    let auth = shared.auth.load_full();
    if let Some(cn) = certificate {
        return match login {
            Some(l) if l != cn => Err(AuthError::BadCredentials.into()),
            _ => Ok(auth.certificate(&cn)),
        };
    }
    let claim = auth.claim(login.as_deref(), passcode.as_deref());
    Ok(claim.settle(&shared.verifier).await?)
}

/// The CONNECTED reply.
pub fn connected(n: &Negotiated, session: u64) -> Frame {
    let mut connected = Frame::new(Command::Connected)
        .with_header("version", n.version.as_str())
        .with_header("server", concat!("stompede/", env!("CARGO_PKG_VERSION")))
        .with_header("session", session.to_string());
    if n.version > Version::V1_0 {
        connected = connected.with_header("heart-beat", n.heartbeats.header());
    }
    connected
}
