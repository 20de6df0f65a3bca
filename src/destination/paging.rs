//! A durable queue's ready messages, of which only the head stays in memory.
//! With priorities there is a head per priority (lanes.rs), each paged alike.
//!
//! A queue deeper than its share of memory keeps the persistent messages beyond the share on
//! disk only: a message leaves memory once the journal has written it (until then its batch
//! still holds the bytes anyway), leaving a 16-byte slot (id and size). When such a slot reaches
//! the head, it and the slots behind it are read back, a bounded batch at a time, with one
//! synchronous `pread` each (`Store::read`). Synchronous because the records read back are the
//! oldest of the queue and were written in order, so they are usually in the page cache or read
//! ahead by the kernel; a batch costs well under a millisecond there, and `pop_front` can then
//! keep its contract (it never fails nor waits) without a reader thread and a "not yet" state.
//! Memory accounting follows: a paged-out message gives its footprint back to the broker's
//! budget, a paged-in one takes it again.

use std::collections::VecDeque;
use std::sync::Arc;

use super::lanes::{Lane, Lanes};
use crate::model::{
    decode_headers, priority_class, priority_of_class, Envelope, MemoryBudget, MessageData,
};
use crate::store::{MessageId, QueueId, RecoveredMessage, Store};

/// What a queue needs to page: the journal, its id there, and the memory it may use.
pub(super) struct Pager {
    /// The journal.
    pub store: Arc<dyn Store>,
    /// The queue's id in the journal.
    pub queue: QueueId,
    /// The broker's memory budget.
    pub memory: Arc<MemoryBudget>,
    /// Body bytes this queue keeps in memory before paging out.
    pub share: usize,
    /// The queue's name, for logs.
    pub name: Arc<str>,
}

impl Pager {
    /// Whether a message of `size` bytes must go to disk only, with `resident` bytes kept:
    /// over the queue's share, or while the broker is more than half way to its budget.
    fn must_page(&self, resident: usize, size: usize) -> bool {
        resident + size > self.share || self.memory.used() > self.memory.limit() / 2
    }

    /// Body bytes read back at a time.
    fn read_ahead(&self) -> usize {
        (self.share / 4).clamp(64 * 1024, 1024 * 1024)
    }

    fn read(&self, id: MessageId) -> Result<Envelope, String> {
        let stored = self.store.read(self.queue, id).map_err(|e| e.to_string())?;
        let headers = decode_headers(stored.headers).map_err(|e| e.to_string())?;
        Ok(Envelope {
            data: MessageData::restored(id, headers, stored.body),
            deliveries: stored.deliveries,
        })
    }
}

/// One ready message.
enum Slot {
    /// In memory, counted in the queue's resident bytes.
    Resident(Envelope),
    /// Paged out but not yet written by the journal: in memory until it is.
    Unwritten(Envelope),
    /// On disk only.
    OnDisk { id: MessageId, size: u32 },
}

/// The ready messages of one priority, in order.
struct PageLane {
    slots: VecDeque<Slot>,
    /// Position of `slots[0]` in a numbering that stays fixed while slots come and go at both
    /// ends (started in the middle of the range so that `push_front` can go below it).
    base: u64,
    /// Positions of `Unwritten` slots, oldest first (stale ones are skipped).
    unwritten: VecDeque<u64>,
}

impl Default for PageLane {
    fn default() -> Self {
        PageLane {
            slots: VecDeque::new(),
            base: u64::MAX / 2,
            unwritten: VecDeque::new(),
        }
    }
}

impl Lane for PageLane {
    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Ready messages in delivery order (by priority, then first in first out), the head of each
/// priority in memory and the rest maybe on disk. Paging counts the queue's resident bytes over
/// all priorities, so a queue that uses priorities keeps no more in memory than one that does
/// not; a paged-out message is read back when it reaches the head of its priority.
pub(super) struct Ready {
    lanes: Lanes<PageLane>,
    /// How many messages are ready, over every lane.
    len: usize,
    /// Body bytes of every ready message, in memory or not (what queue limits count).
    bytes: usize,
    /// Body bytes of the `Resident` ones.
    resident: usize,
    pager: Option<Pager>,
}

/// How many `Unwritten` slots one call looks at: bounds the work of a single step.
const SETTLE_BATCH: usize = 1024;

impl Ready {
    /// Ready messages kept in memory, paged out through `pager` if there is one.
    pub fn new(pager: Option<Pager>) -> Self {
        Ready {
            lanes: Lanes::default(),
            len: 0,
            bytes: 0,
            resident: 0,
            pager,
        }
    }

