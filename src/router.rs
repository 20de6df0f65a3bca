//! `Router`: the registry of destinations. Creates a destination actor on
//! first use, retires idle ones, and forwards what retired ones still receive.
//! It knows destination names and kinds, never transports or sessions.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use actix::prelude::*;

use crate::destination::{DestinationPolicy, Queue, Topic};
use crate::messages::destination::{DestinationRef, Publish};
use crate::messages::router::{
    DeadLetter, DeleteDestination, DeleteError, DestinationFailed, DestinationIdle,
    DestinationPage, FindDestination, ListDestinations, Reroute, Resolve, RouteError, RouterHandle,
};
use crate::metrics::Metrics;
use crate::model::{glob_match, DestinationId, Kind};

/// The destination registry.
pub struct Router {
    destinations: HashMap<Arc<str>, DestinationRef>,
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
            policy,
            metrics,
            arbiters,
        }
    }

    fn resolve(&mut self, name: &str, me: Addr<Router>) -> Result<DestinationRef, RouteError> {
        if let Some(d) = self.destinations.get(name) {
            return Ok(d.clone());
        }
        let key: Arc<str> = Arc::from(name);
        let policy = self.policy.clone();
        let metrics = self.metrics.clone();
        let arbiter = self.pick_arbiter(name);
        let id = DestinationId::next();
        let router = RouterHandle::of(&me);
        let dest = if name.starts_with(&policy.queue_prefix)
            && name.len() > policy.queue_prefix.len()
        {
            let n = key.clone();
            let addr = Supervisor::start_in_arbiter(&arbiter, move |_| {
                Queue::new(n, policy, id, router, metrics)
            });
            DestinationRef::of(&addr, Kind::Queue, id)
        } else if name.starts_with(&policy.topic_prefix) && name.len() > policy.topic_prefix.len() {
            let n = key.clone();
            let addr = Supervisor::start_in_arbiter(&arbiter, move |_| {
                Topic::new(n, policy, id, router, metrics)
            });
            DestinationRef::of(&addr, Kind::Topic, id)
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
        self.resolve(&msg.name, ctx.address())
    }
}

impl Handler<Reroute> for Router {
    type Result = ();

    fn handle(&mut self, msg: Reroute, ctx: &mut Self::Context) {
        let Reroute::Publish { destination, msg } = msg;
        match self.resolve(&destination, ctx.address()) {
            Ok(d) => d.publish(msg),
            Err(e) => tracing::error!(error = %e, "rerouted message has no destination"),
        }
    }
}

impl Handler<DeadLetter> for Router {
    type Result = ();

    fn handle(&mut self, msg: DeadLetter, ctx: &mut Self::Context) {
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
                }
            })
            .spawn(ctx);
    }
}

impl Handler<DestinationFailed> for Router {
    type Result = ();

    fn handle(&mut self, msg: DestinationFailed, _: &mut Self::Context) {
        if self
            .destinations
            .get(&msg.name)
            .is_some_and(|d| d.id() == msg.id)
        {
            self.destinations.remove(&msg.name);
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

    fn handle(&mut self, msg: DeleteDestination, _: &mut Self::Context) -> Self::Result {
        // Forgotten first: whatever is sent to the name from now on goes to a
        // fresh actor, and what reaches the old one after it retired is rerouted there.
        let Some(dest) = self.destinations.remove(msg.name.as_str()) else {
            return Box::pin(async move { Err(DeleteError::NotFound(msg.name)) });
        };
        tracing::info!(destination = %msg.name, "destination deleted by an operator");
        Box::pin(async move {
            match dest.remove(msg.reason).await {
                Ok(done) => Ok(done?),
                Err(_) => Err(DeleteError::Stopped),
            }
        })
    }
}
