//! A producer: SENDs tagged with `bench-id`, batched into few socket writes,
//! with a RECEIPT every `window` messages and at most two windows unconfirmed,
//! so the broker must keep up rather than buffer without end.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use stompede::protocol::{Command, Frame};
use tokio::time::Instant;

use crate::client::{Conn, FLUSH_AT};
use crate::error::Result;
use crate::group::Gate;
use crate::tracker::{format_id, ID_HEADER};

/// Digits of the send timestamp at the front of a stamped body.
pub const STAMP_LEN: usize = 20;

/// What a producer sends and when it stops.
#[derive(Clone)]
pub struct ProducerSpec {
    pub id: u32,
    pub destination: String,
    /// Body of every message (stamped bodies start from a copy of it).
    pub body: Bytes,
    /// Write the send time (ns since `clock`) into each body, for latency.
    pub stamp: bool,
    /// Stop after this many messages…
    pub count: Option<u64>,
    /// …or at this time.
    pub until: Option<Instant>,
    pub window: u64,
    /// Messages per second; `None` = as fast as the broker takes them.
    pub rate: Option<u64>,
    /// Before `until`, wait for the broker without a time limit: a broker that
    /// stops reading a producer is applying backpressure, which is what a flood measures.
    pub patient: bool,
    pub extra_headers: Vec<(String, String)>,
}

/// What a producer did.
#[derive(Debug, Clone)]
pub struct ProducerOutcome {
    /// Messages sent: without an error, all confirmed by the broker; after
    /// one, those handed to the socket (some may never have reached the broker).
    pub sent: u64,
    /// When the last message was handed to the socket.
    pub stopped: Instant,
    pub error: Option<String>,
    /// The longest single wait for the broker to read or confirm, while sending.
    pub longest_wait: Duration,
}

/// Runs a producer on a connected `conn`; the end of the run is confirmed by
/// a DISCONNECT receipt, so every message counted was taken by the broker.
/// Returns what was sent even after an error, so the consumers' record can
/// still be compared with it.
pub async fn produce(
    conn: Conn,
    spec: ProducerSpec,
    gate: Arc<Gate>,
    clock: Instant,
) -> ProducerOutcome {
    let mut out = ProducerOutcome {
        sent: 0,
        stopped: Instant::now(),
        error: None,
        longest_wait: Duration::ZERO,
    };
    if let Err(e) = send_all(conn, &spec, &gate, clock, &mut out).await {
        out.error = Some(e.to_string());
        out.stopped = Instant::now();
    }
    out
}

async fn send_all(
    mut conn: Conn,
    spec: &ProducerSpec,
    gate: &Gate,
    clock: Instant,
    out: &mut ProducerOutcome,
) -> Result<()> {
    let mut pending: VecDeque<String> = VecDeque::new();
    let mut seq = 0u64;
    let mut since_gate = 0u64;
    let period = spec.rate.map(|r| Duration::from_secs_f64(1.0 / r as f64));
    let mut next_at = Instant::now();
    loop {
        if spec.count.is_some_and(|c| seq >= c) {
            break;
        }
        // Reading the clock costs little next to encoding a frame, but not nothing.
        if (seq.is_multiple_of(16) || period.is_some())
            && spec.until.is_some_and(|u| Instant::now() >= u)
        {
            break;
        }
        if let Some(p) = period {
            next_at += p;
            tokio::time::sleep_until(next_at).await;
        }
        let window_end = (seq + 1).is_multiple_of(spec.window);
        let body = if spec.stamp {
            stamped(&spec.body, clock)
        } else {
            spec.body.clone()
        };
        let mut f = Frame {
            command: Command::Send,
            headers: Vec::with_capacity(3 + spec.extra_headers.len()),
            body,
        };
        f.headers
            .push(("destination".into(), spec.destination.clone()));
        f.headers.push((ID_HEADER.into(), format_id(spec.id, seq)));
        f.headers.extend(spec.extra_headers.iter().cloned());
        if window_end {
            let r = conn.receipt_id();
            f.headers.push(("receipt".into(), r.clone()));
            pending.push_back(r);
        }
        conn.push(f)?;
        seq += 1;
        out.sent = seq;
        since_gate += 1;
        if period.is_some() || window_end || conn.buffered() >= FLUSH_AT {
            let deadline = wait_deadline(spec, &conn);
            let waited = Instant::now();
            conn.flush_by(deadline).await?;
            out.longest_wait = out.longest_wait.max(waited.elapsed());
        }
        if window_end {
            gate.pass(since_gate).await?;
            since_gate = 0;
            while pending.len() > 1 {
                let waited = Instant::now();
                confirm_oldest(&mut conn, &mut pending, spec).await?;
                out.longest_wait = out.longest_wait.max(waited.elapsed());
            }
        }
    }
    out.stopped = Instant::now();
    gate.pass(since_gate).await?;
    let deadline = wait_deadline(spec, &conn);
    conn.flush_by(deadline).await?;
    while !pending.is_empty() {
        confirm_oldest(&mut conn, &mut pending, spec).await?;
    }
    conn.disconnect().await
}

async fn confirm_oldest(
    conn: &mut Conn,
    pending: &mut VecDeque<String>,
    spec: &ProducerSpec,
) -> Result<()> {
    if let Some(id) = pending.pop_front() {
        let deadline = wait_deadline(spec, conn);
        conn.await_receipt_by(&id, deadline).await?;
    }
    Ok(())
}

/// The usual timeout from now; a patient producer also waits out its run.
fn wait_deadline(spec: &ProducerSpec, conn: &Conn) -> Instant {
    let now = Instant::now();
    let start = match spec.until {
        Some(u) if spec.patient => u.max(now),
        _ => now,
    };
    start + conn.timeout
}

/// A copy of `body` whose first [`STAMP_LEN`] bytes are the current time in
/// ns since `clock`, as decimal digits.
fn stamped(body: &Bytes, clock: Instant) -> Bytes {
    let mut b = BytesMut::with_capacity(body.len().max(STAMP_LEN));
    let ns = clock.elapsed().as_nanos();
    b.put_slice(format!("{ns:0width$}", width = STAMP_LEN).as_bytes());
    if body.len() > STAMP_LEN {
        b.put_slice(&body[STAMP_LEN..]);
    }
    b.freeze()
}

/// The stamp at the front of a body, if it has one.
pub fn read_stamp(body: &[u8]) -> Option<u64> {
    let digits = body.get(..STAMP_LEN)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}
