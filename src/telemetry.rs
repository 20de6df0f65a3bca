//! Logging setup: `RUST_LOG` when set, else the configured level; text or JSON.

use tracing_subscriber::EnvFilter;

use crate::settings::{Log, LogFormat};

/// Installs the global tracing subscriber. Safe to call more than once (later calls do nothing).
pub fn init(log: &Log) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
