//! Whether this session's client may SEND to or SUBSCRIBE at a destination
//! (`auth.acl`). Decided the first time the session uses a name for a verb
//! and remembered, so the patterns are not matched per message; the memory
//! is dropped when the rules are reloaded (SIGHUP), and bounded by
//! [`REMEMBERED`] names, past which it starts over.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{Session, SessionError};
use crate::auth::{Authenticator, Identity, Verb};

/// Most (verb, destination) decisions one session keeps.
pub const REMEMBERED: usize = 1024;

/// One session's permission decisions.
pub(super) struct Permissions {
    identity: Identity,
    /// The rules the decisions were made under.
    rules: Arc<Authenticator>,
    /// Per destination, the decision for reading and for writing.
    decided: HashMap<String, [Option<bool>; 2]>,
}

impl Permissions {
    pub(super) fn new(identity: Identity, rules: &ArcSwap<Authenticator>) -> Self {
        Permissions {
            identity,
            rules: rules.load_full(),
            decided: HashMap::new(),
        }
    }

    /// Whether `verb` on `destination` is allowed under the current `rules`.
    pub(super) fn allows(
        &mut self,
        rules: &ArcSwap<Authenticator>,
        verb: Verb,
        destination: &str,
    ) -> bool {
        {
            let current = rules.load();
            if !Arc::ptr_eq(&self.rules, &current) {
                self.rules = Arc::clone(&current);
                self.decided.clear();
            }
        }
        // The default (no `auth.acl`): nothing to decide, on the SEND hot path.
        if self.rules.acl().allows_everything() {
            return true;
        }
        let slot = match verb {
            Verb::Read => 0,
            Verb::Write => 1,
        };
        // Looked up by `&str`: a name already decided costs no allocation.
        if let Some(ok) = self.decided.get(destination).and_then(|d| d[slot]) {
            return ok;
        }
        let ok = self.rules.acl().allows(&self.identity, verb, destination);
        if self.decided.len() >= REMEMBERED && !self.decided.contains_key(destination) {
            self.decided.clear();
        }
        self.decided.entry(destination.to_string()).or_default()[slot] = Some(ok);
        ok
    }
}

impl Session {
    /// Whether the client may `verb` on `destination`; if not, ERROR (and
    /// the connection closes). A SEND in a transaction is checked here, at
    /// the SEND, not at its COMMIT.
    pub(super) fn permitted(
        &mut self,
        verb: Verb,
        destination: &str,
        receipt: &Option<String>,
    ) -> bool {
        if self
            .permissions
            .allows(&self.shared.auth, verb, destination)
        {
            return true;
        }
        self.shared
            .metrics
            .auth_denied
            .with_label_values(&[verb.command()])
            .inc();
        tracing::info!(
            session = self.id,
            verb = verb.command(),
            destination,
            "permission denied"
        );
        self.fail(
            SessionError::Denied {
                verb,
                destination: destination.to_string(),
            },
            receipt.clone(),
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{AclEntry, Settings};

    fn rules(write: &[&str]) -> Authenticator {
        let mut auth = Settings::defaults().auth;
        auth.acl = vec![AclEntry {
            destination: "/queue/>".into(),
            read: vec![],
            write: write.iter().map(|s| s.to_string()).collect(),
        }];
        Authenticator::new(&auth).expect("rules")
    }

    #[test]
    fn decisions_are_remembered_within_a_bound_and_dropped_on_reload() {
        let shared = ArcSwap::from_pointee(rules(&["anonymous"]));
        let mut p = Permissions::new(Identity::anonymous(), &shared);
        assert!(p.allows(&shared, Verb::Write, "/queue/a"));
        for i in 0..REMEMBERED * 3 {
            p.allows(&shared, Verb::Write, &format!("/queue/n{i}"));
            assert!(p.decided.len() <= REMEMBERED);
        }
        shared.store(Arc::new(rules(&[])));
        assert!(
            !p.allows(&shared, Verb::Write, "/queue/a"),
            "reloaded rules apply"
        );
        assert_eq!(p.decided.len(), 1);
    }
}
