//! A queue in cluster mode: its messages live in a JetStream work-queue stream that every
//! node shares (src/cluster/queue.rs), not in this node's memory or journal. The delivery
//! strategy keeps only what this node's subscriptions hold.
//!
//! Why a strategy of its own and not a [`Backlog`](super::Backlog) behind `QueueDelivery`: a
//! backlog (and the `Store` seam under it) is a local list the queue owns and orders; here the
//! waiting messages are remote and shared, a node sees one only once JetStream hands it over,
//! and who holds a message, its delivery count and its redelivery delay are the server's. What
//! stays the same is the actor around it: windows, ACK/NACK routing, replies, and the
//! durability machinery, whose [`Completion`](crate::store::Completion)s here resolve on
//! JetStream's confirmations.
//!
//! - SEND: appended to the step's batch; `flush` publishes it, and the RECEIPT (and the
//!   publisher's in-flight permit) waits for the PubAck. NATS down: refused with ERROR at once.
//! - Pull: when this node's subscriptions have room, one pull at a time of at most their free
//!   windows (and `cluster.max_pull_batch`); a message nobody can take any more is NAKed back.
//! - ACK (cumulative `client` too: one ack per covered message) and auto-mode settles: acks,
//!   confirmed by the server before an ACK's RECEIPT. NACK: NAK with this queue's redelivery
//!   delay. A message delivered `max_deliveries` times and NACKed, or pulled again past that
//!   count, goes to the dead-letter queue and is terminated in the stream.
//! - A subscription that ends, or whose connection went, releases what it held at once (NAK).
//! - Progress acks for what is held, every third of the ack wait, so a slow client keeps its
//!   messages; a node that dies stops sending them, and the ack wait gives them to another.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;

use super::actor::Destination;
use super::backlog::{Flushed, Pending};
use super::consumer::Consumer;
use super::core::Core;
use super::delivery::{Delivery, Refused};
use crate::cluster::{self, AckKind, JetStreamMessage, QueueLink};
use crate::messages::connection::Fail;
use crate::messages::destination::AckError;
use crate::model::{ConsumerKey, ConsumerView, Envelope, Kind, MessageData, NackMode};
use crate::store::Completion;
use crate::supervision::guarded;

/// How soon a failed pull is tried again.
const PULL_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// A queue served from JetStream.
pub type ClusterQueue = Destination<JetStreamDelivery>;

/// What one pull brought. Sent by the pull task with `do_send`, one per pull, and a queue
/// has at most one pull in flight, so its mailbox holds at most one.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Pulled(pub cluster::Pulled);

/// The cluster-mode queue strategy.
#[derive(Default)]
pub struct JetStreamDelivery {
    link: Option<QueueLink>,
    pulled: Option<Recipient<Pulled>>,
    max_batch: usize,
    consumers: Vec<Consumer>,
    next: usize,
    /// What this node's consumers hold, by the local message id they were given.
    held: HashMap<u64, JetStreamMessage>,
    pulling: bool,
    /// Published this step, not yet handed to JetStream.
    publishes: Vec<(u64, Bytes)>,
    /// Acknowledged this step, not yet sent.
    acks: Vec<JetStreamMessage>,
    /// Whether NATS is reachable (a publish is refused at once while it is not).
    connected: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// How often what is held gets a progress ack: a third of the ack wait.
    progress_every: Option<std::time::Duration>,
}

impl ClusterQueue {
    /// Links the queue to its stream and starts its progress timer; called as the actor starts
    /// (`ctx` is its context), before it handles anything.
    pub fn attach(&mut self, ctx: &mut Context<Self>) {
        let Some(backplane) = self.core.policy.backplane.clone() else {
            return;
        };
        self.strategy.link = backplane.queue(&self.core.name);
        self.strategy.pulled = Some(ctx.address().recipient());
        self.strategy.max_batch = backplane.max_pull_batch;
        self.strategy.connected = Some(backplane.connected());
        // Progress acks (`Delivery::tick`), re-armed by `started` after a restart too.
        self.strategy.progress_every =
            Some((backplane.ack_wait / 3).max(std::time::Duration::from_millis(100)));
    }
}

impl Handler<Pulled> for ClusterQueue {
    type Result = ();

    fn handle(&mut self, msg: Pulled, ctx: &mut Self::Context) {
        guarded(self, ctx, |this, ctx| {
            this.strategy.pulling = false;
            match msg.0 {
                Ok(messages) if this.retired => {
                    // Retired meanwhile: give them straight back for whoever serves the queue now.
                    if let Some(link) = &this.strategy.link {
                        link.signal(messages, AckKind::Nak(None));
                    }
                }
                Ok(messages) => this.run(ctx, |s, core| {
                    s.take(core, messages);
                    s.dispatch(core);
                }),
                Err(e) => {
                    tracing::debug!(destination = %this.core.name, error = %e, "JetStream pull failed");
                    // Tried again shortly, not in a tight loop while NATS is away.
                    ctx.run_later(PULL_RETRY, |d, ctx| d.run(ctx, |s, core| s.dispatch(core)));
                }
            }
        });
    }
}

