//! Why a session refuses a frame. Each failure ends the connection with an
//! ERROR frame; the variant decides its `message` header (the `Display` text)
//! and its `stompede_errors_total{reason}` label ([`SessionError::reason`]).
//!
//! The same cause can count under different reasons depending on the frame
//! it broke (an unknown destination is a `destination` error on SEND but a
//! `subscription` error on SUBSCRIBE), so failures are grouped by frame kind.

use thiserror::Error;

use super::CommandError;
use crate::auth::Verb;
use crate::messages::destination::{AckError, StoreFailed, SubscribeError};
use crate::messages::router::{DurableError, RouteError};
use crate::messages::transaction::{MemoryFull, Settlement, TooManyBytes, TooManyFrames};
use crate::protocol::ErrorReason;

/// A frame the session could not apply.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The frame is not a valid command.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A SEND (or another lookup) named a destination the broker does not serve.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The router is gone: the broker is shutting down.
    #[error("broker is stopping")]
    Stopping,
    /// A SUBSCRIBE or UNSUBSCRIBE that cannot be applied.
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
    /// SUBSCRIBE beyond `limits.max_subscriptions`.
    #[error("too many subscriptions (limit {0})")]
    TooManySubscriptions(usize),
    /// An ACK or NACK that cannot be applied.
    #[error("{how} failed: {cause}")]
    Settle {
        /// ACK or NACK.
        how: Settlement,
        /// What was wrong with it.
        cause: SettleError,
    },
    /// BEGIN, COMMIT or ABORT that cannot be applied.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    /// BEGIN beyond `transactions.max_per_connection`.
    #[error("too many open transactions (limit {0})")]
    TooManyTransactions(usize),
    /// A frame staged beyond `transactions.max_frames`.
    #[error(transparent)]
    TransactionFull(#[from] TooManyFrames),
    /// A SEND staged beyond `transactions.max_bytes`.
    #[error(transparent)]
    TransactionTooLarge(#[from] TooManyBytes),
    /// A SEND staged past the broker's memory budget.
    #[error(transparent)]
    MemoryFull(#[from] MemoryFull),
    /// The transaction actor did not answer a staged frame.
    #[error("transaction '{0}' failed")]
    TransactionLost(String),
    /// `auth.acl` grants this client no `verb` on `destination`.
    #[error("permission denied: {verb} to '{destination}'")]
    Denied {
        /// SEND or SUBSCRIBE.
        verb: Verb,
        /// The destination named.
        destination: String,
    },
}

impl SessionError {
    /// The ERROR frame's metric label.
    pub fn reason(&self) -> ErrorReason {
        match self {
            SessionError::Command(_) => ErrorReason::Malformed,
            SessionError::Denied { .. } => ErrorReason::Auth,
            SessionError::Route(_) => ErrorReason::Destination,
            SessionError::Stopping | SessionError::TransactionLost(_) => ErrorReason::Internal,
            SessionError::Subscription(_) => ErrorReason::Subscription,
            SessionError::Settle { .. } => ErrorReason::Ack,
            SessionError::Transaction(_) => ErrorReason::Transaction,
            SessionError::TooManySubscriptions(_)
            | SessionError::TooManyTransactions(_)
            | SessionError::TransactionFull(_)
            | SessionError::TransactionTooLarge(_)
            | SessionError::MemoryFull(_) => ErrorReason::Limit,
        }
    }
}

/// Why a SUBSCRIBE or UNSUBSCRIBE failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SubscriptionError {
    /// SUBSCRIBE with an `id` this session already uses.
    #[error("subscription id '{0}' is already in use")]
    IdInUse(String),
    /// UNSUBSCRIBE of an `id` this session does not have.
    #[error("no subscription with id '{0}'")]
    NoSuchId(String),
    /// The destination name is not served.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The router is gone.
    #[error("broker is stopping")]
    Stopping,
    /// The destination refused the consumer.
    #[error(transparent)]
    Refused(SubscribeError),
    /// The destination actor did not answer.
    #[error("destination unavailable")]
    Unavailable,
    /// SUBSCRIBE to another connection's temporary queue.
    #[error("temporary queue '{0}' belongs to another connection; only its owner may subscribe")]
    NotOwner(String),
    /// The destination kept retiring under us (see `SUBSCRIBE_ATTEMPTS`).
    #[error("destination is being recreated; try again")]
    Recreated,
    /// An ActiveMQ/Artemis durable subscription name without a CONNECT `client-id`.
    #[error("durable subscription '{0}' needs a client-id header on CONNECT")]
    NoClientId(String),
    /// A second subscription of this session to the same durable subscription.
    #[error("durable subscription {0} is already consumed on this connection")]
    DurableInUse(String),
    /// An UNSUBSCRIBE naming a durable subscription that does not exist.
    #[error("no durable subscription {0}")]
    NoSuchDurable(String),
    /// The router could not open or remove the durable subscription.
    #[error(transparent)]
    Durable(DurableError),
}

/// Why an ACK or NACK failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SettleError {
    /// A 1.2 `id` that is not `subscription:message`.
    #[error("unknown ack id '{0}'")]
    UnknownAckId(String),
    /// A 1.2 `id` whose subscription part names no subscription.
    #[error("ack id '{0}' names no active subscription")]
    NoActiveSubscription(String),
    /// A 1.1 `subscription` header this session does not have.
    #[error("no subscription with id '{0}'")]
    NoSubscription(String),
    /// A `message-id` no candidate subscription can hold.
    #[error("unknown message id '{0}'")]
    UnknownMessageId(String),
    /// The destination refused it.
    #[error(transparent)]
    Destination(#[from] AckError),
}

/// Why BEGIN, COMMIT or ABORT failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TransactionError {
    /// BEGIN of a name already open.
    #[error("transaction '{0}' is already open")]
    AlreadyOpen(String),
    /// A frame naming a transaction that is not open.
    #[error("unknown transaction '{0}'")]
    Unknown(String),
    /// The transaction actor did not hand back its frames.
    #[error("transaction '{0}' failed")]
    Lost(String),
    /// A staged SEND names a destination the broker does not serve.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The router is gone.
    #[error("broker is stopping")]
    Stopping,
    /// A staged ACK or NACK names a message its subscription does not hold
    /// (checked before anything is applied).
    #[error("COMMIT refused, nothing applied: an acknowledgement failed: {0}")]
    Refused(AckError),
    /// A destination cannot take the COMMIT's messages under its limits.
    #[error("COMMIT refused, nothing applied: {destination} is full: {why}")]
    QueueFull { destination: String, why: String },
    /// Checked, but refused when applied: only if the destination lost the
    /// message in between (it failed and was quarantined, say).
    #[error("COMMIT applied, but an acknowledgement failed: {0}")]
    AckFailed(AckError),
    /// The message store could not make the COMMIT durable.
    #[error("COMMIT not durable: {0}")]
    Store(StoreFailed),
}

