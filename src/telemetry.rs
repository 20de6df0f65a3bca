//! Logging setup: `RUST_LOG` when set, else the configured level; text or JSON.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::{Log, LogFormat};

/// Installs the global tracing subscriber. Safe to call more than once (later calls do nothing).
pub fn init(log: &Log) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    // Colour codes only for a terminal: in files and log collectors they are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(std::io::stdout().is_terminal());
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