/// Resolves when both resolve, with the first error.
fn join(a: Completion, b: Completion) -> Completion {
    let (tx, done) = Completion::pending();
    actix_rt::spawn(async move {
        let (x, y) = futures_util::future::join(a, b).await;
        let _ = tx.send(x.and(y));
    });
    done
}

impl JetStreamDelivery {
    fn consumer(&mut self, key: ConsumerKey) -> Option<&mut Consumer> {
        self.consumers.iter_mut().find(|c| c.key == key)
    }

    /// Free room in this node's windows, in messages.
    fn room(&self) -> usize {
        self.consumers
            .iter()
            .filter(|c| c.has_room())
            .map(|c| (c.prefetch as usize).saturating_sub(c.unsettled()).max(1))
            .sum()
    }

    /// Hands pulled messages to consumers with room, round-robin; dead-letters those past
    /// the delivery limit; NAKs back what nobody here can take any more.
    fn take(&mut self, core: &mut Core, messages: Vec<JetStreamMessage>) {
        let mut back = Vec::new();
        let mut terminated = Vec::new();
        for m in messages {
            let delivered = m
                .info()
                .map(|i| u32::try_from(i.delivered).unwrap_or(u32::MAX))
                .unwrap_or(1);
            let Ok((headers, body)) = cluster::decode(m.payload.clone()) else {
                tracing::error!(destination = %core.name, "undecodable message in the JetStream stream; terminated");
                terminated.push(m);
                continue;
            };
            let mut env = Envelope::new(MessageData::from_remote(headers, body));
            env.deliveries = delivered.saturating_sub(1);
            if env.deliveries >= core.redelivery.max_deliveries && core.has_dead_letter_queue() {
                // Held past its ack wait too often (nodes died holding it): dead-lettered.
                core.dead_letter(&env, "delivery-limit");
                terminated.push(m);
                continue;
            }
            let n = self.consumers.len();
            let pick = (0..n)
                .map(|i| (self.next + i) % n)
                .find(|&i| self.consumers[i].has_room() && self.consumers[i].accepts(&env.data));
            let Some(i) = pick else {
                back.push(m);
                continue;
            };
            self.next = (i + 1) % n.max(1);
            let id = env.data.id;
            core.delivering(&env);
            // Auto-mode deliveries too are held until written (Settle), then acked.
            self.consumers[i].deliver(env);
            self.held.insert(id, m);
        }
        if let Some(link) = &self.link {
            link.signal(back, AckKind::Nak(None));
            link.signal(terminated, AckKind::Term);
        }
    }

    /// Acks (at the next flush) the held messages of `done`.
    fn acked(&mut self, core: &mut Core, done: Vec<Envelope>) {
        core.m.unacked.sub(done.len() as i64);
        core.m.acked.inc_by(done.len() as u64);
        for env in done {
            if let Some(m) = self.held.remove(&env.data.id) {
                self.acks.push(m);
            }
        }
    }

    /// Gives `envs` back to JetStream: NAK with `delay`, or (past the delivery limit, or under
    /// the dead-letter NACK mode) to the dead-letter queue and terminated.
    fn give_back(&mut self, core: &mut Core, envs: Vec<Envelope>, nacked: bool) {
        core.m.unacked.sub(envs.len() as i64);
        let Some(link) = self.link.clone() else {
            return;
        };
        for env in envs {
            let Some(m) = self.held.remove(&env.data.id) else {
                continue;
            };
            let poison = nacked
                && (core.redelivery.nack == NackMode::DeadLetter
                    || env.deliveries >= core.redelivery.max_deliveries);
            if poison && core.dead_letter(&env, "delivery-limit") {
                link.signal(vec![m], AckKind::Term);
                continue;
            }
            let delay = if nacked {
                Some(core.redelivery.delay_after(env.deliveries)).filter(|d| !d.is_zero())
            } else {
                None
            };
            link.signal(vec![m], AckKind::Nak(delay));
        }
    }
}

impl Delivery for JetStreamDelivery {
    const KIND: Kind = Kind::Queue;

    fn new(_: &Core) -> Self {
        JetStreamDelivery::default()
    }

