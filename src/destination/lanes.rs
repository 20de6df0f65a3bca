//! A queue's ready messages by priority: one first-in-first-out lane until a
//! message with a priority other than the default arrives, then one lane per
//! priority (0-9), the highest non-empty one delivered from first. A queue
//! that never sees a `priority` header keeps the single lane, so it pays one
//! enum match per operation and no scan.

use crate::model::{DEFAULT_PRIORITY, PRIORITIES};

/// One first-in-first-out lane of ready messages.
pub(super) trait Lane: Default {
    /// Whether it holds no message.
    fn is_empty(&self) -> bool;
}

/// The lanes of a queue: one, or one per priority.
pub(super) enum Lanes<L> {
    /// Every message has the default priority.
    One(L),
    /// Lane `p` holds the messages of priority `p`.
    Each(Box<[L; PRIORITIES]>),
}

impl<L: Lane> Default for Lanes<L> {
    fn default() -> Self {
        Lanes::One(L::default())
    }
}

impl<L: Lane> Lanes<L> {
    /// The lane for messages of `priority`; the first message with another
    /// priority than the default turns the single lane into the default's.
    pub fn lane(&mut self, priority: u8) -> &mut L {
        if priority != DEFAULT_PRIORITY {
            if let Lanes::One(only) = self {
                let default = std::mem::take(only);
                let mut each: Box<[L; PRIORITIES]> =
                    Box::new(std::array::from_fn(|_| L::default()));
                each[DEFAULT_PRIORITY as usize] = default;
                *self = Lanes::Each(each);
            }
        }
        match self {
            Lanes::One(only) => only,
            Lanes::Each(each) => &mut each[(priority as usize).min(PRIORITIES - 1)],
        }
    }

    /// The lane delivered from next: the highest priority's that holds a
    /// message (`None` when every lane is empty).
    pub fn head(&mut self) -> Option<&mut L> {
        match self {
            Lanes::One(only) => (!only.is_empty()).then_some(only),
            Lanes::Each(each) => each.iter_mut().rev().find(|l| !l.is_empty()),
        }
    }

    /// Every lane, in no particular order.
    pub fn all(&mut self) -> &mut [L] {
        match self {
            Lanes::One(only) => std::slice::from_mut(only),
            Lanes::Each(each) => &mut each[..],
        }
    }

    /// Whether the queue has seen a priority other than the default.
    #[cfg(test)]
    pub fn prioritised(&self) -> bool {
        matches!(self, Lanes::Each(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[derive(Default)]
    struct L(VecDeque<u32>);

    impl Lane for L {
        fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    #[test]
    fn one_lane_until_another_priority_then_highest_first() {
        let mut lanes: Lanes<L> = Lanes::default();
        lanes.lane(4).0.push_back(1);
        lanes.lane(4).0.push_back(2);
        assert!(!lanes.prioritised());
        lanes.lane(9).0.push_back(3);
        lanes.lane(0).0.push_back(4);
        assert!(lanes.prioritised());
        let mut order = Vec::new();
        while let Some(l) = lanes.head() {
            order.extend(l.0.pop_front());
        }
        assert_eq!(order, [3, 1, 2, 4], "what waited keeps its order in lane 4");
        assert_eq!(lanes.all().len(), PRIORITIES);
    }
}
