//! `Router`: the registry of destinations. Creates a destination actor on
//! first use, retires idle ones, and forwards what retired ones still receive.
//! It knows destination names and kinds, never transports or sessions.
//!
//! Wildcard topics (`/topic/stocks.*.nyse`) are topic actors of their own,
//! indexed by pattern in a [`PatternIndex`]. Each plain topic is told, when it
//! is created and whenever a matching wildcard topic comes or goes, which
//! wildcard topics match it, and hands them a copy of each message: the trie
//! is walked per topic and per change of patterns, never per message.

mod durable;
mod durable_file;
mod forwarding;
mod temp_queues;
mod wildcards;

pub use crate::messages::router::DurableHandle;
pub use wildcards::{is_pattern, PatternIndex};

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use actix::prelude::*;

use crate::destination::{ClusterQueue, DestinationPolicy, Queue, Topic};
use crate::messages::destination::{DestinationRef, Publish};
use crate::messages::router::{
    DeadLetter, DeleteDestination, DeleteError, DestinationFailed, DestinationIdle,
    DestinationPage, FindDestination, ListDestinations, Reroute, Resolve, RouteError, RouterHandle,
};
use crate::metrics::Metrics;
use crate::model::{glob_match, is_durable_queue, temp_queue_owner, DestinationId, Kind};
use durable::Durables;

/// The destination registry.
pub struct Router {
    destinations: HashMap<Arc<str>, DestinationRef>,
    /// The live wildcard topics, by pattern (the name without the topic prefix).
    patterns: PatternIndex<DestinationRef>,
    /// Connections whose temporary queues may exist (they claimed them and
    /// have not ended).
    temp_owners: HashSet<u64>,
    /// Durable topic subscriptions and their queues.
    durables: Durables,
    policy: Arc<DestinationPolicy>,
    metrics: Arc<Metrics>,
    arbiters: Vec<ArbiterHandle>,
}

impl Router {
    /// A router that starts destinations on `arbiters` (by name hash), or on
    /// the current arbiter if the list is empty.
    pub fn new(
        policy: Arc<DestinationPolicy>,
        metrics: Arc<Metrics>,
        arbiters: Vec<ArbiterHandle>,
    ) -> Self {
        Router {
            destinations: HashMap::new(),
            patterns: PatternIndex::new(),
            temp_owners: HashSet::new(),
            durables: Durables::new(policy.durable_registry.clone()),
            policy,
            metrics,
            arbiters,
        }
    }

    fn resolve(&mut self, name: &str, me: Addr<Router>) -> Result<DestinationRef, RouteError> {
        if let Some(d) = self.destinations.get(name) {
            return Ok(d.clone());
        }
        if let Some(owner) = temp_queue_owner(&self.policy.queue_prefix, name) {
            // A temporary queue exists only while its connection does; one
            // replied to afterwards must not come back and fill up.
            if !owner.is_some_and(|o| self.temp_owners.contains(&o)) {
                return Err(RouteError::TempQueueGone {
                    name: name.to_string(),
                });
            }
        }
        let key: Arc<str> = Arc::from(name);
        let policy = self.policy.clone();
        let metrics = self.metrics.clone();
        let arbiter = self.pick_arbiter(name);
        let id = DestinationId::next();
        let router = RouterHandle::of(&me);
        let dest =
            if name.starts_with(&policy.queue_prefix) && name.len() > policy.queue_prefix.len() {
                let n = key.clone();
                // A durable subscription's queue is fed by topics holding its
                // address, so it must not retire when idle.
                let pinned = is_durable_queue(&policy.queue_prefix, name);
                if policy.backplane.is_some() {
                    // Cluster mode: the queue's messages live in its JetStream stream.
                    let addr = Supervisor::start_in_arbiter(&arbiter, move |ctx| {
                        let mut q = ClusterQueue::new(n, policy, id, router, metrics);
                        q.attach(ctx);
                        if pinned {
                            q.pinned()
                        } else {
                            q
                        }
                    });
                    DestinationRef::of(&addr, Kind::Queue, id)
                } else {
                    let addr = Supervisor::start_in_arbiter(&arbiter, move |_| {
                        let q = Queue::new(n, policy, id, router, metrics);
                        if pinned {
                            q.pinned()
                        } else {
                            q
                        }
                    });
                    DestinationRef::of(&addr, Kind::Queue, id)
                }
            } else if let Some(topic) = name
                .strip_prefix(&policy.topic_prefix)
                .filter(|t| !t.is_empty())
            {
                let n = key.clone();
                let wildcard = is_pattern(topic);
                let addr = Supervisor::start_in_arbiter(&arbiter, move |_| {
                    let t = Topic::new(n, policy, id, router, metrics);
                    if wildcard {
                        t.wildcard()
                    } else {
                        t
                    }
                });
                let dest = DestinationRef::of(&addr, Kind::Topic, id);
                if wildcard {
                    self.patterns.insert(topic, dest.clone());
                    self.refresh_matching(topic);
                } else {
                    let to = self.forwards_of(topic);
                    if !to.is_empty() {
                        dest.set_forwards(to);
                    }
                }
                dest
            } else {
                return Err(RouteError::BadPrefix {
                    name: name.to_string(),
                    queue: self.policy.queue_prefix.clone(),
                    topic: self.policy.topic_prefix.clone(),
                });
            };
        self.destinations.insert(key, dest.clone());
        Ok(dest)
    }

