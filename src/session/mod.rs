//! `Session`: the STOMP state of one connected client — subscriptions,
//! transactions, and where its frames go. Supervised: its state lives in the
//! struct, and it talks to its connection only by messages.
//!
//! Frames are handled strictly in order. A frame whose effect needs a reply
//! (a lookup, a subscription, a receipt) blocks the session's mailbox with
//! `ctx.wait` until done, so a RECEIPT always follows the effect it confirms.

mod command;

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::OwnedSemaphorePermit;

pub use command::{AckTarget, ClientCommand, CommandError};

use crate::messages::connection::{
    Close, ConnectionHandle, Drain, Fail, Reply, Subscribed, Unsubscribed,
};
use crate::messages::destination::{
    Ack, AckError, DestinationRef, Nack, Origin, Publish, Replies, Subscribe, SubscribeError,
    Unsubscribe,
};
use crate::messages::router::{Resolve, RouteError};
pub use crate::messages::session::{ClientFrame, ConnectionLost};
use crate::messages::transaction::{Abort, AckCandidate, Commit, Stage, TxOp};
use crate::model::{AckMode, ConsumerKey, MessageData};
use crate::protocol::{receipt_frame, ErrorReason, Frame, Version};
use crate::shared::Shared;
use crate::transaction::Transaction;

struct Sub {
    key: u64,
    dest: DestinationRef,
    ack: AckMode,
}

/// One connected client's STOMP state.
pub struct Session {
    id: u64,
    version: Version,
    conn: ConnectionHandle,
    shared: Arc<Shared>,
    subs: HashMap<String, Sub>,
    next_key: u64,
    routes: HashMap<String, DestinationRef>,
    txs: HashMap<String, Addr<Transaction>>,
    failed: bool,
    failure: Option<String>,
    replies: Arc<Replies>,
}

type Ctx = Context<Session>;

impl Session {
    /// A session for connection `id`, speaking `version`.
    pub fn new(id: u64, version: Version, conn: ConnectionHandle, shared: Arc<Shared>) -> Self {
        Session {
            id,
            version,
            shared,
            subs: HashMap::new(),
            next_key: 1,
            routes: HashMap::new(),
            txs: HashMap::new(),
            failed: false,
            failure: None,
            replies: Arc::new(Replies {
                receipted: conn.receipted.clone(),
                fail: conn.fail.clone(),
            }),
            conn,
        }
    }

    fn key(&self, subscription: u64) -> ConsumerKey {
        ConsumerKey {
            session: self.id,
            subscription,
        }
    }

    fn fail(&mut self, message: String, receipt: Option<String>, reason: ErrorReason) {
        if self.failed {
            return;
        }
        self.failed = true;
        // The spec wants the ERROR body to explain; the message is that explanation.
        let detail = format!("{message}; the broker closes the connection after this ERROR");
        self.conn.fail.do_send(Fail {
            message,
            detail,
            receipt_id: receipt,
            reason,
        });
    }

    fn receipt(&self, receipt: Option<String>) {
        if let Some(r) = receipt {
            self.conn.reply.do_send(Reply(receipt_frame(r)));
        }
    }

    /// Runs `then` with the destination called `name`, looking it up first if
    /// this session has not used it yet (blocking later frames meanwhile).
    fn with_route(
        &mut self,
        name: String,
        receipt: Option<String>,
        ctx: &mut Ctx,
        then: impl FnOnce(&mut Session, DestinationRef, &mut Ctx) + 'static,
    ) {
        if let Some(d) = self.routes.get(&name) {
            let d = d.clone();
            then(self, d, ctx);
            return;
        }
        let router = self.shared.router.clone();
        let key = name.clone();
        async move { router.send(Resolve { name }).await }
            .into_actor(self)
            .map(move |res, s, ctx| match res {
                Ok(Ok(d)) => {
                    s.routes.insert(key, d.clone());
                    then(s, d, ctx);
                }
                Ok(Err(e)) => s.fail(e.to_string(), receipt, ErrorReason::Destination),
                Err(_) => s.fail("broker is stopping".into(), receipt, ErrorReason::Internal),
            })
            .wait(ctx);
    }

