//! A published message as destinations hold it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::limits::MemoryBudget;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use crate::protocol::{encode_shared_headers, Version};

/// Source of message ids, unique for the process's lifetime.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The `expires` header as a deadline; unreadable ones were refused at SEND.
fn expires_of(headers: &[(String, String)]) -> Option<u64> {
    let v = headers
        .iter()
        .find(|(n, _)| n == "expires")
        .map(|(_, v)| v.as_str());
    super::parse_expires(v).ok().flatten()
}

/// The immutable part of a message, shared (never copied) by every delivery.
#[derive(Debug)]
pub struct MessageData {
    /// Broker-wide unique id, the MESSAGE `message-id`.
    pub id: u64,
    /// Headers every delivery carries: the SEND's headers less `receipt`,
    /// `transaction` and `content-length` (the encoder writes its own).
    pub headers: Arc<[(String, String)]>,
    /// The body, as read from the producer's socket.
    pub body: Bytes,
    /// When the broker accepted it (for the publish-to-delivery histogram
    /// and a destination's time to live).
    pub published_at: Instant,
    /// Its `expires` header (ms since the epoch), read once.
    pub expires_at: Option<u64>,
    /// Its `priority` header (0-9, 4 when absent), read once: the lane a queue keeps it in.
    pub priority: u8,
    /// `headers` encoded for delivery, once per protocol version (1.0, 1.1,
    /// 1.2) and shared by every subscriber.
    encoded: [OnceLock<Bytes>; 3],
    /// How many topic backlogs hold this message now. Its bytes are shared,
    /// so they count against the memory budget once, however many slow
    /// subscribers park it.
    parked: AtomicUsize,
    /// Already appended to its destination's journal by whoever made it (a
    /// dead-letter move writes the copy with the ack of the original, in one
    /// atomic batch), so the receiving queue must not append it again.
    journaled: AtomicBool,
    /// Published on another cluster node and relayed here: delivered locally, never relayed again.
    remote: bool,
}