/// Why a destination lookup failed; each frame kind files it under its own
/// variant (see the module docs).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The name is not served.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The router is gone.
    #[error("broker is stopping")]
    Stopping,
}

impl From<LookupError> for SessionError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Route(e) => SessionError::Route(e),
            LookupError::Stopping => SessionError::Stopping,
        }
    }
}

impl From<LookupError> for SubscriptionError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Route(e) => SubscriptionError::Route(e),
            LookupError::Stopping => SubscriptionError::Stopping,
        }
    }
}

impl From<LookupError> for TransactionError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Route(e) => TransactionError::Route(e),
            LookupError::Stopping => TransactionError::Stopping,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_reasons_follow_the_frame_kind() {
        let route = RouteError::BadPrefix {
            name: "x".into(),
            queue: "/queue/".into(),
            topic: "/topic/".into(),
        };
        let on_send = SessionError::from(route.clone());
        let on_subscribe = SessionError::from(SubscriptionError::from(route.clone()));
        let on_commit = SessionError::from(TransactionError::from(route.clone()));
        for e in [&on_send, &on_subscribe, &on_commit] {
            assert_eq!(e.to_string(), route.to_string());
        }
        assert_eq!(on_send.reason(), ErrorReason::Destination);
        assert_eq!(on_subscribe.reason(), ErrorReason::Subscription);
        assert_eq!(on_commit.reason(), ErrorReason::Transaction);
    }

    #[test]
    fn settle_errors_name_their_command() {
        let nack = SessionError::Settle {
            how: Settlement::Nack,
            cause: SettleError::UnknownMessageId("7".into()),
        };
        assert_eq!(nack.to_string(), "NACK failed: unknown message id '7'");
        assert_eq!(nack.reason(), ErrorReason::Ack);
        let ack = SessionError::Settle {
            how: Settlement::Ack,
            cause: AckError::Unknown(7).into(),
        };
        assert_eq!(
            ack.to_string(),
            "ACK failed: no unacknowledged message '7' on this subscription"
        );
    }

    #[test]
    fn bounds_count_as_limits() {
        assert_eq!(
            SessionError::TooManySubscriptions(2).reason(),
            ErrorReason::Limit
        );
        assert_eq!(
            SessionError::from(TooManyFrames(3)).to_string(),
            "transaction holds the maximum of 3 frames"
        );
    }
}
