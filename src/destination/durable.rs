//! The backlog every queue uses: ready messages in memory, and, when the
//! broker has durable storage, the life of each persistent message recorded
//! in the journal (accepted, delivered, acknowledged, dead-lettered).
//!
//! Changes are gathered while the queue handles one message and handed to the
//! journal as one batch by [`Backlog::flush`]; the actor decides who waits for
//! that batch to be durable. Non-persistent messages never touch the journal.
//! A queue deeper than its share of memory keeps the rest of its persistent
//! messages on disk only (paging.rs).

use std::sync::Arc;

use super::backlog::{Backlog, BacklogError, Flushed, Removal};
use super::core::Core;
use super::paging::{Pager, Ready};
use super::storage::Storage;
use crate::model::{all_persistent, encode_headers, Envelope, MessageData};
use crate::store::{Batch, QueueId, StoreError};

/// A queue's messages, journaled when persistent.
pub struct DurableBacklog {
    ready: Ready,
    journal: Option<Journaled>,
    /// The last message taken was journaled: its publisher waits while the disk alarm is on.
    last_persistent: bool,
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
    /// Puts the messages recovered for this queue back in order; those beyond the queue's
    /// share of memory stay on disk.
    fn restore(&mut self, core: &Core, storage: &Storage) {
        let mut n = 0usize;
        for m in storage.take_recovered(&core.name) {
            let id = m.id;
            match self.ready.push_recovered(m) {
                Ok(()) => {
                    n += 1;
                    core.m.ready.inc();
                }
                Err(e) => {
                    tracing::error!(destination = %core.name, id, error = %e, "recovered message skipped");
                }
            }
        }
        if n > 0 {
            tracing::info!(destination = %core.name, messages = n, in_memory_bytes = self.ready.resident(), "recovered persistent messages");
        }
    }
}

impl Backlog for DurableBacklog {
    fn open(core: &Core) -> Self {
        let Some(storage) = core.policy.storage.clone() else {
            return DurableBacklog {
                ready: Ready::new(None),
                journal: None,
                last_persistent: false,
            };
        };
        let queue = storage.store.declare_queue(&core.name);
        if let Err(e) = &queue {
            tracing::error!(destination = %core.name, error = %e, "queue not declared in the journal; persistent publishes will be refused");
        }
        let pager = queue.as_ref().ok().map(|&queue| Pager {
            store: storage.store.clone(),
            queue,
            memory: core.policy.memory.clone(),
            share: storage.queue_resident_bytes,
            name: core.name.clone(),
        });
        let mut backlog = DurableBacklog {
            ready: Ready::new(pager),
            journal: None,
            last_persistent: false,
        };
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
        // Journaled here or before it came (a COMMIT's, a dead letter): either way it is in
        // the journal under this queue's id, so it may leave memory once written.
        self.last_persistent = env.data.is_journaled();
        let on_disk = self.last_persistent && self.journal.is_some();
        self.ready.push_back(env, on_disk);
        Ok(())
    }

    fn push_front(&mut self, env: Envelope) {
        self.ready.push_front(env)
    }

    fn pop_front(&mut self) -> Option<Envelope> {
        self.ready.pop_front()
    }

    fn len(&self) -> usize {
        self.ready.len()
    }

    fn bytes(&self) -> usize {
        self.ready.bytes()
    }

    fn must_pause(&self) -> bool {
        self.last_persistent && (self.journal.as_ref()).is_some_and(|j| j.storage.disk_alarm())
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

    fn flush(&mut self) -> Flushed {
        self.ready.settle();
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
