//! SUBSCRIBE and UNSUBSCRIBE: the session's subscription table, bounded by
//! `limits.max_subscriptions`, and each subscription's consumer at its
//! destination.

use std::sync::Arc;

use actix::prelude::*;

use super::routes::resolve;
use super::{Ctx, DurableName, Session, SessionError, SubscriptionError};
use crate::messages::connection::{Drain, Subscribed, Unsubscribed};
use crate::messages::destination::{DestinationRef, Subscribe, SubscribeError, Unsubscribe};
use crate::messages::router::{DurableHandle, OpenDurable, RemoveDurable};
use crate::model::selector::Selector;
use crate::model::{AckMode, DurableKey};

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
    /// The durable subscription it consumes, if any.
    pub(super) durable: Option<DurableKey>,
}

/// Where a SUBSCRIBE's messages come from.
enum Source {
    /// The destination it names.
    Named(String),
    /// A durable subscription's queue, bound to the topic it names.
    Durable {
        key: DurableKey,
        topic: String,
        selector: Option<Arc<Selector>>,
    },
}

impl Source {
    /// The destination to consume from: looked up, or the durable
    /// subscription opened (created if new).
    async fn locate(
        &self,
        router: &Recipient<crate::messages::router::Resolve>,
        durables: &DurableHandle,
    ) -> Result<DestinationRef, SubscriptionError> {
        match self {
            Source::Named(name) => Ok(resolve(router, name.clone()).await?),
            Source::Durable {
                key,
                topic,
                selector,
            } => {
                let open = OpenDurable {
                    key: key.clone(),
                    topic: topic.clone(),
                    selector: selector.clone(),
                };
                match durables.open.send(open).await {
                    Ok(r) => r.map_err(SubscriptionError::Durable),
                    Err(_) => Err(SubscriptionError::Stopping),
                }
            }
        }
    }
}

impl Session {
    /// The durable subscription `d` names for this client: ActiveMQ and
    /// Artemis names need the CONNECT `client-id`.
    fn durable_key(&self, d: DurableName) -> Result<DurableKey, SubscriptionError> {
        let client = self.client_id.as_ref().map(|c| c.id().to_string());
        if d.needs_client_id && client.is_none() {
            return Err(SubscriptionError::NoClientId(d.name));
        }
        Ok(DurableKey {
            client,
            name: d.name,
        })
    }

    pub(super) fn subscribe(
        &mut self,
        destination: String,
        id: String,
        (ack, prefetch, selector, exclusive): (AckMode, Option<u32>, Option<Arc<Selector>>, bool),
        durable: Option<DurableName>,
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
        let on_topic = destination.starts_with(&self.shared.settings.destinations.topic_prefix);
        let (source, selector, durable) = match durable.filter(|_| on_topic) {
            None => (Source::Named(destination.clone()), selector, None),
            Some(d) => {
                let key = match self.durable_key(d) {
                    Ok(k) => k,
                    Err(e) => return self.fail(e, receipt),
                };
                if self.subs.values().any(|s| s.durable.as_ref() == Some(&key)) {
                    return self.fail(SubscriptionError::DurableInUse(key.describe()), receipt);
                }
                // The queue takes only what the selector selects, so its
                // consumer needs none.
                let source = Source::Durable {
                    key: key.clone(),
                    topic: destination.clone(),
                    selector,
                };
                (source, None, Some(key))
            }
        };
        let d = &self.shared.settings.destinations;
        let prefetch = prefetch.unwrap_or(d.default_prefetch).min(d.max_prefetch);
        let window_bytes =
            (self.shared.settings.limits.max_outbound_bytes / WINDOW_SHARE_OF_OUTBOUND).max(1);
        let sub_key = self.next_key;
        self.next_key += 1;
        let key = self.key(sub_key);
        let router = self.shared.router.clone();
        let durables = self.shared.durables.clone();
        let conn = self.conn.clone();
        let deliver = self.conn.deliver.clone();
        let receipted = self.conn.receipted.clone();
        let fail = self.replies.fail.clone();
        let receipt_for_dest = receipt.clone();
        let sub_id = id.clone();
        async move {
            for _ in 0..SUBSCRIBE_ATTEMPTS {
                let dest = source.locate(&router, &durables).await?;
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
                        durable,
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

    /// UNSUBSCRIBE: the subscription leaves its destination; with durable
    /// headers the durable subscription is removed too, backlog and all (a
    /// plain UNSUBSCRIBE, or a disconnect, keeps it).
    pub(super) fn unsubscribe(
        &mut self,
        id: String,
        durable: Option<DurableName>,
        receipt: Option<String>,
        ctx: &mut Ctx,
    ) {
        let remove = match durable.map(|d| self.durable_key(d)).transpose() {
            Ok(k) => k,
            Err(e) => return self.fail(e, receipt),
        };
        let sub = self.subs.remove(&id);
        if sub.is_none() && remove.is_none() {
            return self.fail(SubscriptionError::NoSuchId(id), receipt);
        }
        let had_sub = sub.is_some();
        if let Some(sub) = &sub {
            self.conn.unsubscribed.do_send(Unsubscribed {
                subscription: sub.key,
            });
        }
        let key = sub.as_ref().map(|s| self.key(s.key));
        let conn = self.conn.clone();
        let durables = self.shared.durables.clone();
        async move {
            if let (Some(sub), Some(key)) = (sub, key) {
                if sub.ack == AckMode::Auto {
                    // Auto-ack deliveries count as consumed once written: let the
                    // writer report what it wrote before the queue takes back the rest.
                    let _ = conn.drain.send(Drain).await;
                }
                let _ = sub.dest.unsubscribe(Unsubscribe { key }).await;
            }
            let Some(key) = remove else {
                return Ok(());
            };
            let what = key.describe();
            match durables.remove.send(RemoveDurable { key }).await {
                Ok(Ok(true)) => Ok(()),
                Ok(Ok(false)) if had_sub => Ok(()),
                Ok(Ok(false)) => Err(SubscriptionError::NoSuchDurable(what)),
                Ok(Err(e)) => Err(SubscriptionError::Durable(e)),
                Err(_) => Err(SubscriptionError::Stopping),
            }
        }
        .into_actor(self)
        .map(move |r, s, _| match r {
            Ok(()) => s.receipt(receipt),
            Err(e) => s.fail(e, receipt),
        })
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
