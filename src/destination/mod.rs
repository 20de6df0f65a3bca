//! Destinations: one actor per `/queue/NAME` ([`Queue`]) and per `/topic/NAME`
//! ([`Topic`]). Destinations know consumers only as `Recipient<Deliver>` and
//! the router only as a [`RouterHandle`](crate::messages::router::RouterHandle):
//! nothing here knows about sockets or sessions. What they handle is in
//! [`crate::messages::destination`].

mod consumer;
mod policy;
mod queue;
mod topic;

pub use policy::DestinationPolicy;
pub use queue::Queue;
pub use topic::Topic;
