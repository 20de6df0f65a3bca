//! [`Journal`]: the file-backed [`Store`]. Submitters encode nothing and never block: they hand a
//! batch to the bounded queue of the writer thread and get a [`Completion`].

use std::{
    collections::HashMap,
    fs::{self, File, TryLockError},
    path::Path,
    sync::{
        atomic::{AtomicU32, Ordering::Relaxed},
        mpsc::{self, SyncSender, TrySendError},
        Arc, Mutex, PoisonError,
    },
    thread::JoinHandle,
};

use tokio::sync::oneshot;

use super::batch::{Batch, Op, QueueId};
use super::reader::Reader;
use super::stats::Shared;
use super::writer::{Request, Writer};
use super::{
    recovery, segment, Completion, MessageId, Recovered, Store, StoreConfig, StoreError,
    StoreStats, StoredMessage,
};

/// The durable journal shared by all queues: one writer thread, group commit, segment files.
pub struct Journal {
    tx: Option<SyncSender<Request>>,
    writer: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// Queue names to ids; held while a declaration is queued so that it precedes any append.
    queues: Mutex<HashMap<String, QueueId>>,
    /// Ids below this are declared.
    next_queue: AtomicU32,
    recovered: Mutex<Option<Recovered>>,
    reader: Reader,
    config: StoreConfig,
    /// Held for the journal's lifetime: two processes appending to one journal would corrupt it.
    _lock: File,
}

impl Journal {
    /// Opens (or creates) the journal under `config.dir`, replays it, and starts the writer.
    /// Fails on corruption anywhere but a torn tail of the last segment.
    pub fn open(config: StoreConfig) -> Result<Self, StoreError> {
        config.validate()?;
        if !config.fsync {
            tracing::warn!("journal: fsync is off; nothing is durable (tests and benchmarks only)");
        }
        let dir = config.journal_dir();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("creating", &dir, e))?;
        if config.fsync {
            segment::sync_dir(&config.dir)?;
        }
        let lock = lock(&dir)?;
        let started = std::time::Instant::now();
        let replayed = recovery::replay(&dir, config.recover_resident_bytes, config.classify)?;
        let reader = Reader::new(dir.clone(), replayed.index.locations());
        let queues: HashMap<String, QueueId> = (replayed.index.queues.iter())
            .map(|(id, name)| (name.clone(), *id))
            .collect();
        let next_queue = replayed.index.queues.keys().last().map_or(1, |q| q.0 + 1);
        let shared = Arc::new(Shared::default());
        let recovered: usize = (replayed.recovered.queues.iter())
            .map(|q| q.messages.len())
            .sum();
        let writer = Writer::new(
            config.clone(),
            replayed.index,
            replayed.active,
            shared.clone(),
        )?;
        // Until the writer is ready (its first sync included): when the store can serve.
        (shared.recovery_seconds).store(started.elapsed().as_secs_f64().to_bits(), Relaxed);
        (shared.recovered_messages).store(recovered as u64, Relaxed);
        let (tx, rx) = mpsc::sync_channel(config.queue_depth);
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::io("starting writer thread for", &dir, e))?;
        Ok(Journal {
            tx: Some(tx),
            writer: Some(writer),
            shared,
            queues: Mutex::new(queues),
            next_queue: AtomicU32::new(next_queue),
            recovered: Mutex::new(Some(replayed.recovered)),
            reader,
            config,
            _lock: lock,
        })
    }

    fn send(&self, ops: Vec<Op>) -> Result<Completion, StoreError> {
        if let Some(reason) = self.shared.poisoned() {
            return Err(StoreError::Poisoned(reason));
        }
        let tx = self.tx.as_ref().ok_or(StoreError::Closed)?;
        let (done, rx) = oneshot::channel();
        match tx.try_send(Request { ops, done }) {
            Ok(()) => Ok(Completion { rx }),
            Err(TrySendError::Full(_)) => Err(StoreError::Full {
                depth: self.config.queue_depth,
            }),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::Closed),
        }
    }
}

impl Store for Journal {
    fn declare_queue(&self, name: &str) -> Result<QueueId, StoreError> {
        if name.len() > usize::from(u16::MAX) {
            return Err(StoreError::Config(format!(
                "queue name of {} bytes is longer than 65535",
                name.len()
            )));
        }
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = queues.get(name) {
            return Ok(*id);
        }
        let queue = QueueId(self.next_queue.load(Relaxed));
        // Durable before any append that uses it: the writer takes requests in order.
        let _durable_in_order = self.send(vec![Op::Declare {
            queue,
            name: name.to_string(),
        }])?;
        queues.insert(name.to_string(), queue);
        self.next_queue.store(queue.0 + 1, Relaxed);
        Ok(queue)
    }

    fn submit(&self, batch: Batch) -> Result<Completion, StoreError> {
        let bytes = batch.encoded_len() as u64;
        if bytes + segment::HEADER_LEN as u64 > self.config.segment_bytes {
            return Err(StoreError::TooLarge {
                bytes,
                segment_bytes: self.config.segment_bytes,
            });
        }
        let declared = self.next_queue.load(Relaxed);
        if let Some(queue) = batch
            .ops
            .iter()
            .map(op_queue)
            .find(|q| q.0 == 0 || q.0 >= declared)
        {
            return Err(StoreError::UnknownQueue(queue));
        }
        self.send(batch.ops)
    }

    fn recover(&self) -> Result<Recovered, StoreError> {
        (self
            .recovered
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
        .take()
        .ok_or(StoreError::AlreadyRecovered)
    }

    fn stats(&self) -> StoreStats {
        self.shared.snapshot()
    }

    fn read(&self, queue: QueueId, id: MessageId) -> Result<StoredMessage, StoreError> {
        self.reader.read(queue, id)
    }

    fn is_written(&self, queue: QueueId, id: MessageId) -> bool {
        self.reader.is_written(queue, id)
    }
}

/// Takes the exclusive lock on `dir/LOCK`, or fails if another store holds it.
fn lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join("LOCK");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io("creating", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked(path)),
        Err(TryLockError::Error(e)) => Err(StoreError::io("locking", path, e)),
    }
}

fn op_queue(op: &Op) -> QueueId {
    match op {
        Op::Declare { queue, .. }
        | Op::Append { queue, .. }
        | Op::Ack { queue, .. }
        | Op::Deliveries { queue, .. } => *queue,
    }
}

impl Drop for Journal {
    /// Lets the writer finish what is queued, then joins it.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}
