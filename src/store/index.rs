//! The journal's in-memory index: where every live message is, how much of each segment is still
//! live, and the queue names. Built by recovery, then owned by the writer thread alone.

use std::collections::{BTreeMap, HashMap};

use super::batch::{MessageId, Op, QueueId};
use super::record;

/// Where a live message's latest copy is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// Journal order of the original append.
    pub seq: u64,
    /// Segment holding the latest copy.
    pub segment: u64,
    /// Bytes that copy takes (its own record's worth).
    pub bytes: u64,
    /// Latest recorded delivery count.
    pub deliveries: u32,
}

/// How much of one segment is in use and still live.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// Live messages whose latest copy is here.
    pub live: u64,
    /// Their bytes.
    pub live_bytes: u64,
    /// Bytes written (header included).
    pub used: u64,
    /// File size.
    pub size: u64,
}

/// Live messages, segment usage and queue names.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub live: HashMap<(QueueId, MessageId), Entry>,
    pub segments: BTreeMap<u64, Usage>,
    pub queues: BTreeMap<QueueId, String>,
    /// The `seq` the next fresh append gets; always above every `seq` seen.
    pub next_seq: u64,
}

impl Index {
    /// An empty index; sequence numbers start at 1.
    pub fn new() -> Self {
        Index {
            next_seq: 1,
            ..Index::default()
        }
    }

    /// Applies one replayed or written operation found in `segment`.
    pub fn apply(&mut self, op: &Op, segment: u64) {
        match op {
            Op::Declare { queue, name } => {
                self.queues.insert(*queue, name.clone());
            }
            Op::Append {
                queue,
                id,
                seq,
                deliveries,
                ..
            } => {
                let bytes = record::record_len(std::slice::from_ref(op)) as u64;
                let entry = Entry {
                    seq: *seq,
                    segment,
                    bytes,
                    deliveries: *deliveries,
                };
                // A second append of the same key is a copy made by compaction (same seq) or a
                // reused id (new seq); either way the latest one is what lives.
                if let Some(old) = self.live.insert((*queue, *id), entry) {
                    self.release(&old);
                }
                let usage = self.segments.entry(segment).or_default();
                usage.live += 1;
                usage.live_bytes += bytes;
                self.next_seq = self.next_seq.max(seq + 1);
            }
            Op::Ack { queue, id } => {
                // An ack of an unknown message refers to a segment already reclaimed: nothing to do.
                self.remove(*queue, *id);
            }
            Op::Deliveries { queue, id, count } => {
                if let Some(entry) = self.live.get_mut(&(*queue, *id)) {
                    entry.deliveries = *count;
                }
            }
        }
    }

    fn remove(&mut self, queue: QueueId, id: MessageId) {
        if let Some(entry) = self.live.remove(&(queue, id)) {
            self.release(&entry);
        }
    }

    /// Takes a message that is no longer live here off its segment's usage.
    fn release(&mut self, entry: &Entry) {
        if let Some(usage) = self.segments.get_mut(&entry.segment) {
            usage.live -= 1;
            usage.live_bytes -= entry.bytes;
        }
    }

    /// Sum of all segment file sizes.
    pub fn bytes_on_disk(&self) -> u64 {
        self.segments.values().map(|u| u.size).sum()
    }
}
