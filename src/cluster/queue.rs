//! A queue on JetStream: one work-queue stream per STOMP queue
//! (`<prefix>_Q_<escaped name>`, subject `<prefix>.queue.<escaped name>`), `replicas` copies,
//! and one durable pull consumer (`stompede`) shared by every node, with explicit
//! acknowledgement (a work-queue stream refuses any other: error 10098) and no delivery limit
//! on the server: stompede reads the delivery count from each message's metadata and moves a
//! message past `max_deliveries` to the dead-letter queue itself, then terminates it, so it
//! never stays stuck in the stream (nats-server#5564).
//!
//! [`QueueLink`] is what a queue actor holds: every call returns at once and runs its NATS
//! round trip as a task on the actor's arbiter; confirmations come back as a
//! [`Completion`] (resolved by the JetStream PubAck or ack confirmation) or through a callback.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer, AckKind};
use bytes::Bytes;
use futures_util::StreamExt;

use super::{escape, Backplane};
use crate::store::{Completion, StoreError};

/// The durable consumer every node pulls from.
const DURABLE: &str = "stompede";

/// Attempts at creating a stream and its consumer, and at a publish the stream is not ready for.
const SETUP_TRIES: usize = 25;

/// Pause between those attempts.
const RETRY: Duration = Duration::from_millis(200);

/// Attempts at a publish the stream cannot take yet: a replicated stream whose leader died
/// elects a new one within seconds (up to ~10 s seen on a loaded machine); a publisher waits
/// that long for its RECEIPT rather than getting an ERROR.
const PUBLISH_TRIES: usize = 75;

/// How long a pull waits for a first message when the queue is empty. Short, because a
/// message NAKed back while a pull waits is not always handed to that pull: this bounds how
/// late such a redelivery can be.
const LONG_POLL: Duration = Duration::from_secs(1);

/// One STOMP queue's stream and consumer, as one node uses them.
#[derive(Clone)]
pub struct QueueLink {
    js: jetstream::Context,
    subject: String,
    /// Creating (or finding) the stream and the consumer; every operation waits for it.
    setup: Arc<Setup>,
    /// This node and process: with a local message id, the `Nats-Msg-Id` JetStream
    /// deduplicates on, so a publish retried after a lost PubAck is stored once.
    msg_id_prefix: String,
}

/// The stream and consumer a queue needs, made once they can be (a failed attempt is made
/// again by the next operation, so a NATS outage at the first use does not stick).
struct Setup {
    stream: jetstream::stream::Config,
    consumer: jetstream::consumer::pull::Config,
    made: tokio::sync::OnceCell<PullConsumer>,
}

impl Setup {
    async fn get(&self, js: &jetstream::Context) -> Result<PullConsumer, String> {
        self.made
            .get_or_try_init(|| async {
                // A new replicated stream takes a moment to elect its leader; retried meanwhile.
                let mut last = String::new();
                for _ in 0..SETUP_TRIES {
                    let made = async {
                        let stream = js
                            .get_or_create_stream(self.stream.clone())
                            .await
                            .map_err(|e| format!("stream: {e}"))?;
                        stream
                            .get_or_create_consumer(DURABLE, self.consumer.clone())
                            .await
                            .map_err(|e| format!("consumer: {e}"))
                    }
                    .await;
                    match made {
                        Ok(c) => return Ok(c),
                        Err(e) => last = e,
                    }
                    tokio::time::sleep(RETRY).await;
                }
                Err(last)
            })
            .await
            .cloned()
    }
}

/// The outcome of one pull: messages (possibly none), or why there are none.
pub type Pulled = Result<Vec<jetstream::Message>, String>;

