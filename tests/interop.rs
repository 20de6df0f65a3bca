//! Interoperability with real STOMP client libraries: each test starts a
//! broker with `auth.anonymous = false` and one account, runs one program of
//! `tests/interop/` (one client library, one STOMP version) against it, and
//! then checks from the broker's metrics what the client cannot see: no
//! heart-beat timeout, no hidden reconnect, no ERROR but the refused login,
//! the NACK counted, nothing left unacknowledged.
//!
//! The scenario every program runs, as far as its library allows: a wrong
//! passcode is refused; connect with login/passcode and heart-beats 1000,1000;
//! subscribe to a queue (client-individual; client in 1.0) and a topic (auto);
//! SEND with a receipt, user headers and a content-type, received intact; a
//! binary body with NUL bytes (content-length); NACK and redelivery with
//! `redelivered:true` (1.0, which has no NACK: UNSUBSCRIBE and subscribe
//! again); ACK; a committed and an aborted transaction; UNSUBSCRIBE; 3.5 s
//! idle on heart-beats (1.1, 1.2); DISCONNECT with a receipt.
//!
//! The programs need outside packages (python3 + stomp.py, stompman and
//! aiostomp, node + tests/interop/node_modules, ruby + ruby-stomp, php +
//! php-stomp):
//! `tests/setup.sh` installs them. A missing one FAILS its test with that advice; nothing is skipped.
//! The Rust client (iridium-stomp) runs in `tests/interop_rust_client.rs`,
//! the WebSocket clients in `tests/interop_ws.rs`; the runner is `tests/interop_run/`.

mod common;
mod interop_run;

use interop_run::*;

#[tokio::test]
async fn stomp_py_1_0() {
    scenario("python3", "stomp_py.py", "stomp-py", "1.0").await;
}

#[tokio::test]
async fn stomp_py_1_1() {
    scenario("python3", "stomp_py.py", "stomp-py", "1.1").await;
}

#[tokio::test]
async fn stomp_py_1_2() {
    scenario("python3", "stomp_py.py", "stomp-py", "1.2").await;
}

#[tokio::test]
async fn stompjs_1_0() {
    scenario("node", "stompjs.mjs", "stompjs", "1.0").await;
}

#[tokio::test]
async fn stompjs_1_1() {
    scenario("node", "stompjs.mjs", "stompjs", "1.1").await;
}

#[tokio::test]
async fn stompjs_1_2() {
    scenario("node", "stompjs.mjs", "stompjs", "1.2").await;
}

#[tokio::test]
async fn stompit_1_0() {
    scenario("node", "stompit.mjs", "stompit", "1.0").await;
}

#[tokio::test]
async fn stompit_1_1() {
    scenario("node", "stompit.mjs", "stompit", "1.1").await;
}

#[tokio::test]
async fn stompit_1_2() {
    scenario("node", "stompit.mjs", "stompit", "1.2").await;
}

#[tokio::test]
async fn ruby_stomp_1_0() {
    scenario("ruby", "ruby_stomp.rb", "ruby-stomp", "1.0").await;
}

#[tokio::test]
async fn ruby_stomp_1_1() {
    scenario("ruby", "ruby_stomp.rb", "ruby-stomp", "1.1").await;
}

#[tokio::test]
async fn ruby_stomp_1_2() {
    scenario("ruby", "ruby_stomp.rb", "ruby-stomp", "1.2").await;
}

/// PHP's stomp extension has no heart-beats and cannot ask a receipt for
/// DISCONNECT (its destructor sends a bare one), so the program skips both;
/// here the broker shows that the DISCONNECT came and the connection closed.
async fn php_stomp(version: &str) {
    let broker = scenario("php", "php_stomp.php", "php-stomp", version).await;
    let disconnects = frames_received_once_closed(&broker, "DISCONNECT").await;
    assert_eq!(disconnects, 1.0, "php-stomp {version}: DISCONNECT frames");
}

#[tokio::test]
async fn php_stomp_1_0() {
    php_stomp("1.0").await;
}

#[tokio::test]
async fn php_stomp_1_1() {
    php_stomp("1.1").await;
}

#[tokio::test]
async fn php_stomp_1_2() {
    php_stomp("1.2").await;
}

/// stompman speaks 1.2 only; its DISCONNECT asks a receipt, but the library
/// does not tell whether it came, so the broker shows the DISCONNECT here.
#[tokio::test]
async fn stompman_1_2() {
    let broker = scenario("python3", "stompman_asyncio.py", "stompman", "1.2").await;
    let disconnects = frames_received_once_closed(&broker, "DISCONNECT").await;
    assert_eq!(disconnects, 1.0, "stompman 1.2: DISCONNECT frames");
}

/// aiostomp offers 1.1 only and closes its socket without DISCONNECT; the
/// broker shows the close and that no DISCONNECT came.
#[tokio::test]
async fn aiostomp_1_1() {
    let broker = scenario("python3", "aiostomp_asyncio.py", "aiostomp", "1.1").await;
    let disconnects = frames_received_once_closed(&broker, "DISCONNECT").await;
    assert_eq!(disconnects, 0.0, "aiostomp 1.1: DISCONNECT frames");
}

#[tokio::test]
async fn rx_stomp_1_0() {
    scenario("node", "rx_stomp.mjs", "rx-stomp", "1.0").await;
}

#[tokio::test]
async fn rx_stomp_1_1() {
    scenario("node", "rx_stomp.mjs", "rx-stomp", "1.1").await;
}

#[tokio::test]
async fn rx_stomp_1_2() {
    scenario("node", "rx_stomp.mjs", "rx-stomp", "1.2").await;
}
