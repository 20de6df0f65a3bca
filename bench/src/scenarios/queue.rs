//! `queue`: P producers and C consumers on one queue.

use super::{flow_result, size_label, watched, Ctx};
use crate::ack;
use crate::cli::Load;
use crate::flow::{run_flow, FlowSpec, Kind};
use crate::report::ScenarioResult;

/// Producers may run this far ahead of the consumers unless `--max-lag` says otherwise.
const DEFAULT_MAX_LAG: u64 = 10_000;

pub async fn run(ctx: &Ctx, load: &Load) -> ScenarioResult {
    let label = format!(
        "queue {}/{} {} {}",
        load.producers,
        load.consumers,
        ack::header_value(load.ack),
        size_label(load.size)
    );
    let spec = FlowSpec {
        kind: Kind::Queue,
        producers: load.producers,
        consumers: load.consumers,
        ack: load.ack,
        rate: None,
        stamps: false,
        max_lag: load.max_lag.unwrap_or(DEFAULT_MAX_LAG),
    };
    let out = watched(ctx, load, run_flow(ctx, load, &spec)).await;
    flow_result("queue", label, out)
}
