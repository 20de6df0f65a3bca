//! The configured accounts: which login needs which passcode (an Argon2id
//! hash, checked on the verifier's threads, or plain text for local use),
//! its groups, and the permissions built beside them, all replaced together
//! on reload.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::password::{self, hash, verify};
use super::{Acl, AuthConfigError, AuthError, Identity, Verifier};
use crate::settings::Auth;

#[derive(Debug, Clone)]
enum Secret {
    Hash(String),
    Plain(String),
    /// Listed without a passcode: may log in only with a client certificate.
    CertificateOnly,
}

#[derive(Debug, Clone)]
struct Account {
    secret: Secret,
    groups: Vec<String>,
}

/// What checking a CONNECT's credentials takes.
pub enum Claim {
    /// Decided at once.
    Decided(Result<Identity, AuthError>),
    /// An Argon2 check of `passcode` against `hash` decides: run it with
    /// [`Verifier::run`], then [`Claim::settle`].
    Verify {
        hash: String,
        passcode: String,
        on_match: Result<Identity, AuthError>,
    },
}

impl Claim {
    /// The outcome, running the slow check on `verifier` if one is needed.
    pub async fn settle(self, verifier: &Verifier) -> Result<Identity, AuthError> {
        match self {
            Claim::Decided(r) => r,
            Claim::Verify {
                hash,
                passcode,
                on_match,
            } => match verifier.run(move || verify(&hash, &passcode)).await {
                Some(true) => on_match,
                _ => Err(AuthError::BadCredentials),
            },
        }
    }
}

/// Accounts and permissions from `[auth]`, replaced whole on reload.
#[derive(Debug)]
pub struct Authenticator {
    anonymous: bool,
    users: HashMap<String, Account>,
    acl: Acl,
}

impl Authenticator {
    /// From the `[auth]` section; plain passcodes are logged at warn.
    pub fn new(auth: &Auth) -> Result<Self, AuthConfigError> {
        let mut users = HashMap::new();
        for u in &auth.users {
            let secret = match (&u.passcode, &u.passcode_hash) {
                (Some(_), Some(_)) => return Err(AuthConfigError::BothSecrets(u.login.clone())),
                (Some(p), None) => Secret::Plain(p.clone()),
                (None, Some(h)) => {
                    password::is_valid(h).map_err(|reason| AuthConfigError::BadHash {
                        login: u.login.clone(),
                        reason,
                    })?;
                    Secret::Hash(h.clone())
                }
                (None, None) => Secret::CertificateOnly,
            };
            let account = Account {
                secret,
                groups: u.groups.clone(),
            };
            if users.insert(u.login.clone(), account).is_some() {
                return Err(AuthConfigError::Duplicate(u.login.clone()));
            }
        }
        Ok(Authenticator {
            anonymous: auth.anonymous,
            users,
            acl: Acl::new(&auth.acl, auth.anonymous)?,
        })
    }

    /// Logs the configuration's weak spots (plain passcodes) at warn.
    pub fn warn_weak(&self) {
        for (login, a) in &self.users {
            if matches!(a.secret, Secret::Plain(_)) {
                tracing::warn!(login = %login, "user has a plain-text passcode; use passcode_hash (stompede hash-password) outside local use");
            }
        }
    }

    /// The permissions.
    pub fn acl(&self) -> &Acl {
        &self.acl
    }

    /// What deciding on `login`/`passcode` takes. A listed login must give
    /// its passcode; anything else is accepted (as anonymous) only when
    /// anonymous access is on.
    pub fn claim(&self, login: Option<&str>, passcode: Option<&str>) -> Claim {
        let given = passcode.unwrap_or("");
        match login.and_then(|l| self.users.get(l).map(|a| (l, a))) {
            Some((l, a)) => {
                let identity = Identity {
                    login: Some(l.to_string()),
                    groups: a.groups.clone(),
                };
                match &a.secret {
                    Secret::Plain(p) => {
                        Claim::Decided(if constant_time_eq(p.as_bytes(), given.as_bytes()) {
                            Ok(identity)
                        } else {
                            Err(AuthError::BadCredentials)
                        })
                    }
                    Secret::Hash(h) => Claim::Verify {
                        hash: h.clone(),
                        passcode: given.to_string(),
                        on_match: Ok(identity),
                    },
                    Secret::CertificateOnly => Claim::Decided(Err(AuthError::BadCredentials)),
                }
            }
            None if self.anonymous => Claim::Decided(Ok(Identity::anonymous())),
            None if login.is_some() && self.has_hashes() => Claim::Verify {
                // As slow as a listed login, so timing does not tell which logins exist.
                hash: dummy_hash().to_string(),
                passcode: given.to_string(),
                on_match: Err(AuthError::BadCredentials),
            },
            None if login.is_some() => Claim::Decided(Err(AuthError::BadCredentials)),
            None => Claim::Decided(Err(AuthError::LoginRequired)),
        }
    }

