//! RECEIPT for every client frame carrying `receipt`, sent only once the
//! frame's effect is in place; DISCONNECT with receipt: RECEIPT, then close.

mod common;

use common::*;
use stompede::protocol::{Command, Frame};

/// Waits for the RECEIPT `id`; MESSAGE frames may legitimately come first
/// (a queue delivers stored messages, or a NACKed one, right away).
async fn expect_receipt(c: &mut Client, id: &str) -> Vec<Frame> {
    let mut messages = Vec::new();
    loop {
        let got = c.recv().await;
        if got.command == Command::Message {
            messages.push(got);
            continue;
        }
        assert_eq!(got.command, Command::Receipt, "{got:?}");
        assert_eq!(got.header("receipt-id"), Some(id));
        return messages;
    }
}

fn frame(command: Command, headers: &[(&str, &str)]) -> Frame {
    headers
        .iter()
        .fold(Frame::new(command), |f, (k, v)| f.with_header(*k, *v))
}

#[tokio::test]
async fn every_receipted_frame_type_gets_its_receipt() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    let steps = [
        frame(
            Command::Subscribe,
            &[
                ("destination", "/queue/r"),
                ("id", "s1"),
                ("ack", "client-individual"),
            ],
        ),
        frame(Command::Send, &[("destination", "/queue/r")]).with_body("one"),
        frame(Command::Send, &[("destination", "/queue/r")]).with_body("two"),
        frame(Command::Begin, &[("transaction", "t1")]),
        frame(
            Command::Send,
            &[("destination", "/queue/r"), ("transaction", "t1")],
        ),
        frame(Command::Commit, &[("transaction", "t1")]),
        frame(Command::Begin, &[("transaction", "t2")]),
        frame(Command::Abort, &[("transaction", "t2")]),
    ];
    for (i, f) in steps.into_iter().enumerate() {
        let what = f.command;
        let id = format!("r-{i}");
        println!("{what:?} with receipt {id}");
        c.send(f.with_header("receipt", id.clone())).await;
        expect_receipt(&mut c, &id).await;
    }
    // ACK and NACK on fresh deliveries.
    let mut sub = broker.client().await;
    sub.subscribe("/queue/r2", "s", "client-individual").await;
    c.publish("/queue/r2", "a", &[]).await;
    c.publish("/queue/r2", "b", &[]).await;
    let a = sub.expect(Command::Message).await;
    let b = sub.expect(Command::Message).await;
    let ack = sub.ack_frame(Command::Ack, &a);
    sub.send_with_receipt(ack, "ack:1").await;
    let nack = sub.ack_frame(Command::Nack, &b);
    sub.send(nack.with_header("receipt", "nack\\2")).await;
    expect_receipt(&mut sub, "nack\\2").await;
    let unsub = frame(Command::Unsubscribe, &[("id", "s")]).with_header("receipt", "unsub");
    sub.send(unsub).await;
    expect_receipt(&mut sub, "unsub").await;
    c.disconnect().await;
}

#[tokio::test]
async fn receipt_ids_with_special_characters_round_trip() {
    let broker = TestBroker::start();
    for version in ["1.0", "1.1", "1.2"] {
        let mut c = broker
            .client_with(&[("accept-version", version), ("host", "/")])
            .await;
        for id in ["a:b", "back\\slash", "spaces and é", "line\nbreak"] {
            if version == "1.0" && id.contains('\n') {
                continue;
            }
            let f = frame(Command::Begin, &[("transaction", "t")]).with_header("receipt", id);
            c.send(f).await;
            let r = c.expect(Command::Receipt).await;
            assert_eq!(r.header("receipt-id"), Some(id), "version {version}");
            c.send(frame(Command::Abort, &[("transaction", "t")])).await;
        }
    }
}

#[tokio::test]
async fn subscribe_receipt_means_the_subscription_is_active() {
    let broker = TestBroker::start();
    // A topic keeps nothing for absent subscribers, so a message sent after
    // the receipt arrives only if the subscription was really in place.
    for round in 0..20 {
        let dest = format!("/topic/active-{round}");
        let mut sub = broker.client().await;
        sub.subscribe(&dest, "s", "auto").await;
        let mut p = broker.client().await;
        p.publish(&dest, "now", &[]).await;
        let m = sub.expect(Command::Message).await;
        assert_eq!(&m.body[..], b"now", "round {round}");
    }
}

