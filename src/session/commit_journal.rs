//! A COMMIT's journal batch: its persistent SENDs to queues and the
//! acknowledgements of the journaled messages its ACKs remove, as ONE atomic
//! batch, durable before any destination applies any of it. After a crash the
//! whole transaction is on disk, or none of it. The queues then see the
//! messages already journaled (and the acknowledged ones no longer), and do
//! not write them again.

use std::sync::Arc;
use std::time::Duration;

use crate::messages::destination::Prepared;
use crate::model::{all_persistent, encode_headers, MessageData};
use crate::settings::Destinations;
use crate::store::{Batch, Store, StoreError};

/// How soon a batch the full journal refused is offered again.
const FULL_RETRY: Duration = Duration::from_millis(1);

/// What a COMMIT writes to the journal, gathered before anything is applied.
#[derive(Default)]
pub(super) struct CommitBatch {
    batch: Batch,
    appended: Vec<Arc<MessageData>>,
    acked: Vec<Arc<MessageData>>,
}

impl CommitBatch {
    /// Adds the persistent messages among `messages`, published to `name`.
    pub(super) fn sends(
        &mut self,
        store: &dyn Store,
        names: &Destinations,
        name: &str,
        messages: &[Arc<MessageData>],
    ) -> Result<(), StoreError> {
        let prefix = &names.queue_prefix;
        if !name.starts_with(prefix.as_str()) || name.len() == prefix.len() {
            return Ok(()); // topics never persist
        }
        let all = all_persistent(&names.policies, name);
        let mut queue = None;
        for m in messages {
            if m.is_journaled() || !(all || m.persistent_header()) {
                continue;
            }
            let q = match queue {
                Some(q) => q,
                None => *queue.insert(store.declare_queue(name)?),
            };
            self.batch
                .append(q, m.id, encode_headers(&m.headers), m.body.clone());
            self.appended.push(m.clone());
        }
        Ok(())
    }

    /// Adds the acknowledgements a destination's check found journaled.
    pub(super) fn acks(
        &mut self,
        store: &dyn Store,
        prepared: &Prepared,
    ) -> Result<(), StoreError> {
        if prepared.journaled_acks.is_empty() {
            return Ok(());
        }
        let q = store.declare_queue(&prepared.name)?;
        for m in &prepared.journaled_acks {
            self.batch.ack(q, m.id);
            self.acked.push(m.clone());
        }
        Ok(())
    }

    /// Journals the batch and waits until it is durable. Returns at once
    /// when there is nothing to write.
    pub(super) async fn write(self, store: &dyn Store) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let completion = loop {
            match store.submit(self.batch.clone()) {
                Err(StoreError::Full { .. }) => tokio::time::sleep(FULL_RETRY).await,
                other => break other?,
            }
        };
        completion.await?;
        for m in self.appended {
            m.mark_journaled();
        }
        for m in self.acked {
            m.mark_unjournaled();
        }
        Ok(())
    }
}