    fn handle_command(
        &mut self,
        cmd: ClientCommand,
        permit: OwnedSemaphorePermit,
        receipt: Option<String>,
        ctx: &mut Ctx,
    ) {
        match cmd {
            ClientCommand::Send {
                destination,
                transaction,
                frame,
            } => {
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
            } => self.subscribe(destination, id, ack, prefetch, receipt, ctx),
            ClientCommand::Unsubscribe { id } => self.unsubscribe(id, receipt, ctx),
            ClientCommand::Ack {
                target,
                transaction,
            } => self.settle(target, transaction, true, (receipt, permit), ctx),
            ClientCommand::Nack {
                target,
                transaction,
            } => self.settle(target, transaction, false, (receipt, permit), ctx),
            ClientCommand::Begin(tx) => self.begin(tx, receipt),
            ClientCommand::Commit(tx) => self.commit(tx, receipt, ctx),
            ClientCommand::Abort(tx) => self.abort(tx, receipt),
            ClientCommand::Disconnect => self.disconnect(receipt, ctx),
        }
    }

    fn publish(
        &mut self,
        destination: String,
        data: Arc<MessageData>,
        permit: OwnedSemaphorePermit,
        receipt: Option<String>,
        ctx: &mut Ctx,
    ) {
        self.with_route(destination, receipt.clone(), ctx, move |s, dest, ctx| {
            // The destination sends the RECEIPT (or, if it refuses the
            // message, the ERROR) itself, once the message is taken.
            dest.publish(Publish {
                messages: vec![data],
                permit: Some(permit),
                origin: Some(Origin {
                    receipt,
                    replies: s.replies.clone(),
                }),
            });
            let _ = ctx;
        });
    }

    /// Waits until each destination has handled everything sent before, then runs `then`.
    fn sync_then(
        &mut self,
        dests: Vec<DestinationRef>,
        ctx: &mut Ctx,
        then: impl FnOnce(&mut Session, &mut Ctx) + 'static,
    ) {
        async move {
            for d in dests {
                let _ = d.sync().await;
            }
        }
        .into_actor(self)
        .map(move |_, s, ctx| then(s, ctx))
        .wait(ctx);
    }

    fn subscribe(
        &mut self,
        destination: String,
        id: String,
        ack: AckMode,
        prefetch: Option<u32>,
        receipt: Option<String>,
        ctx: &mut Ctx,
    ) {
        if self.subs.contains_key(&id) {
            return self.fail(
                format!("subscription id '{id}' is already in use"),
                receipt,
                ErrorReason::Subscription,
            );
        }
        let max = self.shared.settings.limits.max_subscriptions;
        if self.subs.len() >= max {
            return self.fail(
                format!("too many subscriptions (limit {max})"),
                receipt,
                ErrorReason::Limit,
            );
        }
        let d = &self.shared.settings.destinations;
        let prefetch = prefetch.unwrap_or(d.default_prefetch).min(d.max_prefetch);
        // A quarter of the connection's outbound bound per subscription: a
        // slow reader gets fewer messages instead of being disconnected.
        let window_bytes = (self.shared.settings.limits.max_outbound_bytes / 4).max(1);
        let sub_key = self.next_key;
        self.next_key += 1;
        let key = self.key(sub_key);
        let router = self.shared.router.clone();
        let conn = self.conn.clone();
        let deliver = self.conn.deliver.clone();
        let receipted = self.conn.receipted.clone();
        let fail = self.replies.fail.clone();
        let receipt_for_dest = receipt.clone();
        let sub_id = id.clone();
        async move {
            // A destination can retire between lookup and subscribe; look again.
            for _ in 0..8 {
                let dest = match router
                    .send(Resolve {
                        name: destination.clone(),
                    })
                    .await
                {
                    Ok(Ok(d)) => d,
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("broker is stopping".into()),
                };
                conn.subscribed.do_send(Subscribed {
                    subscription: sub_key,
                    id: sub_id.clone(),
                    ack,
                    settle: dest.settle_recipient(),
                });
                let req = Subscribe {
                    key,
                    ack,
                    prefetch,
                    window_bytes,
                    deliver: deliver.clone(),
                    fail: fail.clone(),
                    receipt: receipt_for_dest.clone().map(|r| (receipted.clone(), r)),
                };
                match dest.subscribe(req).await {
                    Ok(Ok(())) => return Ok(dest),
                    Ok(Err(SubscribeError::Retired)) => continue,
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("destination unavailable".into()),
                }
            }
            Err("destination is being recreated; try again".into())
        }
        .into_actor(self)
        .map(move |res: Result<DestinationRef, String>, s, _| match res {
            Ok(dest) => {
                s.subs.insert(
                    id,
                    Sub {
                        key: sub_key,
                        dest,
                        ack,
                    },
                );
                // The destination already sent the RECEIPT, ahead of deliveries.
            }
            Err(e) => {
                s.conn.unsubscribed.do_send(Unsubscribed {
                    subscription: sub_key,
                });
                s.fail(e, receipt, ErrorReason::Subscription);
            }
        })
        .wait(ctx);
    }