    /// How many messages are ready.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Body bytes of the ready messages.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Body bytes of the ready messages held in memory for good (not counting those waiting
    /// for their write before leaving).
    pub fn resident(&self) -> usize {
        self.resident
    }

    /// Takes `env` at the back of its priority. `journaled`: it is (or is about to be) in the
    /// journal under this queue's id, so it may leave memory once written. Its footprint has
    /// been (or is about to be) charged by the caller; paging gives it back later, once written.
    pub fn push_back(&mut self, env: Envelope, journaled: bool) {
        self.settle();
        let size = env.data.size();
        self.bytes += size;
        self.len += 1;
        let page = journaled
            && self
                .pager
                .as_ref()
                .is_some_and(|p| p.must_page(self.resident, size));
        if !page {
            self.resident += size;
        }
        let lane = self.lanes.lane(env.data.priority);
        if page {
            lane.unwritten
                .push_back(lane.base + lane.slots.len() as u64);
            lane.slots.push_back(Slot::Unwritten(env));
        } else {
            lane.slots.push_back(Slot::Resident(env));
        }
    }

    /// Takes a recovered message at the back of its priority, charging the budget only for
    /// what stays in memory. `None` when its headers cannot be decoded. A message recovered
    /// without its headers (`paged`) has the priority the journal classed it with.
    pub fn push_recovered(&mut self, m: RecoveredMessage) -> Result<(), String> {
        let size = m.size as usize;
        let keep = !m.paged
            && self
                .pager
                .as_ref()
                .is_none_or(|p| !p.must_page(self.resident, size));
        if !keep {
            let class = if m.paged {
                m.class
            } else {
                priority_class(&m.headers)
            };
            self.bytes += size;
            self.len += 1;
            self.lanes
                .lane(priority_of_class(class))
                .slots
                .push_back(Slot::OnDisk {
                    id: m.id,
                    size: m.size,
                });
            return Ok(());
        }
        let headers = decode_headers(m.headers).map_err(|e| e.to_string())?;
        let data = MessageData::restored(m.id, headers, m.body);
        if let Some(p) = &self.pager {
            p.memory.add(data.footprint());
        }
        self.bytes += size;
        self.len += 1;
        self.resident += size;
        self.lanes
            .lane(data.priority)
            .slots
            .push_back(Slot::Resident(Envelope {
                data,
                deliveries: m.deliveries,
            }));
        Ok(())
    }

    /// Puts a returned message back at the head of its priority, in memory.
    pub fn push_front(&mut self, env: Envelope) {
        let size = env.data.size();
        self.bytes += size;
        self.resident += size;
        self.len += 1;
        let lane = self.lanes.lane(env.data.priority);
        lane.base -= 1;
        lane.slots.push_front(Slot::Resident(env));
    }

    /// The oldest ready message of the highest priority, read back from disk if it was paged
    /// out. A message that cannot be read is logged and skipped: it stays in the journal and
    /// comes back after a restart.
    pub fn pop_front(&mut self) -> Option<Envelope> {
        self.settle();
        loop {
            let lane = self.lanes.head()?;
            if matches!(lane.slots.front()?, Slot::OnDisk { .. }) {
                if let Some(p) = &self.pager {
                    self.resident += page_in(p, lane);
                }
            }
            let slot = lane.slots.pop_front()?;
            lane.base += 1;
            self.len -= 1;
            match slot {
                Slot::Resident(env) => {
                    let size = env.data.size();
                    self.bytes -= size;
                    self.resident -= size;
                    return Some(env);
                }
                Slot::Unwritten(env) => {
                    self.bytes -= env.data.size();
                    return Some(env);
                }
                Slot::OnDisk { id, size } => {
                    self.bytes -= size as usize;
                    tracing::error!(
                        id,
                        "paged-out message could not be read back; skipped until a restart"
                    );
                }
            }
        }
    }

