//! How plain topics learn which wildcard topics match them: once when they
//! are created, and again whenever a matching pattern comes or goes.

use super::{is_pattern, PatternIndex, Router};
use crate::messages::destination::{DestinationRef, Forward};

impl Router {
    /// The wildcard topics and durable subscription queues matching the
    /// plain topic `topic` (prefix stripped).
    pub(super) fn forwards_of(&self, topic: &str) -> Vec<Forward> {
        let mut to: Vec<Forward> = self
            .patterns
            .matches(topic)
            .into_iter()
            .map(|(_, d)| Forward::all(d.clone()))
            .collect();
        to.extend(self.durables.forwards_of(topic));
        to
    }

    /// Tells every live plain topic that `pattern` (a wildcard topic's, or a
    /// durable subscription's, which may be a plain name) matches what
    /// matches it now (after `pattern` came or went).
    pub(super) fn refresh_matching(&self, pattern: &str) {
        let mut only = PatternIndex::new();
        only.insert(pattern, ());
        let prefix = &self.policy.topic_prefix;
        for (name, dest) in &self.destinations {
            let Some(topic) = name.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if !is_pattern(topic) && !only.matches(topic).is_empty() {
                dest.set_forwards(self.forwards_of(topic));
            }
        }
    }

    /// `name` has left the registry: if it was a wildcard topic (this very
    /// actor, not a successor), its pattern leaves the index.
    pub(super) fn forget(&mut self, name: &str, dest: &DestinationRef) {
        let Some(topic) = name.strip_prefix(self.policy.topic_prefix.as_str()) else {
            return;
        };
        if is_pattern(topic) && self.patterns.get(topic).is_some_and(|d| d.same(dest)) {
            self.patterns.remove(topic);
            self.refresh_matching(topic);
        }
    }
}
