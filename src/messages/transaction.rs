//! What a `Transaction` actor handles: its session stages operations, then
//! commits or aborts them.

use std::sync::Arc;

use actix::prelude::*;
use thiserror::Error;

use super::destination::DestinationRef;
use crate::model::{ConsumerKey, MemoryBudget, MessageData};

/// One held operation.
pub enum TxOp {
    Publish {
        destination: String,
        data: Arc<MessageData>,
    },
    /// An ACK or NACK of a message the subscription `on` held when it was staged.
    Settle {
        how: Settlement,
        on: AckCandidate,
        message_id: u64,
    },
}

impl TxOp {
    /// What holding it costs against the broker's memory budget.
    pub fn footprint(&self) -> usize {
        match self {
            TxOp::Publish { destination, data } => data.footprint() + destination.len(),
            // Bounded by `transactions.max_frames`; a token cost keeps them visible.
            TxOp::Settle { .. } => std::mem::size_of::<TxOp>(),
        }
    }
}

/// Whether a client frame acknowledges a message or refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// ACK: the message is consumed.
    Ack,
    /// NACK: the message goes back (or to its dead-letter queue).
    Nack,
}

impl std::fmt::Display for Settlement {
    /// The STOMP command name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Settlement::Ack => "ACK",
            Settlement::Nack => "NACK",
        })
    }
}

/// A subscription an ACK/NACK may name: its destination, its consumer key, and
/// whether it acknowledges cumulatively (`client` mode). A 1.0 ACK names only
/// the message, so it has one candidate per client-ack subscription.
#[derive(Clone)]
pub struct AckCandidate {
    pub dest: DestinationRef,
    pub key: ConsumerKey,
    pub cumulative: bool,
}

/// Bytes a transaction holds, charged to the broker's memory budget for as
/// long as this value lives: dropping it (ABORT, the end of a COMMIT, a
/// session gone) gives them back, so no path can leak the charge.
pub struct StagedBytes {
    budget: Arc<MemoryBudget>,
    bytes: usize,
}

impl StagedBytes {
    /// Nothing charged yet to `budget`.
    pub fn new(budget: Arc<MemoryBudget>) -> Self {
        StagedBytes { budget, bytes: 0 }
    }

    /// Bytes charged.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Charges `n` more bytes, unless that would take the broker past its
    /// memory budget. Returns whether they were charged.
    pub fn try_add(&mut self, n: usize) -> bool {
        let charged = self.budget.try_add(n);
        if charged {
            self.bytes += n;
        }
        charged
    }

    /// The broker's memory budget in bytes.
    pub fn budget_limit(&self) -> usize {
        self.budget.limit()
    }

    /// Moves the charge out, leaving this one empty.
    pub fn take(&mut self) -> StagedBytes {
        StagedBytes {
            budget: self.budget.clone(),
            bytes: std::mem::take(&mut self.bytes),
        }
    }
}

impl Drop for StagedBytes {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.sub(self.bytes);
        }
    }
}

/// The transaction is full.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("transaction holds the maximum of {0} frames")]
pub struct TooManyFrames(pub usize);

/// The transaction holds `transactions.max_bytes`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("transaction would hold more than {0} bytes (transactions.max_bytes)")]
pub struct TooManyBytes(pub usize);

/// Staging would take the broker past `broker.max_buffered_bytes`. Refused
/// rather than paused: pausing could wait forever on the bytes this very
/// transaction holds, which only its own COMMIT or ABORT can release.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("broker memory budget of {0} bytes is full (broker.max_buffered_bytes); transactional SEND refused")]
pub struct MemoryFull(pub usize);

/// The transaction actor failed more often than `[supervision]` allows and
/// dropped what it held; the session ends the connection with an ERROR.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("transaction failed repeatedly and was abandoned")]
pub struct Abandoned;

/// Why a frame could not be staged.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StageError {
    /// `transactions.max_frames` reached.
    #[error(transparent)]
    Full(#[from] TooManyFrames),
    /// `transactions.max_bytes` reached.
    #[error(transparent)]
    TooLarge(#[from] TooManyBytes),
    /// The broker's memory budget is full.
    #[error(transparent)]
    Memory(#[from] MemoryFull),
    /// The transaction was abandoned after failing past its restart budget.
    #[error(transparent)]
    Abandoned(#[from] Abandoned),
}

/// Holds one more operation. Sent by `Session` with `send`; the reply bounds the transaction.
#[derive(Message)]
#[rtype(result = "Result<(), StageError>")]
pub struct Stage(pub TxOp);

/// What a COMMIT takes back: the operations in order, and their charge on
/// the memory budget, which the session drops once the destinations hold them.
pub struct Staged {
    pub ops: Vec<TxOp>,
    pub charge: StagedBytes,
}

/// Returns every held operation, in order, and ends the transaction. `send`.
#[derive(Message)]
#[rtype(result = "Result<Staged, Abandoned>")]
pub struct Commit;

/// Drops every held operation and ends the transaction. `do_send`, once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Abort;
