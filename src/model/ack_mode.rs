//! Acknowledgement modes: the SUBSCRIBE `ack` header.

/// How a subscription's messages are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// Consumed once written to the subscriber's socket.
    Auto,
    /// ACK acknowledges that message and every earlier one on the subscription.
    Client,
    /// ACK acknowledges only that message.
    ClientIndividual,
}

impl AckMode {
    /// Parses a SUBSCRIBE `ack` header value (absent = auto).
    pub fn parse(value: Option<&str>) -> Option<AckMode> {
        match value {
            None | Some("auto") => Some(AckMode::Auto),
            Some("client") => Some(AckMode::Client),
            Some("client-individual") => Some(AckMode::ClientIndividual),
            Some(_) => None,
        }
    }
}

impl AckMode {
    /// The SUBSCRIBE `ack` header value naming this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            AckMode::Auto => "auto",
            AckMode::Client => "client",
            AckMode::ClientIndividual => "client-individual",
        }
    }
}
