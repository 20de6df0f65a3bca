//! Exactly-once accounting. Every message carries `bench-id: <producer>-<seq>`;
//! each consumer records what it saw in bitsets, and the bitsets of all
//! consumers sharing a queue are merged at the end, so the hot path takes no
//! lock. A copy flagged `redelivered:true` is allowed; a second unflagged copy
//! is a duplicate.

use serde::Serialize;

/// The header that identifies a message.
pub const ID_HEADER: &str = "bench-id";

/// Producer ids above this are not ours (and would allocate absurdly).
const MAX_PRODUCERS: u32 = 1 << 16;
/// Sequence numbers above this are not ours.
const MAX_SEQ: u64 = 1 << 36;
/// How many example ids a failed check prints.
const EXAMPLES: usize = 5;

/// The `bench-id` value for message `seq` of `producer`.
pub fn format_id(producer: u32, seq: u64) -> String {
    format!("{producer}-{seq}")
}

fn parse_id(v: &str) -> Option<(u32, u64)> {
    let (p, s) = v.split_once('-')?;
    let (p, s) = (p.parse().ok()?, s.parse().ok()?);
    (p < MAX_PRODUCERS && s < MAX_SEQ).then_some((p, s))
}

/// A growable set of sequence numbers.
#[derive(Debug, Default, Clone)]
struct IdSet {
    words: Vec<u64>,
}

impl IdSet {
    /// Adds `seq`; false if it was already there.
    fn insert(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let was = self.words[w] & bit != 0;
        self.words[w] |= bit;
        !was
    }

    fn contains(&self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        self.words.get(w).is_some_and(|x| x & bit != 0)
    }

    /// Adds all of `other`; returns the members both had.
    fn union_overlap(&mut self, other: &IdSet) -> Vec<u64> {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        let mut both = Vec::new();
        for (i, (mine, theirs)) in self.words.iter_mut().zip(&other.words).enumerate() {
            let mut common = *mine & theirs;
            while common != 0 {
                both.push(i as u64 * 64 + u64::from(common.trailing_zeros()));
                common &= common - 1;
            }
            *mine |= theirs;
        }
        both
    }
}

/// What one consumer (or a merged group of consumers) received.
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    /// Per producer: ids delivered without the redelivered flag.
    first: Vec<IdSet>,
    /// Per producer: ids delivered with `redelivered:true`.
    again: Vec<IdSet>,
    duplicates: u64,
    duplicate_examples: Vec<(u32, u64)>,
    /// Messages without a parseable `bench-id`.
    foreign: u64,
    redelivered: u64,
    deliveries: u64,
}

impl Tracker {
    /// Records one MESSAGE by its `bench-id` header value. Returns true when
    /// this delivery is the first this tracker has seen of that message.
    pub fn record(&mut self, id: Option<&str>, redelivered: bool) -> bool {
        self.deliveries += 1;
        let Some((p, seq)) = id.and_then(parse_id) else {
            self.foreign += 1;
            return false;
        };
        let p = p as usize;
        if p >= self.first.len() {
            self.first.resize(p + 1, IdSet::default());
            self.again.resize(p + 1, IdSet::default());
        }
        if redelivered {
            self.redelivered += 1;
            let seen = self.first[p].contains(seq);
            return self.again[p].insert(seq) && !seen;
        }
        if self.first[p].insert(seq) {
            !self.again[p].contains(seq)
        } else {
            self.note_duplicate(p as u32, seq);
            false
        }
    }

    fn note_duplicate(&mut self, p: u32, seq: u64) {
        self.duplicates += 1;
        if self.duplicate_examples.len() < EXAMPLES {
            self.duplicate_examples.push((p, seq));
        }
    }

    /// Folds another consumer's record of the same stream into this one.
    pub fn merge(&mut self, other: &Tracker) {
        let n = self.first.len().max(other.first.len());
        self.first.resize(n, IdSet::default());
        self.again.resize(n, IdSet::default());
        for (p, set) in other.first.iter().enumerate() {
            for seq in self.first[p].union_overlap(set) {
                self.note_duplicate(p as u32, seq);
            }
        }
        for (p, set) in other.again.iter().enumerate() {
            self.again[p].union_overlap(set);
        }
        self.duplicates += other.duplicates;
        for &(p, s) in &other.duplicate_examples {
            if self.duplicate_examples.len() < EXAMPLES {
                self.duplicate_examples.push((p, s));
            }
        }
        self.foreign += other.foreign;
        self.redelivered += other.redelivered;
        self.deliveries += other.deliveries;
    }

