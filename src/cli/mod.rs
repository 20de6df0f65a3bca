//! The command line of the `stompede` binary (parsed by clap): run the
//! broker, check a configuration file, or operate a running broker through
//! its admin API.

mod admin;
mod client;
mod print;
mod table;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use admin::run as run_admin;

/// What `stompede` was asked to do.
#[derive(Debug, Parser)]
#[command(
    name = "stompede",
    version,
    about = "A STOMP 1.0/1.1/1.2 message broker",
    long_about = "A STOMP 1.0/1.1/1.2 message broker.\n\nWithout a command it runs the broker. \
Defaults are built in (see config/default.toml); --config FILE overrides them, and \
STOMPEDE__SECTION__KEY environment variables override both."
)]
pub struct Cli {
    /// Configuration file (TOML) for running the broker.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker (what `stompede` without a command does).
    Run {
        /// Configuration file (TOML).
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file (with the STOMPEDE__ environment
    /// overrides) and exit: 0 if the broker would start with it, 1 naming the
    /// bad key otherwise.
    CheckConfig {
        /// The configuration file (TOML).
        file: PathBuf,
    },
    /// Operate a running broker through its admin API.
    Admin(AdminArgs),
    /// Read a passcode on standard input and print its argon2id hash, for
    /// `passcode_hash` in `auth.users`.
    HashPassword,
}

/// Where the admin API is and who asks.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The broker's HTTP listener.
    #[arg(long, default_value = "http://127.0.0.1:9613", value_name = "URL")]
    pub url: String,
    /// A login listed in the broker's admin.users; the password is read from
    /// the STOMPEDE_ADMIN_PASSWORD environment variable.
    #[arg(short, long, value_name = "LOGIN")]
    pub user: Option<String>,
    /// Print the API's JSON answer instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: AdminCommand,
}

/// What to do through the admin API.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Version, uptime, counts, alarms and message rates.
    Overview,
    /// List destinations (depth, unacknowledged, consumers, rates).
    Destinations {
        /// Only names matching this glob (`*` = any characters).
        #[arg(long)]
        name: Option<String>,
        /// Most destinations listed (the broker caps it at admin.max_list).
        #[arg(long)]
        limit: Option<usize>,
        /// Skip this many (by name).
        #[arg(long)]
        offset: Option<usize>,
    },
    /// Show one destination and its consumers.
    Destination {
        /// Its full name, e.g. /queue/orders.
        name: String,
    },
    /// List connections (peer, login, version, subscriptions, bytes).
    Connections {
        /// Most connections listed (the broker caps it at admin.max_list).
        #[arg(long)]
        limit: Option<usize>,
        /// Skip this many (by id).
        #[arg(long)]
        offset: Option<usize>,
    },
    /// Discard every message waiting in a destination.
    Purge {
        /// Its full name, e.g. /queue/orders.
        name: String,
    },
    /// Delete a destination: its messages are discarded and its consumers
    /// get ERROR and are disconnected.
    Delete {
        /// Its full name, e.g. /queue/orders.
        name: String,
        /// Told to the consumers in their ERROR frame.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Close a connection: its client gets ERROR with the reason.
    Close {
        /// The connection id (see `admin connections`).
        id: u64,
        /// Told to the client in its ERROR frame.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Move the messages of a dead-letter queue back to their original destinations.
    Replay {
        /// The dead-letter queue, e.g. /queue/DLQ.orders.
        name: String,
    },
}
