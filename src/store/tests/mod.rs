//! Tests of the journal on real files in a temporary directory.

mod commit;
mod model;
mod reads;
mod reclaim;
mod recovery;

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{Batch, Journal, QueueId, Recovered, RecoveredQueue, Store, StoreConfig};

/// Small segments so that a few messages span several files; compaction off unless a test wants it.
fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        segment_bytes: 4096,
        compaction_threshold: 0.0,
        ..StoreConfig::in_dir(dir)
    }
}

fn open(config: &StoreConfig) -> Journal {
    Journal::open(config.clone()).expect("journal opens")
}

fn body(n: u64, len: usize) -> Bytes {
    let mut b = format!("message {n} ").into_bytes();
    b.resize(len.max(b.len()), b'.');
    Bytes::from(b)
}

/// Appends message `id` and waits until it is durable.
fn append(store: &Journal, queue: QueueId, id: u64, len: usize) {
    let mut batch = Batch::new();
    batch.append(queue, id, Bytes::from_static(b"k:v\n"), body(id, len));
    store
        .submit(batch)
        .expect("submitted")
        .wait()
        .expect("durable");
}

fn ack(store: &Journal, queue: QueueId, id: u64) {
    let mut batch = Batch::new();
    batch.ack(queue, id);
    store
        .submit(batch)
        .expect("submitted")
        .wait()
        .expect("durable");
}

/// Waits until the writer has finished every earlier group, including its reclaim and compaction.
fn barrier(store: &Journal) {
    store
        .submit(Batch::new())
        .expect("submitted")
        .wait()
        .expect("durable");
}

fn queue<'a>(recovered: &'a Recovered, name: &str) -> &'a RecoveredQueue {
    (recovered.queues.iter().find(|q| q.name == name))
        .unwrap_or_else(|| panic!("queue {name} recovered"))
}

fn ids(queue: &RecoveredQueue) -> Vec<u64> {
    queue.messages.iter().map(|m| m.id).collect()
}

fn segments(config: &StoreConfig) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(config.journal_dir())
        .expect("journal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}
