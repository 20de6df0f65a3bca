//! Login checks against the accounts listed in configuration.

use std::collections::HashMap;

use thiserror::Error;

use crate::settings::Auth;

/// Why a CONNECT was refused. The text goes to the client; it never names
/// which part was wrong, and never contains the passcode.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("authentication failed")]
    BadCredentials,
    #[error("authentication required: anonymous access is disabled")]
    LoginRequired,
}

/// Checks `login`/`passcode` pairs.
#[derive(Debug, Clone)]
pub struct Authenticator {
    anonymous: bool,
    users: HashMap<String, String>,
}

impl Authenticator {
    /// From the `[auth]` section.
    pub fn new(auth: &Auth) -> Self {
        Authenticator {
            anonymous: auth.anonymous,
            users: auth
                .users
                .iter()
                .map(|u| (u.login.clone(), u.passcode.clone()))
                .collect(),
        }
    }

    /// A listed login must give its passcode; anything else is accepted only
    /// when anonymous access is on.
    pub fn check(&self, login: Option<&str>, passcode: Option<&str>) -> Result<(), AuthError> {
        match login.and_then(|l| self.users.get(l)) {
            Some(expected) => {
                if constant_time_eq(expected.as_bytes(), passcode.unwrap_or("").as_bytes()) {
                    Ok(())
                } else {
                    Err(AuthError::BadCredentials)
                }
            }
            None if self.anonymous => Ok(()),
            None if login.is_some() => Err(AuthError::BadCredentials),
            None => Err(AuthError::LoginRequired),
        }
    }
}

/// Compares without an early exit, so timing does not reveal a prefix match.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= (*x ^ b.get(i).copied().unwrap_or(0)) as usize;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::User;

    fn auth(anonymous: bool) -> Authenticator {
        Authenticator::new(&Auth {
            anonymous,
            users: vec![User {
                login: "app".into(),
                passcode: "secret".into(),
            }],
        })
    }

    #[test]
    fn listed_user_needs_its_passcode() {
        assert_eq!(auth(true).check(Some("app"), Some("secret")), Ok(()));
        assert_eq!(
            auth(true).check(Some("app"), Some("secreT")),
            Err(AuthError::BadCredentials)
        );
        assert_eq!(
            auth(true).check(Some("app"), None),
            Err(AuthError::BadCredentials)
        );
    }

    #[test]
    fn anonymous_switch() {
        assert_eq!(auth(true).check(None, None), Ok(()));
        assert_eq!(auth(false).check(None, None), Err(AuthError::LoginRequired));
        assert_eq!(
            auth(false).check(Some("who"), Some("x")),
            Err(AuthError::BadCredentials)
        );
    }
}
