//! Reading live messages back by location, for queues that keep only their head in memory. The
//! writer thread moves messages (compaction) and deletes segments; readers find the latest copy
//! in the shared [`Locations`] and read it with one `pread` on a file handle kept open per
//! segment, so a segment deleted after the lookup can still be read through its open handle.

use std::{
    collections::HashMap,
    fs::File,
    os::unix::fs::FileExt,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use super::batch::{MessageId, Op, QueueId};
use super::index::{Locations, Missing};
use super::{record, segment, StoreError, StoredMessage};

/// How long a read waits for the writer to write a copy it has just made (compaction writes in
/// chunks of `max_batch_bytes`, so this is a few milliseconds at most in practice).
const PATIENCE: Duration = Duration::from_secs(1);

/// Reads live messages from the segment files.
pub(crate) struct Reader {
    dir: PathBuf,
    locations: Locations,
    files: Mutex<HashMap<u64, Arc<File>>>,
}

impl Reader {
    /// A reader of the segments in `dir`, finding messages through `locations`.
    pub fn new(dir: PathBuf, locations: Locations) -> Self {
        Reader {
            dir,
            locations,
            files: Mutex::new(HashMap::new()),
        }
    }

    /// Whether message `id` of `queue` is in the files.
    pub fn is_written(&self, queue: QueueId, id: MessageId) -> bool {
        self.locations.is_written(queue, id)
    }

    /// Reads the latest copy of message `id` of `queue`.
    pub fn read(&self, queue: QueueId, id: MessageId) -> Result<StoredMessage, StoreError> {
        let missing = |m| match m {
            Missing::Unknown => StoreError::NotFound { queue, id },
            Missing::NotWritten => StoreError::Io {
                doing: "waiting for the writer to write",
                path: self.dir.clone(),
                source: Arc::new(std::io::Error::from(std::io::ErrorKind::TimedOut)),
            },
        };
        let entry = self.locations.find(queue, id, PATIENCE).map_err(missing)?;
        let path = segment::path(&self.dir, entry.segment);
        let file = self.file(entry.segment)?;
        let mut buf = vec![0u8; entry.op_len()];
        file.read_exact_at(&mut buf, u64::from(entry.offset))
            .map_err(|e| StoreError::io("reading", &path, e))?;
        let corrupt = |reason: String| StoreError::Corrupt {
            path: path.clone(),
            offset: u64::from(entry.offset),
            reason,
        };
        match record::decode_ops(&buf).map_err(corrupt)?.pop() {
            Some(Op::Append {
                queue: q,
                id: i,
                headers,
                body,
                ..
            }) if q == queue && i == id => Ok(StoredMessage {
                deliveries: entry.deliveries,
                headers,
                body,
            }),
            _ => Err(corrupt(format!(
                "the index points at something else than message {id} of queue {queue:?}"
            ))),
        }
    }

    /// The open handle of segment `id`, opening it on first use; closes handles of deleted
    /// segments so that their disk space is freed.
    fn file(&self, id: u64) -> Result<Arc<File>, StoreError> {
        let first = self.locations.first_segment();
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.retain(|&seg, _| seg >= first);
        if let Some(f) = files.get(&id) {
            return Ok(f.clone());
        }
        let path = segment::path(&self.dir, id);
        let f = Arc::new(File::open(&path).map_err(|e| StoreError::io("opening", path, e))?);
        files.insert(id, f.clone());
        Ok(f)
    }
}
