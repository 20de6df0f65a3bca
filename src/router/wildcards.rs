//! `PatternIndex`: every wildcard topic subscription's pattern in one trie,
//! so the patterns matching a topic name are found by walking the name's
//! segments once, not by testing each pattern (ARCHITECTURE.md, "Wildcard
//! topics"). Segments are separated by `.`; a `*` segment matches exactly one
//! segment; a `#` (RabbitMQ, Artemis) or `>` (ActiveMQ) segment matches zero
//! or more. Any other segment, `a*b` included, is a literal.

use std::collections::{HashMap, HashSet};

pub use crate::model::wildcard::is_pattern;
use crate::model::wildcard::{segment, Segment};

#[derive(Debug)]
struct Node<V> {
    literal: HashMap<Box<str>, Node<V>>,
    one: Option<Box<Node<V>>>,
    rest: Option<Box<Node<V>>>,
    /// The patterns that end here (`a.#` and `a.>` are one node, two entries).
    values: Vec<(Box<str>, V)>,
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Node {
            literal: HashMap::new(),
            one: None,
            rest: None,
            values: Vec::new(),
        }
    }
}

impl<V> Node<V> {
    fn is_empty(&self) -> bool {
        self.values.is_empty()
            && self.literal.is_empty()
            && self.one.is_none()
            && self.rest.is_none()
    }

    /// Collects the nodes reached by `name[i..]`. `seen` remembers where a
    /// `#` node was entered: paths only meet again through `#` nodes, so
    /// each pattern is reported once and a pattern with many `#`s costs
    /// (nodes × segments) steps, never one per way of splitting the name.
    fn walk<'n>(
        &'n self,
        name: &[&str],
        i: usize,
        seen: &mut HashSet<(usize, usize)>,
        out: &mut Vec<&'n Node<V>>,
    ) {
        if let Some(rest) = &self.rest {
            let at = &**rest as *const Node<V> as usize;
            for j in i..=name.len() {
                if seen.insert((at, j)) {
                    rest.walk(name, j, seen, out);
                }
            }
        }
        let Some(seg) = name.get(i) else {
            if !self.values.is_empty() {
                out.push(self);
            }
            return;
        };
        if let Some(next) = self.literal.get(*seg) {
            next.walk(name, i + 1, seen, out);
        }
        if let Some(one) = &self.one {
            one.walk(name, i + 1, seen, out);
        }
    }

    fn remove(&mut self, segs: &[Segment<'_>], pattern: &str) -> Option<V> {
        let Some((first, more)) = segs.split_first() else {
            let pos = self.values.iter().position(|(p, _)| &**p == pattern)?;
            return Some(self.values.remove(pos).1);
        };
        match first {
            Segment::Literal(s) => {
                let child = self.literal.get_mut(*s)?;
                let v = child.remove(more, pattern);
                if child.is_empty() {
                    self.literal.remove(*s);
                }
                v
            }
            Segment::One => Self::remove_boxed(&mut self.one, more, pattern),
            Segment::Rest => Self::remove_boxed(&mut self.rest, more, pattern),
        }
    }

    fn remove_boxed(
        slot: &mut Option<Box<Node<V>>>,
        more: &[Segment<'_>],
        pattern: &str,
    ) -> Option<V> {
        let child = slot.as_mut()?;
        let v = child.remove(more, pattern);
        if child.is_empty() {
            *slot = None;
        }
        v
    }
}

/// The segments of `pattern`, with runs of `#`/`>` collapsed into one
/// (`a.#.#` means `a.#`), which keeps the trie walk short.
fn segments(pattern: &str) -> Vec<Segment<'_>> {
    let mut out: Vec<Segment<'_>> = Vec::new();
    for s in pattern.split('.').map(segment) {
        if !(s == Segment::Rest && out.last() == Some(&Segment::Rest)) {
            out.push(s);
        }
    }
    out
}

/// Wildcard patterns and a value for each (the pattern's topic actor).
#[derive(Debug)]
pub struct PatternIndex<V> {
    root: Node<V>,
    len: usize,
}

impl<V> Default for PatternIndex<V> {
    fn default() -> Self {
        PatternIndex {
            root: Node::default(),
            len: 0,
        }
    }
}

impl<V> PatternIndex<V> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many patterns it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no pattern.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds (or replaces) `pattern`'s value.
    pub fn insert(&mut self, pattern: &str, value: V) {
        let mut node = &mut self.root;
        for s in segments(pattern) {
            node = match s {
                Segment::Literal(l) => node.literal.entry(l.into()).or_default(),
                Segment::One => node.one.get_or_insert_with(Default::default),
                Segment::Rest => node.rest.get_or_insert_with(Default::default),
            };
        }
        match node.values.iter_mut().find(|(p, _)| &**p == pattern) {
            Some(slot) => slot.1 = value,
            None => {
                node.values.push((pattern.into(), value));
                self.len += 1;
            }
        }
    }

    /// Removes `pattern`, returning its value; prunes the nodes it leaves empty.
    pub fn remove(&mut self, pattern: &str) -> Option<V> {
        let v = self.root.remove(&segments(pattern), pattern);
        if v.is_some() {
            self.len -= 1;
        }
        v
    }

    /// The value of exactly `pattern`, if it is held.
    pub fn get(&self, pattern: &str) -> Option<&V> {
        let mut node = &self.root;
        for s in segments(pattern) {
            node = match s {
                Segment::Literal(l) => node.literal.get(l)?,
                Segment::One => node.one.as_deref()?,
                Segment::Rest => node.rest.as_deref()?,
            };
        }
        node.values
            .iter()
            .find(|(p, _)| &**p == pattern)
            .map(|(_, v)| v)
    }

    /// Every pattern matching the topic `name`, with its value, each once.
    pub fn matches<'a>(&'a self, name: &str) -> Vec<(&'a str, &'a V)> {
        let segs: Vec<&str> = name.split('.').collect();
        let mut nodes = Vec::new();
        self.root.walk(&segs, 0, &mut HashSet::new(), &mut nodes);
        nodes
            .into_iter()
            .flat_map(|n| n.values.iter().map(|(p, v)| (&**p, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
