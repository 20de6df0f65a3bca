//! Group commit, backpressure, size limits and poisoning.

use std::{fs, sync::Arc, thread};

use bytes::Bytes;

use super::*;
use crate::store::StoreError;

#[test]
fn concurrent_submitters_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        segment_bytes: 16 << 20,
        ..config(dir.path())
    };
    // Used the way the destination core will: as a shared trait object.
    let store: Arc<dyn Store> = Arc::new(open(&config));
    let q = store.declare_queue("/queue/q").unwrap();
    store.submit(Batch::new()).unwrap().wait().unwrap();
    let before = store.stats();
    let (threads, per_thread) = (16u64, 100u64);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                for n in 0..per_thread {
                    let mut batch = Batch::new();
                    batch.append(q, t * 1000 + n, Bytes::new(), body(n, 100));
                    store.submit(batch).unwrap().wait().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let after = store.stats();
    let batches = after.batches - before.batches;
    let syncs = after.syncs - before.syncs;
    assert_eq!(batches, threads * per_thread);
    assert!(
        syncs < batches,
        "{syncs} syncs for {batches} batches: no group commit"
    );
    drop(store);
    let store = open(&config);
    let recovered = store.recover().unwrap();
    assert_eq!(queue(&recovered, "/queue/q").messages.len() as u64, batches);
}

#[test]
fn a_full_submission_queue_is_refused_not_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        queue_depth: 1,
        segment_bytes: 16 << 20,
        ..config(dir.path())
    };
    let store = open(&config);
    let q = store.declare_queue("/queue/q").unwrap();
    let mut pending = Vec::new();
    let mut refused = 0;
    for id in 0..10_000 {
        let mut batch = Batch::new();
        batch.append(q, id, Bytes::new(), Bytes::from_static(b"x"));
        match store.submit(batch) {
            Ok(done) => pending.push(done),
            Err(StoreError::Full { depth: 1 }) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(
        refused > 0,
        "a writer syncing to disk cannot keep up with a tight loop"
    );
    for done in pending {
        done.wait().unwrap();
    }
}

#[test]
fn a_batch_larger_than_a_segment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&config(dir.path()));
    let q = store.declare_queue("/queue/q").unwrap();
    let mut batch = Batch::new();
    batch.append(q, 1, Bytes::new(), body(1, 5000));
    assert!(matches!(
        store.submit(batch),
        Err(StoreError::TooLarge { .. })
    ));
    let mut batch = Batch::new();
    batch.ack(QueueId(9), 1);
    assert!(matches!(
        store.submit(batch),
        Err(StoreError::UnknownQueue(QueueId(9)))
    ));
    append(&store, q, 2, 10); // the store is still usable
}

#[test]
fn an_io_error_reaches_the_waiter_and_poisons_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let store = open(&config);
    let q = store.declare_queue("/queue/q").unwrap();
    append(&store, q, 1, 3000);
    // The next segment cannot be created (root ignores permissions, so remove the directory).
    fs::remove_dir_all(config.journal_dir()).unwrap();
    let mut batch = Batch::new();
    batch.append(q, 2, Bytes::new(), body(2, 3000));
    match store.submit(batch).unwrap().wait() {
        Err(StoreError::Io { doing, .. }) => assert_eq!(doing, "creating"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let mut batch = Batch::new();
    batch.ack(q, 1);
    assert!(matches!(store.submit(batch), Err(StoreError::Poisoned(_))));
}
