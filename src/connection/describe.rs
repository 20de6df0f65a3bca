//! What the admin API sees of a connection (the [`Describe`] query).

use actix::prelude::*;

use super::{Connection, State};
use crate::messages::connection::Describe;
use crate::model::{ConnectionView, SubscriptionView};

impl Handler<Describe> for Connection {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, msg: Describe, _: &mut Self::Context) -> Self::Result {
        let mut numbers: Vec<&u64> = self.subs.keys().collect();
        numbers.sort_unstable();
        let subscriptions = numbers
            .into_iter()
            .take(msg.subscriptions)
            .filter_map(|n| {
                let s = self.subs.get(n)?;
                Some(SubscriptionView {
                    id: s.id.clone(),
                    number: *n,
                    ack: s.ack.as_str(),
                })
            })
            .collect();
        let version = match self.state {
            State::Connected(v) => Some(v.as_str()),
            _ => None,
        };
        let since = self
            .connected_since
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        MessageResult(ConnectionView {
            id: self.id,
            peer: self.peer.to_string(),
            transport: self.transport.label(),
            version,
            login: self.login.clone(),
            subscriptions,
            subscription_count: self.subs.len(),
            bytes_in: self.last_read.bytes(),
            bytes_out: self.bytes_out,
            connected_since: since,
        })
    }
}
