//! `suite`: the standard sequence of the comparison table in bench/README.md,
//! against one broker (freshly started, for the memory figure), in one run.
//! `--duration` (or `--count`) applies to every step; `--subscribers`,
//! `--rate` and `--connections` keep their defaults of 10, 2000/s and 2000
//! unless given.

use super::{run_one, Ctx};
use crate::ack::AckMode;
use crate::cli::{Load, Scenario};
use crate::report::ScenarioResult;

/// The 64 KiB step of the table.
const LARGE: usize = 64 * 1024;

pub async fn run(ctx: &Ctx) -> Vec<ScenarioResult> {
    let step = |f: &dyn Fn(&mut Load)| {
        let mut l = ctx.cli.load.clone();
        (l.producers, l.consumers, l.ack, l.size) = (1, 1, AckMode::Auto, 256);
        f(&mut l);
        l
    };
    // Idle first: its memory per connection is only meaningful on a broker
    // whose allocator has not already grown for the message-heavy steps.
    let steps: Vec<(Scenario, Load)> = vec![
        (Scenario::Idle, step(&|_| {})),
        (Scenario::Queue, step(&|_| {})),
        (
            Scenario::Queue,
            step(&|l| l.ack = AckMode::ClientIndividual),
        ),
        (
            Scenario::Queue,
            step(&|l| (l.producers, l.consumers) = (4, 4)),
        ),
        (Scenario::Queue, step(&|l| l.size = LARGE)),
        (Scenario::Topic, step(&|_| {})),
        (Scenario::Latency, step(&|_| {})),
    ];
    let total = steps.len();
    let mut results = Vec::new();
    for (i, (kind, load)) in steps.into_iter().enumerate() {
        let r = run_one(ctx, kind, &load).await;
        eprintln!(
            "[{}/{total}] {}: {}",
            i + 1,
            r.label,
            if r.ok { "done" } else { "FAILED" }
        );
        results.push(r);
    }
    results
}
