//! Starting and stopping a broker: binds the listeners, starts the router,
//! the worker arbiters and the HTTP server, and shuts them down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::admin::{Actors, AdminApi};
use crate::chat::ChatPage;
use crate::cluster::{Backplane, ClusterError};
use crate::destination::{DestinationPolicy, DiskLimits, Storage};
use crate::listener::{Listener, StopAccepting};
use crate::metrics::{Metrics, MetricsError};
use crate::model::MemoryBudget;
use crate::router::{DurableHandle, Router};
use crate::settings::Settings;
use crate::shared::{SecurityError, Shared};
use crate::store::{Journal, Store, StoreError};

/// The broker could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("cannot bind {listener} listener on {addr}: {source}")]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("broker thread failed to start: {0}")]
    Thread(String),
    #[error("cannot build the metrics registry: {0}")]
    Metrics(#[from] MetricsError),
    #[error("cannot open the message store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Security(#[from] SecurityError),
    #[error("cluster mode: {0}")]
    Cluster(#[from] ClusterError),
}

/// Opens the journal and reads back what it holds: replay, then serve.
fn open_storage(
    settings: &Settings,
    metrics: &Metrics,
) -> Result<Option<Arc<Storage>>, StartError> {
    if !settings.storage.enabled {
        tracing::info!("storage disabled: every message is kept in memory only");
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let mut config = settings.storage.store_config();
    // Recovery keeps at most half the memory budget of bodies; queues read the rest back.
    config.recover_resident_bytes = (settings.broker.max_buffered_bytes / 2) as u64;
    // So that a message recovered without its headers still goes back to its priority.
    config.classify = crate::model::priority_class;
    let journal = Journal::open(config)?;
    let recovered = journal.recover()?;
    let messages: usize = recovered.queues.iter().map(|q| q.messages.len()).sum();
    tracing::info!(
        dir = %settings.storage.dir.display(),
        queues = recovered.queues.len(),
        messages,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "journal recovered"
    );
    let store: Arc<dyn Store> = Arc::new(journal);
    metrics.register_store(store.clone())?;
    let limits = DiskLimits {
        dir: settings.storage.dir.clone(),
        max_bytes: settings.storage.max_bytes,
        min_free_bytes: settings.storage.min_free_bytes,
    };
    let storage = Storage::new(store, recovered, settings.storage.queue_resident_bytes)
        .with_disk_alarm(limits, metrics.disk_alarm.clone());
    Ok(Some(Arc::new(storage)))
}

/// Where the broker's listeners are bound (port 0 resolved).
#[derive(Debug, Clone, Copy)]
pub struct BoundAddrs {
    pub stomp: SocketAddr,
    pub http: SocketAddr,
    /// STOMP over WebSocket (path `/ws`).
    pub websocket: SocketAddr,
    /// STOMP over TLS, when `listeners.stomp_tls` is set.
    pub stomp_tls: Option<SocketAddr>,
    /// WebSocket over TLS (wss), when `listeners.websocket_tls` is set.
    pub websocket_tls: Option<SocketAddr>,
}

/// Runs a broker until `shutdown` resolves, then stops it gracefully.
/// `on_bound` is told the bound addresses once every listener accepts.
pub async fn serve(
    settings: Settings,
    shutdown: impl Future<Output = ()>,
    on_bound: impl FnOnce(BoundAddrs),
) -> Result<(), StartError> {
    // Before anything is bound or started, so a failure leaves nothing behind.
    let node = settings
        .cluster
        .enabled
        .then_some(settings.cluster.node.as_str());
    let metrics = Arc::new(Metrics::for_node(&settings.metrics, node)?);
    let backplane = if settings.cluster.enabled {
        Some(Backplane::connect(&settings, &metrics).await?)
    } else {
        None
    };
    let security = crate::shared::security(&settings)?;
    let storage = open_storage(&settings, &metrics)?;
    let stomp = bind("stomp", settings.listeners.stomp).await?;
    let http_std = std::net::TcpListener::bind(settings.listeners.http).map_err(|source| {
        StartError::Bind {
            listener: "http",
            addr: settings.listeners.http,
            source,
        }
    })?;
    let bind_err = |listener, addr| {
        move |source| StartError::Bind {
            listener,
            addr,
            source,
        }
    };
    let stomp_addr = stomp
        .local_addr()
        .map_err(bind_err("stomp", settings.listeners.stomp))?;
    let http_addr = http_std
        .local_addr()
        .map_err(bind_err("http", settings.listeners.http))?;
    let websocket = bind("websocket", settings.listeners.websocket).await?;
    let websocket_addr = websocket
        .local_addr()
        .map_err(bind_err("websocket", settings.listeners.websocket))?;
    let _ = http_std.set_nonblocking(true);
    let stomp_tls = bind_tls("stomp_tls", &settings.listeners.stomp_tls).await?;
    let websocket_tls = bind_tls("websocket_tls", &settings.listeners.websocket_tls).await?;
    let local = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok());
    let (stomp_tls_addr, websocket_tls_addr) = (local(&stomp_tls), local(&websocket_tls));

    let workers = match settings.broker.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
    let handles: Vec<ArbiterHandle> = arbiters.iter().map(|a| a.handle()).collect();

    let memory = MemoryBudget::new(settings.broker.max_buffered_bytes)
        .with_gauges(metrics.buffered_bytes.clone(), metrics.memory_alarm.clone());
    let mut policy = DestinationPolicy::with_memory(&settings, memory);
    let store = storage.as_ref().map(|s| s.store.clone());
    if let Some(storage) = storage {
        policy = policy.with_storage(storage);
    }
    if let Some(b) = &backplane {
        policy = policy.with_backplane(b.clone());
    }
    let memory = policy.memory.clone();
    let policy = Arc::new(policy);
    let router = Router::new(policy, metrics.clone(), handles.clone()).start();
    if let Some(b) = &backplane {
        b.start_topic_relay(router.clone().recipient()).await?;
    }
    let grace = Duration::from_millis(settings.broker.shutdown_grace_ms);
    let chat = settings.http.chat_page.then(|| {
        Arc::new(ChatPage::new(
            &settings.http.chat_vendor_dir,
            websocket_addr.port(),
        ))
    });
    let admin_settings = settings.clone();
    let shared = Shared::new(
        settings,
        metrics.clone(),
        (
            router.clone().recipient(),
            router.clone().recipient(),
            DurableHandle::of(&router),
        ),
        store,
        memory,
        security,
    );
    reload_on_hangup(shared.clone());
    let listener = Listener::new(shared.clone(), stomp, handles)
        .with_websocket(websocket)
        .with_tls(stomp_tls, websocket_tls)
        .start();
    let admin = Arc::new(AdminApi::new(
        Actors::of(&router, &listener),
        &admin_settings,
        metrics.clone(),
        shared,
    ));

    let ready = Arc::new(AtomicBool::new(false));
    let (server, http_handle) = crate::http::serve_with(
        http_std,
        metrics,
        ready.clone(),
        chat,
        Some(admin),
        backplane.as_ref().map(|b| b.connected()),
    )
    .map_err(|source| StartError::Bind {
        listener: "http",
        addr: http_addr,
        source,
    })?;
    actix_rt::spawn(server);
    tracing::info!(listener = "stomp", addr = %stomp_addr, "listening");
    tracing::info!(listener = "http", addr = %http_addr, "listening");
    tracing::info!(listener = "websocket", addr = %websocket_addr, path = crate::websocket::PATH, "listening");
    if let Some(addr) = stomp_tls_addr {
        tracing::info!(listener = "stomp_tls", addr = %addr, "listening");
    }
    if let Some(addr) = websocket_tls_addr {
        tracing::info!(listener = "websocket_tls", addr = %addr, path = crate::websocket::PATH, "listening");
    }
    ready.store(true, Ordering::Release);
    on_bound(BoundAddrs {
        stomp: stomp_addr,
        http: http_addr,
        websocket: websocket_addr,
        stomp_tls: stomp_tls_addr,
        websocket_tls: websocket_tls_addr,
    });

    shutdown.await;
    tracing::info!("shutting down");
    ready.store(false, Ordering::Release);
    let _ = listener.send(StopAccepting { grace }).await;
    http_handle.stop(true).await;
    for a in &arbiters {
        a.stop();
    }
    // Their destinations hold the journal: joined, so that "stopped" means
    // the journal is closed (and its lock free for the next broker).
    for a in arbiters {
        let _ = a.join();
    }
    tracing::info!("stopped");
    Ok(())
}

async fn bind(listener: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            listener,
            addr,
            source,
        })
}

