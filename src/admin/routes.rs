//! The admin API's routes and the JSON they answer with. Destination names
//! are one URL-encoded path segment (`/queue/a` is `%2Fqueue%2Fa`).

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AdminApi, ApiError, LIST_SUBSCRIPTIONS};
use crate::messages::connection::Describe;
use crate::messages::destination::DestinationRef;
use crate::messages::listener::{CloseConnection, FindConnection, ListConnections};
use crate::messages::router::{DeleteDestination, FindDestination, ListDestinations};
use crate::model::{ConnectionView, DestinationView};

type Api = web::Data<AdminApi>;
type Answer = Result<HttpResponse, ApiError>;

/// The reason an operator gives when none is given.
const NO_REASON: &str = "no reason given";

/// Longest reason passed on to clients, in characters.
const MAX_REASON: usize = 200;

pub(super) fn add(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/overview", web::get().to(overview))
        .route("/api/destinations", web::get().to(destinations))
        .route("/api/destinations/{name}", web::get().to(destination))
        .route("/api/destinations/{name}", web::delete().to(delete))
        .route("/api/destinations/{name}/messages", web::delete().to(purge))
        .route("/api/destinations/{name}/replay", web::post().to(replay))
        .route("/api/connections", web::get().to(connections))
        .route("/api/connections/{id}", web::get().to(connection))
        .route("/api/connections/{id}", web::delete().to(close));
}

/// `?offset=&limit=&name=` of a list, and `?limit=&reason=` of an action.
#[derive(Deserialize)]
struct Params {
    offset: Option<usize>,
    limit: Option<usize>,
    /// A glob over destination names (`*` = any characters).
    name: Option<String>,
    reason: Option<String>,
}

impl Params {
    /// The query string's parameters, read after the credentials are checked
    /// (so a bad query tells nothing to someone without them).
    fn of(req: &HttpRequest) -> Result<Params, ApiError> {
        web::Query::<Params>::from_query(req.query_string())
            .map(web::Query::into_inner)
            .map_err(|e| {
                ApiError::BadRequest(format!(
                    "bad query '{}': offset and limit must be whole numbers ({e})",
                    req.query_string()
                ))
            })
    }

    fn limit(&self, api: &AdminApi) -> usize {
        self.limit.unwrap_or(api.max_list).min(api.max_list)
    }

    /// The operator's reason, safe to quote to a client.
    fn reason(&self) -> String {
        let r = self.reason.as_deref().map(str::trim).unwrap_or("");
        if r.is_empty() {
            return NO_REASON.into();
        }
        r.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX_REASON)
            .collect()
    }
}

/// A destination with its rates.
#[derive(Serialize)]
struct DestinationRow {
    #[serde(flatten)]
    view: DestinationView,
    /// Messages taken per second, recently.
    rate_in: f64,
    /// Deliveries per second, recently.
    rate_out: f64,
}

impl AdminApi {
    fn row(&self, view: DestinationView) -> DestinationRow {
        let (rate_in, rate_out) = self
            .rates
            .observe(&view.name, (view.messages_in, view.messages_out));
        DestinationRow {
            view,
            rate_in,
            rate_out,
        }
    }

    async fn find(&self, name: &str) -> Result<DestinationRef, ApiError> {
        let found = self
            .actors
            .find_destination
            .send(FindDestination { name: name.into() })
            .await?;
        found.ok_or_else(|| ApiError::NotFound(format!("no live destination {name}")))
    }

    async fn find_connection(&self, id: u64) -> Result<ConnectionView, ApiError> {
        let found = self
            .actors
            .find_connection
            .send(FindConnection { id })
            .await?;
        let conn = found.ok_or_else(|| ApiError::NotFound(format!("no open connection {id}")))?;
        let subscriptions = self.max_list;
        Ok(conn.send(Describe { subscriptions }).await?)
    }
}

async fn overview(api: Api, req: HttpRequest) -> Answer {
    api.authorize(&req).await?;
    let dests = api.actors.list_destinations.send(ListDestinations {
        pattern: None,
        offset: 0,
        limit: 0,
    });
    let conns = api.actors.list_connections.send(ListConnections {
        offset: 0,
        limit: 0,
    });
    let (dests, conns) = (dests.await?, conns.await?);
    let m = &api.metrics;
    let totals = (
        m.frames_received.with_label_values(&["SEND"]).get(),
        m.frames_sent.with_label_values(&["MESSAGE"]).get(),
    );
    let (rate_in, rate_out) = api.rates.observe("", totals);
    let since = api
        .started_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(HttpResponse::Ok().json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": since,
        "uptime_seconds": api.started.elapsed().as_secs(),
        "connections": conns.total,
        "destinations": dests.total,
        "memory_alarm": m.memory_alarm.get() != 0,
        "disk_alarm": m.disk_alarm.get() != 0,
        "buffered_bytes": m.buffered_bytes.get(),
        "max_buffered_bytes": api.max_buffered_bytes,
        "storage_enabled": api.storage_enabled,
        "messages_in_total": totals.0,
        "messages_out_total": totals.1,
        "rate_in": rate_in,
        "rate_out": rate_out,
        "max_list": api.max_list,
    })))
}

