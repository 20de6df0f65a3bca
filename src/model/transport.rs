//! How a client reached the broker.

/// How a client reached the broker; the label of logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    /// STOMP over WebSocket (the upgrade handshake runs before the `Connection` starts).
    Ws,
    /// STOMP over TLS (the TLS handshake runs before the `Connection` starts).
    Tls,
    /// STOMP over WebSocket over TLS (wss).
    Wss,
}

impl Transport {
    /// Every transport (for pre-registering metric series).
    pub const ALL: [Transport; 4] = [
        Transport::Tcp,
        Transport::Ws,
        Transport::Tls,
        Transport::Wss,
    ];

    /// The `transport` label value.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ws => "ws",
            Transport::Tls => "tls",
            Transport::Wss => "wss",
        }
    }

    /// Whether the socket carries TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// Whether STOMP runs inside WebSocket messages.
    pub fn is_websocket(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }
}