/// Binds a TLS listener unless its setting is empty (off).
async fn bind_tls(listener: &'static str, value: &str) -> Result<Option<TcpListener>, StartError> {
    match crate::settings::Listeners::tls_addr(value) {
        Some(addr) => Ok(Some(bind(listener, addr).await?)),
        None => Ok(None),
    }
}

/// On SIGHUP, reads the configuration again (the same file and environment)
/// and takes its users, permissions and certificates; open connections keep
/// going, and a configuration that does not load changes nothing.
fn reload_on_hangup(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reloading is off");
            return;
        }
    };
    actix_rt::spawn(async move {
        while hangups.recv().await.is_some() {
            let source = shared.settings.source.clone();
            let loaded = Settings::load(source.as_deref(), std::env::vars())
                .map_err(|e| e.to_string())
                .and_then(|s| shared.reload(&s).map_err(|e| e.to_string()));
            match loaded {
                Ok(()) => tracing::info!("SIGHUP: reloaded users, permissions and certificates"),
                Err(e) => {
                    tracing::warn!(error = %e, "SIGHUP: reload failed; the previous configuration stays")
                }
            }
        }
    });
}

/// A broker running on its own thread (for tests and embedding).
/// Dropping it stops the broker gracefully and waits for the thread.
pub struct BrokerHandle {
    /// The bound addresses.
    pub addrs: BoundAddrs,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BrokerHandle {
    /// Starts a broker with `settings` on a new thread and waits until it is bound.
    pub fn spawn(settings: Settings) -> Result<BrokerHandle, StartError> {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("stompede".into())
            .spawn(move || {
                let system = System::new();
                let err_tx = bound_tx.clone();
                let result = system.block_on(serve(
                    settings,
                    async move {
                        let _ = stop_rx.await;
                    },
                    move |addrs| {
                        let _ = bound_tx.send(Ok(addrs));
                    },
                ));
                if let Err(e) = result {
                    let _ = err_tx.send(Err(e));
                }
            })
            .map_err(|e| StartError::Thread(e.to_string()))?;
        match bound_rx.recv() {
            Ok(Ok(addrs)) => Ok(BrokerHandle {
                addrs,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StartError::Thread("broker thread exited".into())),
        }
    }

    /// Stops the broker gracefully and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