impl Backplane {
    /// The JetStream link of queue `name` (`/queue/X`), `None` outside the queue prefix. The
    /// stream and consumer are created (or found, if another node made them) in the background.
    pub fn queue(self: &Arc<Self>, name: &str) -> Option<QueueLink> {
        let queue = name.strip_prefix(&self.queue_prefix)?;
        let token = escape(queue);
        let subject = format!("{}.queue.{token}", self.prefix);
        let js = jetstream::new(self.client.clone());
        let stream = jetstream::stream::Config {
            name: format!("{}_Q_{token}", self.prefix),
            subjects: vec![subject.clone()],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            num_replicas: self.replicas,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let consumer = jetstream::consumer::pull::Config {
            durable_name: Some(DURABLE.into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: -1,
            max_ack_pending: self.max_ack_pending,
            ..Default::default()
        };
        let setup = Arc::new(Setup {
            stream,
            consumer,
            made: tokio::sync::OnceCell::new(),
        });
        Some(QueueLink {
            js,
            subject,
            setup,
            msg_id_prefix: format!("{}-{}", self.node, self.boot),
        })
    }
}

impl QueueLink {
    /// Publishes `payloads` in order; the completion resolves once JetStream acknowledged
    /// every one (stored by a quorum of the stream's replicas), or with the first failure.
    /// `payloads` are (local message id, payload).
    pub fn publish(&self, payloads: Vec<(u64, Bytes)>) -> Completion {
        let (tx, done) = Completion::pending();
        let link = self.clone();
        actix_rt::spawn(async move {
            let r = async {
                link.setup.get(&link.js).await?;
                let mut acks = Vec::with_capacity(payloads.len());
                for (id, p) in &payloads {
                    acks.push((*id, p, link.send(*id, p.clone()).await?));
                }
                for (id, p, ack) in acks {
                    let mut outcome = ack.await.map_err(|e| e.to_string());
                    // A stream not ready yet (new, or electing a leader after a server died)
                    // answers "no stream"/503: the same message id again, stored at most once.
                    for _ in 0..PUBLISH_TRIES {
                        if outcome.is_ok() {
                            break;
                        }
                        tokio::time::sleep(RETRY).await;
                        outcome = match link.send(id, p.clone()).await {
                            Ok(ack) => ack.await.map_err(|e| e.to_string()),
                            Err(e) => Err(e),
                        };
                    }
                    outcome?;
                }
                Ok::<(), String>(())
            }
            .await;
            let _ = tx.send(r.map_err(StoreError::Remote));
        });
        done
    }

    async fn send(
        &self,
        id: u64,
        payload: Bytes,
    ) -> Result<jetstream::context::PublishAckFuture, String> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("{}-{id}", self.msg_id_prefix).as_str(),
        );
        self.js
            .publish_with_headers(self.subject.clone(), headers, payload)
            .await
            .map_err(|e| e.to_string())
    }

    /// Pulls up to `n` messages and hands them to `then`: what is there at once, or else
    /// the first to arrive within a long poll (none if nothing came).
    pub fn pull(&self, n: usize, then: impl FnOnce(Pulled) + 'static) {
        let link = self.clone();
        actix_rt::spawn(async move {
            let r = async {
                let consumer = link.setup.get(&link.js).await?;
                let now = collect(consumer.fetch().max_messages(n).messages().await).await?;
                if !now.is_empty() {
                    return Ok(now);
                }
                let batch = consumer
                    .batch()
                    .max_messages(1)
                    .expires(LONG_POLL)
                    .messages()
                    .await;
                collect(batch).await
            }
            .await;
            then(r);
        });
    }

    /// Acknowledges `messages`, each confirmed by the server; the completion resolves when all are.
    pub fn ack(&self, messages: Vec<jetstream::Message>) -> Completion {
        let (tx, done) = Completion::pending();
        actix_rt::spawn(async move {
            // All in flight at once: one round trip for the lot, not one per message.
            let acks = messages.iter().map(|m| m.double_ack());
            let r = futures_util::future::join_all(acks)
                .await
                .into_iter()
                .find_map(Result::err)
                .map_or(Ok(()), |e| Err(StoreError::Remote(format!("ack: {e}"))));
            let _ = tx.send(r);
        });
        done
    }

    /// Sends `kind` (a NAK with its delay, progress, or termination) for each of `messages`,
    /// without waiting for confirmation: a lost one is repaired by the consumer's ack wait.
    pub fn signal(&self, messages: Vec<jetstream::Message>, kind: AckKind) {
        if messages.is_empty() {
            return;
        }
        actix_rt::spawn(async move {
            for m in messages {
                if let Err(e) = m.ack_with(kind).await {
                    tracing::debug!(error = %e, "JetStream ack signal not sent");
                }
            }
        });
    }
}

async fn collect<E: std::fmt::Display>(
    batch: Result<jetstream::consumer::pull::Batch, E>,
) -> Pulled {
    let mut batch = batch.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        match m {
            Ok(m) => out.push(m),
            Err(e) => {
                if out.is_empty() {
                    return Err(e.to_string());
                }
                break;
            }
        }
    }
    Ok(out)
}