    /// The identity of a client whose certificate (verified against
    /// `tls.client_ca_file`) names `login`: a listed user's groups, or none.
    pub fn certificate(&self, login: &str) -> Identity {
        Identity {
            login: Some(login.to_string()),
            groups: self
                .users
                .get(login)
                .map(|a| a.groups.clone())
                .unwrap_or_default(),
        }
    }

    fn has_hashes(&self) -> bool {
        self.users
            .values()
            .any(|a| matches!(a.secret, Secret::Hash(_)))
    }
}

/// A hash no passcode is known to match, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("stompede-no-such-user").unwrap_or_default())
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
    use crate::auth::Verb;
    use crate::settings::User;

    fn user(login: &str, passcode: Option<&str>, hash: Option<&str>) -> User {
        User {
            login: login.into(),
            passcode: passcode.map(str::to_string),
            passcode_hash: hash.map(str::to_string),
            groups: vec!["g".into()],
        }
    }

    fn auth(anonymous: bool, users: Vec<User>) -> Authenticator {
        Authenticator::new(&Auth {
            anonymous,
            users,
            acl: vec![],
            max_verifications: 1,
            failure_delay_ms: 0,
            max_failure_delay_ms: 0,
            max_tracked_addresses: 1,
        })
        .expect("valid auth")
    }

    async fn check(
        a: &Authenticator,
        login: Option<&str>,
        pass: Option<&str>,
    ) -> Result<Identity, AuthError> {
        a.claim(login, pass).settle(&Verifier::new(1)).await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn listed_user_needs_its_passcode() {
        let a = auth(true, vec![user("app", Some("secret"), None)]);
        let ok = check(&a, Some("app"), Some("secret")).await.expect("ok");
        assert_eq!(ok.login.as_deref(), Some("app"));
        assert_eq!(ok.groups, ["g"]);
        assert_eq!(
            check(&a, Some("app"), Some("secreT")).await,
            Err(AuthError::BadCredentials)
        );
        assert_eq!(
            check(&a, Some("app"), None).await,
            Err(AuthError::BadCredentials)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn hashed_passcodes_verify() {
        let h = hash("pw").expect("hash");
        let a = auth(false, vec![user("app", None, Some(&h))]);
        assert!(check(&a, Some("app"), Some("pw")).await.is_ok());
        assert_eq!(
            check(&a, Some("app"), Some("px")).await,
            Err(AuthError::BadCredentials)
        );
        assert!(matches!(
            a.claim(Some("nobody"), Some("pw")),
            Claim::Verify { .. }
        ));
        assert_eq!(
            check(&a, Some("nobody"), Some("pw")).await,
            Err(AuthError::BadCredentials)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn anonymous_switch() {
        let a = auth(true, vec![user("app", Some("s"), None)]);
        assert_eq!(check(&a, None, None).await, Ok(Identity::anonymous()));
        // An unlisted login is anonymous, never that login.
        assert_eq!(
            check(&a, Some("who"), None).await,
            Ok(Identity::anonymous())
        );
        let closed = auth(false, vec![user("app", Some("s"), None)]);
        assert_eq!(
            check(&closed, None, None).await,
            Err(AuthError::LoginRequired)
        );
        assert_eq!(
            check(&closed, Some("who"), Some("x")).await,
            Err(AuthError::BadCredentials)
        );
    }

    #[test]
    fn the_production_example_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml");
        let settings =
            crate::settings::Settings::load(Some(&path), std::iter::empty()).expect("loads");
        let auth = Authenticator::new(&settings.auth).expect("valid [auth]");
        assert!(!settings.auth.anonymous);
        assert!(!auth.acl().allows(
            &auth.certificate("ops-console"),
            Verb::Write,
            "/queue/orders.eu"
        ));
        assert!(auth.acl().allows(
            &auth.certificate("ops-console"),
            Verb::Read,
            "/queue/orders.eu"
        ));
    }

    #[test]
    fn bad_entries_are_named() {
        let both = Authenticator::new(&Auth {
            anonymous: false,
            users: vec![user("x", Some("a"), Some("b"))],
            acl: vec![],
            max_verifications: 1,
            failure_delay_ms: 0,
            max_failure_delay_ms: 0,
            max_tracked_addresses: 1,
        });
        assert_eq!(both.err(), Some(AuthConfigError::BothSecrets("x".into())));
    }
}
