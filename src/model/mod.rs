//! The broker's vocabulary, free of actors: identifiers, acknowledgement
//! modes, message data, destination limits and policies. Everything above the
//! protocol layer speaks in these types.

mod ack_mode;
mod durable_name;
mod expiry;
mod glob;
mod ids;
mod kind;
mod limits;
mod message;
mod priority;
mod redelivery;
pub mod selector;
mod stored_headers;
mod temp_queue;
mod transport;
mod views;
pub mod wildcard;

pub use ack_mode::AckMode;
pub use durable_name::{is_durable_queue, DurableKey};
pub use expiry::{now_ms, parse_expires, Expiry, OnExpiry};
pub use glob::glob_match;
pub use ids::{ConsumerKey, DestinationId};
pub use kind::Kind;
pub use limits::{
    all_persistent, MemoryBudget, Overflow, PolicyOverride, QueueLimits, SlowConsumer,
};
pub use message::{Envelope, MessageData};
pub use priority::{
    parse_priority, priority_class, priority_of, priority_of_class, DEFAULT_PRIORITY, PRIORITIES,
};
pub use redelivery::{NackMode, Redelivery};
pub use stored_headers::{decode_headers, encode_headers, find_encoded, BadHeaders};
pub use temp_queue::{temp_queue_name, temp_queue_owner, CLIENT_PREFIX as TEMP_QUEUE_PREFIX};
pub use transport::Transport;
pub use views::{ConnectionView, ConsumerView, DestinationView, ReplayOutcome, SubscriptionView};
