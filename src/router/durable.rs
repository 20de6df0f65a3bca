//! Durable topic subscriptions: each is a queue of its own
//! (`<queue prefix>durable.<client id>.<name>`, see [`DurableKey`]) that the
//! router binds to its topic or pattern, so the matching topics hand it a
//! copy of what they take (only what its selector selects) whether or not
//! its subscriber is connected. The subscriber consumes from that queue with
//! its own ack mode. Registrations are kept in a [`RegistryFile`] when
//! storage is enabled, and the queue's persistent messages in the journal.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::durable_file::{Entry, RegistryFile};
use super::{PatternIndex, Router};
use crate::messages::destination::{DestinationRef, Forward};
use crate::messages::router::{DurableError, OpenDurable, RemoveDurable, RouteError};
use crate::model::selector::Selector;
use crate::model::{is_durable_queue, DurableKey};

/// One durable subscription.
struct DurableSub {
    key: DurableKey,
    /// Its topic or pattern, prefix included.
    topic: String,
    selector: Option<Arc<Selector>>,
    /// Its queue's actor.
    queue: DestinationRef,
}

/// Every durable subscription, by queue name, and an index of their topics.
#[derive(Default)]
pub(super) struct Durables {
    subs: HashMap<Arc<str>, DurableSub>,
    /// Topic or pattern (prefix stripped) → the queues bound to it.
    index: PatternIndex<Vec<Arc<str>>>,
    file: Option<Arc<RegistryFile>>,
    /// Bumped on every change; the file keeps the newest snapshot.
    generation: u64,
}

impl Durables {
    /// No subscriptions yet, recorded in `file` if given.
    pub(super) fn new(file: Option<std::path::PathBuf>) -> Self {
        Durables {
            file: file.map(RegistryFile::new),
            ..Default::default()
        }
    }

    /// The durable subscription queues matching the plain topic `topic`.
    pub(super) fn forwards_of(&self, topic: &str) -> Vec<Forward> {
        self.index
            .matches(topic)
            .into_iter()
            .flat_map(|(_, names)| names.iter())
            .filter_map(|n| self.subs.get(n))
            .map(|s| Forward {
                to: s.queue.clone(),
                selector: s.selector.clone(),
            })
            .collect()
    }

    fn snapshot(&mut self) -> Option<(Arc<RegistryFile>, u64, Vec<Entry>)> {
        let file = self.file.clone()?;
        self.generation += 1;
        let mut entries: Vec<Entry> = self
            .subs
            .values()
            .map(|s| Entry {
                client: s.key.client.clone(),
                name: s.key.name.clone(),
                topic: s.topic.clone(),
                selector: s.selector.as_ref().map(|s| s.text().to_string()),
            })
            .collect();
        entries.sort_by(|a, b| (&a.client, &a.name).cmp(&(&b.client, &b.name)));
        Some((file, self.generation, entries))
    }
}

/// Writes the registry off the actor thread; `Ok` when there is no file.
async fn persist(snapshot: Option<(Arc<RegistryFile>, u64, Vec<Entry>)>) -> Result<(), String> {
    let Some((file, generation, entries)) = snapshot else {
        return Ok(());
    };
    match tokio::task::spawn_blocking(move || file.store(generation, &entries)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

impl Router {
    /// The topic `topic` without its prefix, if it is one.
    fn topic_part<'t>(&self, topic: &'t str) -> Option<&'t str> {
        topic
            .strip_prefix(self.policy.topic_prefix.as_str())
            .filter(|t| !t.is_empty())
    }

    /// Whether `name` is a durable subscription's queue that no longer
    /// exists: a copy still on its way to it (or a dead letter replayed to
    /// it) must not bring it back as an unbound queue.
    pub(super) fn durable_gone(&self, name: &str) -> bool {
        is_durable_queue(&self.policy.queue_prefix, name)
            && !self.durables.subs.contains_key(name)
            && !self.destinations.contains_key(name)
    }

    /// Binds a durable subscription (its queue started, pinned) and tells
    /// the topics it matches.
    fn bind(
        &mut self,
        key: DurableKey,
        topic: String,
        selector: Option<Arc<Selector>>,
        me: Addr<Router>,
    ) -> Result<DestinationRef, RouteError> {
        let name: Arc<str> = Arc::from(key.queue_name(&self.policy.queue_prefix));
        let pattern = self
            .topic_part(&topic)
            .ok_or_else(|| RouteError::BadPrefix {
                name: topic.clone(),
                queue: self.policy.queue_prefix.clone(),
                topic: self.policy.topic_prefix.clone(),
            })?
            .to_string();
        let queue = self.resolve(&name, me)?;
        let mut names = self.durables.index.remove(&pattern).unwrap_or_default();
        names.push(name.clone());
        self.durables.index.insert(&pattern, names);
        self.durables.subs.insert(
            name,
            DurableSub {
                key,
                topic,
                selector,
                queue: queue.clone(),
            },
        );
        self.metrics
            .durable_subscriptions
            .set(self.durables.subs.len() as i64);
        self.refresh_matching(&pattern);
        Ok(queue)
    }

    /// Unbinds the durable subscription whose queue is `name` and tells the
    /// topics it matched; the router no longer serves its queue.
    fn unbind(&mut self, name: &str) -> Option<DurableSub> {
        let sub = self.durables.subs.remove(name)?;
        self.metrics
            .durable_subscriptions
            .set(self.durables.subs.len() as i64);
        if let Some(pattern) = self.topic_part(&sub.topic).map(str::to_string) {
            let mut names = self.durables.index.remove(&pattern).unwrap_or_default();
            names.retain(|n| &**n != name);
            if !names.is_empty() {
                self.durables.index.insert(&pattern, names);
            }
            self.refresh_matching(&pattern);
        }
        if self
            .destinations
            .get(name)
            .is_some_and(|d| d.same(&sub.queue))
        {
            self.destinations.remove(name);
        }
        Some(sub)
    }

    /// Binds the subscriptions recorded on disk (at start, before the
    /// journal's queues are started, so theirs start bound).
    pub(super) fn load_durables(&mut self, me: Addr<Router>) {
        let Some(file) = self.durables.file.clone() else {
            return;
        };
        let entries = match file.load() {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "durable subscriptions could not be read; none are bound");
                return;
            }
        };
        let n = entries.len();
        for e in entries {
            let selector = match e.selector.as_deref().map(Selector::parse).transpose() {
                Ok(s) => s.map(Arc::new),
                Err(err) => {
                    tracing::error!(name = %e.name, error = %err, "recorded durable subscription has a bad selector; skipped");
                    continue;
                }
            };
            let key = DurableKey {
                client: e.client,
                name: e.name,
            };
            if let Err(err) = self.bind(key, e.topic, selector, me.clone()) {
                tracing::error!(error = %err, "recorded durable subscription cannot be bound");
            }
        }
        if n > 0 {
            tracing::info!(subscriptions = n, "durable subscriptions restored");
        }
    }

    /// A durable subscription's queue was quarantined: its successor is
    /// bound in its place.
    pub(super) fn rebind_durable(&mut self, name: &str, me: Addr<Router>) {
        let Some(sub) = self.unbind(name) else {
            return;
        };
        if let Err(e) = self.bind(sub.key, sub.topic, sub.selector, me) {
            tracing::error!(destination = %name, error = %e, "durable subscription lost its queue");
        }
    }

    /// An operator deleted a durable subscription's queue: the subscription goes too.
    pub(super) fn forget_durable(&mut self, name: &str, ctx: &mut Context<Router>) {
        if self.unbind(name).is_none() {
            return;
        }
        tracing::info!(destination = %name, "durable subscription deleted with its queue");
        let snapshot = self.durables.snapshot();
        async move { persist(snapshot).await }
            .into_actor(self)
            .map(|r, _, _| {
                if let Err(e) = r {
                    tracing::error!(error = %e, "durable subscriptions could not be recorded");
                }
            })
            .spawn(ctx);
    }
}

