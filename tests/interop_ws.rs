//! Interoperability over the WebSocket listener (`ws://…/ws`) with real
//! STOMP client libraries: the scenario of `tests/interop.rs` (see there and
//! docs/interop.md), each program of `tests/interop/` run against a fresh
//! broker's WebSocket listener and the broker's metrics checked after it.
//!
//! The programs need outside packages (python3 + stomp.py + websocket-client,
//! node + tests/interop/node_modules): `tests/setup.sh` installs them. A
//! missing one FAILS its test with that advice; nothing is skipped.

mod common;
mod interop_run;

use interop_run::*;

#[tokio::test]
async fn stomp_py_ws_1_0() {
    scenario_on(
        Listener::WebSocket,
        "python3",
        "stomp_py_ws.py",
        "stomp-py-ws",
        "1.0",
    )
    .await;
}

#[tokio::test]
async fn stomp_py_ws_1_1() {
    scenario_on(
        Listener::WebSocket,
        "python3",
        "stomp_py_ws.py",
        "stomp-py-ws",
        "1.1",
    )
    .await;
}

#[tokio::test]
async fn stomp_py_ws_1_2() {
    scenario_on(
        Listener::WebSocket,
        "python3",
        "stomp_py_ws.py",
        "stomp-py-ws",
        "1.2",
    )
    .await;
}
