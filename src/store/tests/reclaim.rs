//! Reclaim of fully acknowledged head segments and compaction of mostly acknowledged ones.

use super::*;

#[test]
fn fully_acknowledged_head_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let store = open(&config);
    let q = store.declare_queue("/queue/q").unwrap();
    for id in 1..=30 {
        append(&store, q, id, 300);
    }
    let full = segments(&config).len();
    assert!(full >= 3, "{full} segments");
    for id in 1..=29 {
        ack(&store, q, id);
    }
    barrier(&store);
    let stats = store.stats();
    assert_eq!(stats.segments as usize, segments(&config).len());
    assert!(
        segments(&config).len() <= 2,
        "only the segment of message 30 and the active one"
    );
    assert!(stats.reclaimed as usize >= full - 2);
    assert_eq!(stats.compactions, 0);
    assert_eq!(stats.live_messages, 1);
    assert_eq!(stats.bytes_on_disk, stats.segments * 4096);
    drop(store);
    let store = open(&config);
    let recovered = store.recover().unwrap();
    assert_eq!(
        ids(queue(&recovered, "/queue/q")),
        [30],
        "the queue name survived reclaim"
    );
}

#[test]
fn compaction_copies_live_messages_forward_and_keeps_their_order_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        compaction_threshold: 0.5,
        ..config(dir.path())
    };
    let first_segment = {
        let store = open(&config);
        let q = store.declare_queue("/queue/q").unwrap();
        // Message 1 is long-lived and pins the head segment; the rest come and go.
        for id in 1..=30 {
            append(&store, q, id, 300);
        }
        let mut batch = Batch::new();
        batch.set_deliveries(q, 1, 3);
        store.submit(batch).unwrap().wait().unwrap();
        let first = segments(&config)[0].clone();
        for id in 2..=25 {
            ack(&store, q, id);
        }
        barrier(&store);
        let stats = store.stats();
        assert!(stats.compactions >= 1, "{stats:?}");
        assert!(!first.exists(), "the head segment was compacted away");
        assert_eq!(stats.live_messages, 6);
        first
    };
    let store = open(&config);
    let recovered = store.recover().unwrap();
    let q = queue(&recovered, "/queue/q");
    assert_eq!(
        ids(q),
        [1, 26, 27, 28, 29, 30],
        "original order, not copy order"
    );
    assert_eq!(q.messages[0].deliveries, 3);
    assert_eq!(q.messages[0].body, body(1, 300));
    assert!(!first_segment.exists());
}