impl MessageData {
    /// Builds a message from a SEND frame's headers and body.
    pub fn from_send(headers: Vec<(String, String)>, body: Bytes) -> Arc<MessageData> {
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(n, _)| !matches!(n.as_str(), "receipt" | "transaction" | "content-length"))
            .collect();
        Arc::new(MessageData {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            expires_at: expires_of(&headers),
            priority: super::priority_of(&headers),
            headers: headers.into(),
            body,
            published_at: Instant::now(),
            encoded: Default::default(),
            parked: AtomicUsize::new(0),
            journaled: AtomicBool::new(false),
            remote: false,
        })
    }

    /// A copy for another destination (dead-lettering): new id, the
    /// `destination` header replaced and `extra` headers added; body shared.
    /// The copy does not expire: its `expires` becomes `x-original-expires`
    /// (ActiveMQ, too, clears the expiration of what it dead-letters).
    pub fn redirected(&self, destination: &str, extra: Vec<(String, String)>) -> Arc<MessageData> {
        self.redirected_without(destination, extra, &[])
    }

    /// Like [`redirected`](Self::redirected), also leaving out the headers
    /// named in `drop` (a replayed dead letter sheds what dead-lettering added).
    pub fn redirected_without(
        &self,
        destination: &str,
        extra: Vec<(String, String)>,
        drop: &[&str],
    ) -> Arc<MessageData> {
        let mut headers: Vec<(String, String)> = extra;
        headers.push(("destination".into(), destination.into()));
        headers.extend(
            self.headers
                .iter()
                .filter(|(n, _)| n != "destination" && !drop.contains(&n.as_str()))
                .map(|(n, v)| match n.as_str() {
                    "expires" => ("x-original-expires".to_string(), v.clone()),
                    _ => (n.clone(), v.clone()),
                }),
        );
        Arc::new(MessageData {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            expires_at: None,
            priority: super::priority_of(&headers),
            headers: headers.into(),
            body: self.body.clone(),
            published_at: Instant::now(),
            encoded: Default::default(),
            parked: AtomicUsize::new(0),
            journaled: AtomicBool::new(false),
            remote: false,
        })
    }

    /// The same message for one more queue (a durable subscription's, fed by
    /// a topic): same id, headers and body, shared, but its own journal and
    /// parking state, so each queue journals it under its own name.
    pub fn copy_for_queue(&self) -> Arc<MessageData> {
        Arc::new(MessageData {
            id: self.id,
            expires_at: self.expires_at,
            priority: self.priority,
            headers: self.headers.clone(),
            body: self.body.clone(),
            published_at: self.published_at,
            encoded: Default::default(),
            parked: AtomicUsize::new(0),
            journaled: AtomicBool::new(false),
            remote: self.remote,
        })
    }

    /// A message read back from the journal at start-up: it keeps the id it
    /// had before the restart (so its `message-id` is stable), and ids given
    /// out from now on are above it.
    pub fn restored(id: u64, headers: Vec<(String, String)>, body: Bytes) -> Arc<MessageData> {
        NEXT_ID.fetch_max(id.saturating_add(1), Ordering::Relaxed);
        Arc::new(MessageData {
            id,
            expires_at: expires_of(&headers),
            priority: super::priority_of(&headers),
            headers: headers.into(),
            body,
            published_at: Instant::now(),
            encoded: Default::default(),
            parked: AtomicUsize::new(0),
            journaled: AtomicBool::new(true),
            remote: false,
        })
    }

    /// A topic message another cluster node published, with the headers and body it sent:
    /// a new local id, and marked so that this node delivers it but never relays it back.
    pub fn from_remote(headers: Vec<(String, String)>, body: Bytes) -> Arc<MessageData> {
        Arc::new(MessageData {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            expires_at: expires_of(&headers),
            priority: super::priority_of(&headers),
            headers: headers.into(),
            body,
            published_at: Instant::now(),
            encoded: Default::default(),
            parked: AtomicUsize::new(0),
            journaled: AtomicBool::new(false),
            remote: true,
        })
    }

    /// Whether another cluster node published it ([`from_remote`](Self::from_remote)).
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// Whether it has expired by its own `expires` header, or by `ttl`.
    pub fn expired(&self, ttl: Option<std::time::Duration>) -> bool {
        self.expires_at.is_some_and(|at| super::now_ms() >= at)
            || ttl.is_some_and(|ttl| self.published_at.elapsed() >= ttl)
    }

    /// Whether the SEND asked for it to survive a restart (`persistent:true`).
    pub fn persistent_header(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| n == "persistent" && v.eq_ignore_ascii_case("true"))
    }

    /// Whether it has been appended to a journal already (see `journaled`).
    pub fn is_journaled(&self) -> bool {
        self.journaled.load(Ordering::Relaxed)
    }

    /// Records that it has been appended to its destination's journal.
    pub fn mark_journaled(&self) {
        self.journaled.store(true, Ordering::Relaxed);
    }

    /// Records that its journal record was acknowledged by someone else (a
    /// COMMIT's batch), so its queue must not acknowledge it again.
    pub fn mark_unjournaled(&self) {
        self.journaled.store(false, Ordering::Relaxed);
    }

    /// The shared headers encoded for `version`, encoding them on first use.
    pub fn encoded_headers(&self, version: Version) -> &Bytes {
        let slot = match version {
            Version::V1_0 => &self.encoded[0],
            Version::V1_1 => &self.encoded[1],
            Version::V1_2 => &self.encoded[2],
        };
        slot.get_or_init(|| encode_shared_headers(&self.headers, version))
    }

    /// Body bytes: what queue byte limits and byte metrics count.
    pub fn size(&self) -> usize {
        self.body.len()
    }

    /// Counts one more backlog holding this message; the first charges its
    /// footprint to `budget`.
    pub fn park(&self, budget: &MemoryBudget) {
        if self.parked.fetch_add(1, Ordering::Relaxed) == 0 {
            budget.add(self.footprint());
        }
    }

    /// Counts one backlog fewer; the last gives its footprint back.
    pub fn unpark(&self, budget: &MemoryBudget) {
        if self.parked.fetch_sub(1, Ordering::Relaxed) == 1 {
            budget.sub(self.footprint());
        }
    }

    /// What holding this message costs in memory, headers and bookkeeping
    /// included: what the broker-wide memory budget counts, so that many
    /// small messages cannot hide behind their small bodies.
    pub fn footprint(&self) -> usize {
        const OVERHEAD: usize = 160;
        self.body.len()
            + OVERHEAD
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 2 * std::mem::size_of::<String>())
                .sum::<usize>()
    }
}

/// A message as a queue holds it: shared data plus its delivery history.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub data: Arc<MessageData>,
    /// How many times it has been handed to a consumer.
    pub deliveries: u32,
}

impl Envelope {
    /// A message not yet delivered.
    pub fn new(data: Arc<MessageData>) -> Self {
        Envelope {
            data,
            deliveries: 0,
        }
    }
}
