//! What every connection needs from the broker, built once at start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::Recipient;

use crate::auth::Authenticator;
use crate::messages::router::Resolve;
use crate::metrics::Metrics;
use crate::model::MemoryBudget;
use crate::settings::Settings;
use crate::store::Store;

/// Broker-wide, read-only state handed to each connection.
pub struct Shared {
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// Where sessions look destinations up.
    pub router: Recipient<Resolve>,
    pub auth: Authenticator,
    /// The journal, when `storage.enabled`: a COMMIT journals its persistent
    /// messages in one batch before any queue takes them.
    pub store: Option<Arc<dyn Store>>,
    /// The broker-wide budget destinations charge; open transactions charge
    /// what they stage to it too.
    pub memory: Arc<MemoryBudget>,
    next_id: AtomicU64,
}

impl Shared {
    /// Bundles the broker's shared state.
    pub fn new(
        settings: Settings,
        metrics: Arc<Metrics>,
        router: Recipient<Resolve>,
        store: Option<Arc<dyn Store>>,
        memory: Arc<MemoryBudget>,
    ) -> Arc<Shared> {
        let auth = Authenticator::new(&settings.auth);
        Arc::new(Shared {
            settings,
            metrics,
            router,
            auth,
            store,
            memory,
            next_id: AtomicU64::new(1),
        })
    }

    /// A connection/session id, unique for the broker's lifetime.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