async fn destinations(api: Api, req: HttpRequest) -> Answer {
    api.authorize(&req).await?;
    let q = Params::of(&req)?;
    let (offset, limit) = (q.offset.unwrap_or(0), q.limit(&api));
    let page = api
        .actors
        .list_destinations
        .send(ListDestinations {
            pattern: q.name.clone(),
            offset,
            limit,
        })
        .await?;
    // One destination that stopped meanwhile is left out rather than failing the list.
    let views = join_all(page.items.iter().map(|(_, d)| d.inspect(0))).await;
    let items: Vec<DestinationRow> = views
        .into_iter()
        .filter_map(Result::ok)
        .map(|v| api.row(v))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "items": items,
    })))
}

async fn destination(api: Api, req: HttpRequest, name: web::Path<String>) -> Answer {
    api.authorize(&req).await?;
    let dest = api.find(&name).await?;
    let view = dest.inspect(api.max_list).await?;
    Ok(HttpResponse::Ok().json(api.row(view)))
}

async fn purge(api: Api, req: HttpRequest, name: web::Path<String>) -> Answer {
    api.authorize_action(&req).await?;
    let dest = api.find(&name).await?;
    let purged = dest.purge().await??;
    Ok(HttpResponse::Ok().json(json!({ "destination": *name, "purged": purged })))
}

async fn delete(api: Api, req: HttpRequest, name: web::Path<String>) -> Answer {
    api.authorize_action(&req).await?;
    let q = Params::of(&req)?;
    let discarded = api
        .actors
        .delete_destination
        .send(DeleteDestination {
            name: name.clone(),
            reason: q.reason(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({
        "destination": *name,
        "deleted": true,
        "discarded": discarded,
    })))
}

async fn replay(api: Api, req: HttpRequest, name: web::Path<String>) -> Answer {
    api.authorize_action(&req).await?;
    let q = Params::of(&req)?;
    if !name.starts_with(&api.dead_letter_prefix) {
        return Err(ApiError::BadRequest(format!(
            "{name} is not a dead-letter queue: their names start with {}",
            api.dead_letter_prefix
        )));
    }
    let dest = api.find(&name).await?;
    let out = dest.replay(q.limit(&api)).await??;
    let remaining = dest.inspect(0).await?.depth;
    Ok(HttpResponse::Ok().json(json!({
        "destination": *name,
        "replayed": out.replayed,
        "skipped": out.skipped,
        "remaining": remaining,
    })))
}

async fn connections(api: Api, req: HttpRequest) -> Answer {
    api.authorize(&req).await?;
    let q = Params::of(&req)?;
    let (offset, limit) = (q.offset.unwrap_or(0), q.limit(&api));
    let page = api
        .actors
        .list_connections
        .send(ListConnections { offset, limit })
        .await?;
    let subscriptions = LIST_SUBSCRIPTIONS.min(api.max_list);
    let views = join_all(
        page.items
            .iter()
            .map(|(_, c)| c.send(Describe { subscriptions })),
    )
    .await;
    // A connection that closed meanwhile is left out.
    let items: Vec<ConnectionView> = views.into_iter().filter_map(Result::ok).collect();
    Ok(HttpResponse::Ok().json(json!({
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "items": items,
    })))
}

async fn connection(api: Api, req: HttpRequest, id: web::Path<String>) -> Answer {
    api.authorize(&req).await?;
    let id = connection_id(&id)?;
    Ok(HttpResponse::Ok().json(api.find_connection(id).await?))
}

async fn close(api: Api, req: HttpRequest, id: web::Path<String>) -> Answer {
    api.authorize_action(&req).await?;
    let q = Params::of(&req)?;
    let id = connection_id(&id)?;
    let closed = api
        .actors
        .close_connection
        .send(CloseConnection {
            id,
            reason: q.reason(),
        })
        .await?;
    if !closed {
        return Err(ApiError::NotFound(format!("no open connection {id}")));
    }
    Ok(HttpResponse::Ok().json(json!({ "connection": id, "closed": true })))
}

fn connection_id(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::BadRequest(format!("'{text}' is not a connection id")))
}
