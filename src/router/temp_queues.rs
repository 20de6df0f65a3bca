//! Which connections' temporary queues may exist, and deleting them when
//! their connection ends.

use std::sync::Arc;

use actix::prelude::*;

use super::Router;
use crate::messages::router::TempQueues;
use crate::model::temp_queue_owner;

impl Handler<TempQueues> for Router {
    type Result = ();

    fn handle(&mut self, msg: TempQueues, _: &mut Self::Context) {
        match msg {
            TempQueues::Claim { owner } => {
                self.temp_owners.insert(owner);
            }
            TempQueues::Release { owner } => {
                if !self.temp_owners.remove(&owner) {
                    return;
                }
                let prefix = &self.policy.queue_prefix;
                let gone: Vec<Arc<str>> = self
                    .destinations
                    .keys()
                    .filter(|n| temp_queue_owner(prefix, n) == Some(Some(owner)))
                    .cloned()
                    .collect();
                for name in gone {
                    if let Some(d) = self.destinations.remove(&name) {
                        tracing::debug!(destination = %name, "temporary queue deleted with its connection");
                        d.delete();
                    }
                }
            }
        }
    }
}
