//! SEND: where a session's frames go. Each session caches the destinations
//! it has used, so the router is asked once per name per session; a route
//! unused for an idle timeout is forgotten, so that it never keeps a retired
//! destination alive.

use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::OwnedSemaphorePermit;

use super::{Ctx, LookupError, Session};
use crate::messages::destination::{DestinationRef, Origin, Publish};
use crate::messages::router::{Resolve, RouteError};
use crate::model::MessageData;

/// Asks the router for the destination called `name`.
pub(super) async fn resolve(
    router: &Recipient<Resolve>,
    name: String,
) -> Result<DestinationRef, LookupError> {
    match router.send(Resolve { name }).await {
        Ok(found) => Ok(found?),
        Err(_) => Err(LookupError::Stopping),
    }
}

impl Session {
    /// Runs `then` with the destination called `name`, looking it up first if
    /// this session has not used it yet (blocking later frames meanwhile).
    pub(super) fn with_route(
        &mut self,
        name: String,
        receipt: Option<String>,
        ctx: &mut Ctx,
        then: impl FnOnce(&mut Session, DestinationRef, &mut Ctx) + 'static,
    ) {
        if let Some(d) = self.routes.get(&name) {
            let d = d.clone();
            then(self, d, ctx);
            return;
        }
        if let Some(d) = self.stale_routes.remove(&name) {
            self.routes.insert(name, d.clone());
            then(self, d, ctx);
            return;
        }
        let router = self.shared.router.clone();
        let key = name.clone();
        async move { resolve(&router, name).await }
            .into_actor(self)
            .map(move |res, s, ctx| match res {
                Ok(d) => {
                    s.routes.insert(key, d.clone());
                    then(s, d, ctx);
                }
                // A reply to a connection that has gone is dropped, as
                // RabbitMQ does: the replier did nothing wrong.
                Err(LookupError::Route(RouteError::TempQueueGone { .. })) => s.receipt(receipt),
                Err(e) => s.fail(e, receipt),
            })
            .wait(ctx);
    }

    /// SEND outside a transaction.
    pub(super) fn publish(
        &mut self,
        destination: String,
        data: Arc<MessageData>,
        permit: OwnedSemaphorePermit,
        receipt: Option<String>,
        ctx: &mut Ctx,
    ) {
        self.with_route(destination, receipt.clone(), ctx, move |s, dest, _| {
            // The destination sends the RECEIPT (or, if it refuses the
            // message, the ERROR) itself, once the message is taken.
            dest.publish(Publish {
                messages: vec![data],
                permit: Some(permit),
                origin: Some(Origin {
                    receipt,
                    replies: s.replies.clone(),
                }),
            });
        });
    }
}
