//! Start-up replay: scan every segment in order, rebuild the index and the live messages, cut a
//! torn tail off the last segment, and refuse to start on corruption anywhere else.

use std::{collections::HashMap, fs::File, path::Path};

use bytes::Bytes;

use super::batch::{MessageId, Op, QueueId};
use super::index::Index;
use super::{record, segment, Recovered, RecoveredMessage, RecoveredQueue, StoreError, TornTail};

/// What recovery hands to the journal.
pub(crate) struct Replayed {
    pub index: Index,
    pub recovered: Recovered,
    /// The last segment, to append to: id, file, first free offset. `None` if there is none yet.
    pub active: Option<(u64, File, u64)>,
}

/// Replays the journal in `dir`, keeping the headers and bodies of live messages in memory up to
/// `resident` bytes in all; the others are recovered without them, to be read back by location,
/// with the class `classify` gives their headers.
pub(crate) fn replay(
    dir: &Path,
    resident: u64,
    classify: fn(&[u8]) -> u8,
) -> Result<Replayed, StoreError> {
    let ids = segment::list(dir)?;
    let mut index = Index::new();
    let mut data = Bodies {
        kept: HashMap::new(),
        classes: HashMap::new(),
        classify,
        bytes: 0,
        limit: resident,
    };
    let mut torn_tail = None;
    let mut active = None;
    for (n, &id) in ids.iter().enumerate() {
        let last = n + 1 == ids.len();
        let path = segment::path(dir, id);
        let buf = segment::read(dir, id)?;
        let corrupt = |offset: usize, reason: String| StoreError::Corrupt {
            path: path.clone(),
            offset: offset as u64,
            reason,
        };
        segment::check_header(&buf, id).map_err(|r| corrupt(0, r))?;
        let mut pos = segment::HEADER_LEN;
        let bad = loop {
            match record::read(&buf, pos) {
                record::Read::Record { ops, next } => {
                    index.apply_record(&ops, id, pos as u64);
                    for op in ops {
                        data.track(op);
                    }
                    pos = next;
                }
                record::Read::End => {
                    // Zeros here must mean zeros to the end; anything else is a torn write whose
                    // first pages never reached the disk.
                    break buf[pos..]
                        .iter()
                        .position(|&b| b != 0)
                        .map(|at| format!("non-zero bytes {at} bytes after the last record"));
                }
                record::Read::Torn(reason) => break Some(reason),
                record::Read::Invalid(reason) => return Err(corrupt(pos, reason)),
            }
        };
        let usage = index.segments.entry(id).or_default();
        usage.used = pos as u64;
        usage.size = buf.len() as u64;
        if let Some(reason) = &bad {
            if !last {
                return Err(corrupt(pos, reason.clone()));
            }
        }
        if last {
            let file = segment::open(dir, id)?;
            if let Some(reason) = bad {
                let dropped = buf.len() - pos;
                tracing::warn!(
                    segment = %path.display(), offset = pos, reason = %reason,
                    "journal: torn tail truncated (never acknowledged as durable)"
                );
                segment::zero(&file, &path, pos as u64, buf.len() as u64)?;
                torn_tail = Some(TornTail {
                    segment: path.clone(),
                    offset: pos as u64,
                    bytes: dropped as u64,
                    reason,
                });
            }
            active = Some((id, file, pos as u64));
        }
    }
    let recovered = Recovered {
        queues: collect(&index, data),
        torn_tail,
    };
    Ok(Replayed {
        index,
        recovered,
        active,
    })
}

/// The headers and bodies recovery keeps, within a byte limit, and the classes other than 0 of
/// live messages.
struct Bodies {
    kept: HashMap<(QueueId, MessageId), (Bytes, Bytes)>,
    classes: HashMap<(QueueId, MessageId), u8>,
    classify: fn(&[u8]) -> u8,
    bytes: u64,
    limit: u64,
}

impl Bodies {
    fn track(&mut self, op: Op) {
        match op {
            Op::Append {
                queue,
                id,
                headers,
                body,
                ..
            } => {
                self.forget(queue, id);
                let class = (self.classify)(&headers);
                if class != 0 {
                    self.classes.insert((queue, id), class);
                }
                let n = (headers.len() + body.len()) as u64;
                if self.bytes + n <= self.limit {
                    self.bytes += n;
                    self.kept.insert((queue, id), (headers, body));
                }
            }
            Op::Ack { queue, id } => self.forget(queue, id),
            Op::Declare { .. } | Op::Deliveries { .. } => {}
        }
    }

    fn forget(&mut self, queue: QueueId, id: MessageId) {
        self.classes.remove(&(queue, id));
        if let Some((h, b)) = self.kept.remove(&(queue, id)) {
            self.bytes -= (h.len() + b.len()) as u64;
        }
    }
}

/// Per declared queue, its live messages in original order.
fn collect(index: &Index, mut data: Bodies) -> Vec<RecoveredQueue> {
    let mut queues: Vec<RecoveredQueue> = index
        .queues
        .iter()
        .map(|(id, name)| RecoveredQueue {
            id: *id,
            name: name.clone(),
            messages: Vec::new(),
        })
        .collect();
    let position: HashMap<QueueId, usize> =
        queues.iter().enumerate().map(|(n, q)| (q.id, n)).collect();
    // The index has every live message, its order and count; `data` the bodies kept.
    let mut live = index.entries();
    live.sort_unstable_by_key(|(_, e)| e.seq);
    for ((queue, id), entry) in live {
        let Some(&n) = position.get(&queue) else {
            continue; // submit refuses messages of undeclared queues, so this is never skipped
        };
        let kept = data.kept.remove(&(queue, id));
        queues[n].messages.push(RecoveredMessage {
            id,
            deliveries: entry.deliveries,
            paged: kept.is_none(),
            size: entry.body_len(),
            class: data.classes.remove(&(queue, id)).unwrap_or(0),
            headers: kept.as_ref().map(|k| k.0.clone()).unwrap_or_default(),
            body: kept.map(|k| k.1).unwrap_or_default(),
        });
    }
    queues
}