    /// Lets paged-out messages the journal has written leave memory.
    pub fn settle(&mut self) {
        let Some(p) = &self.pager else { return };
        let mut budget = SETTLE_BATCH;
        for lane in self.lanes.all() {
            settle_lane(p, lane, &mut budget);
            if budget == 0 {
                return;
            }
        }
    }
}

/// Reads back `lane`'s paged-out messages from its head on, up to a batch of bytes; stops at
/// the first that cannot be read (`pop_front` skips it if it is at the head). Returns the body
/// bytes now resident.
fn page_in(p: &Pager, lane: &mut PageLane) -> usize {
    let (limit, mut read, mut resident) = (p.read_ahead(), 0usize, 0usize);
    for slot in lane.slots.iter_mut() {
        if read >= limit {
            break;
        }
        let Slot::OnDisk { id, size } = *slot else {
            continue;
        };
        match p.read(id) {
            Ok(env) => {
                p.memory.add(env.data.footprint());
                resident += size as usize;
                read += (size as usize).max(1);
                *slot = Slot::Resident(env);
            }
            Err(e) => {
                tracing::error!(destination = %p.name, id, error = %e, "reading a paged-out message failed");
                break;
            }
        }
    }
    resident
}

/// Lets `lane`'s paged-out messages the journal has written leave memory, looking at most at
/// `budget` of them (and counting them off it).
fn settle_lane(p: &Pager, lane: &mut PageLane, budget: &mut usize) {
    while *budget > 0 {
        let Some(&at) = lane.unwritten.front() else {
            return;
        };
        let index = at.checked_sub(lane.base).map(|i| i as usize);
        // A stale position (popped, or now a returned message) has nothing to settle.
        if let Some(Slot::Unwritten(env)) = index.and_then(|i| lane.slots.get(i)) {
            if !p.store.is_written(p.queue, env.data.id) {
                return;
            }
            p.memory.sub(env.data.footprint());
            let paged = Slot::OnDisk {
                id: env.data.id,
                size: env.data.size() as u32,
            };
            if let Some(slot) = index.and_then(|i| lane.slots.get_mut(i)) {
                *slot = paged;
            }
        }
        lane.unwritten.pop_front();
        *budget -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::encode_headers;
    use crate::store::{Batch, Journal, StoreConfig};
    use bytes::Bytes;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        queue: QueueId,
        memory: Arc<MemoryBudget>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = StoreConfig {
            segment_bytes: 64 * 1024,
            fsync: false,
            ..StoreConfig::in_dir(dir.path())
        };
        let store: Arc<dyn Store> = Arc::new(Journal::open(config).expect("journal"));
        let queue = store.declare_queue("/queue/q").expect("declared");
        Fixture {
            _dir: dir,
            store,
            queue,
            memory: Arc::new(MemoryBudget::new(1 << 30)),
        }
    }

    fn ready(f: &Fixture, share: usize) -> Ready {
        Ready::new(Some(Pager {
            store: f.store.clone(),
            queue: f.queue,
            memory: f.memory.clone(),
            share,
            name: "/queue/q".into(),
        }))
    }

    /// A persistent message of 1000 bytes starting with `n`.
    fn message(n: usize) -> Arc<MessageData> {
        let headers = vec![("persistent".to_string(), "true".to_string())];
        MessageData::from_send(headers, Bytes::from(format!("{n:04}").repeat(250)))
    }

    /// Journals `d` under the fixture's queue and waits until it is written.
    fn journal(f: &Fixture, d: &MessageData) {
        let mut batch = Batch::new();
        batch.append(f.queue, d.id, encode_headers(&d.headers), d.body.clone());
        f.store
            .submit(batch)
            .expect("submitted")
            .wait()
            .expect("written");
    }

    /// Pops everything, giving back each footprint as the queue does on removal.
    fn drain(f: &Fixture, r: &mut Ready) -> Vec<String> {
        std::iter::from_fn(|| r.pop_front())
            .map(|e| {
                f.memory.sub(e.data.footprint());
                String::from_utf8_lossy(&e.data.body[..4]).into_owned()
            })
            .collect()
    }

    fn numbers(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|n| format!("{n:04}")).collect()
    }

