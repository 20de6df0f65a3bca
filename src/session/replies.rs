//! What the session itself answers: a RECEIPT once a frame's effect is done,
//! or one ERROR (then the connection closes). Most RECEIPTs for SEND, ACK and
//! SUBSCRIBE come from the destination instead, in order with its deliveries.

use super::{Session, SessionError};
use crate::messages::connection::{Fail, Reply};
use crate::protocol::receipt_frame;

impl Session {
    /// Ends the session with an ERROR for `error`; later failures are dropped,
    /// as the client only ever sees the first.
    pub(super) fn fail(&mut self, error: impl Into<SessionError>, receipt: Option<String>) {
        if self.failed {
            return;
        }
        self.failed = true;
        let error = error.into();
        let message = error.to_string();
        // The spec wants the ERROR body to explain; the message is that explanation.
        let detail = format!("{message}; the broker closes the connection after this ERROR");
        self.conn.fail.do_send(Fail {
            message,
            detail,
            receipt_id: receipt,
            reason: error.reason(),
        });
    }

    /// Confirms a frame whose effect is complete, if the client asked.
    pub(super) fn receipt(&self, receipt: Option<String>) {
        if let Some(r) = receipt {
            self.conn.reply.do_send(Reply(receipt_frame(r)));
        }
    }
}
