//! COMMIT, in three phases so that it applies all or nothing:
//!
//! 1. check: every destination the transaction touches is asked (without
//!    changing anything) whether it can take its messages under its limits
//!    and overflow policy, and whether its consumers hold every message the
//!    staged ACKs and NACKs name; a `block` queue that is full is asked again
//!    until it has room. Any refusal ends here: ERROR, nothing applied.
//! 2. journal: the persistent SENDs and the acknowledgements of journaled
//!    messages go to the store as one atomic batch, durable before anything
//!    is applied (`commit_journal`).
//! 3. apply: publishes, then ACKs and NACKs in staging order; the RECEIPT
//!    waits until every destination touched has made its share durable.
//!
//! The session is blocked (`ctx.wait`) throughout, so nothing it could do
//! invalidates the check before the apply.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::commit_journal::CommitBatch;
use super::routes::resolve;
use super::{Session, TransactionError};
use crate::messages::destination::{
    Ack, DestinationRef, Nack, Prepare, PrepareRefused, Prepared, Publish, StagedSettle,
    StoreFailed,
};
use crate::messages::transaction::{Commit, Settlement, Staged, TxOp};
use crate::metrics::TxOutcome;
use crate::model::MessageData;

/// How soon a COMMIT waiting on a full `block` queue asks again.
const BLOCKED_RETRY: Duration = Duration::from_millis(10);

/// One destination's share of a COMMIT: its messages in staging order (so
/// they enter contiguously) and its staged settlements in order.
struct Share {
    name: String,
    dest: DestinationRef,
    messages: Vec<Arc<MessageData>>,
    settles: Vec<StagedSettle>,
}

/// Groups `ops` per destination in first-use order, resolving the names of
/// published-to destinations; also returns every settlement, in order, with
/// its destination.
async fn shares(
    ops: Vec<TxOp>,
    router: &Recipient<crate::messages::router::Resolve>,
    known: &mut HashMap<String, DestinationRef>,
) -> Result<(Vec<Share>, Vec<(DestinationRef, StagedSettle)>), TransactionError> {
    let mut shares: Vec<Share> = Vec::new();
    let mut settles = Vec::new();
    for op in ops {
        match op {
            TxOp::Publish { destination, data } => {
                if let Some(s) = shares.iter_mut().find(|s| s.name == destination) {
                    s.messages.push(data);
                    continue;
                }
                let dest = match known.get(&destination) {
                    Some(d) => d.clone(),
                    None => {
                        let d = resolve(router, destination.clone()).await?;
                        known.insert(destination.clone(), d.clone());
                        d
                    }
                };
                shares.push(Share {
                    name: destination,
                    dest,
                    messages: vec![data],
                    settles: Vec::new(),
                });
            }
            TxOp::Settle {
                how,
                on,
                message_id,
            } => {
                let s = StagedSettle {
                    how,
                    key: on.key,
                    message_id,
                    cumulative: on.cumulative,
                };
                settles.push((on.dest.clone(), s));
            }
        }
    }
    for (dest, s) in &settles {
        match shares.iter_mut().find(|sh| sh.dest.same(dest)) {
            Some(sh) => sh.settles.push(*s),
            None => shares.push(Share {
                name: String::new(),
                dest: dest.clone(),
                messages: Vec::new(),
                settles: vec![*s],
            }),
        }
    }
    Ok((shares, settles))
}

/// Phase 1: asks every share's destination; waits while a `block` queue is
/// full, unless the client has gone.
async fn check(
    shares: &[Share],
    connected: impl Fn() -> bool,
) -> Result<Vec<Prepared>, TransactionError> {
    'again: loop {
        let mut prepared = Vec::with_capacity(shares.len());
        for s in shares {
            let ask = Prepare {
                count: s.messages.len(),
                bytes: s.messages.iter().map(|m| m.size()).sum(),
                settles: s.settles.clone(),
            };
            match s.dest.prepare(ask).await {
                Ok(Ok(p)) => prepared.push(p),
                Ok(Err(PrepareRefused::Ack(e))) => return Err(TransactionError::Refused(e)),
                Ok(Err(PrepareRefused::Full(why))) => {
                    return Err(TransactionError::QueueFull {
                        destination: s.name.clone(),
                        why,
                    })
                }
                Ok(Err(PrepareRefused::Busy)) => {
                    if !connected() {
                        return Err(TransactionError::Stopping);
                    }
                    tokio::time::sleep(BLOCKED_RETRY).await;
                    continue 'again;
                }
                Err(_) => return Err(TransactionError::Stopping),
            }
        }
        return Ok(prepared);
    }
}

