//! `Session`: the STOMP state of one connected client — subscriptions,
//! transactions, and where its frames go. Supervised: its state lives in the
//! struct, and it talks to its connection only by messages.
//!
//! Frames are handled strictly in order. A frame whose effect needs a reply
//! (a lookup, a subscription, a receipt) blocks the session's mailbox with
//! `ctx.wait` until done, so a RECEIPT always follows the effect it confirms.
//!
//! This file holds the actor's lifecycle and its dispatch; each command family
//! lives in its own file: [`routes`] (SEND), `subscriptions`, `settlement`
//! (ACK/NACK), `transactions`, and `replies` (RECEIPT and ERROR).

mod command;
mod commit;
mod commit_journal;
mod error;
mod permissions;
mod replies;
mod routes;
mod settlement;
mod subscriptions;
mod temp_queues;
mod transactions;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::OwnedSemaphorePermit;

pub use command::{AckTarget, ClientCommand, CommandError, DurableName};
pub use error::{LookupError, SessionError, SettleError, SubscriptionError, TransactionError};

use crate::auth::{Identity, Verb};
use crate::messages::connection::{Close, ConnectionHandle, Drain, Fail, Unsubscribed};
use crate::messages::destination::{DestinationRef, Replies, Unsubscribe};
pub use crate::messages::session::{ClientFrame, ConnectionLost};
use crate::messages::transaction::{Settlement, TxOp};
use crate::metrics::ActorKind;
use crate::model::{AckMode, ConsumerKey, MessageData};
use crate::protocol::{ErrorReason, Version};
use crate::shared::{ClientIdClaim, Shared};
use crate::supervision::{Failing, Failures, RestartBudget};
use crate::transaction::Transaction;
use subscriptions::Sub;

/// One connected client's STOMP state.
pub struct Session {
    id: u64,
    version: Version,
    conn: ConnectionHandle,
    shared: Arc<Shared>,
    subs: HashMap<String, Sub>,
    next_key: u64,
    routes: HashMap<String, DestinationRef>,
    /// The routes of the previous idle period not used since (see `started`).
    stale_routes: HashMap<String, DestinationRef>,
    txs: HashMap<String, Addr<Transaction>>,
    failed: bool,
    failures: Failures,
    replies: Arc<Replies>,
    /// Whether it claimed temporary queues (released when it ends).
    temp_claimed: bool,
    /// The CONNECT `client-id`, held for this session's lifetime.
    client_id: Option<ClientIdClaim>,
    permissions: permissions::Permissions,
    /// Fault injection: the next COMMIT aborts the process once journaled.
    #[cfg(feature = "fault-injection")]
    crash_after_journal: bool,
}

type Ctx = Context<Session>;

impl Session {
    /// A session for connection `id`, speaking `version`, of the client
    /// `identity`, holding its `client_id` if it gave one.
    pub fn new(
        id: u64,
        version: Version,
        conn: ConnectionHandle,
        shared: Arc<Shared>,
        (identity, client_id): (Identity, Option<ClientIdClaim>),
    ) -> Self {
        let budget = RestartBudget::from(&shared.settings.supervision);
        Session {
            permissions: permissions::Permissions::new(identity, &shared.auth),
            id,
            version,
            shared,
            subs: HashMap::new(),
            next_key: 1,
            routes: HashMap::new(),
            stale_routes: HashMap::new(),
            txs: HashMap::new(),
            failed: false,
            failures: Failures::new(budget),
            #[cfg(feature = "fault-injection")]
            crash_after_journal: false,
            replies: Arc::new(Replies {
                receipted: conn.receipted.clone(),
                fail: conn.fail.clone(),
            }),
            conn,
            temp_claimed: false,
            client_id,
        }
    }

    fn key(&self, subscription: u64) -> ConsumerKey {
        ConsumerKey {
            session: self.id,
            subscription,
        }
    }

