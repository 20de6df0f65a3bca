//! The STOMP commands a [`Client`] sends: SEND, SUBSCRIBE, ACK/NACK, a
//! no-op round trip (`ping`) and DISCONNECT — each in a fire-and-forget form
//! and, where a test must know the broker has acted, a form that waits for
//! the RECEIPT.

use stompede::protocol::{Command, Frame, Version};

use super::frames::{frame, unique, with_headers};
use super::Client;

impl Client {
    /// SEND with optional extra headers.
    pub async fn publish(&mut self, destination: &str, body: &str, headers: &[(&str, &str)]) {
        self.send(send_frame(destination, body, headers)).await;
    }

    /// SEND with a receipt: on return the destination has taken the message.
    pub async fn publish_sync(&mut self, destination: &str, body: &str, headers: &[(&str, &str)]) {
        let receipt = unique("send");
        self.send_with_receipt(send_frame(destination, body, headers), &receipt)
            .await;
    }

    /// Sends `frame` with a `receipt` header and waits for its RECEIPT.
    pub async fn send_with_receipt(&mut self, frame: Frame, receipt: &str) {
        self.send(frame.with_header("receipt", receipt)).await;
        let r = self.expect(Command::Receipt).await;
        assert_eq!(r.header("receipt-id"), Some(receipt));
    }

    /// SUBSCRIBE and wait until it is active (receipt).
    pub async fn subscribe(&mut self, destination: &str, id: &str, ack: &str) {
        self.subscribe_with(destination, id, &[("ack", ack)]).await;
    }

    /// SUBSCRIBE with extra headers, waiting until active.
    pub async fn subscribe_with(&mut self, destination: &str, id: &str, headers: &[(&str, &str)]) {
        let f = subscribe_frame(destination, id, headers);
        self.send_with_receipt(f, &format!("sub-{id}")).await;
    }

    /// SUBSCRIBE (with a receipt) where messages may already be waiting, so
    /// deliveries can come before the RECEIPT: returns the MESSAGEs read until
    /// both the receipt and at least `n` MESSAGEs have arrived.
    pub async fn subscribe_take(
        &mut self,
        destination: &str,
        id: &str,
        headers: &[(&str, &str)],
        n: usize,
    ) -> Vec<Frame> {
        let receipt = unique("sub");
        let f = subscribe_frame(destination, id, headers).with_header("receipt", receipt.as_str());
        self.send(f).await;
        let mut msgs = Vec::new();
        let mut receipted = false;
        while !receipted || msgs.len() < n {
            let f = self.recv().await;
            match f.command {
                Command::Receipt if f.header("receipt-id") == Some(&receipt) => receipted = true,
                Command::Message => msgs.push(f),
                _ => panic!("unexpected frame while subscribing: {f:?}"),
            }
        }
        msgs
    }

    /// ACK a MESSAGE the version-appropriate way.
    pub async fn ack(&mut self, msg: &Frame) {
        let f = self.ack_frame(Command::Ack, msg);
        self.send(f).await;
    }

    /// NACK a MESSAGE the version-appropriate way.
    pub async fn nack(&mut self, msg: &Frame) {
        let f = self.ack_frame(Command::Nack, msg);
        self.send(f).await;
    }

    /// ACK or NACK `msg` (version-appropriate) with a receipt, waiting for it.
    pub async fn settle_sync(&mut self, command: Command, msg: &Frame) {
        let f = self.ack_frame(command, msg);
        let receipt = unique("settle");
        self.send_with_receipt(f, &receipt).await;
    }

    /// Builds an ACK/NACK for `msg` as the negotiated version requires.
    pub fn ack_frame(&self, command: Command, msg: &Frame) -> Frame {
        let f = Frame::new(command);
        match self.version {
            Version::V1_2 => {
                f.with_header("id", msg.header("ack").expect("MESSAGE has ack header"))
            }
            Version::V1_1 => f
                .with_header("message-id", msg.header("message-id").expect("message-id"))
                .with_header(
                    "subscription",
                    msg.header("subscription").expect("subscription"),
                ),
            Version::V1_0 => {
                f.with_header("message-id", msg.header("message-id").expect("message-id"))
            }
        }
    }

    /// Round-trips a frame with no effect (BEGIN and ABORT of a fresh
    /// transaction, each with a receipt) and returns every frame that arrived
    /// before the receipts. On return the broker has handled every frame this
    /// client sent before, and every MESSAGE a destination handed to this
    /// connection before the call started has been read.
    pub async fn ping_collect(&mut self) -> Vec<Frame> {
        let tx = unique("ping");
        let mut before = Vec::new();
        for cmd in [Command::Begin, Command::Abort] {
            let receipt = unique("ping-receipt");
            self.send(frame(
                cmd,
                &[("transaction", tx.as_str()), ("receipt", receipt.as_str())],
            ))
            .await;
            loop {
                let f = self.recv().await;
                if f.command == Command::Receipt && f.header("receipt-id") == Some(&receipt) {
                    break;
                }
                before.push(f);
            }
        }
        before
    }

    /// Like [`Client::ping_collect`], asserting nothing arrived before the receipts.
    pub async fn ping(&mut self) {
        let before = self.ping_collect().await;
        assert!(
            before.is_empty(),
            "unexpected frames before ping receipt: {before:?}"
        );
    }

    /// Sends `frame` and expects an ERROR (then the close) whose `message`
    /// contains `needle`; returns the ERROR.
    pub async fn expect_error_after(&mut self, frame: Frame, needle: &str) -> Frame {
        self.send(frame).await;
        let e = self.expect_error().await;
        let msg = e.header("message").unwrap_or("");
        assert!(
            msg.contains(needle),
            "ERROR message {msg:?} does not mention {needle:?}"
        );
        e
    }

    /// DISCONNECT with receipt, then expect the close.
    pub async fn disconnect(mut self) {
        self.send_with_receipt(Frame::new(Command::Disconnect), "bye")
            .await;
        self.expect_closed().await;
    }
}

/// SEND to `destination` carrying `body`, then `headers`.
fn send_frame(destination: &str, body: &str, headers: &[(&str, &str)]) -> Frame {
    let f = Frame::new(Command::Send)
        .with_header("destination", destination)
        .with_body(body.to_string());
    with_headers(f, headers)
}

/// SUBSCRIBE to `destination` as `id`, then `headers`.
fn subscribe_frame(destination: &str, id: &str, headers: &[(&str, &str)]) -> Frame {
    let f = Frame::new(Command::Subscribe)
        .with_header("destination", destination)
        .with_header("id", id);
    with_headers(f, headers)
}
