//! The admin API (`/api/...`, JSON) and the status page (`/`) on the HTTP
//! listener, for operators: what is piling up where, who is connected, and
//! the actions (purge, delete, close, replay dead letters).
//!
//! Every route asks for HTTP basic authentication by a login listed in
//! `admin.users` (see `basic.rs`). Queries reach the actors through typed
//! messages: the router lists and deletes destinations, each destination
//! describes, purges and replays itself, the listener lists and closes
//! connections, each connection describes itself. Every answer is bounded:
//! lists are pages of at most `admin.max_list` items (`?limit=`, `?offset=`).
//!
//! - `basic`: the credentials check and the cross-site check on actions;
//! - `routes`: the handlers and the JSON they answer with;
//! - `rates`: messages per second, from successive samples of counters;
//! - `page`: the status page's files, compiled into the binary.

mod basic;
mod error;
mod page;
mod rates;
mod routes;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use actix::prelude::*;
use actix_web::web;

use crate::messages::listener::{CloseConnection, FindConnection, ListConnections};
use crate::messages::router::{DeleteDestination, FindDestination, ListDestinations};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::shared::Shared;

pub use error::ApiError;

/// Subscriptions shown per connection in a list (the detail shows up to `admin.max_list`).
pub const LIST_SUBSCRIPTIONS: usize = 10;

/// The actors the admin API asks: one recipient per query message.
#[derive(Clone)]
pub struct Actors {
    /// The router's.
    pub list_destinations: Recipient<ListDestinations>,
    pub find_destination: Recipient<FindDestination>,
    pub delete_destination: Recipient<DeleteDestination>,
    /// The listener's.
    pub list_connections: Recipient<ListConnections>,
    pub find_connection: Recipient<FindConnection>,
    pub close_connection: Recipient<CloseConnection>,
}

impl Actors {
    /// The recipients of the router at `router` and the listener at `listener`.
    pub fn of<R, L>(router: &Addr<R>, listener: &Addr<L>) -> Self
    where
        R: Actor<Context = Context<R>>
            + Handler<ListDestinations>
            + Handler<FindDestination>
            + Handler<DeleteDestination>,
        L: Actor<Context = Context<L>>
            + Handler<ListConnections>
            + Handler<FindConnection>
            + Handler<CloseConnection>,
    {
        Actors {
            list_destinations: router.clone().recipient(),
            find_destination: router.clone().recipient(),
            delete_destination: router.clone().recipient(),
            list_connections: listener.clone().recipient(),
            find_connection: listener.clone().recipient(),
            close_connection: listener.clone().recipient(),
        }
    }
}

/// Everything the admin routes need.
pub struct AdminApi {
    actors: Actors,
    /// The broker's accounts (reloaded on SIGHUP) and its bounded pool of
    /// passcode checks, shared with STOMP logins.
    shared: Arc<Shared>,
    users: HashSet<String>,
    max_list: usize,
    dead_letter_prefix: String,
    max_buffered_bytes: usize,
    storage_enabled: bool,
    metrics: Arc<Metrics>,
    started: Instant,
    started_at: SystemTime,
    rates: rates::Rates,
}

impl AdminApi {
    /// The API over `actors`, configured by `settings` (`[admin]`, `[auth]`).
    pub fn new(
        actors: Actors,
        settings: &Settings,
        metrics: Arc<Metrics>,
        shared: Arc<Shared>,
    ) -> Self {
        AdminApi {
            actors,
            shared,
            users: settings.admin.users.iter().cloned().collect(),
            max_list: settings.admin.max_list,
            dead_letter_prefix: settings.destinations.dead_letter_prefix.clone(),
            max_buffered_bytes: settings.broker.max_buffered_bytes,
            storage_enabled: settings.storage.enabled,
            metrics,
            started: Instant::now(),
            started_at: SystemTime::now(),
            // Sampled names: every live destination, plus dead-letter queues beyond the bound.
            rates: rates::Rates::new(settings.limits.max_destinations.saturating_mul(2)),
        }
    }
}

/// Adds the `/api/...` routes and the status page to an actix-web app.
pub fn routes(cfg: &mut web::ServiceConfig, api: Arc<AdminApi>) {
    cfg.app_data(web::Data::from(api));
    routes::add(cfg);
    page::add(cfg);
}
