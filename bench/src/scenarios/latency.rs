//! `latency`: one producer at a fixed rate, one consumer; each body starts
//! with its send time, so the consumer measures end-to-end latency. The stamp
//! is taken when the message is written, not when it was scheduled, so timer
//! jitter in the generator is not charged to the broker.

use super::{flow_result, size_label, watched, Ctx};
use crate::cli::Load;
use crate::flow::{run_flow, FlowSpec, Kind};
use crate::producer::STAMP_LEN;
use crate::report::ScenarioResult;

pub async fn run(ctx: &Ctx, load: &Load) -> ScenarioResult {
    let mut load = load.clone();
    load.size = load.size.max(STAMP_LEN);
    let label = format!("latency {}/s {}", load.rate, size_label(load.size));
    let spec = FlowSpec {
        kind: Kind::Queue,
        producers: 1,
        consumers: 1,
        ack: load.ack,
        rate: Some(load.rate),
        stamps: true,
        max_lag: load.max_lag.unwrap_or(0),
    };
    let out = watched(ctx, &load, run_flow(ctx, &load, &spec)).await;
    flow_result("latency", label, out)
}
