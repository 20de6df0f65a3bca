//! The two kinds of destination.

/// Queue (each message to one consumer) or topic (each message to every subscriber).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Queue,
    Topic,
}

impl Kind {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Queue => "queue",
            Kind::Topic => "topic",
        }
    }
}
