//! `idle`: N connections, each subscribed to a queue of its own. Measures the
//! connection rate (TCP connect plus CONNECT/CONNECTED round trip, `--parallel`
//! at a time) and, given `--pid`, the broker's memory per connection.

use futures_util::{stream, StreamExt, TryStreamExt};
use tokio::time::Instant;

use super::Ctx;
use crate::ack::AckMode;
use crate::cli::Load;
use crate::client::Conn;
use crate::error::Result;
use crate::report::{Memory, ScenarioResult};
use crate::rss::rss_kb;

pub async fn run(ctx: &Ctx, load: &Load) -> ScenarioResult {
    let label = format!("idle {} conns", load.connections);
    match measure(ctx, load, label.clone()).await {
        Ok(r) => r.settle(),
        Err(e) => ScenarioResult::failed("idle", label, e.to_string()),
    }
}

async fn measure(ctx: &Ctx, load: &Load, label: String) -> Result<ScenarioResult> {
    let n = load.connections;
    let parallel = load.parallel.min(n);
    let before = ctx.cli.pid.map(rss_kb).transpose()?;

    let start = Instant::now();
    let conns: Vec<Conn> = stream::iter(0..n)
        .map(|_| ctx.connect(load))
        .buffer_unordered(parallel)
        .try_collect()
        .await?;
    let connect_secs = start.elapsed().as_secs_f64();

    let names: Vec<String> = (0..n).map(|_| ctx.queue_name(load)).collect();
    let conns: Vec<Conn> = stream::iter(conns.into_iter().zip(names))
        .map(|(mut c, queue)| async move {
            c.subscribe(
                &queue,
                "s0",
                AckMode::Auto,
                load.prefetch,
                &load.subscribe_headers,
            )
            .await
            .map(|()| c)
        })
        .buffer_unordered(parallel)
        .try_collect()
        .await?;
    // Every SUBSCRIBE was confirmed by a receipt: the broker holds all of its state now.
    let memory = match (ctx.cli.pid, before) {
        (Some(pid), Some(before)) => {
            let after = rss_kb(pid)?;
            Some(Memory {
                pid,
                rss_before_kb: before,
                rss_after_kb: after,
                rss_max_kb: after,
                bytes_per_connection: Some(after.saturating_sub(before) as f64 * 1024.0 / n as f64),
                rss_series_kb: Vec::new(),
            })
        }
        _ => None,
    };

    let closed: Vec<Result<()>> = stream::iter(conns)
        .map(Conn::disconnect)
        .buffer_unordered(parallel)
        .collect()
        .await;
    let failed_closes = closed.iter().filter(|r| r.is_err()).count();
    let mut errors = Vec::new();
    if let Some(Err(e)) = closed.into_iter().find(|r| r.is_err()) {
        errors.push(format!("{failed_closes} DISCONNECTs failed, e.g.: {e}"));
    }
    Ok(ScenarioResult {
        scenario: "idle",
        label,
        errors,
        connections: Some(n),
        connect_rate: Some(n as f64 / connect_secs),
        memory,
        ..ScenarioResult::default()
    })
}
