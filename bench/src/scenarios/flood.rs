//! `flood`: one producer as fast as the broker takes messages, no consumer,
//! for `--duration`, sampling the broker's RSS every second. A broker that
//! stops reading the producer (backpressure) is waited for, not failed. Then
//! a consumer drains the queue and every message is checked.

use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::{size_label, watched, Ctx};
use crate::ack::AckMode;
use crate::cli::Load;
use crate::consumer::{consume, ConsumerSpec};
use crate::error::Result;
use crate::flow::filler;
use crate::group::{Gate, Group};
use crate::producer::{produce, ProducerSpec};
use crate::report::{Memory, ScenarioResult};
use crate::rss::rss_kb;

pub async fn run(ctx: &Ctx, load: &Load) -> ScenarioResult {
    let label = format!(
        "flood {:.0}s {}",
        load.duration.as_secs_f64(),
        size_label(load.size)
    );
    match watched(ctx, load, measure(ctx, load, label.clone())).await {
        Ok(r) => r.settle(),
        Err(e) => ScenarioResult::failed("flood", label, e.to_string()),
    }
}

async fn measure(ctx: &Ctx, load: &Load, label: String) -> Result<ScenarioResult> {
    let destination = ctx.queue_name(load);
    let conn = ctx.connect(load).await?;
    let clock = Instant::now();
    let until = clock + load.duration;
    let spec = ProducerSpec {
        id: 0,
        destination: destination.clone(),
        body: filler(load.size),
        stamp: false,
        count: None,
        until: Some(until),
        window: load.window,
        rate: None,
        patient: true,
        extra_headers: load.send_headers.clone(),
    };
    let gate = Gate::new(Vec::new(), 0, ctx.timeout());
    let producer = tokio::spawn(produce(conn, spec, gate, clock));

    let mut series = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(pid) = ctx.cli.pid {
            series.push(rss_kb(pid)?);
        }
        if Instant::now() >= until {
            break;
        }
    }

    let mut drain = ctx.connect(load).await?;
    drain
        .subscribe(
            &destination,
            "s0",
            AckMode::Auto,
            load.prefetch,
            &load.subscribe_headers,
        )
        .await?;
    let group = Group::new();
    let cspec = ConsumerSpec {
        ack: AckMode::Auto,
        ack_every: load.ack_every,
        stamps: false,
    };
    let drain_start = Instant::now();
    let consumer = tokio::spawn(consume(drain, cspec, group.clone(), clock));
    let mut errors = Vec::new();
    let p = producer.await?;
    let sent = p.sent;
    if let Some(e) = p.error {
        errors.push(format!("producer: {e}"));
        group.abandon();
    }
    group.set_expected(sent);
    let c = consumer.await?;
    if let Some(e) = c.error {
        errors.push(format!("drain: {e}"));
    }
    let drain_secs = c
        .last_at
        .map(|t| t.saturating_duration_since(drain_start).as_secs_f64())
        .unwrap_or(0.0)
        .max(1e-6);
    let mut notes = Vec::new();
    // Pauses this long are the broker not reading the producer (backpressure).
    if p.longest_wait > Duration::from_millis(500) {
        notes.push(format!(
            "producer paused up to {:.1}s by the broker",
            p.longest_wait.as_secs_f64()
        ));
    }
    let memory = ctx.cli.pid.map(|pid| Memory {
        pid,
        rss_before_kb: series.first().copied().unwrap_or(0),
        rss_after_kb: series.last().copied().unwrap_or(0),
        rss_max_kb: series.iter().copied().max().unwrap_or(0),
        bytes_per_connection: None,
        rss_series_kb: series,
    });
    Ok(ScenarioResult {
        scenario: "flood",
        label,
        errors,
        destination,
        sent,
        delivered: c.deliveries,
        // Over the flood itself: time spent paused counts, time spent draining does not.
        send_rate: Some(sent as f64 / load.duration.as_secs_f64()),
        deliver_rate: Some(c.deliveries as f64 / drain_secs),
        memory,
        checks: vec![c.tracker.check(&[sent])],
        notes,
        ..ScenarioResult::default()
    })
}
