//! The scenarios, and what they share: connection settings and unique names.

mod flood;
mod idle;
mod latency;
mod queue;
mod suite;
mod topic;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ack;
use crate::cli::{Cli, Load, Scenario};
use crate::client::{limits_for, Conn};
use crate::error::{BenchError, Result};
use crate::flow::FlowOutcome;
use crate::report::{Latency, ScenarioResult};

/// What every scenario needs: the command line and a source of names no
/// other run uses, so leftovers of an earlier run cannot be mistaken for ours.
pub struct Ctx {
    pub cli: Cli,
    tag: String,
    next: AtomicU64,
}

impl Ctx {
    pub fn new(cli: Cli) -> Ctx {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ctx {
            cli,
            tag: format!("{}-{secs}", std::process::id()),
            next: AtomicU64::new(0),
        }
    }

    fn unique(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("bench-{}-{n}", self.tag)
    }

    /// A queue destination no one else uses.
    pub fn queue_name(&self, load: &Load) -> String {
        format!("{}{}", load.queue_prefix, self.unique())
    }

    /// A topic destination no one else uses.
    pub fn topic_name(&self, load: &Load) -> String {
        format!("{}{}", load.topic_prefix, self.unique())
    }

    /// Longest wait for any single broker answer.
    pub fn timeout(&self) -> Duration {
        self.cli.conn.timeout
    }

    /// A new connection, CONNECTED, able to carry `load`'s bodies.
    pub async fn connect(&self, load: &Load) -> Result<Conn> {
        Conn::connect(&self.cli.conn, limits_for(load.size)).await
    }
}

/// Runs the scenario the command line names.
pub async fn run(ctx: &Ctx) -> Vec<ScenarioResult> {
    let load = &ctx.cli.load;
    match ctx.cli.scenario {
        Scenario::Suite => suite::run(ctx).await,
        one => vec![run_one(ctx, one, load).await],
    }
}

/// Runs one scenario with `load` and records the settings in its result.
async fn run_one(ctx: &Ctx, scenario: Scenario, load: &Load) -> ScenarioResult {
    let mut r = match scenario {
        Scenario::Topic => topic::run(ctx, load).await,
        Scenario::Latency => latency::run(ctx, load).await,
        Scenario::Idle => idle::run(ctx, load).await,
        Scenario::Flood => flood::run(ctx, load).await,
        Scenario::Queue | Scenario::Suite => queue::run(ctx, load).await,
    };
    r.params = params(scenario, load);
    r
}

/// The settings that shape a scenario's numbers, for the JSON record.
fn params(scenario: Scenario, load: &Load) -> serde_json::Value {
    let mut p = serde_json::json!({
        "size": load.size,
        "count": load.count,
        "duration_s": load.count.is_none().then_some(load.duration.as_secs_f64()),
        "window": load.window,
        "max_lag": load.max_lag,
        "prefetch": load.prefetch,
    });
    let extra = match scenario {
        Scenario::Queue => serde_json::json!({
            "producers": load.producers, "consumers": load.consumers,
            "ack": ack::header_value(load.ack), "ack_every": load.ack_every,
        }),
        Scenario::Topic => serde_json::json!({
            "producers": load.producers, "subscribers": load.subscribers,
            "ack": ack::header_value(load.ack),
        }),
        Scenario::Latency => {
            serde_json::json!({ "rate": load.rate, "ack": ack::header_value(load.ack) })
        }
        Scenario::Idle => serde_json::json!({
            "connections": load.connections, "parallel": load.parallel,
        }),
        Scenario::Flood | Scenario::Suite => serde_json::json!({}),
    };
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    p
}

/// Bounds a timed scenario as a whole, in case some wait was left without a
/// timeout: the tool must always end by itself.
async fn watched<T>(ctx: &Ctx, load: &Load, fut: impl Future<Output = Result<T>>) -> Result<T> {
    if load.count.is_some() {
        // Every wait has its own timeout and needs progress to go on.
        return fut.await;
    }
    let limit = load.duration * 3 + ctx.timeout() * 10 + Duration::from_secs(30);
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| BenchError::Watchdog(limit.as_secs_f64()))?
}

/// "256B", "64KiB", "1MiB".
pub fn size_label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{}MiB", s >> 20),
        s if s >= 1024 && s % 1024 == 0 => format!("{}KiB", s >> 10),
        s => format!("{s}B"),
    }
}

/// A result from a flow run (or the error that stopped it).
fn flow_result(scenario: &'static str, label: String, run: Result<FlowOutcome>) -> ScenarioResult {
    let out = match run {
        Ok(out) => out,
        Err(e) => return ScenarioResult::failed(scenario, label, e.to_string()),
    };
    let latency = Latency::of(out.latencies_ns);
    ScenarioResult {
        scenario,
        label,
        ok: false,
        errors: out.errors,
        destination: out.destination,
        sent: out.sent,
        delivered: out.deliveries,
        send_rate: Some(out.sent as f64 / out.send_secs),
        deliver_rate: Some(out.deliveries as f64 / out.deliver_secs),
        mb_per_s: Some(out.delivered_bytes as f64 / out.deliver_secs / 1e6),
        latency_ms: latency,
        checks: out.checks,
        ..ScenarioResult::default()
    }
    .settle()
}
