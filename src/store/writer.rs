//! The journal's single writer thread and its group commit: take every batch that arrived while
//! the previous fdatasync ran, write them with one write, sync once, complete them all. No timer.

use std::{
    fs::File,
    os::unix::fs::FileExt,
    path::PathBuf,
    sync::{atomic::Ordering::Relaxed, mpsc::Receiver, Arc},
};

use tokio::sync::oneshot;

use super::batch::Op;
use super::index::{Index, Usage};
use super::stats::Shared;
use super::{record, segment, StoreConfig, StoreError};

/// One submitted batch and where to report its outcome.
pub(crate) struct Request {
    pub ops: Vec<Op>,
    pub done: oneshot::Sender<Result<(), StoreError>>,
}

/// The segment being appended to.
pub(super) struct Active {
    pub id: u64,
    pub file: File,
    /// Offset of the first byte not yet written.
    pub pos: u64,
    pub size: u64,
}

/// Owns the index, the active segment and the write buffer; runs on its own thread.
pub(crate) struct Writer {
    pub(super) config: StoreConfig,
    pub(super) dir: PathBuf,
    pub(super) index: Index,
    pub(super) active: Active,
    /// Encoded records not yet written, to go at `active.pos`.
    pub(super) buf: Vec<u8>,
    pub(super) shared: Arc<Shared>,
}

impl Writer {
    /// Opens the writer on the replayed state, creating the first segment if there is none.
    pub fn new(
        config: StoreConfig,
        mut index: Index,
        active: Option<(u64, File, u64)>,
        shared: Arc<Shared>,
    ) -> Result<Self, StoreError> {
        let dir = config.journal_dir();
        let active = match active {
            Some((id, file, pos)) => {
                let size = index.segments.get(&id).map_or(0, |u| u.size);
                Active {
                    id,
                    file,
                    pos,
                    size,
                }
            }
            None => {
                let file = segment::create(&dir, 1, config.segment_bytes, config.fsync)?;
                let size = config.segment_bytes;
                index.segments.insert(1, usage(size));
                Active {
                    id: 1,
                    file,
                    pos: segment::HEADER_LEN as u64,
                    size,
                }
            }
        };
        let mut writer = Writer {
            config,
            dir,
            index,
            active,
            buf: Vec::new(),
            shared,
        };
        // The active segment must declare every queue, as rolling ensures for later segments:
        // older segments may all be reclaimed, and a crash may have cut a roll short.
        let declarations = writer.declarations();
        writer.stage(&declarations)?;
        writer.flush()?;
        writer.sync()?;
        (writer.index).set_written(writer.active.id, writer.active.pos);
        writer.publish();
        Ok(writer)
    }