impl Session {
    pub(super) fn commit(&mut self, tx: String, receipt: Option<String>, ctx: &mut super::Ctx) {
        let Some(addr) = self.txs.remove(&tx) else {
            return self.fail(TransactionError::Unknown(tx), receipt);
        };
        #[cfg(feature = "fault-injection")]
        let crash_after_journal = std::mem::take(&mut self.crash_after_journal);
        #[cfg(not(feature = "fault-injection"))]
        let crash_after_journal = false;
        let router = self.shared.router.clone();
        let fail = self.replies.fail.clone();
        let mut known = self.routes.clone();
        let shared = self.shared.clone();
        async move {
            let Staged { ops, charge } = match addr.send(Commit).await {
                Ok(Ok(staged)) => staged,
                Ok(Err(_)) | Err(_) => return Err(TransactionError::Lost(tx)),
            };
            let (shares, settles) = shares(ops, &router, &mut known).await?;
            let prepared = check(&shares, || fail.connected()).await?;

            // In cluster mode every queue lives in its JetStream stream, which
            // confirms each SEND as the queue applies it; journaled here too,
            // the messages would stay in the local journal for good (nothing
            // acknowledges them there) and come back at the next start.
            let local = shared
                .store
                .as_ref()
                .filter(|_| !shared.settings.cluster.enabled);
            if let Some(store) = local {
                let store = store.as_ref();
                let names = &shared.settings.destinations;
                let failed = |e: crate::store::StoreError| {
                    TransactionError::Store(StoreFailed(e.to_string()))
                };
                let mut batch = CommitBatch::default();
                for s in &shares {
                    batch
                        .sends(store, names, &s.name, &s.messages)
                        .map_err(failed)?;
                }
                for p in &prepared {
                    batch.acks(store, p).map_err(failed)?;
                }
                batch.write(store).await.map_err(failed)?;
            }
            if crash_after_journal {
                // Fault injection: die as kill -9 would, journaled but unapplied.
                std::process::abort();
            }

            let touched: Vec<DestinationRef> = shares.iter().map(|s| s.dest.clone()).collect();
            for s in shares {
                if !s.messages.is_empty() {
                    // No origin: checked already, so never refused (as the
                    // broker's own publishes are not).
                    s.dest.publish(Publish {
                        messages: s.messages,
                        permit: None,
                        origin: None,
                    });
                }
            }
            let mut late = None;
            for (dest, s) in settles {
                let reply = match s.how {
                    Settlement::Ack => {
                        dest.request_ack(Ack {
                            key: s.key,
                            message_id: s.message_id,
                            cumulative: s.cumulative,
                            origin: None,
                            permit: None,
                        })
                        .await
                    }
                    Settlement::Nack => {
                        dest.request_nack(Nack {
                            key: s.key,
                            message_id: s.message_id,
                            cumulative: s.cumulative,
                            origin: None,
                            permit: None,
                        })
                        .await
                    }
                };
                if let Ok(Err(e)) = reply {
                    late.get_or_insert(e);
                }
            }
            // The RECEIPT waits until every destination the COMMIT touched has
            // made its share durable; the staged bytes are theirs by then.
            for d in &touched {
                match d.sync().await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(TransactionError::Store(e)),
                    Err(_) => return Err(TransactionError::Stopping),
                }
            }
            drop(charge);
            match late {
                Some(e) => Err(TransactionError::AckFailed(e)),
                None => Ok(known),
            }
        }
        .into_actor(self)
        .map(move |res: Result<HashMap<_, _>, _>, s, _| match res {
            Ok(routes) => {
                s.count_transaction(TxOutcome::Committed);
                s.routes = routes;
                s.receipt(receipt);
            }
            Err(e) => {
                // Refused before anything was applied (or failed past it):
                // either way the client must treat it as not committed.
                s.count_transaction(TxOutcome::Aborted);
                s.fail(e, receipt)
            }
        })
        .wait(ctx);
    }
}
