//! SUBSCRIBE and UNSUBSCRIBE: the session's subscription table, bounded by
//! `limits.max_subscriptions`, and each subscription's consumer at its
//! destination.

use std::sync::Arc;

use actix::prelude::*;

use super::routes::resolve;
use super::{Ctx, Session, SessionError, SubscriptionError};
use crate::messages::connection::{Drain, Subscribed, Unsubscribed};
use crate::messages::destination::{DestinationRef, Subscribe, SubscribeError, Unsubscribe};
use crate::model::selector::Selector;
use crate::model::AckMode;

/// How many times SUBSCRIBE looks a destination up again when it retired
/// between lookup and subscribe (it is being recreated); more means the name
/// keeps failing, and the client is told to try again.
const SUBSCRIBE_ATTEMPTS: usize = 8;

/// Each subscription may hold this fraction (1/N) of the connection's outbound
/// byte bound in flight: a slow reader gets fewer messages instead of being
/// disconnected.
const WINDOW_SHARE_OF_OUTBOUND: usize = 4;

/// One active subscription.
pub(super) struct Sub {
    /// The session-local key in `ConsumerKey` and in 1.2 ack ids.
    pub(super) key: u64,
    pub(super) dest: DestinationRef,
    pub(super) ack: AckMode,
}

impl Session {
    pub(super) fn subscribe(
        &mut self,
        destination: String,
        id: String,
        (ack, prefetch, selector, exclusive): (AckMode, Option<u32>, Option<Arc<Selector>>, bool),
        receipt: Option<String>,
        ctx: &mut Ctx,
    ) {
        if self.subs.contains_key(&id) {
            return self.fail(SubscriptionError::IdInUse(id), receipt);
        }
        let destination = self.own_temp_queue(&destination).unwrap_or(destination);
        if let Err(e) = self.check_temp_owner(&destination) {
            return self.fail(e, receipt);
        }
        let max = self.shared.settings.limits.max_subscriptions;
        if self.subs.len() >= max {
            return self.fail(SessionError::TooManySubscriptions(max), receipt);
        }
        let d = &self.shared.settings.destinations;
        let prefetch = prefetch.unwrap_or(d.default_prefetch).min(d.max_prefetch);
        let window_bytes =
            (self.shared.settings.limits.max_outbound_bytes / WINDOW_SHARE_OF_OUTBOUND).max(1);
        let sub_key = self.next_key;
        self.next_key += 1;
        let key = self.key(sub_key);
        let router = self.shared.router.clone();
        let conn = self.conn.clone();
        let deliver = self.conn.deliver.clone();
        let receipted = self.conn.receipted.clone();
        let fail = self.replies.fail.clone();
        let receipt_for_dest = receipt.clone();
        let sub_id = id.clone();
        async move {
            for _ in 0..SUBSCRIBE_ATTEMPTS {
                let dest = resolve(&router, destination.clone()).await?;
                conn.subscribed.do_send(Subscribed {
                    subscription: sub_key,
                    id: sub_id.clone(),
                    ack,
                    settle: dest.settle_recipient(),
                });
                let req = Subscribe {
                    key,
                    ack,
                    prefetch,
                    window_bytes,
                    selector: selector.clone(),
                    exclusive,
                    deliver: deliver.clone(),
                    fail: fail.clone(),
                    receipt: receipt_for_dest.clone().map(|r| (receipted.clone(), r)),
                };
                match dest.subscribe(req).await {
                    Ok(Ok(())) => return Ok(dest),
                    // A destination can retire between lookup and subscribe; look again.
                    Ok(Err(SubscribeError::Retired)) => continue,
                    Ok(Err(e)) => return Err(SubscriptionError::Refused(e)),
                    Err(_) => return Err(SubscriptionError::Unavailable),
                }
            }
            Err(SubscriptionError::Recreated)
        }
        .into_actor(self)
        .map(move |res, s, _| match res {
            Ok(dest) => {
                s.subs.insert(
                    id,
                    Sub {
                        key: sub_key,
                        dest,
                        ack,
                    },
                );
                // The destination already sent the RECEIPT, ahead of deliveries.
            }
            Err(e) => {
                s.conn.unsubscribed.do_send(Unsubscribed {
                    subscription: sub_key,
                });
                s.fail(e, receipt);
            }
        })
        .wait(ctx);
    }

    pub(super) fn unsubscribe(&mut self, id: String, receipt: Option<String>, ctx: &mut Ctx) {
        let Some(sub) = self.subs.remove(&id) else {
            return self.fail(SubscriptionError::NoSuchId(id), receipt);
        };
        self.conn.unsubscribed.do_send(Unsubscribed {
            subscription: sub.key,
        });
        let key = self.key(sub.key);
        let conn = self.conn.clone();
        async move {
            if sub.ack == AckMode::Auto {
                // Auto-ack deliveries count as consumed once written: let the
                // writer report what it wrote before the queue takes back the rest.
                let _ = conn.drain.send(Drain).await;
            }
            sub.dest.unsubscribe(Unsubscribe { key }).await
        }
        .into_actor(self)
        .map(move |_, s, _| s.receipt(receipt))
        .wait(ctx);
    }

    /// Takes every subscription off its destination at once; their
    /// unacknowledged messages go back to their queues.
    pub(super) fn release_subscriptions(&mut self) {
        for (_, sub) in self.subs.drain() {
            let key = crate::model::ConsumerKey {
                session: self.id,
                subscription: sub.key,
            };
            sub.dest.unsubscribe_now(Unsubscribe { key });
        }
    }
}
