//! A queue's ready messages (the `DurableBacklog` every queue uses, here
//! without a journal: a non-persistent queue) filled with 10,000 messages and
//! drained, for a queue that never sees a priority other than the default
//! (one lane; with and without the header), one whose messages all carry the
//! same non-default priority, and one with priorities 0-9 mixed (ten lanes,
//! the highest non-empty one found per pop).

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use stompede::destination::{Backlog, Core, DestinationPolicy, DurableBacklog};
use stompede::metrics::Metrics;
use stompede::model::{Envelope, MessageData};
use stompede::Settings;

const MESSAGES: usize = 10_000;

fn messages(priority: impl Fn(usize) -> Option<String>) -> Vec<Arc<MessageData>> {
    (0..MESSAGES)
        .map(|i| {
            let mut headers = vec![("destination".to_string(), "/queue/bench".to_string())];
            if let Some(p) = priority(i) {
                headers.push(("priority".to_string(), p));
            }
            MessageData::from_send(headers, Bytes::from_static(&[b'x'; 256]))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let settings = Settings::defaults();
    let metrics = Metrics::new(100).expect("a fresh registry");
    let core = Core::new(
        "/queue/bench".into(),
        Arc::new(DestinationPolicy::from_settings(&settings)),
        metrics.destination("/queue/bench", "queue"),
    );
    let cases = [
        ("plain (no priority header)", messages(|_| None)),
        // `priority:4` is the default: one lane, but the same two headers
        // per message as the cases below, so only the lanes differ.
        ("plain (priority:4)", messages(|_| Some("4".into()))),
        ("one priority (7)", messages(|_| Some("7".into()))),
        (
            "mixed priorities 0-9",
            messages(|i| Some((i % 10).to_string())),
        ),
    ];
    let mut g = c.benchmark_group("queue backlog, 10000 messages in then out");
    for (name, data) in &cases {
        g.bench_function(*name, |b| {
            b.iter_batched(
                || data.iter().cloned().map(Envelope::new).collect::<Vec<_>>(),
                |envs| {
                    let mut backlog = DurableBacklog::open(&core);
                    for env in envs {
                        backlog.push_back(env).expect("memory takes it");
                    }
                    let mut n = 0;
                    while let Some(env) = backlog.pop_front() {
                        n += black_box(env).deliveries as usize + 1;
                    }
                    assert_eq!(n, MESSAGES);
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
