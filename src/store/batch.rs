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
    pub fn set_deliveries(&mut self, queue: QueueId, id: MessageId, count: u32) -> &mut Self {
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
