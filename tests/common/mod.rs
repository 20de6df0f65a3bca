//! Shared test helpers: a real broker on port 0 (in-process or as the real
//! binary) and STOMP clients over real TCP sockets. Every wait has a timeout,
//! so a bug fails fast instead of hanging the suite.
//!
//! One concept per file; everything a test uses is re-exported here, so a
//! test file needs only `mod common; use common::*;`.
#![allow(dead_code)]

use std::time::Duration;

mod admin;
mod broker;
mod client;
mod commands;
mod durable;
mod files;
mod frames;
mod http;
mod nats;
mod process;
mod programs;
mod prometheus;
mod raw;
mod scrape;
mod settled;

// Each test binary uses a different part of the harness.
#[allow(unused_imports)]
pub use self::{
    admin::{admin_broker, seg, AdminApi, ADMIN, ADMIN_TOML, APP},
    broker::TestBroker,
    client::{Client, ClientCodec},
    durable::{expect_exactly, send_receipted, with_receipt, QUIET},
    files::TempDir,
    frames::body,
    http::{http_get, http_request, HttpAnswer},
    nats::{nats_server_binary, NatsCluster, NatsServer},
    process::{parse_listening, run_binary_to_exit, strip_ansi, BrokerProcess},
    programs::{browser_dir, require_node_packages, require_program, run_node_script},
    prometheus::{sample_value, PrometheusServer, PROMETHEUS_TIMEOUT},
    raw::RawClient,
    scrape::{parse_metrics, Sample, Scrape},
    settled::assert_interop_run_settled,
};

/// How long any single expectation may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
