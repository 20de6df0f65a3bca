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

/// webstomp-client cannot receive a body with a NUL, so the program sends
/// one to a side queue and a 1.2 client checks it here byte for byte; its
/// disconnect() closes without reading the receipt, so the broker shows the
/// DISCONNECT.
async fn webstomp(version: &str) {
    let broker = scenario_on(
        Listener::WebSocket,
        "node",
        "webstomp_ws.mjs",
        "webstomp",
        version,
    )
    .await;
    let mut c = broker
        .client_with(&[
            ("accept-version", "1.2"),
            ("host", "/"),
            ("login", "interop"),
            ("passcode", "secret"),
        ])
        .await;
    let side = format!("/queue/interop.webstomp.{version}.binary");
    c.subscribe(&side, "bin", "auto").await;
    let msg = c.expect(stompede::protocol::Command::Message).await;
    assert_eq!(
        &msg.body[..],
        b"\0bin\0ary\0",
        "webstomp {version}: the NUL body as the broker has it"
    );
    assert_eq!(
        msg.header("content-length"),
        Some("9"),
        "webstomp {version}: {msg:?}"
    );
    c.disconnect().await;
    let disconnects = frames_received_once_closed(&broker, "DISCONNECT").await;
    assert_eq!(
        disconnects, 2.0,
        "webstomp {version}: DISCONNECT frames (the program's and this test's)"
    );
}

#[tokio::test]
async fn webstomp_1_0() {
    webstomp("1.0").await;
}

#[tokio::test]
async fn webstomp_1_1() {
    webstomp("1.1").await;
}

#[tokio::test]
async fn webstomp_1_2() {
    webstomp("1.2").await;
}
