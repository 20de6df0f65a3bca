//! The engine under the queue, topic and latency scenarios: subscribe the
//! consumers (each confirmed by a receipt), start the producers, wait for
//! every stream to complete, merge the consumers' records and check them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::ack::AckMode;
use crate::cli::Load;
use crate::consumer::{consume, ConsumerOutcome, ConsumerSpec};
use crate::error::Result;
use crate::group::{Gate, Group};
use crate::producer::{produce, ProducerSpec};
use crate::scenarios::Ctx;
use crate::tracker::{Check, Tracker};

/// Point-to-point or fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// All consumers share one stream; each message goes to one of them.
    Queue,
    /// Every consumer is its own stream and gets every message.
    Topic,
}

/// One run of producers and consumers.
pub struct FlowSpec {
    pub kind: Kind,
    pub producers: u32,
    pub consumers: u32,
    pub ack: AckMode,
    pub rate: Option<u64>,
    pub stamps: bool,
    pub max_lag: u64,
}

/// What a flow measured.
#[derive(Debug, Default)]
pub struct FlowOutcome {
    pub destination: String,
    pub sent: u64,
    pub deliveries: u64,
    pub delivered_bytes: u64,
    /// From the start until the producers stopped sending.
    pub send_secs: f64,
    /// From the start until the last delivery.
    pub deliver_secs: f64,
    pub latencies_ns: Vec<u64>,
    /// One per stream.
    pub checks: Vec<Check>,
    pub errors: Vec<String>,
}

/// A body of `size` bytes of printable filler.
pub fn filler(size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// Runs `spec` with the sizes, counts and timing of `load`.
pub async fn run_flow(ctx: &Ctx, load: &Load, spec: &FlowSpec) -> Result<FlowOutcome> {
    let destination = match spec.kind {
        Kind::Queue => ctx.queue_name(load),
        Kind::Topic => ctx.topic_name(load),
    };
    let streams = match spec.kind {
        Kind::Queue => 1,
        Kind::Topic => spec.consumers as usize,
    };
    let groups: Vec<Arc<Group>> = (0..streams).map(|_| Group::new()).collect();
    let mut consumers = Vec::new();
    for i in 0..spec.consumers {
        let mut conn = ctx.connect(load).await?;
        let id = format!("s{i}");
        conn.subscribe(
            &destination,
            &id,
            spec.ack,
            load.prefetch,
            &load.subscribe_headers,
        )
        .await?;
        consumers.push(conn);
    }
    let mut producers = Vec::new();
    for _ in 0..spec.producers {
        producers.push(ctx.connect(load).await?);
    }
    let gate = Gate::new(groups.clone(), spec.max_lag, ctx.timeout());
    let clock = Instant::now();
    let until = match load.count {
        Some(_) => None,
        None => Some(clock + load.duration),
    };
    let cspec = ConsumerSpec {
        ack: spec.ack,
        ack_every: load.ack_every,
        stamps: spec.stamps,
    };
    let mut consumer_tasks = JoinSet::new();
    for (i, conn) in consumers.into_iter().enumerate() {
        let group = groups[i % streams].clone();
        consumer_tasks.spawn(async move { (i, consume(conn, cspec, group, clock).await) });
    }
    let mut producer_tasks = JoinSet::new();
    for (i, conn) in producers.into_iter().enumerate() {
        let pspec = ProducerSpec {
            id: i as u32,
            destination: destination.clone(),
            body: filler(load.size),
            stamp: spec.stamps,
            count: load.count,
            until,
            window: load.window,
            rate: spec.rate,
            patient: false,
            extra_headers: load.send_headers.clone(),
        };
        let gate = gate.clone();
        producer_tasks.spawn(async move { (i, produce(conn, pspec, gate, clock).await) });
    }

    let mut out = FlowOutcome {
        destination,
        ..FlowOutcome::default()
    };
    let mut sent = vec![0u64; spec.producers as usize];
    let mut stopped = clock;
    while let Some(joined) = producer_tasks.join_next().await {
        let (i, p) = joined?;
        sent[i] = p.sent;
        stopped = stopped.max(p.stopped);
        if let Some(e) = p.error {
            out.errors.push(format!("producer {i}: {e}"));
            // Messages it handed over may never have reached the broker, so
            // waiting for all of them could only end in a timeout.
            groups.iter().for_each(|g| g.abandon());
        }
    }
    out.sent = sent.iter().sum();
    out.send_secs = secs_between(clock, stopped);
    for g in &groups {
        g.set_expected(out.sent);
    }

    let mut records: Vec<Option<ConsumerOutcome>> = (0..spec.consumers).map(|_| None).collect();
    while let Some(joined) = consumer_tasks.join_next().await {
        let (i, c) = joined?;
        records[i] = Some(c);
    }
    let mut merged: Vec<Tracker> = vec![Tracker::default(); streams];
    let mut last = clock;
    for (i, c) in records.into_iter().enumerate() {
        let Some(c) = c else { continue };
        if let Some(e) = &c.error {
            out.errors.push(format!("consumer {i}: {e}"));
        }
        merged[i % streams].merge(&c.tracker);
        out.deliveries += c.deliveries;
        out.delivered_bytes += c.bytes;
        out.latencies_ns.extend(c.latencies_ns);
        last = last.max(c.last_at.unwrap_or(clock));
    }
    out.deliver_secs = secs_between(clock, last);
    out.checks = merged.iter().map(|t| t.check(&sent)).collect();
    Ok(out)
}

fn secs_between(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from)
        .max(Duration::from_micros(1))
        .as_secs_f64()
}