    /// The thread's loop; returns when every sender is gone.
    pub fn run(mut self, rx: Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut bytes = record::record_len(&first.ops);
            let mut group = vec![first];
            while bytes < self.config.max_batch_bytes {
                let Ok(next) = rx.try_recv() else { break };
                bytes += record::record_len(&next.ops);
                group.push(next);
            }
            self.commit(group);
            if self.shared.poisoned().is_none() {
                if let Err(e) = self.maintain() {
                    tracing::error!(error = %e, "journal: reclaim or compaction failed; store poisoned");
                    self.shared.poison(&e.to_string());
                }
            }
            self.publish();
        }
    }

    /// Writes a group, syncs once, and completes every request of it with the same outcome.
    fn commit(&mut self, group: Vec<Request>) {
        if let Some(reason) = self.shared.poisoned() {
            for req in group {
                let _ = req.done.send(Err(StoreError::Poisoned(reason.clone())));
            }
            return;
        }
        let mut waiting = Vec::with_capacity(group.len());
        let outcome = self.write_group(group, &mut waiting);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "journal: write failed; store poisoned, no retry");
            self.shared.poison(&e.to_string());
        } else {
            self.shared.syncs.fetch_add(1, Relaxed);
            self.shared.batches.fetch_add(waiting.len() as u64, Relaxed);
        }
        for done in waiting {
            let _ = done.send(outcome.clone());
        }
    }

    fn write_group(
        &mut self,
        group: Vec<Request>,
        waiting: &mut Vec<oneshot::Sender<Result<(), StoreError>>>,
    ) -> Result<(), StoreError> {
        let mut failed = None;
        for mut req in group {
            if failed.is_some() {
                waiting.push(req.done); // reported with the error below
                continue;
            }
            for op in &mut req.ops {
                if let Op::Append { seq, .. } = op {
                    *seq = self.index.next_seq;
                    self.index.next_seq += 1;
                }
            }
            match self.stage(&req.ops) {
                Ok(()) => waiting.push(req.done),
                Err(e @ StoreError::TooLarge { .. }) => {
                    let _ = req.done.send(Err(e)); // this batch only; nothing was written
                }
                Err(e) => {
                    failed = Some(e);
                    waiting.push(req.done);
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        self.flush()?;
        self.sync()
    }

    /// Encodes one record into the buffer, rolling to a new segment if it does not fit, and
    /// indexes its operations. Empty `ops` write nothing.
    pub(super) fn stage(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let len = record::record_len(ops) as u64;
        if self.active.pos + self.buf.len() as u64 + len > self.active.size {
            self.roll()?;
            if self.active.pos + len > self.active.size {
                return Err(StoreError::TooLarge {
                    bytes: len,
                    segment_bytes: self.active.size,
                });
            }
        }
        let pos = self.active.pos + self.buf.len() as u64;
        record::encode(ops, &mut self.buf);
        self.index.apply_record(ops, self.active.id, pos);
        if self.buf.len() >= self.config.max_batch_bytes {
            self.flush()?; // bound the buffer; the sync still comes once, at the end
        }
        Ok(())
    }

    /// Writes the buffer at the end of the active segment.
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.active
            .file
            .write_all_at(&self.buf, self.active.pos)
            .map_err(|e| StoreError::io("writing", segment::path(&self.dir, self.active.id), e))?;
        self.active.pos += self.buf.len() as u64;
        self.buf.clear();
        if let Some(u) = self.index.segments.get_mut(&self.active.id) {
            u.used = self.active.pos;
        }
        self.index.set_written(self.active.id, self.active.pos);
        Ok(())
    }

    /// fdatasyncs the active segment (unless `fsync` is off).
    pub(super) fn sync(&mut self) -> Result<(), StoreError> {
        if !self.config.fsync {
            return Ok(());
        }
        self.active
            .file
            .sync_data()
            .map_err(|e| StoreError::io("syncing", segment::path(&self.dir, self.active.id), e))
    }

    /// Seals the active segment and starts the next one, whose first record declares every queue
    /// so that reclaiming older segments never loses a queue name.
    fn roll(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        self.sync()?;
        let id = self.active.id + 1;
        let size = self.config.segment_bytes;
        let file = segment::create(&self.dir, id, size, self.config.fsync)?;
        self.index.segments.insert(id, usage(size));
        self.active = Active {
            id,
            file,
            pos: segment::HEADER_LEN as u64,
            size,
        };
        let declarations = self.declarations();
        if declarations.is_empty() {
            return Ok(());
        }
        let len = record::record_len(&declarations) as u64;
        if self.active.pos + len > size {
            return Err(StoreError::Config(format!(
                "segment_bytes {size} cannot hold the {len} bytes of queue declarations"
            )));
        }
        record::encode(&declarations, &mut self.buf);
        Ok(())
    }

    /// A declaration of every known queue.
    fn declarations(&self) -> Vec<Op> {
        (self.index.queues.iter())
            .map(|(queue, name)| Op::Declare {
                queue: *queue,
                name: name.clone(),
            })
            .collect()
    }

    /// Makes the gauges match the index.
    pub(super) fn publish(&self) {
        let s = &self.shared;
        s.bytes_on_disk.store(self.index.bytes_on_disk(), Relaxed);
        s.segments.store(self.index.segments.len() as u64, Relaxed);
        s.live_messages.store(self.index.live_len() as u64, Relaxed);
    }
}

fn usage(size: u64) -> Usage {
    Usage {
        used: segment::HEADER_LEN as u64,
        size,
        ..Usage::default()
    }
}