    fn unsubscribe(&mut self, id: String, receipt: Option<String>, ctx: &mut Ctx) {
        let Some(sub) = self.subs.remove(&id) else {
            return self.fail(
                format!("no subscription with id '{id}'"),
                receipt,
                ErrorReason::Subscription,
            );
        };
        self.conn.unsubscribed.do_send(Unsubscribed {
            subscription: sub.key,
        });
        let key = self.key(sub.key);
        let conn = self.conn.clone();
        async move {
            if sub.ack == AckMode::Auto {
                // Auto-ack deliveries count as consumed once written: let the
                // writer report what it wrote before the queue takes back the rest.
                let _ = conn.drain.send(Drain).await;
            }
            sub.dest.unsubscribe(Unsubscribe { key }).await
        }
        .into_actor(self)
        .map(move |_, s, _| s.receipt(receipt))
        .wait(ctx);
    }

    /// Finds the subscription and message an ACK/NACK names.
    fn ack_candidates(&self, target: &AckTarget) -> Result<(Vec<AckCandidate>, u64), String> {
        let parse_id = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("unknown message id '{s}'"))
        };
        let entry = |sub: &Sub| AckCandidate {
            dest: sub.dest.clone(),
            key: self.key(sub.key),
            cumulative: sub.ack == AckMode::Client,
        };
        match target {
            AckTarget::AckId(v) => {
                let (sub, msg) = v
                    .split_once(':')
                    .ok_or_else(|| format!("unknown ack id '{v}'"))?;
                let sub_key = parse_id(sub).map_err(|_| format!("unknown ack id '{v}'"))?;
                let msg = parse_id(msg).map_err(|_| format!("unknown ack id '{v}'"))?;
                let sub = self
                    .subs
                    .values()
                    .find(|s| s.key == sub_key)
                    .ok_or_else(|| format!("ack id '{v}' names no active subscription"))?;
                Ok((vec![entry(sub)], msg))
            }
            AckTarget::MessageOnSubscription {
                message_id,
                subscription,
            } => {
                let sub = self
                    .subs
                    .get(subscription)
                    .ok_or_else(|| format!("no subscription with id '{subscription}'"))?;
                Ok((vec![entry(sub)], parse_id(message_id)?))
            }
            AckTarget::Message(message_id) => {
                let subs = self
                    .subs
                    .values()
                    .filter(|s| s.ack != AckMode::Auto)
                    .map(entry)
                    .collect();
                Ok((subs, parse_id(message_id)?))
            }
        }
    }

    fn settle(
        &mut self,
        target: AckTarget,
        transaction: Option<String>,
        ack: bool,
        (receipt, permit): (Option<String>, OwnedSemaphorePermit),
        ctx: &mut Ctx,
    ) {
        let what = if ack { "ACK" } else { "NACK" };
        let (candidates, message_id) = match self.ack_candidates(&target) {
            Ok(c) => c,
            Err(e) => return self.fail(format!("{what} failed: {e}"), receipt, ErrorReason::Ack),
        };
        if let Some(tx) = transaction {
            if candidates.is_empty() {
                return self.fail(
                    format!("{what} failed: unknown message id '{message_id}'"),
                    receipt,
                    ErrorReason::Ack,
                );
            }
            let op = if ack {
                TxOp::Ack {
                    candidates,
                    message_id,
                }
            } else {
                TxOp::Nack {
                    candidates,
                    message_id,
                }
            };
            return self.stage(tx, op, receipt, ctx);
        }
        if candidates.len() == 1 {
            // The common case: fire and forget; the destination answers the
            // client itself, in order with the deliveries this makes room for.
            if let Some(AckCandidate {
                dest,
                key,
                cumulative,
            }) = candidates.into_iter().next()
            {
                let origin = Some(Origin {
                    receipt,
                    replies: self.replies.clone(),
                });
                let permit = Some(permit);
                if ack {
                    dest.ack(Ack {
                        key,
                        message_id,
                        cumulative,
                        origin,
                        permit,
                    });
                } else {
                    dest.nack(Nack {
                        key,
                        message_id,
                        cumulative,
                        origin,
                        permit,
                    });
                }
            }
            return;
        }
        // 1.0 names only the message: try each client-ack subscription in turn.
        settle_first(candidates, message_id, ack)
            .into_actor(self)
            .map(move |res, s, _| match res {
                Ok(()) => s.receipt(receipt),
                Err(e) => s.fail(format!("{what} failed: {e}"), receipt, ErrorReason::Ack),
            })
            .wait(ctx);
    }

    fn begin(&mut self, tx: String, receipt: Option<String>) {
        if self.txs.contains_key(&tx) {
            return self.fail(
                format!("transaction '{tx}' is already open"),
                receipt,
                ErrorReason::Transaction,
            );
        }
        let limits = &self.shared.settings.transactions;
        if self.txs.len() >= limits.max_per_connection {
            let max = limits.max_per_connection;
            return self.fail(
                format!("too many open transactions (limit {max})"),
                receipt,
                ErrorReason::Limit,
            );
        }
        let max_frames = limits.max_frames;
        let metrics = self.shared.metrics.clone();
        let addr = Supervisor::start(move |_| Transaction::new(max_frames).with_metrics(metrics));
        self.txs.insert(tx, addr);
        self.shared
            .metrics
            .transactions
            .with_label_values(&["begun"])
            .inc();
        self.receipt(receipt);
    }

    fn stage(&mut self, tx: String, op: TxOp, receipt: Option<String>, ctx: &mut Ctx) {
        let Some(addr) = self.txs.get(&tx).cloned() else {
            return self.fail(
                format!("unknown transaction '{tx}'"),
                receipt,
                ErrorReason::Transaction,
            );
        };
        async move { addr.send(Stage(op)).await }
            .into_actor(self)
            .map(move |res, s, _| match res {
                Ok(Ok(())) => s.receipt(receipt),
                Ok(Err(e)) => s.fail(e.to_string(), receipt, ErrorReason::Limit),
                Err(_) => s.fail(
                    format!("transaction '{tx}' failed"),
                    receipt,
                    ErrorReason::Internal,
                ),
            })
            .wait(ctx);
    }

    fn commit(&mut self, tx: String, receipt: Option<String>, ctx: &mut Ctx) {
        let Some(addr) = self.txs.remove(&tx) else {
            return self.fail(
                format!("unknown transaction '{tx}'"),
                receipt,
                ErrorReason::Transaction,
            );
        };
        self.shared
            .metrics
            .transactions
            .with_label_values(&["committed"])
            .inc();
        let router = self.shared.router.clone();
        let replies = self.replies.clone();
        let mut known = self.routes.clone();
        async move {
            let ops = addr
                .send(Commit)
                .await
                .map_err(|_| format!("transaction '{tx}' failed"))?;
            // Group publishes per destination, in order, so each destination
            // takes one COMMIT's messages contiguously.
            let mut batches: Vec<(String, Vec<Arc<MessageData>>)> = Vec::new();
            let mut settles = Vec::new();
            for op in ops {
                match op {
                    TxOp::Publish { destination, data } => {
                        match batches.iter_mut().find(|(d, _)| *d == destination) {
                            Some((_, v)) => v.push(data),
                            None => batches.push((destination, vec![data])),
                        }
                    }
                    other => settles.push(other),
                }
            }
            let mut touched = Vec::new();
            for (name, messages) in batches {
                let dest = match known.get(&name) {
                    Some(d) => d.clone(),
                    None => {
                        let d = router
                            .send(Resolve { name: name.clone() })
                            .await
                            .map_err(|_| "broker is stopping".to_string())?
                            .map_err(|e: RouteError| e.to_string())?;
                        known.insert(name, d.clone());
                        d
                    }
                };
                dest.publish(Publish {
                    messages,
                    permit: None,
                    origin: Some(Origin {
                        receipt: None,
                        replies: replies.clone(),
                    }),
                });
                touched.push(dest);
            }
            let mut first_error = None;
            for op in settles {
                let (candidates, message_id, ack) = match op {
                    TxOp::Ack {
                        candidates,
                        message_id,
                    } => (candidates, message_id, true),
                    TxOp::Nack {
                        candidates,
                        message_id,
                    } => (candidates, message_id, false),
                    TxOp::Publish { .. } => continue,
                };
                let res = settle_first(candidates, message_id, ack).await;
                if let Err(e) = res {
                    first_error.get_or_insert(e.to_string());
                }
            }
            for d in &touched {
                let _ = d.sync().await;
            }
            match first_error {
                Some(e) => Err(format!(
                    "COMMIT applied, but an acknowledgement failed: {e}"
                )),
                None => Ok(known),
            }
        }
        .into_actor(self)
        .map(move |res, s, _| match res {
            Ok(routes) => {
                s.routes = routes;
                s.receipt(receipt);
            }
            Err(e) => s.fail(e, receipt, ErrorReason::Transaction),
        })
        .wait(ctx);
    }

    fn abort(&mut self, tx: String, receipt: Option<String>) {
        let Some(addr) = self.txs.remove(&tx) else {
            return self.fail(
                format!("unknown transaction '{tx}'"),
                receipt,
                ErrorReason::Transaction,
            );
        };
        addr.do_send(Abort);
        self.shared
            .metrics
            .transactions
            .with_label_values(&["aborted"])
            .inc();
        self.receipt(receipt);
    }

    fn disconnect(&mut self, receipt: Option<String>, ctx: &mut Ctx) {
        let dests = self.routes.values().cloned().collect();
        self.sync_then(dests, ctx, move |s, _| {
            s.conn.close.do_send(Close {
                receipt_id: receipt,
            });
        });
    }

    /// Releases subscriptions (their unacknowledged messages go back to their
    /// queues) and aborts open transactions.
    fn release(&mut self) {
        for (_, sub) in self.subs.drain() {
            let key = ConsumerKey {
                session: self.id,
                subscription: sub.key,
            };
            sub.dest.unsubscribe_now(Unsubscribe { key });
        }
        for (_, tx) in self.txs.drain() {
            tx.do_send(Abort);
            self.shared
                .metrics
                .transactions
                .with_label_values(&["aborted"])
                .inc();
        }
    }
}

