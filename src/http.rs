//! The HTTP listener: `/metrics` (Prometheus text format), `/healthz`
//! (process alive) and `/readyz` (every listener bound and accepting); and,
//! when `http.chat_page` is on, the demo chat page at `/chat/`; and, when
//! given one, the admin API (`/api/...`) and the status page at `/`.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpResponse, HttpServer};
use prometheus::{Encoder, TextEncoder};

use crate::admin::AdminApi;
use crate::chat::ChatPage;
use crate::metrics::Metrics;

struct State {
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    /// In cluster mode, whether NATS is reachable: without it the node is not ready.
    backplane: Option<Arc<AtomicBool>>,
}

async fn scrape(state: web::Data<State>) -> HttpResponse {
    let encoder = TextEncoder::new();
    let mut out = Vec::new();
    match encoder.encode(&state.metrics.gather(), &mut out) {
        Ok(()) => HttpResponse::Ok()
            .content_type(encoder.format_type())
            .body(out),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn readyz(state: web::Data<State>) -> HttpResponse {
    let backplane_up = state
        .backplane
        .as_ref()
        .is_none_or(|b| b.load(Ordering::Acquire));
    if state.ready.load(Ordering::Acquire) && backplane_up {
        HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("not ready\n")
    }
}

/// Starts the HTTP server on an already-bound listener; the caller spawns the
/// returned server and keeps the handle to stop it.
pub fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
) -> std::io::Result<(Server, ServerHandle)> {
    serve_with(listener, metrics, ready, None, None, None)
}

/// Like [`serve`], also serving `chat` at `/chat/` and `admin` at `/api/`
/// and `/` when given; `/readyz` also needs `backplane` (cluster mode's NATS
/// connection) up when given.
pub fn serve_with(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    chat: Option<Arc<ChatPage>>,
    admin: Option<Arc<AdminApi>>,
    backplane: Option<Arc<AtomicBool>>,
) -> std::io::Result<(Server, ServerHandle)> {
    let state = web::Data::new(State {
        metrics,
        ready,
        backplane,
    });
    let server = HttpServer::new(move || {
        let chat = chat.clone();
        let admin = admin.clone();
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(scrape))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .configure(move |cfg| {
                if let Some(page) = chat {
                    crate::chat::routes(cfg, page);
                }
            })
            .configure(move |cfg| {
                if let Some(api) = admin {
                    crate::admin::routes(cfg, api);
                }
            })
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    Ok((server, handle))
}