impl Handler<OpenDurable> for Router {
    type Result = ResponseActFuture<Self, Result<DestinationRef, DurableError>>;

    fn handle(&mut self, msg: OpenDurable, ctx: &mut Self::Context) -> Self::Result {
        let name = msg.key.queue_name(&self.policy.queue_prefix);
        if let Some(sub) = self.durables.subs.get(name.as_str()) {
            let text = |s: &Option<Arc<Selector>>| s.as_ref().map(|s| s.text().to_string());
            if sub.topic != msg.topic || text(&sub.selector) != text(&msg.selector) {
                let selector = text(&sub.selector)
                    .map(|s| format!(" with selector '{s}'"))
                    .unwrap_or_default();
                let e = DurableError::Conflict {
                    what: msg.key.describe(),
                    topic: sub.topic.clone(),
                    selector,
                };
                return Box::pin(fut::ready(Err(e)));
            }
            return Box::pin(fut::ready(Ok(sub.queue.clone())));
        }
        let max = self.policy.max_durable_subscriptions;
        if self.durables.subs.len() >= max {
            return Box::pin(fut::ready(Err(DurableError::TooMany { max })));
        }
        let admitted = self
            .admit(&msg.topic)
            .and_then(|()| self.admit(&name))
            .and_then(|()| self.bind(msg.key, msg.topic, msg.selector, ctx.address()));
        let queue = match admitted {
            Ok(q) => q,
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        tracing::info!(destination = %name, "durable subscription created");
        let snapshot = self.durables.snapshot();
        Box::pin(
            async move { persist(snapshot).await }
                .into_actor(self)
                .map(move |written, router, _| match written {
                    Ok(()) => Ok(queue),
                    Err(e) => {
                        tracing::error!(destination = %name, error = %e, "durable subscription could not be recorded; removed");
                        if let Some(sub) = router.unbind(&name) {
                            sub.queue.delete();
                        }
                        Err(DurableError::Registry(e))
                    }
                }),
        )
    }
}

impl Handler<RemoveDurable> for Router {
    type Result = ResponseActFuture<Self, Result<bool, DurableError>>;

    fn handle(&mut self, msg: RemoveDurable, _: &mut Self::Context) -> Self::Result {
        let name = msg.key.queue_name(&self.policy.queue_prefix);
        let Some(DurableSub { queue, .. }) = self.unbind(&name) else {
            return Box::pin(fut::ready(Ok(false)));
        };
        tracing::info!(destination = %name, "durable subscription removed");
        let snapshot = self.durables.snapshot();
        let reason = format!("durable subscription {} was removed", msg.key.describe());
        Box::pin(
            async move {
                // Its backlog goes (durably) before the reply, so a RECEIPT
                // means nothing of it comes back after a restart.
                let removed = queue.remove(reason).await;
                let written = persist(snapshot).await;
                match (removed, written) {
                    (_, Err(e)) => Err(DurableError::Registry(e)),
                    (Ok(Err(e)), _) => Err(DurableError::Registry(e.to_string())),
                    _ => Ok(true),
                }
            }
            .into_actor(self),
        )
    }
}
