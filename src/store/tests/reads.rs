//! Reading live messages back by location (paging): wherever compaction moved them, and after a
//! recovery that kept only some bodies in memory.

use super::*;
use crate::store::StoreError;

#[test]
fn a_live_message_reads_back_after_compaction_moved_it_and_not_after_its_ack() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        compaction_threshold: 0.5,
        ..config(dir.path())
    };
    let store = open(&config);
    let q = store.declare_queue("/queue/q").unwrap();
    for id in 1..=30 {
        append(&store, q, id, 300);
    }
    assert!(store.is_written(q, 1));
    let before = store.read(q, 1).expect("message 1 reads back");
    assert_eq!(before.body, body(1, 300));
    assert_eq!(before.headers, Bytes::from_static(b"k:v\n"));
    let mut batch = Batch::new();
    batch.set_deliveries(q, 1, 2);
    store.submit(batch).unwrap().wait().unwrap();
    for id in 2..=25 {
        ack(&store, q, id);
    }
    barrier(&store);
    assert!(
        store.stats().compactions >= 1,
        "message 1 was copied forward"
    );
    let after = store
        .read(q, 1)
        .expect("message 1 reads back from its new segment");
    assert_eq!((after.body, after.deliveries), (body(1, 300), 2));
    for id in 26..=30 {
        assert_eq!(store.read(q, id).expect("live").body, body(id, 300));
    }
    assert!(matches!(
        store.read(q, 2),
        Err(StoreError::NotFound { id: 2, .. })
    ));
    assert!(!store.is_written(q, 2));
}

#[test]
fn recovery_beyond_its_resident_bytes_hands_over_locations_that_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        segment_bytes: 64 * 1024,
        ..config(dir.path())
    };
    {
        let store = open(&config);
        let q = store.declare_queue("/queue/q").unwrap();
        for id in 1..=100 {
            append(&store, q, id, 1000);
        }
    }
    let config = StoreConfig {
        recover_resident_bytes: 10 * 1004,
        ..config
    };
    let store = open(&config);
    let recovered = store.recover().unwrap();
    let q = queue(&recovered, "/queue/q");
    assert_eq!(ids(q), (1..=100).collect::<Vec<_>>());
    let kept = q.messages.iter().filter(|m| !m.paged).count();
    assert_eq!(kept, 10, "bodies kept up to recover_resident_bytes");
    for m in &q.messages {
        assert_eq!(m.size, 1000);
        if m.paged {
            assert!(m.body.is_empty());
            let read = store.read(q.id, m.id).expect("paged message reads back");
            assert_eq!(read.body, body(m.id, 1000));
        } else {
            assert_eq!(m.body, body(m.id, 1000));
        }
    }
}

#[test]
fn recovery_hands_over_the_class_of_every_message_kept_in_memory_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    {
        let store = open(&config);
        let q = store.declare_queue("/queue/q").unwrap();
        for id in 1..=20 {
            append(&store, q, id, 1000);
        }
        ack(&store, q, 3);
        barrier(&store);
    }
    fn classify(headers: &[u8]) -> u8 {
        if headers == b"k:v\n" {
            7
        } else {
            0
        }
    }
    let config = StoreConfig {
        recover_resident_bytes: 5 * 1004,
        classify,
        ..config
    };
    let store = open(&config);
    let recovered = store.recover().unwrap();
    let q = queue(&recovered, "/queue/q");
    assert_eq!(q.messages.len(), 19);
    assert!(q.messages.iter().any(|m| m.paged) && q.messages.iter().any(|m| !m.paged));
    assert!(
        q.messages.iter().all(|m| m.class == 7),
        "{:?}",
        q.messages.iter().map(|m| m.class).collect::<Vec<_>>()
    );
}
