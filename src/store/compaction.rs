//! Freeing disk from the head of the journal, oldest segment first: a head segment with nothing
//! live is deleted (reclaim); a head segment that is mostly acknowledged has its live messages
//! copied forward to the active segment, synced, and is then deleted (compaction). Deleting only
//! from the head keeps every ack on disk for as long as the append it cancels.

use std::{fs, sync::atomic::Ordering::Relaxed};

use super::batch::Op;
use super::writer::Writer;
use super::{record, segment, StoreError};

impl Writer {
    /// Reclaims and compacts head segments older than the active one, as far as the rules allow.
    pub(super) fn maintain(&mut self) -> Result<(), StoreError> {
        let active = self.active.id;
        while let Some((&head, usage)) = self.index.segments.first_key_value() {
            if head >= active {
                break;
            }
            if usage.live == 0 {
                self.delete(head)?;
                self.shared.reclaimed.fetch_add(1, Relaxed);
            } else if (usage.live_bytes as f64)
                < self.config.compaction_threshold * usage.used as f64
            {
                self.copy_forward(head)?;
                self.delete(head)?;
                self.shared.compactions.fetch_add(1, Relaxed);
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Re-appends every message whose latest copy is in segment `head`, with its original `seq`
    /// and current delivery count, one record each, then syncs. Recovery tolerates the duplicates
    /// if the process dies before `head` is deleted: the later copy of a key replaces the earlier.
    fn copy_forward(&mut self, head: u64) -> Result<(), StoreError> {
        let path = segment::path(&self.dir, head);
        let buf = segment::read(&self.dir, head)?;
        let mut pos = segment::HEADER_LEN;
        loop {
            match record::read(&buf, pos) {
                record::Read::Record { ops, next } => {
                    for op in ops {
                        if let Some(copy) = self.live_copy(op, head) {
                            self.stage(std::slice::from_ref(&copy))?;
                        }
                    }
                    pos = next;
                }
                record::Read::End => break,
                record::Read::Torn(reason) | record::Read::Invalid(reason) => {
                    return Err(StoreError::Corrupt {
                        path,
                        offset: pos as u64,
                        reason,
                    })
                }
            }
        }
        self.flush()?;
        self.sync()
    }

    /// `op` as it must be copied, if it is the latest copy of a live message and lies in `head`.
    fn live_copy(&self, op: Op, head: u64) -> Option<Op> {
        let Op::Append {
            queue,
            id,
            seq,
            headers,
            body,
            ..
        } = op
        else {
            return None;
        };
        let entry = self.index.entry(queue, id)?;
        (entry.segment == head && entry.seq == seq).then_some(Op::Append {
            queue,
            id,
            seq,
            deliveries: entry.deliveries,
            headers,
            body,
        })
    }

    fn delete(&mut self, id: u64) -> Result<(), StoreError> {
        let path = segment::path(&self.dir, id);
        fs::remove_file(&path).map_err(|e| StoreError::io("deleting", path, e))?;
        if self.config.fsync {
            segment::sync_dir(&self.dir)?;
        }
        self.index.segments.remove(&id);
        Ok(())
    }
}
