//! Why the broker sent an ERROR frame: the `reason` label of
//! `stompede_errors_total`, one variant per cause so that a new cause cannot
//! invent a label by accident.

/// The cause of an ERROR frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorReason {
    /// ACK or NACK of a message the subscription does not hold.
    Ack,
    /// An operator closed the connection, or deleted a destination it consumed from (admin API).
    Admin,
    /// The CONNECT credentials were refused.
    Auth,
    /// The broker refused a connection over `limits.max_connections`.
    ConnectionLimit,
    /// No CONNECT within `limits.connect_timeout_ms`.
    ConnectTimeout,
    /// A destination name the broker does not serve.
    Destination,
    /// A frame begun was not whole within `limits.frame_timeout_ms`.
    FrameTimeout,
    /// The client's heart-beats stopped.
    HeartbeatTimeout,
    /// The broker failed internally (a destination or transaction is gone).
    Internal,
    /// A socket read failed.
    Io,
    /// A configured bound was hit (frame size, headers, transactions).
    Limit,
    /// A frame that breaks the STOMP grammar or misses a required header.
    Malformed,
    /// A frame other than CONNECT before the handshake.
    NotConnected,
    /// A queue refused a publish under the `reject` overflow policy.
    QueueFull,
    /// The client's session actor failed.
    SessionFailed,
    /// The broker is shutting down.
    Shutdown,
    /// A subscriber read too slowly (output bound or topic policy).
    SlowConsumer,
    /// The message store (journal) failed: a persistent message is not durable.
    Store,
    /// A SUBSCRIBE or UNSUBSCRIBE that cannot be applied.
    Subscription,
    /// A transaction frame that cannot be applied.
    Transaction,
    /// A command the protocol does not have.
    UnknownCommand,
    /// No protocol version in common with the client.
    Version,
}

impl ErrorReason {
    /// Every reason, in label order (for pre-registering metric series).
    pub const ALL: [ErrorReason; 22] = [
        ErrorReason::Ack,
        ErrorReason::Admin,
        ErrorReason::Auth,
        ErrorReason::ConnectionLimit,
        ErrorReason::ConnectTimeout,
        ErrorReason::Destination,
        ErrorReason::FrameTimeout,
        ErrorReason::HeartbeatTimeout,
        ErrorReason::Internal,
        ErrorReason::Io,
        ErrorReason::Limit,
        ErrorReason::Malformed,
        ErrorReason::NotConnected,
        ErrorReason::QueueFull,
        ErrorReason::SessionFailed,
        ErrorReason::Shutdown,
        ErrorReason::SlowConsumer,
        ErrorReason::Store,
        ErrorReason::Subscription,
        ErrorReason::Transaction,
        ErrorReason::UnknownCommand,
        ErrorReason::Version,
    ];

    /// The metric label value.
    pub fn label(self) -> &'static str {
        match self {
            ErrorReason::Ack => "ack",
            ErrorReason::Admin => "admin",
            ErrorReason::Auth => "auth",
            ErrorReason::ConnectionLimit => "connection_limit",
            ErrorReason::ConnectTimeout => "connect_timeout",
            ErrorReason::Destination => "destination",
            ErrorReason::FrameTimeout => "frame_timeout",
            ErrorReason::HeartbeatTimeout => "heartbeat_timeout",
            ErrorReason::Internal => "internal",
            ErrorReason::Io => "io",
            ErrorReason::Limit => "limit",
            ErrorReason::Malformed => "malformed",
            ErrorReason::NotConnected => "not_connected",
            ErrorReason::QueueFull => "queue_full",
            ErrorReason::SessionFailed => "session_failed",
            ErrorReason::Shutdown => "shutdown",
            ErrorReason::SlowConsumer => "slow_consumer",
            ErrorReason::Store => "store",
            ErrorReason::Subscription => "subscription",
            ErrorReason::Transaction => "transaction",
            ErrorReason::UnknownCommand => "unknown_command",
            ErrorReason::Version => "version",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_all_is_complete() {
        let mut labels: Vec<_> = ErrorReason::ALL.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), ErrorReason::ALL.len());
    }
}
