//! Regression tests over a real WebSocket for what the WebSocket clients of
//! the interoperability suite (stomp.py 9.0.0's WebSocket transport with
//! websocket-client 1.9.2, webstomp-client 1.2.6; their scenarios run in
//! `tests/interop_ws.rs`) need of the broker (see docs/interop.md).

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upgrades `/ws` with the given headers (none of them is required).
async fn open(broker: &TestBroker, headers: &[(&'static str, String)]) -> Ws {
    let mut req = format!("ws://{}/ws", broker.websocket())
        .into_client_request()
        .expect("request");
    for (k, v) in headers {
        req.headers_mut()
            .insert(*k, v.parse().expect("header value"));
    }
    let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake timed out")
        .expect("upgrade accepted");
    ws
}

async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.expect("send");
}

/// The next text or binary message's payload as text, skipping heart-beats.
async fn next_payload(ws: &mut Ws) -> String {
    loop {
        let m = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("a message in time")
            .expect("stream open")
            .expect("no error");
        match m {
            Message::Text(_) | Message::Binary(_) => {
                let data = String::from_utf8_lossy(&m.into_data()).into_owned();
                if !data.trim_matches('\n').is_empty() {
                    return data;
                }
            }
            Message::Close(c) => panic!("closed while waiting for data: {c:?}"),
            _ => {}
        }
    }
}

/// stomp.py's WebSocket transport offers no subprotocol, sends an `Origin`
/// of the broker's own address (websocket-client's default), and sends every
/// frame as a text message unless `binary_mode=True`: a body that is not
/// UTF-8 then makes the message invalid. RFC 6455 has the connection fail;
/// the broker closes with 1007 and says why.
#[tokio::test]
async fn stomp_py_ws_text_message_that_is_not_utf8_closes_with_1007() {
    let broker = TestBroker::start();
    let origin = format!("http://{}", broker.websocket());
    let mut ws = open(&broker, &[("origin", origin)]).await;
    send_text(&mut ws, "STOMP\naccept-version:1.2\nhost:/\n\n\0").await;
    assert!(next_payload(&mut ws)
        .await
        .starts_with("CONNECTED\nversion:1.2\n"));
    let send = b"SEND\ndestination:/queue/not-utf8\ncontent-length:2\n\n\xff\x00\0".to_vec();
    let text = WsFrame::message(send, OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(text)).await.expect("send");
    let close = loop {
        match tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(c))) => break c.expect("a close code"),
            Some(Ok(_)) => continue,
            other => panic!("no Close frame: {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Invalid, "{close:?}");
    assert_eq!(
        close.reason.as_str(),
        "text message is not UTF-8; send binary messages for binary bodies"
    );
}

/// webstomp-client never escapes header values, whatever the version: over
/// `v12.stomp` a colon in a value goes out raw. The first colon ends the
/// name, the rest is the value, and 1.2 subscribers get it escaped (`\c`),
/// which webstomp-client shows as is.
#[tokio::test]
async fn webstomp_v1_2_raw_colon_in_a_value_is_taken_literally() {
    let broker = TestBroker::start();
    let mut ws = open(&broker, &[("sec-websocket-protocol", "v12.stomp".into())]).await;
    send_text(
        &mut ws,
        "CONNECT\nlogin:a\npasscode:b\naccept-version:1.2\nheart-beat:1000,1000\n\n\0",
    )
    .await;
    assert!(next_payload(&mut ws)
        .await
        .starts_with("CONNECTED\nversion:1.2\n"));
    send_text(
        &mut ws,
        "SUBSCRIBE\nid:a\ndestination:/queue/ws-colon\nreceipt:s\n\n\0",
    )
    .await;
    assert_eq!(next_payload(&mut ws).await, "RECEIPT\nreceipt-id:s\n\n\0\n");
    send_text(
        &mut ws,
        "SEND\nx-time:12:30:00\ndestination:/queue/ws-colon\n\nhi\0",
    )
    .await;
    let msg = next_payload(&mut ws).await;
    assert!(msg.contains("\nx-time:12\\c30\\c00\n"), "{msg:?}");
    assert!(msg.ends_with("\n\nhi\0\n"), "{msg:?}");
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}
