//! Turning failures into supervisor restarts.
//!
//! actix's `Supervisor` restarts an actor that *stops* while its address is
//! still held; a panic would instead kill the actor's task. [`guarded`] runs a
//! handler body under `catch_unwind` and turns a panic into a recorded cause
//! plus `ctx.stop()`, which the supervisor sees as a failure. [`RestartBudget`]
//! bounds restart storms; every supervised actor (session, transaction,
//! destination) keeps one inside its [`Failures`], sized by `[supervision]`.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, Context};

use crate::metrics::{ActorKind, Metrics};

/// An actor that can remember why it failed (logged and counted on restart).
pub trait Failing: Actor<Context = Context<Self>> {
    /// Records the failure's cause for `restarting()`.
    fn record_failure(&mut self, cause: String);
}

/// Runs `f`; if it panics, records the cause and stops the actor so its
/// supervisor restarts it. Returns `None` after a panic.
pub fn guarded<A, R>(
    act: &mut A,
    ctx: &mut Context<A>,
    f: impl FnOnce(&mut A, &mut Context<A>) -> R,
) -> Option<R>
where
    A: Failing,
{
    match catch_unwind(AssertUnwindSafe(|| f(act, ctx))) {
        Ok(r) => Some(r),
        Err(payload) => {
            let cause = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            act.record_failure(cause);
            ctx.stop();
            None
        }
    }
}

/// At most `max` restarts within `window`; beyond that the actor is closed
/// for good instead of restarted.
#[derive(Debug, Clone)]
pub struct RestartBudget {
    max: usize,
    window: Duration,
    recent: VecDeque<Instant>,
}

impl RestartBudget {
    /// A budget of `max` restarts per `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        RestartBudget {
            max,
            window,
            recent: VecDeque::new(),
        }
    }

    /// Records a restart now; `false` when the budget is exhausted.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        self.recent.len() <= self.max
    }
}

impl From<&crate::settings::Supervision> for RestartBudget {
    /// `supervision.max_restarts` per `supervision.restart_window_ms`.
    fn from(s: &crate::settings::Supervision) -> Self {
        RestartBudget::new(s.max_restarts, Duration::from_millis(s.restart_window_ms))
    }
}

/// What a supervised actor keeps about its failures: the last cause (logged
/// and counted on restart) and its restart budget.
#[derive(Debug, Clone)]
pub struct Failures {
    cause: Option<String>,
    budget: RestartBudget,
}

impl Failures {
    /// No failure yet; `budget` bounds restarts.
    pub fn new(budget: RestartBudget) -> Self {
        Failures {
            cause: None,
            budget,
        }
    }

    /// Records why the actor is about to stop.
    pub fn record(&mut self, cause: String) {
        self.cause = Some(cause);
    }

    /// Called from `restarting`: logs at warn with `who`, counts the restart
    /// for `kind`, and says whether the budget still allows it.
    pub fn restarted(&mut self, metrics: &Metrics, kind: ActorKind, who: &str) -> bool {
        let cause = self.cause.take().unwrap_or_else(|| "stopped".into());
        let kind = kind.label();
        metrics.actor_restarts.with_label_values(&[kind]).inc();
        tracing::warn!(actor = kind, who, cause = %cause, "actor failed; restarted by its supervisor");
        self.budget.allow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_allows_max_then_refuses() {
        let mut b = RestartBudget::new(2, Duration::from_secs(60));
        assert!(b.allow());
        assert!(b.allow());
        assert!(!b.allow());
    }

    #[test]
    fn budget_forgets_restarts_older_than_its_window() {
        let mut b = RestartBudget::new(1, Duration::from_millis(1));
        assert!(b.allow());
        std::thread::sleep(Duration::from_millis(5));
        assert!(b.allow());
    }
}
