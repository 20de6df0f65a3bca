//! The status page at `/`: one HTML file, a script and a style sheet,
//! compiled into the binary (no CDN, nothing built at run time). The script
//! polls the admin API, so the page needs the same credentials.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{AdminApi, ApiError};

const INDEX_HTML: &str = include_str!("status.html");
const STATUS_JS: &str = include_str!("status.js");
const STATUS_CSS: &str = include_str!("status.css");

/// Only the broker's own files, and no framing by another site (its buttons act).
const POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

pub(super) fn add(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/status.js", web::get().to(script))
        .route("/status.css", web::get().to(style));
}

async fn file(
    api: &AdminApi,
    req: &HttpRequest,
    content_type: &'static str,
    body: &'static str,
) -> Result<HttpResponse, ApiError> {
    api.authorize(req).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("Content-Security-Policy", POLICY))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(body))
}

async fn index(api: web::Data<AdminApi>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    file(&api, &req, "text/html; charset=utf-8", INDEX_HTML).await
}

async fn script(api: web::Data<AdminApi>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    file(&api, &req, "text/javascript; charset=utf-8", STATUS_JS).await
}

async fn style(api: web::Data<AdminApi>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    file(&api, &req, "text/css; charset=utf-8", STATUS_CSS).await
}
