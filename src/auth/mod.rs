//! Who a client is and what it may do: logins checked against the accounts
//! in `[auth]` (Argon2id hashes, or plain passcodes for local use), client
//! certificates standing for a login, and per-destination permissions.
//!
//! - `accounts`: the users, and what checking a CONNECT's credentials takes;
//! - `password`: hashing (`stompede hash-password`) and verifying;
//! - `verifier`: the bounded off-thread pool the slow checks run in;
//! - `pattern`, `acl`: destination patterns and the permission entries;
//! - `penalty`: failed logins from one address answered ever later.

mod accounts;
mod acl;
mod password;
mod pattern;
mod penalty;
mod verifier;

use thiserror::Error;

pub use accounts::{Authenticator, Claim};
pub use acl::{Acl, Verb};
pub use password::{hash, hash_password, hash_password_command, verify, HashError};
pub use pattern::{Pattern, PatternError};
pub use penalty::{FailedLogins, FORGET_AFTER};
pub use verifier::Verifier;

/// The group every anonymous client belongs to.
pub const ANONYMOUS_GROUP: &str = "anonymous";

/// Why a CONNECT was refused. The text goes to the client; it never names
/// which part was wrong, and never contains the passcode.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("authentication failed")]
    BadCredentials,
    #[error("authentication required: anonymous access is disabled")]
    LoginRequired,
}

/// An `[auth]` section that cannot be used; the message names the entry.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthConfigError {
    #[error("user '{0}': give passcode or passcode_hash, not both")]
    BothSecrets(String),
    #[error("user '{login}': passcode_hash: {reason}")]
    BadHash { login: String, reason: String },
    #[error("user '{0}' is listed twice")]
    Duplicate(String),
    #[error("acl: {0}")]
    Pattern(#[from] PatternError),
}

/// A connected client as the permission checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The verified login; `None` for an anonymous client.
    pub login: Option<String>,
    pub groups: Vec<String>,
}

impl Identity {
    /// A client that gave no (listed) login.
    pub fn anonymous() -> Identity {
        Identity {
            login: None,
            groups: vec![ANONYMOUS_GROUP.to_string()],
        }
    }
}
