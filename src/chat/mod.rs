//! The demo chat page, served by the HTTP listener at `/chat/` when
//! `http.chat_page` is on: join a room, see who is present, send and receive
//! messages, all over STOMP on the WebSocket listener.
//!
//! The page's own files (`index.html`, `chat.js`, `chat.css`) are compiled
//! into the binary. The STOMP client, @stomp/stompjs, is not part of the
//! project: `npm install @stomp/stompjs@7.5.0` in the broker's working
//! directory installs it where `http.chat_vendor_dir` looks by default, and
//! its bundle is read on each request, so installing it does not need a
//! restart.
//!
//! Rooms map to destinations: messages on `/topic/chat.<room>`, presence
//! (join, periodic "here", leave) on `/topic/presence.<room>`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::{web, HttpResponse};

const INDEX_HTML: &str = include_str!("index.html");
const CHAT_JS: &str = include_str!("chat.js");
const CHAT_CSS: &str = include_str!("chat.css");

/// The bundle file the page loads, inside `http.chat_vendor_dir`.
pub const VENDOR_BUNDLE: &str = "stomp.umd.min.js";

/// What the page needs to know at run time.
pub struct ChatPage {
    vendor_dir: PathBuf,
    websocket_port: u16,
}

impl ChatPage {
    /// A page loading stomp.js from `vendor_dir` and connecting to the
    /// WebSocket listener on `websocket_port` of the host it was loaded from.
    pub fn new(vendor_dir: &Path, websocket_port: u16) -> Self {
        ChatPage {
            vendor_dir: vendor_dir.to_path_buf(),
            websocket_port,
        }
    }
}

/// Adds the `/chat/` routes to an actix-web app.
pub fn routes(cfg: &mut web::ServiceConfig, page: Arc<ChatPage>) {
    cfg.app_data(web::Data::from(page))
        .route("/chat", web::get().to(redirect))
        .route(
            "/chat/",
            web::get().to(|| text("text/html; charset=utf-8", INDEX_HTML)),
        )
        .route(
            "/chat/chat.js",
            web::get().to(|| text("text/javascript; charset=utf-8", CHAT_JS)),
        )
        .route(
            "/chat/chat.css",
            web::get().to(|| text("text/css; charset=utf-8", CHAT_CSS)),
        )
        .route("/chat/config.json", web::get().to(config))
        .route(
            &format!("/chat/vendor/{VENDOR_BUNDLE}"),
            web::get().to(vendor),
        );
}

async fn text(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("cache-control", "no-cache"))
        .body(body)
}

async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("location", "/chat/"))
        .finish()
}

async fn config(page: web::Data<ChatPage>) -> HttpResponse {
    let body = format!(
        "{{\"websocket_port\":{},\"websocket_path\":\"{}\"}}",
        page.websocket_port,
        crate::websocket::PATH
    );
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("cache-control", "no-cache"))
        .body(body)
}

async fn vendor(page: web::Data<ChatPage>) -> HttpResponse {
    let path = page.vendor_dir.join(VENDOR_BUNDLE);
    let read = web::block({
        let path = path.clone();
        move || std::fs::read(path)
    })
    .await;
    match read {
        Ok(Ok(bytes)) => HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .body(bytes),
        Ok(Err(e)) => {
            tracing::warn!(path = %path.display(), error = %e, "chat page: stomp.js bundle missing");
            HttpResponse::NotFound().content_type("text/plain").body(format!(
                "{} not readable ({e}): install @stomp/stompjs with `npm install @stomp/stompjs@7.5.0` \
                 in the broker's working directory, \
                 or point http.chat_vendor_dir at a directory holding {VENDOR_BUNDLE}\n",
                path.display()
            ))
        }
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}