    fn publish(
        &mut self,
        core: &mut Core,
        messages: Vec<Arc<MessageData>>,
        from_client: bool,
    ) -> Result<(), Refused> {
        let up = self
            .connected
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Acquire));
        if self.link.is_none() || (from_client && !up) {
            return Err(Refused::Store(
                "the cluster's message store (NATS JetStream) is unreachable; message not taken"
                    .into(),
            ));
        }
        for data in messages {
            core.m.published.inc();
            core.m.published_bytes.inc_by(data.size() as u64);
            self.publishes.push((data.id, cluster::encode(&data)));
        }
        Ok(())
    }

    fn must_pause(&self, _: &Core) -> bool {
        false
    }

    fn dispatch(&mut self, _: &mut Core) {
        if self.pulling {
            return;
        }
        let room = self.room().min(self.max_batch.max(1));
        let (Some(link), Some(to)) = (&self.link, &self.pulled) else {
            return;
        };
        if room == 0 {
            return;
        }
        self.pulling = true;
        let to = to.clone();
        link.pull(room, move |r| to.do_send(Pulled(r)));
    }

    fn refill(&mut self, core: &mut Core, _: ConsumerKey) {
        self.dispatch(core);
    }

    fn contains(&self, key: ConsumerKey) -> bool {
        self.consumers.iter().any(|c| c.key == key)
    }

    fn subscribe(&mut self, core: &mut Core, consumer: Consumer) {
        self.consumers.push(consumer);
        core.m.consumers.inc();
    }

    fn unsubscribe(&mut self, core: &mut Core, key: ConsumerKey) {
        if let Some(pos) = self.consumers.iter().position(|c| c.key == key) {
            let mut c = self.consumers.remove(pos);
            core.m.consumers.dec();
            let held: Vec<Envelope> = c.take_all().into();
            self.give_back(core, held, false);
            if self.next >= self.consumers.len() {
                self.next = 0;
            }
        }
    }

    fn reap(&mut self, core: &mut Core) {
        let gone: Vec<ConsumerKey> = self
            .consumers
            .iter()
            .filter(|c| !c.is_connected())
            .map(|c| c.key)
            .collect();
        for key in gone {
            self.unsubscribe(core, key);
        }
    }

    fn settle(&mut self, core: &mut Core, key: ConsumerKey, count: u32) {
        let Some(c) = self.consumer(key) else {
            return;
        };
        let done = c.settle(count);
        self.acked(core, done);
    }

    fn ack(
        &mut self,
        core: &mut Core,
        key: ConsumerKey,
        message_id: u64,
        cumulative: bool,
    ) -> Result<(), AckError> {
        core.touch();
        let c = self.consumer(key).ok_or(AckError::NoSubscription)?;
        let done = c.take_acked(message_id, cumulative)?;
        self.acked(core, done);
        Ok(())
    }

    fn nack(
        &mut self,
        core: &mut Core,
        key: ConsumerKey,
        message_id: u64,
        cumulative: bool,
    ) -> Result<(), AckError> {
        core.touch();
        let c = self.consumer(key).ok_or(AckError::NoSubscription)?;
        let envs = c.take_acked(message_id, cumulative)?;
        core.m.nacked.inc_by(envs.len() as u64);
        self.give_back(core, envs, true);
        Ok(())
    }

    fn holder(&self, key: ConsumerKey) -> Option<&Consumer> {
        self.consumers.iter().find(|c| c.key == key)
    }

    fn is_idle(&self) -> bool {
        self.consumers.is_empty() && self.held.is_empty() && !self.pulling
    }

    fn tick_every(&self) -> Option<std::time::Duration> {
        self.progress_every
    }

    /// Progress acks for everything held, so JetStream's ack wait does not
    /// hand a message a slow client still holds to another node.
    fn tick(&mut self) {
        if let (Some(link), false) = (&self.link, self.held.is_empty()) {
            link.signal(self.held.values().cloned().collect(), AckKind::Progress);
        }
    }

    fn flush(&mut self) -> Flushed {
        let Some(link) = &self.link else {
            return Flushed::Nothing;
        };
        let publish =
            (!self.publishes.is_empty()).then(|| link.publish(std::mem::take(&mut self.publishes)));
        let ack = (!self.acks.is_empty()).then(|| link.ack(std::mem::take(&mut self.acks)));
        match (publish, ack) {
            (None, None) => Flushed::Nothing,
            (Some(c), None) | (None, Some(c)) => Flushed::Submitted(c),
            (Some(a), Some(b)) => Flushed::Submitted(join(a, b)),
        }
    }

    fn pending(&self) -> Pending {
        if !self.publishes.is_empty() {
            Pending::Changes
        } else if !self.acks.is_empty() {
            Pending::Acks
        } else {
            Pending::Nothing
        }
    }

    fn depth(&self) -> usize {
        // What waits is in the shared stream, not here.
        0
    }

    fn unacknowledged(&self) -> usize {
        self.held.len()
    }

    fn consumers(&self, max: usize) -> (usize, Vec<ConsumerView>) {
        let list = self.consumers.iter().take(max).map(|c| c.view()).collect();
        (self.consumers.len(), list)
    }

    fn purge(&mut self, _: &mut Core) -> usize {
        // The stream is shared by every node; purging it is an operator's NATS command.
        0
    }

    fn evict(&mut self, core: &mut Core, notice: &dyn Fn() -> Fail) -> usize {
        let keys: Vec<ConsumerKey> = self.consumers.iter().map(|c| c.key).collect();
        for c in &self.consumers {
            c.fail(notice());
        }
        for key in keys {
            self.unsubscribe(core, key);
        }
        0
    }

    fn quarantine(&mut self, core: &mut Core) -> bool {
        let keys: Vec<ConsumerKey> = self.consumers.iter().map(|c| c.key).collect();
        for key in keys {
            self.unsubscribe(core, key);
        }
        true
    }
}