#[cfg(feature = "fault-injection")]
impl Session {
    /// Test hook (see `crate::fault`): panics here for a session fault, or
    /// sends `Crash` to the named destination or transaction first. Returns
    /// whether the frame was consumed.
    fn inject_fault(&mut self, frame: &Frame, ctx: &mut Ctx) -> bool {
        use crate::fault::{requested, Crash, Target};
        match requested(frame) {
            None => false,
            Some(Target::Session) => panic!("injected session fault"),
            Some(Target::Destination) => {
                let name = frame.header("destination").unwrap_or("").to_string();
                self.with_route(name, None, ctx, |_, d, _| d.crash());
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

/// ACKs (or NACKs) `message_id` on the first of `candidates` that holds it:
/// a 1.0 ACK names only the message, so each client-ack subscription is tried.
async fn settle_first(
    candidates: Vec<AckCandidate>,
    message_id: u64,
    ack: bool,
) -> Result<(), AckError> {
    let mut last = Err(AckError::Unknown(message_id));
    for AckCandidate {
        dest,
        key,
        cumulative,
    } in candidates
    {
        let reply = if ack {
            dest.request_ack(Ack {
                key,
                message_id,
                cumulative,
                origin: None,
                permit: None,
            })
            .await
        } else {
            dest.request_nack(Nack {
                key,
                message_id,
                cumulative,
                origin: None,
                permit: None,
            })
            .await
        };
        last = reply.unwrap_or(Err(AckError::NoSubscription));
        if last.is_ok() {
            break;
        }
    }
    last
}

impl Actor for Session {
    type Context = Context<Self>;
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
        let cause = self.failure.take().unwrap_or_else(|| "stopped".into());
        self.shared
            .metrics
            .actor_restarts
            .with_label_values(&["session"])
            .inc();
        tracing::warn!(session = self.id, cause = %cause, "session failed; restarted to release its state");
        self.release();
        self.routes.clear();
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

impl crate::supervision::Failing for Session {
    fn record_failure(&mut self, cause: String) {
        self.failure = Some(cause);
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
                Err(e) => s.fail(e.to_string(), receipt, ErrorReason::Malformed),
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
