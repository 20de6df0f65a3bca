//! How a client reached the broker.

/// How a client reached the broker; the label of logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    /// STOMP over WebSocket (the upgrade handshake runs before the `Connection` starts).
    Ws,
}

impl Transport {
    /// The `transport` label value.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ws => "ws",
        }
    }
}
