//! A consumer: records every MESSAGE in its tracker, acknowledges per the ack
//! mode (ACKs are batched into one write per read batch), and stops when its
//! stream is complete or has made no progress for the timeout.

use std::sync::Arc;
use std::time::Duration;

use stompede::protocol::{Command, Frame};
use tokio::time::Instant;

use crate::ack::AckMode;
use crate::client::{unexpected, Conn, FLUSH_AT};
use crate::error::{BenchError, Result};
use crate::group::Group;
use crate::producer::read_stamp;
use crate::tracker::{Tracker, ID_HEADER};

/// How a consumer acknowledges and what it measures.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerSpec {
    pub ack: AckMode,
    /// `client` mode: a cumulative ACK every this many messages.
    pub ack_every: u64,
    /// Bodies carry send stamps: record end-to-end latency.
    pub stamps: bool,
}

/// What a consumer saw. Returned even when it stopped on an error, because
/// its record is needed to tell what was lost.
#[derive(Debug, Default)]
pub struct ConsumerOutcome {
    pub tracker: Tracker,
    pub deliveries: u64,
    pub bytes: u64,
    pub latencies_ns: Vec<u64>,
    pub last_at: Option<Instant>,
    pub error: Option<String>,
}

struct State {
    spec: ConsumerSpec,
    clock: Instant,
    out: ConsumerOutcome,
    /// `client` mode: the newest message not yet covered by an ACK.
    unacked: Option<Frame>,
    since_ack: u64,
}

/// Consumes from an already subscribed `conn` until `group` is complete.
pub async fn consume(
    mut conn: Conn,
    spec: ConsumerSpec,
    group: Arc<Group>,
    clock: Instant,
) -> ConsumerOutcome {
    let mut st = State {
        spec,
        clock,
        out: ConsumerOutcome::default(),
        unacked: None,
        since_ack: 0,
    };
    let result = match run(&mut conn, &mut st, &group).await {
        Ok(()) => finish(conn, &mut st).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        st.out.error = Some(e.to_string());
    }
    st.out
}

async fn run(conn: &mut Conn, st: &mut State, group: &Group) -> Result<()> {
    let mut done = group.done_signal();
    let check_every = conn.timeout.min(Duration::from_secs(1));
    let mut progress = (group.received(), Instant::now());
    loop {
        let frame = match conn.try_recv("MESSAGE")? {
            Some(f) => f,
            None => {
                conn.flush().await?;
                if group.is_done() {
                    return Ok(());
                }
                tokio::select! {
                    biased;
                    f = conn.recv_any("MESSAGE") => f?,
                    _ = done.wait_for(|d| *d) => return Ok(()),
                    _ = tokio::time::sleep(check_every) => {
                        let now = group.received();
                        if now != progress.0 {
                            progress = (now, Instant::now());
                        } else if progress.1.elapsed() >= conn.timeout {
                            return Err(BenchError::Timeout {
                                what: format!("messages ({now} received, none since)"),
                                secs: conn.timeout.as_secs_f64(),
                            });
                        }
                        continue;
                    }
                }
            }
        };
        if handle(conn, st, frame)? {
            group.add();
        }
        if conn.buffered() >= FLUSH_AT {
            conn.flush().await?;
        }
    }
}

/// Records one frame; true if it is a message this consumer had not seen.
fn handle(conn: &mut Conn, st: &mut State, frame: Frame) -> Result<bool> {
    if frame.command != Command::Message {
        return Err(unexpected(&frame, "consuming"));
    }
    let redelivered = frame.header("redelivered") == Some("true");
    let new = st.out.tracker.record(frame.header(ID_HEADER), redelivered);
    let now = Instant::now();
    st.out.deliveries += 1;
    st.out.bytes += frame.body.len() as u64;
    st.out.last_at = Some(now);
    if st.spec.stamps {
        if let Some(sent) = read_stamp(&frame.body) {
            let at = now.duration_since(st.clock).as_nanos() as u64;
            st.out.latencies_ns.push(at.saturating_sub(sent));
        }
    }
    match st.spec.ack {
        AckMode::Auto => {}
        AckMode::ClientIndividual => ack(conn, &frame)?,
        AckMode::Client => {
            st.since_ack += 1;
            if st.since_ack >= st.spec.ack_every {
                ack(conn, &frame)?;
                st.since_ack = 0;
                st.unacked = None;
            } else {
                st.unacked = Some(frame);
            }
        }
    }
    Ok(new)
}

fn ack(conn: &mut Conn, msg: &Frame) -> Result<()> {
    let frame = conn.ack_frame(msg).ok_or(BenchError::Unexpected {
        got: "MESSAGE without an ack or message-id header",
        during: "acknowledging".into(),
    })?;
    conn.push(frame)
}

/// Acknowledges what is left, then DISCONNECTs with a receipt. Messages that
/// still arrive meanwhile are recorded: they are duplicates or strays.
async fn finish(mut conn: Conn, st: &mut State) -> Result<()> {
    if let Some(last) = st.unacked.take() {
        ack(&mut conn, &last)?;
    }
    let receipt = conn.receipt_id();
    conn.push(Frame::new(Command::Disconnect).with_header("receipt", receipt.clone()))?;
    conn.flush().await?;
    let deadline = Instant::now() + conn.timeout;
    loop {
        let f = conn.recv_by(deadline, "the DISCONNECT receipt").await?;
        if f.command == Command::Receipt && f.header("receipt-id") == Some(receipt.as_str()) {
            return Ok(());
        }
        handle(&mut conn, st, f)?;
    }
}
