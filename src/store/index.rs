//! The journal's in-memory index: where every live message is, how much of each segment is still
//! live, and the queue names. Built by recovery, then owned by the writer thread, which shares the
//! live messages' locations (under a lock) with readers paging messages back in.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::batch::{MessageId, Op, QueueId};
use super::record;

/// Where a live message's latest copy is. Kept small: there is one per live message, and a queue
/// deeper than memory holds little else per message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// Journal order of the original append.
    pub seq: u64,
    /// Segment holding the latest copy.
    pub segment: u64,
    /// Offset in that segment of the copy's `Append` operation (inside its record).
    pub offset: u32,
    /// Bytes that copy takes (its own record's worth: framing plus the operation).
    pub bytes: u32,
    /// Latest recorded delivery count.
    pub deliveries: u32,
    /// Bytes of the encoded headers.
    pub headers: u32,
}

/// Bytes of an `Append` operation besides its headers and body.
const APPEND_FIXED: usize = 1 + 4 + 8 + 8 + 4 + 4 + 4;

impl Entry {
    /// Bytes of the body.
    pub fn body_len(&self) -> u32 {
        (self.op_len() - APPEND_FIXED - self.headers as usize) as u32
    }

    /// Bytes of the `Append` operation alone, as it lies at `offset`.
    pub fn op_len(&self) -> usize {
        self.bytes as usize - record::FRAME_LEN
    }
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

/// The live messages and how far the segments are written, shared with readers.
#[derive(Debug, Default)]
pub(crate) struct Live {
    map: HashMap<(QueueId, MessageId), Entry>,
    /// `(segment, offset)`: everything before it is in the files (maybe not yet synced).
    written: (u64, u64),
    /// The oldest segment still on disk.
    first: u64,
}

/// Why a location could not be given.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// The message is not live (acknowledged, or never appended).
    Unknown,
    /// Its latest copy is still in the writer's buffer.
    NotWritten,
}

/// A handle on the live messages' locations, for readers on other threads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Locations(Arc<(Mutex<Live>, Condvar)>);

impl Locations {
    fn lock(&self) -> MutexGuard<'_, Live> {
        self.0 .0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where message `id` of `queue` is, waiting up to `patience` for the writer to write its
    /// latest copy (compaction re-appends a live message before writing it).
    pub fn find(
        &self,
        queue: QueueId,
        id: MessageId,
        patience: Duration,
    ) -> Result<Entry, Missing> {
        let mut live = self.lock();
        let deadline = std::time::Instant::now() + patience;
        loop {
            let entry = *live.map.get(&(queue, id)).ok_or(Missing::Unknown)?;
            let (seg, pos) = live.written;
            let end = u64::from(entry.offset) + entry.op_len() as u64;
            if entry.segment < seg || (entry.segment == seg && end <= pos) {
                return Ok(entry);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Missing::NotWritten);
            }
            live = (self.0 .1.wait_timeout(live, left))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Whether message `id` of `queue` is in the files (its bytes can be dropped from memory).
    pub fn is_written(&self, queue: QueueId, id: MessageId) -> bool {
        self.find(queue, id, Duration::ZERO).is_ok()
    }

    /// The oldest segment still on disk: readers close files of older ones.
    pub fn first_segment(&self) -> u64 {
        self.lock().first
    }
}

/// Live messages, segment usage and queue names.
#[derive(Debug, Default)]
pub(crate) struct Index {
    live: Locations,
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

    /// The shared handle on the live messages.
    pub fn locations(&self) -> Locations {
        self.live.clone()
    }

    /// Applies the operations of one record, replayed or written, found at `pos` of `segment`.
    pub fn apply_record(&mut self, ops: &[Op], segment: u64, pos: u64) {
        let live = self.live.clone();
        let mut live = live.lock();
        let mut at = pos + record::FRAME_LEN as u64;
        for op in ops {
            self.apply(&mut live.map, op, segment, at);
            at += record::op_len(op) as u64;
        }
    }

    fn apply(
        &mut self,
        live: &mut HashMap<(QueueId, MessageId), Entry>,
        op: &Op,
        segment: u64,
        at: u64,
    ) {
        match op {
            Op::Declare { queue, name } => {
                self.queues.insert(*queue, name.clone());
            }
            Op::Append {
                queue,
                id,
                seq,
                deliveries,
                headers,
                ..
            } => {
                // Segments are at most 4 GiB (StoreConfig::validate), so offsets fit in 32 bits.
                let bytes = record::record_len(std::slice::from_ref(op)) as u32;
                let entry = Entry {
                    seq: *seq,
                    segment,
                    offset: at as u32,
                    bytes,
                    deliveries: *deliveries,
                    headers: headers.len() as u32,
                };
                // A second append of the same key is a copy made by compaction (same seq) or a
                // reused id (new seq); either way the latest one is what lives.
                if let Some(old) = live.insert((*queue, *id), entry) {
                    self.release(&old);
                }
                let usage = self.segments.entry(segment).or_default();
                usage.live += 1;
                usage.live_bytes += u64::from(bytes);
                self.next_seq = self.next_seq.max(seq + 1);
            }
            Op::Ack { queue, id } => {
                // An ack of an unknown message refers to a segment already reclaimed: nothing to do.
                if let Some(entry) = live.remove(&(*queue, *id)) {
                    self.release(&entry);
                }
            }
            Op::Deliveries { queue, id, count } => {
                if let Some(entry) = live.get_mut(&(*queue, *id)) {
                    entry.deliveries = *count;
                }
            }
        }
    }

    /// Takes a message that is no longer live here off its segment's usage.
    fn release(&mut self, entry: &Entry) {
        if let Some(usage) = self.segments.get_mut(&entry.segment) {
            usage.live -= 1;
            usage.live_bytes -= u64::from(entry.bytes);
        }
    }

    /// The latest copy of message `id` of `queue`, if it is live.
    pub fn entry(&self, queue: QueueId, id: MessageId) -> Option<Entry> {
        self.live.lock().map.get(&(queue, id)).copied()
    }

    /// Every live message with its entry (recovery only: this copies the whole index).
    pub fn entries(&self) -> Vec<((QueueId, MessageId), Entry)> {
        self.live.lock().map.iter().map(|(k, e)| (*k, *e)).collect()
    }

    /// Live messages.
    pub fn live_len(&self) -> usize {
        self.live.lock().map.len()
    }

    /// Everything before `pos` of `segment` is written: readers may read it.
    pub fn set_written(&self, segment: u64, pos: u64) {
        let mut live = self.live.lock();
        live.written = (segment, pos);
        live.first = self.segments.keys().next().copied().unwrap_or(segment);
        drop(live);
        self.live.0 .1.notify_all();
    }

    /// Sum of all segment file sizes.
    pub fn bytes_on_disk(&self) -> u64 {
        self.segments.values().map(|u| u.size).sum()
    }
}
