//! A COMMIT's persistent SENDs to queues, journaled as one atomic batch
//! before any queue takes them: after a crash all of them are back, or none.
//! The queues then see them already journaled and do not append them again.

use std::sync::Arc;
use std::time::Duration;

use crate::model::{all_persistent, encode_headers, MessageData};
use crate::settings::Destinations;
use crate::store::{Batch, Store, StoreError};

/// How soon a batch the full journal refused is offered again.
const FULL_RETRY: Duration = Duration::from_millis(1);

/// Journals the persistent messages among `sends` (destination name and its
/// messages, in order) and waits until they are durable. Returns at once when
/// there are none.
pub(super) async fn journal_sends(
    store: &Arc<dyn Store>,
    names: &Destinations,
    sends: &[(String, Vec<Arc<MessageData>>)],
) -> Result<(), StoreError> {
    let mut batch = Batch::new();
    let mut journaled: Vec<&Arc<MessageData>> = Vec::new();
    for (name, messages) in sends {
        let prefix = &names.queue_prefix;
        if !name.starts_with(prefix.as_str()) || name.len() == prefix.len() {
            continue; // topics never persist; a bad name fails when routed
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
            batch.append(q, m.id, encode_headers(&m.headers), m.body.clone());
            journaled.push(m);
        }
    }
    if batch.is_empty() {
        return Ok(());
    }
    let completion = loop {
        match store.submit(batch.clone()) {
            Err(StoreError::Full { .. }) => tokio::time::sleep(FULL_RETRY).await,
            other => break other?,
        }
    };
    completion.await?;
    for m in journaled {
        m.mark_journaled();
    }
    Ok(())
}
