//! A COMMIT's check phase at one destination ([`Prepare`]): whether its
//! messages fit under the limits and overflow policy, and whether its
//! consumers hold every message the staged ACKs and NACKs name, taken in
//! order as they would be applied. Nothing changes here, so a COMMIT that one
//! destination refuses applies nothing anywhere.

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;

use super::actor::Destination;
use super::delivery::Delivery;
use crate::messages::destination::{AckError, Prepare, PrepareRefused, Prepared, StagedSettle};
use crate::messages::transaction::Settlement;
use crate::model::{AckMode, ConsumerKey, MessageData};

/// Checks `settles` against `strategy`'s consumers as if applied in order.
/// Returns the journaled messages the ACKs would remove.
pub(super) fn check_settles<S: Delivery>(
    strategy: &S,
    settles: &[StagedSettle],
) -> Result<Vec<Arc<MessageData>>, AckError> {
    let mut taken: HashSet<(ConsumerKey, u64)> = HashSet::new();
    let mut acked = Vec::new();
    for op in settles {
        let c = strategy.holder(op.key).ok_or(AckError::NoSubscription)?;
        if c.ack == AckMode::Auto {
            return Err(AckError::Unknown(op.message_id));
        }
        // What the consumer will still hold when this one is applied.
        let held: Vec<&Arc<MessageData>> = c
            .held()
            .map(|e| &e.data)
            .filter(|d| !taken.contains(&(op.key, d.id)))
            .collect();
        let pos = held
            .iter()
            .position(|d| d.id == op.message_id)
            .ok_or(AckError::Unknown(op.message_id))?;
        let first = if op.cumulative { 0 } else { pos };
        for d in &held[first..=pos] {
            taken.insert((op.key, d.id));
            if op.how == Settlement::Ack && d.is_journaled() {
                acked.push(Arc::clone(d));
            }
        }
    }
    Ok(acked)
}

impl<S: Delivery> Handler<Prepare> for Destination<S> {
    type Result = Result<Prepared, PrepareRefused>;

    fn handle(&mut self, msg: Prepare, _: &mut Self::Context) -> Self::Result {
        // A retired destination holds no consumers and forwards publishes;
        // its successor applies its own limits, so only settles can fail here.
        if !self.retired {
            self.strategy.room(&self.core, msg.count, msg.bytes)?;
        }
        let journaled_acks = check_settles(&self.strategy, &msg.settles)?;
        Ok(Prepared {
            name: self.core.name.clone(),
            journaled_acks,
        })
    }
}
