//! Append, ack, delivery counts and restart; torn tails and corruption.

use std::{fs, os::unix::fs::FileExt};

use bytes::Bytes;

use super::*;
use crate::store::StoreError;

#[test]
fn recovery_gives_live_messages_in_order_with_delivery_counts() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    {
        let store = open(&config);
        let a = store.declare_queue("/queue/a").unwrap();
        let b = store.declare_queue("/queue/b").unwrap();
        assert_eq!(store.declare_queue("/queue/a").unwrap(), a);
        for id in 1..=10 {
            append(&store, a, id, 300); // spans several 4 KiB segments
            if id <= 3 {
                append(&store, b, id, 10);
            }
        }
        ack(&store, a, 3);
        ack(&store, a, 5);
        let mut batch = Batch::new();
        batch
            .set_deliveries(a, 7, 2)
            .set_deliveries(a, 8, 1)
            .set_deliveries(a, 8, 4);
        store.submit(batch).unwrap().wait().unwrap();
        store.declare_queue("/queue/empty").unwrap();
        barrier(&store);
        assert_eq!(store.stats().live_messages, 11);
    }
    let store = open(&config);
    let recovered = store.recover().unwrap();
    assert!(recovered.torn_tail.is_none());
    let a = queue(&recovered, "/queue/a");
    assert_eq!(ids(a), [1, 2, 4, 6, 7, 8, 9, 10]);
    let counts: Vec<u32> = a.messages.iter().map(|m| m.deliveries).collect();
    assert_eq!(counts, [0, 0, 0, 0, 2, 4, 0, 0]);
    assert_eq!(a.messages[0].body, body(1, 300));
    assert_eq!(a.messages[0].headers, Bytes::from_static(b"k:v\n"));
    assert_eq!(ids(queue(&recovered, "/queue/b")), [1, 2, 3]);
    assert!(queue(&recovered, "/queue/empty").messages.is_empty());
    assert!(matches!(store.recover(), Err(StoreError::AlreadyRecovered)));
}

#[test]
fn restart_cycles_keep_ids_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let mut expected = Vec::new();
    for round in 0..3u64 {
        let store = open(&config);
        let recovered = store.recover().unwrap();
        let q = store.declare_queue("/queue/q").unwrap();
        assert_eq!(q, QueueId(1), "the name keeps its id across restarts");
        if round > 0 {
            assert_eq!(ids(queue(&recovered, "/queue/q")), expected);
        }
        for n in 0..5 {
            append(&store, q, round * 10 + n, 200);
            expected.push(round * 10 + n);
        }
        ack(&store, q, expected.remove(0));
    }
}

#[test]
fn a_half_written_batch_is_not_recovered_and_the_tail_is_reusable() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        segment_bytes: 64 * 1024,
        ..config(dir.path())
    };
    let tail;
    {
        let store = open(&config);
        let q = store.declare_queue("/queue/q").unwrap();
        append(&store, q, 1, 100);
        tail = segment_used(&config);
        let mut batch = Batch::new();
        batch.ack(q, 1);
        for id in 2..=4 {
            batch.append(q, id, Bytes::new(), body(id, 500));
        }
        store.submit(batch).unwrap().wait().unwrap();
    }
    // A crash mid-write: the file ends in the middle of the batch's record.
    let path = &segments(&config)[0];
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(tail + 700)
        .unwrap();
    {
        let store = open(&config);
        let recovered = store.recover().unwrap();
        assert_eq!(
            ids(queue(&recovered, "/queue/q")),
            [1],
            "not the ack, not 2..4"
        );
        let torn = recovered.torn_tail.expect("torn tail reported");
        assert_eq!((torn.offset, torn.bytes), (tail, 700));
        append(&store, QueueId(1), 5, 100);
    }
    let store = open(&config);
    let recovered = store.recover().unwrap();
    assert!(
        recovered.torn_tail.is_none(),
        "the tail was cut once and for all"
    );
    assert_eq!(ids(queue(&recovered, "/queue/q")), [1, 5]);
}

#[test]
fn garbage_after_the_last_record_is_cut_and_later_appends_survive_a_roll() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let tail;
    {
        let store = open(&config);
        let q = store.declare_queue("/queue/q").unwrap();
        append(&store, q, 1, 100);
        tail = segment_used(&config);
    }
    // Pages of an unsynced write that reached the disk while the page before did not.
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&segments(&config)[0])
        .unwrap();
    file.write_all_at(b"\x13\x37garbage", tail + 600).unwrap();
    {
        let store = open(&config);
        let recovered = store.recover().unwrap();
        assert_eq!(recovered.torn_tail.expect("torn").offset, tail);
        for id in 2..=20 {
            append(&store, QueueId(1), id, 300); // rolls over several segments
        }
    }
    let store = open(&config);
    let recovered = store.recover().unwrap();
    assert!(recovered.torn_tail.is_none());
    assert_eq!(
        ids(queue(&recovered, "/queue/q")),
        (1..=20).collect::<Vec<_>>()
    );
}

#[test]
fn corruption_before_the_last_segment_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    {
        let store = open(&config);
        let q = store.declare_queue("/queue/q").unwrap();
        for id in 1..=40 {
            append(&store, q, id, 300);
        }
    }
    let files = segments(&config);
    assert!(files.len() > 2);
    let file = fs::OpenOptions::new().write(true).open(&files[0]).unwrap();
    file.write_all_at(b"X", 200).unwrap(); // inside a record body
    match Journal::open(config.clone()) {
        Err(StoreError::Corrupt { path, .. }) => assert_eq!(path, files[0]),
        other => panic!(
            "expected Corrupt, got {:?}",
            other.map(|_| "an open journal")
        ),
    }
}

#[test]
fn queue_names_survive_a_roll_cut_short_and_reclaim_of_every_older_segment() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    {
        let store = open(&config);
        let q = store.declare_queue("/queue/q").unwrap();
        for id in 1..=20 {
            append(&store, q, id, 300);
        }
    }
    // A crash right after a roll created the next segment, before anything was written to it.
    let next = segments(&config).len() as u64 + 1;
    crate::store::segment::create(&config.journal_dir(), next, 4096, true).unwrap();
    {
        let store = open(&config);
        assert_eq!(ids(queue(&store.recover().unwrap(), "/queue/q")).len(), 20);
        for id in 1..=20 {
            ack(&store, QueueId(1), id);
        }
        barrier(&store);
        assert_eq!(segments(&config).len(), 1, "every older segment reclaimed");
    }
    let store = open(&config);
    let recovered = store.recover().unwrap();
    assert!(queue(&recovered, "/queue/q").messages.is_empty());
    assert_eq!(store.declare_queue("/queue/q").unwrap(), QueueId(1));
}

#[test]
fn a_journal_opens_once_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let store = open(&config);
    assert!(matches!(
        Journal::open(config.clone()),
        Err(StoreError::Locked(_))
    ));
    drop(store);
    open(&config);
}

/// Offset of the first free byte of the only segment, read as recovery would.
fn segment_used(config: &StoreConfig) -> u64 {
    let buf = fs::read(&segments(config)[0]).unwrap();
    let mut pos = crate::store::segment::HEADER_LEN;
    while let crate::store::record::Read::Record { next, .. } =
        crate::store::record::read(&buf, pos)
    {
        pos = next;
    }
    pos as u64
}
