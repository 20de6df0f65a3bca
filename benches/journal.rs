//! The journal's durable commits per second, beside the disk's own rate, and its recovery time.
//!
//! - `raw_fdatasync`: one 264-byte `pwrite` + `fdatasync` on a preallocated file, the most a
//!   single waiter can get from this disk.
//! - `commit_N_submitters`: N threads, each appending a 256-byte message and acking its previous
//!   one per batch, waiting for durability before the next. Group commit shares syncs among them.
//! - `recover_1m`: open + replay a journal of 1,000,000 live 256-byte messages.
//!
//! `cargo bench --bench journal`; journals live in temporary directories under `$TMPDIR`.

use std::{
    fs::OpenOptions,
    io::Write,
    os::unix::fs::FileExt,
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stompede::store::{Batch, Journal, QueueId, Store, StoreConfig};

const BODY: usize = 256;

fn raw_fdatasync(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("raw");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("file");
    let size = 64u64 << 20;
    file.write_all(&vec![0u8; size as usize])
        .expect("preallocate");
    file.sync_all().expect("sync");
    let record = [b'x'; BODY + 8];
    let mut at = 0u64;
    let mut group = c.benchmark_group("journal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_fdatasync", |b| {
        b.iter(|| {
            file.write_all_at(&record, at).expect("write");
            file.sync_data().expect("sync");
            at = (at + record.len() as u64) % (size - record.len() as u64);
        })
    });
    group.finish();
}

/// Runs `iters` commits on each of `submitters` threads and returns the wall time.
fn run(store: &Arc<Journal>, queue: QueueId, submitters: u64, iters: u64) -> Duration {
    let start = Instant::now();
    let workers: Vec<_> = (0..submitters)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                let base = (t << 40) + (iters << 1); // ids never collide across runs
                for n in 0..iters {
                    let id = base + n;
                    let mut batch = Batch::new();
                    batch.append(queue, id, Bytes::new(), Bytes::from(vec![b'x'; BODY]));
                    if n > 0 {
                        batch.ack(queue, id - 1);
                    }
                    store
                        .submit(batch)
                        .expect("submitted")
                        .wait()
                        .expect("durable");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("submitter");
    }
    start.elapsed()
}

fn durable_commits(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Journal::open(StoreConfig::in_dir(dir.path())).expect("journal"));
    let queue = store.declare_queue("/queue/bench").expect("declared");
    let mut group = c.benchmark_group("journal");
    group
        .measurement_time(Duration::from_secs(10))
        .sample_size(30);
    for submitters in [1u64, 4, 16] {
        let before = store.stats();
        group.throughput(Throughput::Elements(submitters));
        group.bench_function(format!("commit_{submitters}_submitters"), |b| {
            b.iter_custom(|iters| run(&store, queue, submitters, iters))
        });
        let after = store.stats();
        println!(
            "{submitters} submitters: {:.1} batches per sync",
            (after.batches - before.batches) as f64 / (after.syncs - before.syncs).max(1) as f64
        );
    }
    group.finish();
}

fn recover_1m(c: &mut Criterion) {
    const MESSAGES: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("temp dir");
    // Written without fsync to build it fast; recovery reads the same bytes either way.
    let config = StoreConfig {
        fsync: false,
        ..StoreConfig::in_dir(dir.path())
    };
    {
        let store = Journal::open(config.clone()).expect("journal");
        let queue = store.declare_queue("/queue/deep").expect("declared");
        for chunk in 0..MESSAGES / 1000 {
            let mut batch = Batch::new();
            for n in 0..1000 {
                batch.append(
                    queue,
                    chunk * 1000 + n,
                    Bytes::new(),
                    Bytes::from(vec![b'x'; BODY]),
                );
            }
            store
                .submit(batch)
                .expect("submitted")
                .wait()
                .expect("written");
        }
    }
    let mut group = c.benchmark_group("journal");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(MESSAGES));
    group.bench_function("recover_1m", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let store = Journal::open(config.clone()).expect("journal");
                let recovered = store.recover().expect("recovered");
                assert_eq!(recovered.queues[0].messages.len() as u64, MESSAGES);
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, raw_fdatasync, durable_commits, recover_1m);
criterion_main!(benches);
