//! What an operator sees of the broker's actors (the admin API's answers):
//! plain data, gathered by query messages and serialised as JSON by the
//! admin API. Every list in here is capped by whoever fills it.

use serde::Serialize;

/// One destination, as its actor describes it.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationView {
    /// The full name, prefix included.
    pub name: String,
    /// `queue` or `topic`.
    pub kind: &'static str,
    /// Messages waiting for a consumer (a topic: parked for slow subscribers).
    pub depth: usize,
    /// Delivered and not yet acknowledged.
    pub unacknowledged: usize,
    /// How many consumers it has (the list below may be capped).
    pub consumers: usize,
    /// Messages taken since this destination's actor started.
    pub messages_in: u64,
    /// Deliveries made since this destination's actor started.
    pub messages_out: u64,
    /// Messages it sent to its dead-letter queue.
    pub dead_lettered: u64,
    /// Its dead-letter queue (none for a topic or a dead-letter queue itself).
    pub dead_letter_queue: Option<String>,
    /// Its consumers, at most as many as the query asked for.
    pub consumer_list: Vec<ConsumerView>,
}

/// One consumer of a destination.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerView {
    /// The connection (and session) id, as in `/api/connections`.
    pub connection: u64,
    /// The subscription, numbered by its session.
    pub subscription: u64,
    /// The SUBSCRIBE `ack` mode.
    pub ack: &'static str,
    /// Its window: most messages outstanding at once.
    pub prefetch: u32,
    /// Messages it holds unacknowledged.
    pub unacknowledged: usize,
    /// Subscribed as an exclusive consumer (`activemq.exclusive`, `exclusive`).
    pub exclusive: bool,
}

/// One client connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionView {
    /// The connection (and session) id.
    pub id: u64,
    /// The client's address and port.
    pub peer: String,
    /// `tcp` or `ws`.
    pub transport: &'static str,
    /// The negotiated STOMP version; none before CONNECT.
    pub version: Option<&'static str>,
    /// The CONNECT `login`, if one was given.
    pub login: Option<String>,
    /// Its subscriptions, at most as many as the query asked for.
    pub subscriptions: Vec<SubscriptionView>,
    /// How many subscriptions it has (the list may be capped).
    pub subscription_count: usize,
    /// Bytes read from the client.
    pub bytes_in: u64,
    /// Bytes handed to the socket for the client.
    pub bytes_out: u64,
    /// When it connected, in seconds since the Unix epoch.
    pub connected_since: u64,
}

/// One subscription of a connection.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    /// The client's subscription id (the SUBSCRIBE `id` header).
    pub id: String,
    /// The subscription, numbered by its session (as in a consumer's `subscription`).
    pub number: u64,
    /// The SUBSCRIBE `ack` mode.
    pub ack: &'static str,
}

/// What a replay of a dead-letter queue did.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Messages sent back to the destination named in their `x-original-destination`.
    pub replayed: usize,
    /// Messages left in place because they name no original destination.
    pub skipped: usize,
}
