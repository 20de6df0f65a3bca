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

#[cfg(test)]
mod tests {
    use super::super::queue::QueueDelivery;
    use super::super::testing::{consumer, core, data, key};
    use super::*;
    use crate::model::AckMode::{Client, ClientIndividual};

    fn settle(how: Settlement, sub: u64, message_id: u64, cumulative: bool) -> StagedSettle {
        StagedSettle {
            how,
            key: key(sub),
            message_id,
            cumulative,
        }
    }

    #[test]
    fn settles_are_checked_as_if_applied_in_order_and_change_nothing() {
        let mut c = core("/queue/q");
        let mut q: QueueDelivery = QueueDelivery::new(&c);
        let (ci, seen) = consumer(1, ClientIndividual, 3);
        let (cl, seen_cl) = consumer(2, Client, 3);
        q.subscribe(&mut c, ci);
        q.publish(&mut c, vec![data("a"), data("b"), data("c")], true)
            .expect("taken");
        q.dispatch(&mut c);
        q.subscribe(&mut c, cl);
        q.publish(&mut c, vec![data("d"), data("e")], true)
            .expect("taken");
        q.dispatch(&mut c);
        let (a, b) = (seen.id(0), seen.id(1));
        let (d, e) = (seen_cl.id(0), seen_cl.id(1));
        use Settlement::{Ack, Nack};

        assert!(check_settles(&q, &[settle(Ack, 1, a, false), settle(Nack, 1, b, false)]).is_ok());
        // The same message twice: the second finds it gone.
        assert_eq!(
            check_settles(&q, &[settle(Ack, 1, a, false), settle(Ack, 1, a, false)]).err(),
            Some(AckError::Unknown(a))
        );
        // A cumulative ACK takes the earlier ones with it.
        assert_eq!(
            check_settles(&q, &[settle(Ack, 2, e, true), settle(Ack, 2, d, false)]).err(),
            Some(AckError::Unknown(d))
        );
        assert_eq!(
            check_settles(&q, &[settle(Ack, 9, a, false)]).err(),
            Some(AckError::NoSubscription)
        );
        assert_eq!(
            check_settles(&q, &[settle(Ack, 2, a, false)]).err(),
            Some(AckError::Unknown(a))
        );
        // Nothing was applied by checking: each still holds what it held.
        assert!(q.ack(&mut c, key(1), a, false).is_ok());
        assert!(q.ack(&mut c, key(2), e, true).is_ok());
    }
}
