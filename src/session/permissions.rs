//! Whether this session's client may SEND to or SUBSCRIBE at a destination
//! (`auth.acl`). Decided the first time the session uses a name for a verb
//! and remembered, so the patterns are not matched per message; the memory
//! is dropped when the rules are reloaded (SIGHUP), and bounded by
//! [`REMEMBERED`] names, past which it starts over.

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::{Authenticator, Identity, Verb};
use crate::shared::Shared;

/// Most (verb, destination) decisions one session keeps.
pub const REMEMBERED: usize = 1024;

/// One session's permission decisions.
pub(super) struct Permissions {
    identity: Identity,
    /// The rules the decisions were made under.
    rules: Arc<Authenticator>,
    decided: HashMap<(Verb, String), bool>,
}

impl Permissions {
    pub(super) fn new(identity: Identity, shared: &Shared) -> Self {
        Permissions {
            identity,
            rules: shared.auth.load_full(),
            decided: HashMap::new(),
        }
    }

    /// Whether `verb` on `destination` is allowed under the current rules.
    pub(super) fn allows(&mut self, shared: &Shared, verb: Verb, destination: &str) -> bool {
        {
            let current = shared.auth.load();
            if !Arc::ptr_eq(&self.rules, &current) {
                self.rules = Arc::clone(&current);
                self.decided.clear();
            }
        }
        let key = (verb, destination.to_string());
        if let Some(&ok) = self.decided.get(&key) {
            return ok;
        }
        let ok = self.rules.acl().allows(&self.identity, verb, destination);
        if self.decided.len() >= REMEMBERED {
            self.decided.clear();
        }
        self.decided.insert(key, ok);
        ok
    }
}
