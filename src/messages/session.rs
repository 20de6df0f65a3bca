//! What a `Session` actor handles: its connection's frames and its end.

use actix::prelude::*;
use tokio::sync::OwnedSemaphorePermit;

use crate::protocol::Frame;

/// A frame from the client, with the in-flight permit that bounds how many
/// frames a connection may have outstanding. Sent by `Connection` with
/// `do_send`; bounded by those permits.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClientFrame {
    pub frame: Frame,
    pub permit: OwnedSemaphorePermit,
}

/// The connection is gone: release everything and stop. Sent by `Connection`
/// with `do_send`, once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConnectionLost;
