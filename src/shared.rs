//! What every connection needs from the broker, built once at start; the
//! security rules (accounts, permissions, certificates) are swapped whole on
//! SIGHUP, and each reader takes the set current when it looks.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Recipient;
use arc_swap::{ArcSwap, ArcSwapOption};
use thiserror::Error;

use crate::auth::{AuthConfigError, Authenticator, FailedLogins, Verifier};
use crate::messages::router::{DurableHandle, Resolve, TempQueues};
use crate::metrics::Metrics;
use crate::model::MemoryBudget;
use crate::settings::{Listeners, Settings};
use crate::store::Store;
use crate::tls::TlsError;

/// Security settings that cannot be used (at start or on reload).
#[derive(Debug, Error)]
pub enum SecurityError {
    #[error("configuration error: auth: {0}")]
    Auth(#[from] AuthConfigError),
    #[error("configuration error: {0}")]
    Tls(#[from] TlsError),
}

/// Accounts, permissions and the TLS configuration built from `settings`.
pub fn security(
    settings: &Settings,
) -> Result<(Authenticator, Option<Arc<rustls::ServerConfig>>), SecurityError> {
    let auth = Authenticator::new(&settings.auth)?;
    let tls_on = [
        &settings.listeners.stomp_tls,
        &settings.listeners.websocket_tls,
    ]
    .iter()
    .any(|l| Listeners::tls_addr(l).is_some());
    let tls = match tls_on {
        true => Some(crate::tls::server_config(&settings.tls)?),
        false => None,
    };
    Ok((auth, tls))
}

/// Broker-wide state handed to each connection.
pub struct Shared {
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// Where sessions look destinations up.
    pub router: Recipient<Resolve>,
    /// Where sessions claim and release their temporary queues.
    pub temp_queues: Recipient<TempQueues>,
    /// Where sessions open and remove durable subscriptions.
    pub durables: DurableHandle,
    /// The CONNECT `client-id`s of the connected clients.
    pub client_ids: Arc<ClientIds>,
    /// Accounts and permissions, replaced on reload.
    pub auth: ArcSwap<Authenticator>,
    /// The bounded pool passcode hashes are checked in.
    pub verifier: Verifier,
    /// Failed logins per address, for the delay before their ERROR.
    pub failed_logins: FailedLogins,
    /// The TLS listeners' configuration, replaced on reload.
    pub tls: ArcSwapOption<rustls::ServerConfig>,
    /// The journal, when `storage.enabled`: a COMMIT journals its persistent
    /// messages in one batch before any queue takes them.
    pub store: Option<Arc<dyn Store>>,
    /// The broker-wide budget destinations charge; open transactions charge
    /// what they stage to it too.
    pub memory: Arc<MemoryBudget>,
    next_id: AtomicU64,
}

impl Shared {
    /// Bundles the broker's shared state; `security` comes from [`security`].
    pub fn new(
        settings: Settings,
        metrics: Arc<Metrics>,
        (router, temp_queues, durables): (Recipient<Resolve>, Recipient<TempQueues>, DurableHandle),
        store: Option<Arc<dyn Store>>,
        memory: Arc<MemoryBudget>,
        security: (Authenticator, Option<Arc<rustls::ServerConfig>>),
    ) -> Arc<Shared> {
        let (auth, tls) = security;
        auth.warn_weak();
        let a = &settings.auth;
        let failed_logins = FailedLogins::new(
            Duration::from_millis(a.failure_delay_ms),
            Duration::from_millis(a.max_failure_delay_ms),
            a.max_tracked_addresses,
        );
        Arc::new(Shared {
            verifier: Verifier::new(a.max_verifications),
            failed_logins,
            settings,
            metrics,
            router,
            temp_queues,
            durables,
            client_ids: Arc::new(ClientIds::default()),
            auth: ArcSwap::from_pointee(auth),
            tls: ArcSwapOption::new(tls),
            store,
            memory,
            next_id: AtomicU64::new(1),
        })
    }

    /// Takes the accounts, permissions and certificates of `settings`;
    /// on error nothing changes.
    pub fn reload(&self, settings: &Settings) -> Result<(), SecurityError> {
        let (auth, tls) = security(settings)?;
        auth.warn_weak();
        self.auth.store(Arc::new(auth));
        if tls.is_some() {
            self.tls.store(tls);
        }
        Ok(())
    }

    /// The delay before answering a failed login from `ip`.
    pub fn login_failed(&self, ip: IpAddr) -> Duration {
        self.failed_logins.record(ip)
    }

    /// A connection/session id, unique for the broker's lifetime.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The `client-id`s of connected clients: one connection per client id at a
/// time (as ActiveMQ), so a durable subscription has one subscriber.
/// Bounded by the connection limit: each entry belongs to a live session.
#[derive(Debug, Default)]
pub struct ClientIds {
    live: Mutex<HashSet<String>>,
}

impl ClientIds {
    /// Claims `id` for one connection; `None` if another holds it.
    pub fn claim(self: &Arc<Self>, id: &str) -> Option<ClientIdClaim> {
        let mut live = match self.live.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        live.insert(id.to_string()).then(|| ClientIdClaim {
            id: id.to_string(),
            ids: self.clone(),
        })
    }
}

/// A connection's hold on its `client-id`, given back when dropped (when
/// its session ends, after it has left its subscriptions).
#[derive(Debug)]
pub struct ClientIdClaim {
    id: String,
    ids: Arc<ClientIds>,
}

impl ClientIdClaim {
    /// The client id held.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for ClientIdClaim {
    fn drop(&mut self) {
        let mut live = match self.ids.live.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        live.remove(&self.id);
    }
}