    /// Compares what arrived with what each producer sent (`sent[p]` messages,
    /// seqs `0..sent[p]`).
    pub fn check(&self, sent: &[u64]) -> Check {
        let mut c = Check {
            expected: sent.iter().sum(),
            deliveries: self.deliveries,
            duplicates: self.duplicates,
            redelivered: self.redelivered,
            ..Check::default()
        };
        let empty = IdSet::default();
        let producers = self.first.len().max(sent.len());
        for p in 0..producers {
            let first = self.first.get(p).unwrap_or(&empty);
            let again = self.again.get(p).unwrap_or(&empty);
            let limit = sent.get(p).copied().unwrap_or(0);
            let words = first.words.len().max(again.words.len());
            for w in 0..words {
                let bits = first.words.get(w).copied().unwrap_or(0)
                    | again.words.get(w).copied().unwrap_or(0);
                let mut rest = bits;
                while rest != 0 {
                    let seq = w as u64 * 64 + u64::from(rest.trailing_zeros());
                    rest &= rest - 1;
                    if seq < limit {
                        c.unique += 1;
                    } else {
                        c.unexpected += 1;
                    }
                }
            }
            for seq in 0..limit {
                if c.missing_examples.len() >= EXAMPLES {
                    break;
                }
                if !first.contains(seq) && !again.contains(seq) {
                    c.missing_examples.push(format_id(p as u32, seq));
                }
            }
        }
        c.unexpected += self.foreign;
        c.missing = c.expected - c.unique;
        c.duplicate_examples = self
            .duplicate_examples
            .iter()
            .map(|&(p, s)| format_id(p, s))
            .collect();
        c.ok = c.missing == 0 && c.duplicates == 0 && c.unexpected == 0;
        c
    }
}

/// The verdict on one stream (a queue, or one topic subscriber).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Check {
    pub ok: bool,
    /// Messages the producers confirmed sending.
    pub expected: u64,
    /// Distinct expected messages that arrived.
    pub unique: u64,
    /// MESSAGE frames received, copies included.
    pub deliveries: u64,
    pub missing: u64,
    pub duplicates: u64,
    /// Copies flagged `redelivered:true` (allowed).
    pub redelivered: u64,
    /// Messages that were never sent by this run (unknown or absent bench-id).
    pub unexpected: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_examples: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicate_examples: Vec<String>,
}

impl Check {
    /// One line describing what is wrong, or "ok".
    pub fn summary(&self) -> String {
        if self.ok {
            return "ok".into();
        }
        let mut parts = Vec::new();
        if self.missing > 0 {
            parts.push(format!(
                "{} of {} missing (e.g. {})",
                self.missing,
                self.expected,
                self.missing_examples.join(", ")
            ));
        }
        if self.duplicates > 0 {
            parts.push(format!(
                "{} duplicates (e.g. {})",
                self.duplicates,
                self.duplicate_examples.join(", ")
            ));
        }
        if self.unexpected > 0 {
            parts.push(format!("{} unexpected messages", self.unexpected));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(p: u32, s: u64) -> String {
        format_id(p, s)
    }

    #[test]
    fn everything_once_is_ok() {
        let mut t = Tracker::default();
        for p in 0..2 {
            for s in 0..100 {
                assert!(t.record(Some(&id(p, s)), false));
            }
        }
        let c = t.check(&[100, 100]);
        assert!(c.ok, "{c:?}");
        assert_eq!((c.expected, c.unique, c.deliveries), (200, 200, 200));
    }

    #[test]
    fn a_gap_is_reported_with_the_missing_id() {
        let mut t = Tracker::default();
        for s in (0..10).filter(|&s| s != 7) {
            t.record(Some(&id(0, s)), false);
        }
        let c = t.check(&[10]);
        assert!(!c.ok);
        assert_eq!(c.missing, 1);
        assert_eq!(c.missing_examples, vec!["0-7".to_string()]);
    }

    #[test]
    fn an_unflagged_second_copy_is_a_duplicate_but_a_redelivery_is_not() {
        let mut t = Tracker::default();
        t.record(Some(&id(0, 0)), false);
        assert!(!t.record(Some(&id(0, 0)), true));
        assert!(t.check(&[1]).ok);
        assert!(!t.record(Some(&id(0, 0)), false));
        let c = t.check(&[1]);
        assert!(!c.ok);
        assert_eq!((c.duplicates, c.redelivered), (1, 1));
        assert_eq!(c.duplicate_examples, vec!["0-0".to_string()]);
    }

    #[test]
    fn merging_finds_a_message_two_consumers_both_got_unflagged() {
        let (mut a, mut b) = (Tracker::default(), Tracker::default());
        for s in 0..50 {
            a.record(Some(&id(0, s)), false);
        }
        for s in 49..100 {
            b.record(Some(&id(0, s)), false);
        }
        a.merge(&b);
        let c = a.check(&[100]);
        assert_eq!((c.unique, c.duplicates, c.missing), (100, 1, 0));
        assert_eq!(c.duplicate_examples, vec!["0-49".to_string()]);
    }

    #[test]
    fn foreign_and_out_of_range_messages_fail_the_check() {
        let mut t = Tracker::default();
        t.record(Some(&id(0, 0)), false);
        t.record(Some(&id(0, 5)), false);
        t.record(None, false);
        t.record(Some("garbage"), false);
        let c = t.check(&[1]);
        assert!(!c.ok);
        assert_eq!((c.unique, c.unexpected), (1, 3));
    }
}
