//! Interop with the most used browser STOMP client, @stomp/stompjs, running
//! in Node against the WebSocket listener (tests/browser/stompjs_ws.mjs,
//! with the `ws` package as Node's WebSocket): subprotocol, subscribe, send
//! (text and binary bodies), client-individual ACK, redelivery, receipts.
//! Fails, never skips, when node or the npm packages are missing.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn stompjs_over_websocket_subscribes_sends_acks_and_gets_receipts() {
    let node = require_node_packages(&["@stomp/stompjs", "ws"]);
    let broker = TestBroker::start();
    let url = format!("ws://{}/ws", broker.websocket());
    run_node_script(&node, "stompjs_ws.mjs", &[&url], Duration::from_secs(60)).await;
}
