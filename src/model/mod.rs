//! The broker's vocabulary, free of actors: identifiers, acknowledgement
//! modes, message data, destination limits and policies. Everything above the
//! protocol layer speaks in these types.

mod ack_mode;
mod glob;
mod ids;
mod kind;
mod limits;
mod message;
mod redelivery;
mod stored_headers;
mod transport;
mod views;

pub use ack_mode::AckMode;
pub use glob::glob_match;
pub use ids::{ConsumerKey, DestinationId};
pub use kind::Kind;
pub use limits::{
    all_persistent, MemoryBudget, Overflow, PolicyOverride, QueueLimits, SlowConsumer,
};
pub use message::{Envelope, MessageData};
pub use redelivery::{NackMode, Redelivery};
pub use stored_headers::{decode_headers, encode_headers, BadHeaders};
pub use transport::Transport;
pub use views::{ConnectionView, ConsumerView, DestinationView, ReplayOutcome, SubscriptionView};
