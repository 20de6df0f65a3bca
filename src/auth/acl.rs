//! Per-destination permissions, ActiveMQ-shaped: each entry names a
//! destination pattern and the groups that may read (SUBSCRIBE) and write
//! (SEND) there.
//!
//! - No entries at all: every connected client may do everything (the
//!   behaviour before ACLs existed, so old configurations keep working).
//! - Otherwise a verb on a destination is allowed when some entry whose
//!   pattern matches it lists one of the client's groups for that verb.
//! - A destination no entry matches is open to everyone while
//!   `auth.anonymous` is on, and closed when it is off ("anything not
//!   granted is denied").

use std::fmt;

use super::pattern::{Pattern, PatternError};
use super::Identity;
use crate::settings::AclEntry;

/// What a client wants to do with a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// SUBSCRIBE.
    Read,
    /// SEND.
    Write,
}

impl Verb {
    /// The STOMP command the verb is checked for (in ERROR text and metrics).
    pub fn command(self) -> &'static str {
        match self {
            Verb::Read => "SUBSCRIBE",
            Verb::Write => "SEND",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command())
    }
}

#[derive(Debug, Clone)]
struct Entry {
    pattern: Pattern,
    read: Vec<String>,
    write: Vec<String>,
}

/// The parsed `auth.acl` list.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    entries: Vec<Entry>,
    /// Whether a destination matched by no entry is open (`auth.anonymous`).
    open_by_default: bool,
}

impl Acl {
    /// From the configured entries; `open_by_default` is `auth.anonymous`.
    pub fn new(entries: &[AclEntry], open_by_default: bool) -> Result<Acl, PatternError> {
        let entries = entries
            .iter()
            .map(|e| {
                Ok(Entry {
                    pattern: Pattern::parse(&e.destination)?,
                    read: e.read.clone(),
                    write: e.write.clone(),
                })
            })
            .collect::<Result<_, PatternError>>()?;
        Ok(Acl {
            entries,
            open_by_default,
        })
    }

    /// Whether `who` may `verb` on `destination`.
    /// Whether every verb on every destination is allowed (no entries), so
    /// callers need not ask per destination.
    pub fn allows_everything(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn allows(&self, who: &Identity, verb: Verb, destination: &str) -> bool {
        if self.entries.is_empty() {
            return true;
        }
        let login = who.login.as_deref();
        let mut matched = false;
        for e in &self.entries {
            if !e.pattern.governs(destination) {
                continue;
            }
            matched = true;
            if !e.pattern.matches(destination, login) {
                continue;
            }
            let groups = match verb {
                Verb::Read => &e.read,
                Verb::Write => &e.write,
            };
            if groups.iter().any(|g| who.groups.contains(g)) {
                return true;
            }
        }
        !matched && self.open_by_default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(destination: &str, read: &[&str], write: &[&str]) -> AclEntry {
        AclEntry {
            destination: destination.into(),
            read: read.iter().map(|s| s.to_string()).collect(),
            write: write.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn user(login: &str, groups: &[&str]) -> Identity {
        Identity {
            login: Some(login.into()),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn no_entries_allow_everything() {
        let acl = Acl::new(&[], false).expect("acl");
        assert!(acl.allows(&Identity::anonymous(), Verb::Write, "/queue/x"));
    }

    #[test]
    fn groups_decide_read_and_write() {
        let acl = Acl::new(
            &[entry("/queue/orders.>", &["consumers"], &["producers"])],
            false,
        )
        .expect("acl");
        let producer = user("p", &["producers"]);
        let consumer = user("c", &["consumers"]);
        assert!(acl.allows(&producer, Verb::Write, "/queue/orders.eu"));
        assert!(!acl.allows(&producer, Verb::Read, "/queue/orders.eu"));
        assert!(acl.allows(&consumer, Verb::Read, "/queue/orders.eu"));
        assert!(!acl.allows(&consumer, Verb::Write, "/queue/orders.eu"));
        assert!(
            !acl.allows(&producer, Verb::Write, "/queue/other"),
            "not granted"
        );
    }

    #[test]
    fn unmatched_destinations_follow_the_anonymous_switch() {
        let entries = [entry("/queue/secret", &["admins"], &["admins"])];
        let open = Acl::new(&entries, true).expect("acl");
        let closed = Acl::new(&entries, false).expect("acl");
        let anon = Identity::anonymous();
        assert!(open.allows(&anon, Verb::Write, "/queue/public"));
        assert!(!open.allows(&anon, Verb::Write, "/queue/secret"));
        assert!(!closed.allows(&anon, Verb::Write, "/queue/public"));
    }

    #[test]
    fn anonymous_is_a_group() {
        let acl = Acl::new(&[entry("/topic/news", &["anonymous"], &[])], false).expect("acl");
        assert!(acl.allows(&Identity::anonymous(), Verb::Read, "/topic/news"));
        assert!(!acl.allows(&Identity::anonymous(), Verb::Write, "/topic/news"));
    }

    #[test]
    fn own_login_pattern() {
        let acl = Acl::new(&[entry("/queue/inbox.{login}", &["users"], &[])], false).expect("acl");
        let alice = user("alice", &["users"]);
        assert!(acl.allows(&alice, Verb::Read, "/queue/inbox.alice"));
        assert!(!acl.allows(&alice, Verb::Read, "/queue/inbox.bob"));
        let open = Acl::new(&[entry("/queue/inbox.{login}", &["users"], &[])], true).expect("acl");
        assert!(
            !open.allows(&Identity::anonymous(), Verb::Read, "/queue/inbox.bob"),
            "someone's own queue is not unmatched for everyone else"
        );
        assert!(open.allows(&Identity::anonymous(), Verb::Read, "/queue/other"));
    }
}
