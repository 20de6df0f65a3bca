//! What a `Transaction` actor handles: its session stages operations, then
//! commits or aborts them.

use std::sync::Arc;

use actix::prelude::*;
use thiserror::Error;

use super::destination::DestinationRef;
use crate::model::{ConsumerKey, MessageData};

/// One held operation.
pub enum TxOp {
    Publish {
        destination: String,
        data: Arc<MessageData>,
    },
    /// An ACK or NACK, applied to the first candidate subscription holding the message.
    Settle {
        how: Settlement,
        candidates: Vec<AckCandidate>,
        message_id: u64,
    },
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

/// The transaction is full.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("transaction holds the maximum of {0} frames")]
pub struct TooManyFrames(pub usize);

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
    /// The transaction was abandoned after failing past its restart budget.
    #[error(transparent)]
    Abandoned(#[from] Abandoned),
}

/// Holds one more operation. Sent by `Session` with `send`; the reply bounds the transaction.
#[derive(Message)]
#[rtype(result = "Result<(), StageError>")]
pub struct Stage(pub TxOp);

/// Returns every held operation, in order, and ends the transaction. `send`.
#[derive(Message)]
#[rtype(result = "Result<Vec<TxOp>, Abandoned>")]
pub struct Commit;

/// Drops every held operation and ends the transaction. `do_send`, once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Abort;