#[tokio::test]
async fn unsubscribe_receipt_means_no_more_deliveries() {
    let broker = TestBroker::start();
    let mut sub = broker.client().await;
    sub.subscribe("/topic/gone", "s1", "auto").await;
    sub.send_with_receipt(frame(Command::Unsubscribe, &[("id", "s1")]), "u")
        .await;
    let mut p = broker.client().await;
    let send = frame(Command::Send, &[("destination", "/topic/gone")]).with_body("late");
    p.send_with_receipt(send, "sent").await;
    // The first MESSAGE the subscriber sees must be the marker, not "late".
    sub.subscribe("/topic/marker", "s2", "auto").await;
    p.publish("/topic/marker", "marker", &[]).await;
    let m = sub.expect(Command::Message).await;
    assert_eq!(&m.body[..], b"marker");
}

#[tokio::test]
async fn send_receipt_means_the_message_is_at_its_destination() {
    let broker = TestBroker::start();
    let mut p = broker.client().await;
    let send = frame(Command::Send, &[("destination", "/queue/stored")]).with_body("kept");
    p.send_with_receipt(send, "stored").await;
    drop(p);
    let mut sub = broker.client().await;
    let subscribe = frame(
        Command::Subscribe,
        &[("destination", "/queue/stored"), ("id", "s")],
    );
    sub.send(subscribe.with_header("receipt", "sub")).await;
    let mut got = expect_receipt(&mut sub, "sub").await;
    if got.is_empty() {
        got.push(sub.expect(Command::Message).await);
    }
    assert_eq!(&got[0].body[..], b"kept");
}

#[tokio::test]
async fn disconnect_with_receipt_sends_receipt_then_closes() {
    let broker = TestBroker::start();
    let mut sub = broker.client().await;
    sub.subscribe("/queue/dc", "s", "auto").await;
    let mut raw = broker.raw().await;
    let connected = raw
        .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    assert_eq!(connected.command, Command::Connected);
    raw.expect_frame_eol().await;
    // Frames before DISCONNECT take effect; nothing follows the RECEIPT.
    raw.send(b"SEND\ndestination:/queue/dc\n\nbefore\0DISCONNECT\nreceipt:bye\n\n\0")
        .await;
    assert_eq!(
        raw.read_until_closed().await,
        b"RECEIPT\nreceipt-id:bye\n\n\0\n".to_vec()
    );
    let m = sub.expect(Command::Message).await;
    assert_eq!(&m.body[..], b"before");
}

#[tokio::test]
async fn disconnect_without_receipt_closes() {
    let broker = TestBroker::start();
    let mut c = broker.client().await;
    c.send(Frame::new(Command::Disconnect)).await;
    c.expect_closed().await;
}

#[tokio::test]
async fn disconnect_flushes_pending_messages_before_closing() {
    let broker = TestBroker::start();
    let mut raw = broker.raw().await;
    let connected = raw
        .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    assert_eq!(connected.command, Command::Connected);
    let mut p = broker.client().await;
    for i in 0..200 {
        p.publish("/queue/flush", &format!("m{i}"), &[]).await;
    }
    p.send_with_receipt(
        Frame::new(Command::Begin).with_header("transaction", "x"),
        "sync",
    )
    .await;
    raw.send(b"SUBSCRIBE\ndestination:/queue/flush\nid:s\n\n\0DISCONNECT\nreceipt:bye\n\n\0")
        .await;
    let all = raw.read_until_closed().await;
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.ends_with("RECEIPT\nreceipt-id:bye\n\n\0\n"),
        "RECEIPT must be the last frame: {text:?}"
    );
    // Whatever was delivered before the RECEIPT arrived whole.
    let messages = text.matches("MESSAGE\n").count();
    let nuls = all.iter().filter(|b| **b == 0).count();
    assert_eq!(nuls, messages + 1, "truncated output: {text:?}");
}
