//! What callers hand to the store: queue ids, message ids and atomic batches of operations.

use bytes::Bytes;

/// A queue's number in the journal, given out by [`Store::declare_queue`](super::Store::declare_queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub u32);

/// The caller's id of a message, unique within its queue among unacknowledged messages.
pub type MessageId = u64;

/// One change to the journal. A batch of them is written as one record, so it is recovered whole
/// or not at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// A queue name gets an id; written by `declare_queue` and at the start of every segment.
    Declare { queue: QueueId, name: String },
    /// A message joins a queue. `seq` is the journal's order of the original append, kept when the
    /// message is copied forward by compaction, so recovery restores the original order.
    Append {
        queue: QueueId,
        id: MessageId,
        seq: u64,
        deliveries: u32,
        headers: Bytes,
        body: Bytes,
    },
    /// A message leaves its queue for good.
    Ack { queue: QueueId, id: MessageId },
    /// A message's delivery count, absolute (not an increment) so replay order is all that matters.
    Deliveries {
        queue: QueueId,
        id: MessageId,
        count: u32,
    },
}

/// How far back `set_deliveries` looks for the append it can fold into.
const FOLD_WINDOW: usize = 16;

/// Operations that become durable together: all of them are recovered, or none.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub(crate) ops: Vec<Op>,
}

impl Batch {
    /// An empty batch; submitting it is a barrier that completes after the next sync.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Appends a persistent message (its encoded headers and body) at the tail of `queue`.
    pub fn append(
        &mut self,
        queue: QueueId,
        id: MessageId,
        headers: Bytes,
        body: Bytes,
    ) -> &mut Self {
        self.ops.push(Op::Append {
            queue,
            id,
            seq: 0, // assigned by the writer, which alone knows the journal order
            deliveries: 0,
            headers,
            body,
        });
        self
    }

    /// Removes message `id` from `queue` (ACK, or a NACK that discards).
    pub fn ack(&mut self, queue: QueueId, id: MessageId) -> &mut Self {
        self.ops.push(Op::Ack { queue, id });
        self
    }

    /// Records that message `id` has been delivered `count` times (written on NACK or session loss).
    /// When the batch appends that message itself (a publish and its delivery), the count goes into
    /// the append: the same state after replay, one operation fewer.
    pub fn set_deliveries(&mut self, queue: QueueId, id: MessageId, count: u32) -> &mut Self {
        // Only the last few: a publish's delivery follows its append closely, and a long batch
        // must not make this quadratic.
        let recent = self.ops.iter_mut().rev().take(FOLD_WINDOW);
        for op in recent {
            if let Op::Append {
                queue: q,
                id: i,
                deliveries,
                ..
            } = op
            {
                if *q == queue && *i == id {
                    *deliveries = count;
                    return self;
                }
            }
        }
        self.ops.push(Op::Deliveries { queue, id, count });
        self
    }

    /// Moves a message to a dead-letter queue: the ack on `from` and the append to `to` are atomic.
    pub fn dead_letter(
        &mut self,
        from: (QueueId, MessageId),
        to: (QueueId, MessageId),
        headers: Bytes,
        body: Bytes,
    ) -> &mut Self {
        self.ack(from.0, from.1).append(to.0, to.1, headers, body)
    }

    /// True when the batch holds acks and nothing else (nothing that a later
    /// step could depend on being durable first).
    pub fn only_acks(&self) -> bool {
        self.ops.iter().all(|op| matches!(op, Op::Ack { .. }))
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Number of operations in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Bytes the batch takes in the journal, framing included.
    pub fn encoded_len(&self) -> usize {
        super::record::record_len(&self.ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_count_folds_into_the_append_of_the_same_batch_only() {
        let (q, other) = (QueueId(1), QueueId(2));
        let mut b = Batch::new();
        b.append(q, 7, Bytes::new(), Bytes::from_static(b"m"))
            .set_deliveries(q, 7, 1)
            .set_deliveries(other, 7, 3) // same id, another queue: its own op
            .set_deliveries(q, 8, 2); // not appended here
        assert_eq!(b.len(), 3);
        assert!(matches!(b.ops[0], Op::Append { deliveries: 1, .. }));
        assert!(matches!(b.ops[1], Op::Deliveries { count: 3, .. }));
        assert!(!b.only_acks());
        let mut acks = Batch::new();
        acks.ack(q, 7).ack(q, 8);
        assert!(acks.only_acks());
    }
}
