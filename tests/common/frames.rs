//! Small pieces the clients share: building a frame from header pairs,
//! reading the negotiated version, unique names, and a frame's body as text.

use std::sync::atomic::{AtomicU64, Ordering};

use stompede::protocol::{Command, Frame, Version};

/// `command` with `headers` in order.
pub(super) fn frame(command: Command, headers: &[(&str, &str)]) -> Frame {
    with_headers(Frame::new(command), headers)
}

/// `f` with `headers` appended in order.
pub(super) fn with_headers(f: Frame, headers: &[(&str, &str)]) -> Frame {
    headers.iter().fold(f, |f, (k, v)| f.with_header(*k, *v))
}

/// The version a CONNECTED frame settled on (1.0 when it names none).
pub(super) fn negotiated(connected: &Frame) -> Version {
    match connected.header("version") {
        Some("1.1") => Version::V1_1,
        Some("1.2") => Version::V1_2,
        _ => Version::V1_0,
    }
}

/// A name no other call in this test process gets, for receipts and transactions.
pub(super) fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{n}")
}

/// A frame's body as text.
pub fn body(f: &Frame) -> String {
    String::from_utf8_lossy(&f.body).into_owned()
}
