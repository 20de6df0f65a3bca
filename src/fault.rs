//! Fault injection for the supervision tests. Compiled only with the
//! `fault-injection` cargo feature (the integration tests enable it through a
//! dev-dependency); a release build has no such hook for clients to reach.
//!
//! A SEND carrying the header `x-stompede-fault` makes an actor panic inside a
//! handler: `session` (the sender's session), `destination` (the SEND's
//! destination, before it takes the message), or `transaction` (with a
//! `transaction` header: that transaction's actor). On a COMMIT, the value
//! `commit-journaled` aborts the whole process right after the COMMIT's
//! journal batch is durable and before anything is applied: for tests of a
//! real broker process only, as `kill -9` at the worst moment.

use actix::Message;

use crate::protocol::Frame;

/// Which actor to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Session,
    Destination,
    Transaction,
    CommitJournaled,
}

/// Reads the fault header of `frame`, if any.
pub fn requested(frame: &Frame) -> Option<Target> {
    match frame.header("x-stompede-fault")? {
        "session" => Some(Target::Session),
        "destination" => Some(Target::Destination),
        "transaction" => Some(Target::Transaction),
        "commit-journaled" => Some(Target::CommitJournaled),
        _ => None,
    }
}

/// Makes the receiving actor panic inside its handler. `do_send`, tests only.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;