    fn handle_command(
        &mut self,
        cmd: ClientCommand,
        permit: OwnedSemaphorePermit,
        receipt: Option<String>,
        ctx: &mut Ctx,
    ) {
        let wanted = match &cmd {
            ClientCommand::Send { destination, .. } => Some((Verb::Write, destination)),
            ClientCommand::Subscribe { destination, .. } => Some((Verb::Read, destination)),
            _ => None,
        };
        if let Some((verb, destination)) = wanted {
            let destination = destination.clone();
            if !self.permitted(verb, &destination, &receipt) {
                return;
            }
        }
        match cmd {
            ClientCommand::Send {
                destination,
                transaction,
                mut frame,
            } => {
                let destination = self.own_temp_queue(&destination).unwrap_or(destination);
                let topics = &self.shared.settings.destinations.topic_prefix;
                if destination
                    .strip_prefix(topics.as_str())
                    .is_some_and(crate::model::wildcard::is_pattern)
                {
                    // Refused here, before any transaction stages it.
                    let e = crate::messages::router::RouteError::WildcardSend { name: destination };
                    return self.fail(e, receipt);
                }
                self.rewrite_temp_queues(&mut frame.headers);
                let data = MessageData::from_send(frame.headers, frame.body);
                match transaction {
                    Some(tx) => self.stage(tx, TxOp::Publish { destination, data }, receipt, ctx),
                    None => self.publish(destination, data, permit, receipt, ctx),
                }
            }
            ClientCommand::Subscribe {
                destination,
                id,
                ack,
                prefetch,
                selector,
                durable,
                exclusive,
            } => self.subscribe(
                destination,
                id,
                (ack, prefetch, selector, exclusive),
                durable,
                receipt,
                ctx,
            ),
            ClientCommand::Unsubscribe { id, durable } => {
                self.unsubscribe(id, durable, receipt, ctx)
            }
            ClientCommand::Ack {
                target,
                transaction,
            } => self.settle(Settlement::Ack, target, transaction, receipt, permit, ctx),
            ClientCommand::Nack {
                target,
                transaction,
            } => self.settle(Settlement::Nack, target, transaction, receipt, permit, ctx),
            ClientCommand::Begin(tx) => self.begin(tx, receipt),
            ClientCommand::Commit(tx) => self.commit(tx, receipt, ctx),
            ClientCommand::Abort(tx) => self.abort(tx, receipt),
            ClientCommand::Disconnect => self.disconnect(receipt, ctx),
        }
    }

    /// DISCONNECT: its RECEIPT follows everything this session published and
    /// the release of what it held, so a client told "disconnected" can rely
    /// on its unacknowledged messages being back in their queues (the next
    /// consumer gets them at once). Subscriptions leave as UNSUBSCRIBE does:
    /// auto-ack deliveries already written count as consumed.
    fn disconnect(&mut self, receipt: Option<String>, ctx: &mut Ctx) {
        let dests: Vec<DestinationRef> = self
            .routes
            .values()
            .chain(self.stale_routes.values())
            .cloned()
            .collect();
        let subs: Vec<Sub> = self.subs.drain().map(|(_, sub)| sub).collect();
        for sub in &subs {
            self.conn.unsubscribed.do_send(Unsubscribed {
                subscription: sub.key,
            });
        }
        self.abort_all();
        let session = self.id;
        let conn = self.conn.clone();
        async move {
            if subs.iter().any(|sub| sub.ack == AckMode::Auto) {
                let _ = conn.drain.send(Drain).await;
            }
            for sub in subs {
                let key = ConsumerKey {
                    session,
                    subscription: sub.key,
                };
                let _ = sub.dest.unsubscribe(Unsubscribe { key }).await;
            }
            for d in dests {
                let _ = d.sync().await;
            }
        }
        .into_actor(self)
        .map(move |_, s, _| {
            // Its subscriptions are gone: the client id is free for the
            // client's next connection the moment the RECEIPT says so.
            s.client_id = None;
            s.conn.close.do_send(Close {
                receipt_id: receipt,
            })
        })
        .wait(ctx);
    }

    /// Releases subscriptions (their unacknowledged messages go back to their
    /// queues) and aborts open transactions.
    fn release(&mut self) {
        self.release_subscriptions();
        self.abort_all();
        self.release_temp_queues();
        // After the subscriptions' release is on its way to their queues,
        // so the client's next connection finds its durable queue free.
        self.client_id = None;
    }
}