    #[test]
    fn beyond_its_share_a_queue_keeps_slots_only_and_reads_back_in_order() {
        let f = fixture();
        let mut r = ready(&f, 10_000);
        let footprint = message(0).footprint();
        for n in 0..50 {
            let d = message(n);
            journal(&f, &d);
            f.memory.add(d.footprint());
            r.push_back(Envelope::new(d), true);
        }
        r.settle();
        assert_eq!((r.len(), r.bytes()), (50, 50_000));
        assert!(r.resident() <= 10_000, "resident {}", r.resident());
        assert!(
            f.memory.used() <= 10 * footprint,
            "{} bytes charged for 10 messages in memory",
            f.memory.used()
        );
        // A returned message goes back to the head, in memory, ahead of the paged ones.
        let first = r.pop_front().expect("a message");
        r.push_front(first);
        let non_persistent = message(50);
        f.memory.add(non_persistent.footprint());
        r.push_back(Envelope::new(non_persistent), false);
        assert_eq!(drain(&f, &mut r), numbers(0..51));
        assert_eq!((r.len(), r.bytes(), r.resident()), (0, 0, 0));
        assert_eq!(
            f.memory.used(),
            0,
            "every footprint given back exactly once"
        );
    }

    #[test]
    fn a_paged_out_message_stays_in_memory_until_the_journal_has_written_it() {
        let f = fixture();
        let mut r = ready(&f, 0);
        let d = message(7);
        f.memory.add(d.footprint());
        r.push_back(Envelope::new(d.clone()), true);
        r.settle();
        assert_eq!(
            f.memory.used(),
            d.footprint(),
            "not written: still in memory"
        );
        journal(&f, &d);
        r.settle();
        assert_eq!(f.memory.used(), 0, "written: only its slot is left");
        assert_eq!(drain(&f, &mut r), numbers(7..8));
        assert_eq!(f.memory.used(), 0);
    }

    /// A persistent message of 1000 bytes starting with `n`, of `priority`.
    fn prioritised(n: usize, priority: u8) -> Arc<MessageData> {
        let headers = vec![
            ("persistent".to_string(), "true".to_string()),
            ("priority".to_string(), priority.to_string()),
        ];
        MessageData::from_send(headers, Bytes::from(format!("{n:04}").repeat(250)))
    }

    #[test]
    fn priorities_page_out_alike_and_read_back_highest_first() {
        let f = fixture();
        let mut r = ready(&f, 10_000);
        let priority = |n: usize| [9u8, 4, 0][n % 3];
        for n in 0..60 {
            let d = prioritised(n, priority(n));
            journal(&f, &d);
            f.memory.add(d.footprint());
            r.push_back(Envelope::new(d), true);
        }
        r.settle();
        assert_eq!((r.len(), r.bytes()), (60, 60_000));
        assert!(
            r.resident() <= 10_000,
            "one share for all priorities: {}",
            r.resident()
        );
        // A message recovered on disk only goes back to the priority the journal classed it in.
        let late = prioritised(60, 9);
        journal(&f, &late);
        r.push_recovered(RecoveredMessage {
            id: late.id,
            deliveries: 1,
            headers: Bytes::new(),
            body: Bytes::new(),
            paged: true,
            size: 1000,
            class: priority_class(&encode_headers(&late.headers)),
        })
        .expect("taken");
        let mut expected: Vec<usize> = (0..60).filter(|n| n % 3 == 0).collect();
        expected.push(60);
        expected.extend((0..60).filter(|n| n % 3 == 1));
        expected.extend((0..60).filter(|n| n % 3 == 2));
        let expected: Vec<String> = expected.iter().map(|n| format!("{n:04}")).collect();
        assert_eq!(drain(&f, &mut r), expected);
        assert_eq!((r.len(), r.bytes(), r.resident()), (0, 0, 0));
        assert_eq!(
            f.memory.used(),
            0,
            "every footprint given back exactly once"
        );
    }
}