    /// Whether a client may use `name`: the bounds apply to client look-ups
    /// only, so a dead letter or a reroute of an accepted message always
    /// finds its destination.
    fn admit(&self, name: &str) -> Result<(), RouteError> {
        let max = self.policy.max_name_len;
        if name.len() > max {
            return Err(RouteError::NameTooLong {
                len: name.len(),
                max,
            });
        }
        if name.chars().any(char::is_control) {
            return Err(RouteError::ControlCharacter);
        }
        let max = self.policy.max_destinations;
        if self.destinations.len() >= max && !self.destinations.contains_key(name) {
            return Err(RouteError::TooManyDestinations { max });
        }
        Ok(())
    }

    fn pick_arbiter(&self, name: &str) -> ArbiterHandle {
        if self.arbiters.is_empty() {
            return Arbiter::current();
        }
        let mut h = DefaultHasher::new();
        name.hash(&mut h);
        self.arbiters[(h.finish() as usize) % self.arbiters.len()].clone()
    }
}

impl Actor for Router {
    type Context = Context<Self>;

    /// Starts every queue the journal recovered messages for, so they are
    /// served (and counted) before anyone names them.
    fn started(&mut self, ctx: &mut Self::Context) {
        self.load_durables(ctx.address());
        let names = self
            .policy
            .storage
            .as_ref()
            .map(|s| s.recovered_queues())
            .unwrap_or_default();
        for name in names {
            if let Err(e) = self.resolve(&name, ctx.address()) {
                tracing::error!(destination = %name, error = %e, "recovered queue cannot be served");
            }
        }
    }
}

impl Handler<Resolve> for Router {
    type Result = Result<DestinationRef, RouteError>;

    fn handle(&mut self, msg: Resolve, ctx: &mut Self::Context) -> Self::Result {
        self.admit(&msg.name)?;
        if is_durable_queue(&self.policy.queue_prefix, &msg.name) {
            return Err(RouteError::DurableQueue { name: msg.name });
        }
        self.resolve(&msg.name, ctx.address())
    }
}

impl Handler<Reroute> for Router {
    type Result = ();

    fn handle(&mut self, msg: Reroute, ctx: &mut Self::Context) {
        let Reroute::Publish { destination, msg } = msg;
        if self.durable_gone(&destination) {
            tracing::debug!(destination = %destination, "copy for a removed durable subscription dropped");
            return;
        }
        match self.resolve(&destination, ctx.address()) {
            Ok(d) => d.publish(msg),
            Err(e @ RouteError::TempQueueGone { .. }) => {
                tracing::debug!(error = %e, "reply to a deleted temporary queue dropped");
                if let Some(o) = msg.origin {
                    o.accepted();
                }
            }
            Err(e) => tracing::error!(error = %e, "rerouted message has no destination"),
        }
    }
}

