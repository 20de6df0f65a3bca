//! Identifiers that cross actor boundaries.

/// Identifies one subscription broker-wide: the session and its subscription number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConsumerKey {
    pub session: u64,
    pub subscription: u64,
}

/// Identifies one destination actor for the process's lifetime: a name that
/// is retired and used again gets a new actor, and a new id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DestinationId(u64);

impl DestinationId {
    /// A fresh id.
    pub fn next() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        DestinationId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}
