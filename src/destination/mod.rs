//! Destinations: one [`Destination`] actor per `/queue/NAME` ([`Queue`]) and
//! per `/topic/NAME` ([`Topic`]). The actor (`actor.rs`, `handlers.rs`) does
//! what both kinds share; a plain-Rust [`Delivery`] strategy (`queue.rs`,
//! `topic.rs`) says who gets each message; a queue's waiting messages live in
//! a [`Backlog`]: a [`DurableBacklog`] keeps them in memory and journals the
//! persistent ones in the broker's [`Storage`]. Destinations know consumers only
//! through an outlet over their connection's recipients and the router only
//! as a [`RouterHandle`](crate::messages::router::RouterHandle): nothing here
//! knows about sockets or sessions. What they handle is in
//! [`crate::messages::destination`].

mod actor;
mod backlog;
mod consumer;
mod core;
mod delivery;
mod disk_alarm;
mod durability;
mod durable;
mod handlers;
mod jetstream;
mod lanes;
mod operations;
mod paging;
mod policy;
mod prepare;
mod queue;
mod redelivery;
mod storage;
#[cfg(test)]
mod testing;
mod topic;

pub use actor::Destination;
pub use backlog::{Backlog, BacklogError, Flushed, MemoryBacklog, Removal};
pub use consumer::{Consumer, Outlet};
pub use core::Core;
pub use delivery::{Delivery, Refused};
pub use disk_alarm::DiskLimits;
pub use durable::DurableBacklog;
pub use jetstream::{ClusterQueue, JetStreamDelivery, Pulled};
pub use policy::DestinationPolicy;
pub use queue::QueueDelivery;
pub use storage::Storage;
pub use topic::TopicDelivery;

/// A point-to-point destination: each message to one consumer.
pub type Queue = Destination<QueueDelivery<DurableBacklog>>;

/// A publish/subscribe destination: each message to every subscriber.
pub type Topic = Destination<TopicDelivery>;