#[cfg(feature = "fault-injection")]
impl Session {
    /// Test hook (see `crate::fault`): panics here for a session fault, or
    /// sends `Crash` to the named destination or transaction first. Returns
    /// whether the frame was consumed.
    fn inject_fault(&mut self, frame: &crate::protocol::Frame, ctx: &mut Ctx) -> bool {
        use crate::fault::{requested, Crash, Target};
        match requested(frame) {
            None => false,
            Some(Target::Session) => panic!("injected session fault"),
            Some(Target::Destination) => {
                let name = frame.header("destination").unwrap_or("").to_string();
                self.with_route(name, None, ctx, |_, d, _| d.crash());
                false
            }
            Some(Target::CommitJournaled) => {
                self.crash_after_journal = true;
                false
            }
            Some(Target::Transaction) => {
                if let Some(tx) = frame.header("transaction").and_then(|t| self.txs.get(t)) {
                    tx.do_send(Crash);
                }
                false
            }
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // A cached address keeps a destination actor alive after it retires.
        // Every half idle timeout the routes unused for a whole half become
        // stale and the stale ones are dropped, so no route outlives an idle
        // timeout without use, and a destination idle that long (the least
        // before it retires) has no session holding it.
        let half = Duration::from_millis(self.shared.settings.destinations.idle_timeout_ms / 2)
            .max(Duration::from_millis(5));
        ctx.run_interval(half, |s, _| {
            s.stale_routes = std::mem::take(&mut s.routes);
        });
    }
}

/// A failed session is restarted by its supervisor with its struct intact;
/// `restarting` then releases everything the session held (unacknowledged
/// queue messages go back to their queues, flagged redelivered; open
/// transactions are aborted; subscriptions leave their destinations) and tells
/// the client with an ERROR "session failed, please reconnect" before its
/// connection closes. Resuming silently would leave the client believing in
/// subscriptions that no longer exist.
impl actix::Supervised for Session {
    fn restarting(&mut self, _: &mut Context<Self>) {
        let who = self.id.to_string();
        // Every failure ends the session, whatever the budget says: the
        // restart only exists to release its state and tell the client.
        let _within_budget =
            self.failures
                .restarted(&self.shared.metrics, ActorKind::Session, &who);
        self.release();
        self.routes.clear();
        self.stale_routes.clear();
        if !self.failed {
            self.failed = true;
            self.conn.fail.do_send(Fail {
                message: "session failed, please reconnect".into(),
                detail: "an internal error ended this session; nothing it had acknowledged is lost, and unacknowledged messages will be redelivered".into(),
                receipt_id: None,
                reason: ErrorReason::SessionFailed,
            });
        }
    }
}

impl Failing for Session {
    fn record_failure(&mut self, cause: String) {
        self.failures.record(cause);
    }
}

impl Handler<ClientFrame> for Session {
    type Result = ();

    fn handle(&mut self, msg: ClientFrame, ctx: &mut Self::Context) {
        if self.failed {
            return;
        }
        crate::supervision::guarded(self, ctx, move |s, ctx| {
            #[cfg(feature = "fault-injection")]
            if s.inject_fault(&msg.frame, ctx) {
                return;
            }
            let receipt = msg.frame.header("receipt").map(str::to_string);
            match ClientCommand::parse(msg.frame, s.version) {
                Ok(cmd) => s.handle_command(cmd, msg.permit, receipt, ctx),
                Err(e) => s.fail(e, receipt),
            }
        });
    }
}

impl Handler<ConnectionLost> for Session {
    type Result = ();

    fn handle(&mut self, _: ConnectionLost, ctx: &mut Self::Context) {
        if !self.subs.values().any(|s| s.ack == AckMode::Auto) {
            self.release();
            ctx.stop();
            return;
        }
        // As for UNSUBSCRIBE: what the writer still puts on the socket is
        // consumed, so its settlements must reach the queues before we leave.
        let conn = self.conn.clone();
        async move {
            let _ = conn.drain.send(Drain).await;
        }
        .into_actor(self)
        .map(|_, s, ctx| {
            s.release();
            ctx.stop();
        })
        .wait(ctx);
    }
}
