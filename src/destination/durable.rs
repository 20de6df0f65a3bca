//! The backlog every queue uses: ready messages in memory, and, when the
//! broker has durable storage, the life of each persistent message recorded
//! in the journal (accepted, delivered, acknowledged, dead-lettered).
//!
//! Changes are gathered while the queue handles one message and handed to the
//! journal as one batch by [`Backlog::flush`]; the actor decides who waits for
//! that batch to be durable. Non-persistent messages never touch the journal.

use std::sync::Arc;

use super::backlog::{Backlog, BacklogError, Flushed, MemoryBacklog, Pending, Removal};
use super::core::Core;
use super::storage::Storage;
use crate::model::{all_persistent, decode_headers, encode_headers, Envelope, MessageData};
use crate::store::{Batch, QueueId, StoreError};

/// A queue's messages, journaled when persistent.
pub struct DurableBacklog {
    memory: MemoryBacklog,
    journal: Option<Journaled>,
}

/// A queue's link to the journal.
struct Journaled {
    storage: Arc<Storage>,
    /// The queue's id, or why it could not be declared (every persistent
    /// publish is then refused with that error, rather than kept in memory
    /// and reported durable).
    queue: Result<QueueId, StoreError>,
    /// A `persistent = true` destination policy matches this queue.
    all_persistent: bool,
    /// Changes since the last flush.
    pending: Batch,
}

impl Journaled {
    fn queue(&self) -> Result<QueueId, BacklogError> {
        self.queue.clone().map_err(BacklogError::Store)
    }
}

impl DurableBacklog {
    /// Puts the messages recovered for this queue back in order, counting
    /// them as the publish path would.
    fn restore(&mut self, core: &Core, storage: &Storage) {
        for m in storage.take_recovered(&core.name) {
            let headers = match decode_headers(m.headers) {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!(destination = %core.name, id = m.id, error = %e, "recovered message skipped");
                    continue;
                }
            };
            let data = MessageData::restored(m.id, headers, m.body);
            core.policy.memory.add(data.footprint());
            core.m.ready.inc();
            self.memory.append(Envelope {
                data,
                deliveries: m.deliveries,
            });
        }
        if !self.memory.is_empty() {
            tracing::info!(destination = %core.name, messages = self.memory.len(), "recovered persistent messages");
        }
    }
}

impl Backlog for DurableBacklog {
    fn open(core: &Core) -> Self {
        let mut backlog = DurableBacklog {
            memory: MemoryBacklog::default(),
            journal: None,
        };
        let Some(storage) = core.policy.storage.clone() else {
            return backlog;
        };
        let queue = storage.store.declare_queue(&core.name);
        if let Err(e) = &queue {
            tracing::error!(destination = %core.name, error = %e, "queue not declared in the journal; persistent publishes will be refused");
        }
        backlog.restore(core, &storage);
        backlog.journal = Some(Journaled {
            storage,
            queue,
            all_persistent: all_persistent(&core.policy.overrides, &core.name),
            pending: Batch::new(),
        });
        backlog
    }

    fn push_back(&mut self, env: Envelope) -> Result<(), BacklogError> {
        if let Some(j) = &mut self.journal {
            let data = &env.data;
            if !data.is_journaled() && (j.all_persistent || data.persistent_header()) {
                let queue = j.queue()?;
                let headers = encode_headers(&data.headers);
                j.pending.append(queue, data.id, headers, data.body.clone());
                data.mark_journaled();
            }
        }
        self.memory.push_back(env)
    }

    fn push_front(&mut self, env: Envelope) {
        self.memory.push_front(env)
    }

    fn pop_front(&mut self) -> Option<Envelope> {
        self.memory.pop_front()
    }

    fn len(&self) -> usize {
        self.memory.len()
    }

    fn bytes(&self) -> usize {
        self.memory.bytes()
    }

    fn delivered(&mut self, env: &Envelope) -> Result<(), BacklogError> {
        match &mut self.journal {
            Some(j) if env.data.is_journaled() => {
                let queue = j.queue()?;
                j.pending.set_deliveries(queue, env.data.id, env.deliveries);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn removed(&mut self, env: &Envelope, _: Removal) -> Result<(), BacklogError> {
        match &mut self.journal {
            Some(j) if env.data.is_journaled() => {
                let queue = j.queue()?;
                j.pending.ack(queue, env.data.id);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn dead_lettered(
        &mut self,
        env: &Envelope,
        to: &str,
        copy: &Arc<MessageData>,
    ) -> Result<(), BacklogError> {
        let Some(j) = &mut self.journal else {
            return Ok(());
        };
        if !env.data.is_journaled() {
            return Ok(());
        }
        let from = j.queue()?;
        let dlq = j.storage.store.declare_queue(to)?;
        let headers = encode_headers(&copy.headers);
        j.pending.dead_letter(
            (from, env.data.id),
            (dlq, copy.id),
            headers,
            copy.body.clone(),
        );
        // The dead-letter queue must not append it a second time.
        copy.mark_journaled();
        Ok(())
    }

    fn pending(&self) -> Pending {
        match &self.journal {
            Some(j) if !j.pending.is_empty() && j.pending.only_acks() => Pending::Acks,
            Some(j) if !j.pending.is_empty() => Pending::Changes,
            _ => Pending::Nothing,
        }
    }

    fn flush(&mut self) -> Flushed {
        let Some(j) = &mut self.journal else {
            return Flushed::Nothing;
        };
        if j.pending.is_empty() {
            return Flushed::Nothing;
        }
        // Cloned so that a full submission queue loses nothing: the batch goes again next time.
        match j.storage.store.submit(j.pending.clone()) {
            Ok(c) => {
                j.pending = Batch::new();
                Flushed::Submitted(c)
            }
            Err(StoreError::Full { .. }) => Flushed::Full,
            Err(e) => {
                j.pending = Batch::new();
                Flushed::Failed(e)
            }
        }
    }
}
