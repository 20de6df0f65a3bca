//! Helpers for the durable-queue tests: receipted SENDs and exact reads.

use std::time::Duration;

use stompede::protocol::{Command, Frame};

use super::{body, Client};

/// Long enough for a wrongly kept message to show up after a restart.
pub const QUIET: Duration = Duration::from_millis(300);

/// A SEND to `dest`, waiting for its RECEIPT.
pub async fn send_receipted(c: &mut Client, dest: &str, text: &str, persistent: bool) {
    let mut f = Frame::new(Command::Send)
        .with_header("destination", dest)
        .with_body(text.to_string());
    if persistent {
        f = f.with_header("persistent", "true");
    }
    c.send_with_receipt(f, &format!("r-{text}")).await;
}

/// `frame` with a receipt, returning the RECEIPT (or failing on anything else).
pub async fn with_receipt(c: &mut Client, frame: Frame, id: &str) {
    c.send_with_receipt(frame, id).await;
}

/// Subscribes to `dest` and reads exactly `bodies`, in order, then nothing more.
pub async fn expect_exactly(c: &mut Client, dest: &str, ack: &str, bodies: &[&str]) -> Vec<Frame> {
    c.subscribe_with(dest, dest, &[("ack", ack), ("prefetch-count", "100")])
        .await;
    let mut got = Vec::new();
    for want in bodies {
        let m = c.expect(Command::Message).await;
        assert_eq!(body(&m), *want, "{m:?}");
        got.push(m);
    }
    c.expect_nothing(QUIET).await;
    got
}