impl Handler<DeadLetter> for Router {
    type Result = ();

    fn handle(&mut self, msg: DeadLetter, ctx: &mut Self::Context) {
        if self.durable_gone(&msg.destination) {
            tracing::warn!(destination = %msg.destination, "message for a removed durable subscription dropped");
            return;
        }
        match self.resolve(&msg.destination, ctx.address()) {
            Ok(d) => d.publish(Publish {
                messages: vec![msg.data],
                permit: None,
                origin: None,
            }),
            Err(e) => tracing::error!(error = %e, "dead-letter destination is invalid"),
        }
    }
}

impl Handler<DestinationIdle> for Router {
    type Result = ();

    fn handle(&mut self, msg: DestinationIdle, ctx: &mut Self::Context) {
        let Some(dest) = self.destinations.get(&msg.name).cloned() else {
            return;
        };
        let name = msg.name;
        async move { (dest.retire().await, dest) }
            .into_actor(self)
            .map(move |(retired, dest), router, _| {
                let same = router
                    .destinations
                    .get(&name)
                    .is_some_and(|d| d.same(&dest));
                if matches!(retired, Ok(true)) && same {
                    tracing::debug!(destination = %name, "idle destination retired");
                    router.destinations.remove(&name);
                    router.forget(&name, &dest);
                }
            })
            .spawn(ctx);
    }
}

impl Handler<DestinationFailed> for Router {
    type Result = ();

    fn handle(&mut self, msg: DestinationFailed, ctx: &mut Self::Context) {
        if let Some(dest) = self
            .destinations
            .get(&msg.name)
            .filter(|d| d.id() == msg.id)
            .cloned()
        {
            self.destinations.remove(&msg.name);
            self.forget(&msg.name, &dest);
            self.rebind_durable(&msg.name, ctx.address());
        }
    }
}

impl Handler<ListDestinations> for Router {
    type Result = MessageResult<ListDestinations>;

    fn handle(&mut self, msg: ListDestinations, _: &mut Self::Context) -> Self::Result {
        let mut names: Vec<&Arc<str>> = self
            .destinations
            .keys()
            .filter(|n| msg.pattern.as_deref().is_none_or(|p| glob_match(p, n)))
            .collect();
        names.sort_unstable();
        let total = names.len();
        let items = names
            .into_iter()
            .skip(msg.offset)
            .take(msg.limit)
            .filter_map(|n| Some((n.clone(), self.destinations.get(n)?.clone())))
            .collect();
        MessageResult(DestinationPage { total, items })
    }
}

impl Handler<FindDestination> for Router {
    type Result = Option<DestinationRef>;

    fn handle(&mut self, msg: FindDestination, _: &mut Self::Context) -> Self::Result {
        self.destinations.get(msg.name.as_str()).cloned()
    }
}

impl Handler<DeleteDestination> for Router {
    type Result = ResponseFuture<Result<usize, DeleteError>>;

    fn handle(&mut self, msg: DeleteDestination, ctx: &mut Self::Context) -> Self::Result {
        // Forgotten first: whatever is sent to the name from now on goes to a
        // fresh actor, and what reaches the old one after it retired is rerouted there.
        let Some(dest) = self.destinations.remove(msg.name.as_str()) else {
            return Box::pin(async move { Err(DeleteError::NotFound(msg.name)) });
        };
        self.forget_durable(&msg.name, ctx);
        tracing::info!(destination = %msg.name, "destination deleted by an operator");
        Box::pin(async move {
            match dest.remove(msg.reason).await {
                Ok(done) => Ok(done?),
                Err(_) => Err(DeleteError::Stopped),
            }
        })
    }
}
