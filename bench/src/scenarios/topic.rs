//! `topic`: producers (1 by default) fanning out to K subscribers, each of
//! which must get every message exactly once.

use super::{flow_result, size_label, watched, Ctx};
use crate::ack;
use crate::cli::Load;
use crate::flow::{run_flow, FlowSpec, Kind};
use crate::report::ScenarioResult;

/// Below the per-subscriber backlog brokers keep before dropping (stompede:
/// 10,000), so a run measures sustainable fan-out, not the drop policy.
const DEFAULT_MAX_LAG: u64 = 4_000;

pub async fn run(ctx: &Ctx, load: &Load) -> ScenarioResult {
    let label = format!(
        "topic {}->{} {} {}",
        load.producers,
        load.subscribers,
        ack::header_value(load.ack),
        size_label(load.size)
    );
    let spec = FlowSpec {
        kind: Kind::Topic,
        producers: load.producers,
        consumers: load.subscribers,
        ack: load.ack,
        rate: None,
        stamps: false,
        max_lag: load.max_lag.unwrap_or(DEFAULT_MAX_LAG),
    };
    let out = watched(ctx, load, run_flow(ctx, load, &spec)).await;
    flow_result("topic", label, out)
}
