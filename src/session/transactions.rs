//! BEGIN, COMMIT and ABORT: each open transaction is a supervised
//! `Transaction` actor holding its staged SEND, ACK and NACK frames; COMMIT
//! takes them back and applies them in order, ABORT drops them.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::commit_journal::journal_sends;
use super::routes::resolve;
use super::settlement::settle_first;
use super::{Ctx, Session, SessionError, TransactionError};
use crate::messages::destination::{DestinationRef, Origin, Publish, StoreFailed};
use crate::messages::transaction::{
    Abort, AckCandidate, Commit, Settlement, Stage, StageError, TxOp,
};
use crate::metrics::TxOutcome;
use crate::model::MessageData;
use crate::supervision::RestartBudget;
use crate::transaction::Transaction;

/// One destination's share of a COMMIT: its name and messages, in order.
type Batch = (String, Vec<Arc<MessageData>>);

/// A staged ACK or NACK: how, the subscriptions that may hold the message, its id.
type StagedSettle = (Settlement, Vec<AckCandidate>, u64);

/// A COMMIT's publishes grouped per destination in first-use order, each
/// group in staging order, so each destination takes one COMMIT's messages
/// contiguously; and its ACKs and NACKs, in order.
fn batch(ops: Vec<TxOp>) -> (Vec<Batch>, Vec<StagedSettle>) {
    let mut batches: Vec<Batch> = Vec::new();
    let mut settles = Vec::new();
    for op in ops {
        match op {
            TxOp::Publish { destination, data } => {
                match batches.iter_mut().find(|(d, _)| *d == destination) {
                    Some((_, v)) => v.push(data),
                    None => batches.push((destination, vec![data])),
                }
            }
            TxOp::Settle {
                how,
                candidates,
                message_id,
            } => settles.push((how, candidates, message_id)),
        }
    }
    (batches, settles)
}

impl Session {
    fn count_transaction(&self, outcome: TxOutcome) {
        self.shared
            .metrics
            .transactions
            .with_label_values(&[outcome.label()])
            .inc();
    }

    pub(super) fn begin(&mut self, tx: String, receipt: Option<String>) {
        if self.txs.contains_key(&tx) {
            return self.fail(TransactionError::AlreadyOpen(tx), receipt);
        }
        let limits = &self.shared.settings.transactions;
        if self.txs.len() >= limits.max_per_connection {
            let max = limits.max_per_connection;
            return self.fail(SessionError::TooManyTransactions(max), receipt);
        }
        let max_frames = limits.max_frames;
        let metrics = self.shared.metrics.clone();
        let budget = RestartBudget::from(&self.shared.settings.supervision);
        let addr = Supervisor::start(move |_| Transaction::new(max_frames, budget, metrics));
        self.txs.insert(tx, addr);
        self.count_transaction(TxOutcome::Begun);
        self.receipt(receipt);
    }

    /// Holds `op` in transaction `tx` until COMMIT.
    pub(super) fn stage(&mut self, tx: String, op: TxOp, receipt: Option<String>, ctx: &mut Ctx) {
        let Some(addr) = self.txs.get(&tx).cloned() else {
            return self.fail(TransactionError::Unknown(tx), receipt);
        };
        async move { addr.send(Stage(op)).await }
            .into_actor(self)
            .map(move |res, s, _| match res {
                Ok(Ok(())) => s.receipt(receipt),
                Ok(Err(StageError::Full(e))) => s.fail(e, receipt),
                Ok(Err(StageError::Abandoned(_))) | Err(_) => {
                    s.fail(SessionError::TransactionLost(tx), receipt)
                }
            })
            .wait(ctx);
    }

    pub(super) fn commit(&mut self, tx: String, receipt: Option<String>, ctx: &mut Ctx) {
        let Some(addr) = self.txs.remove(&tx) else {
            return self.fail(TransactionError::Unknown(tx), receipt);
        };
        self.count_transaction(TxOutcome::Committed);
        let router = self.shared.router.clone();
        let replies = self.replies.clone();
        let mut known = self.routes.clone();
        let shared = self.shared.clone();
        async move {
            let ops = match addr.send(Commit).await {
                Ok(Ok(ops)) => ops,
                Ok(Err(_)) | Err(_) => return Err(TransactionError::Lost(tx)),
            };
            let (batches, settles) = batch(ops);
            if let Some(store) = &shared.store {
                journal_sends(store, &shared.settings.destinations, &batches)
                    .await
                    .map_err(|e| TransactionError::Store(StoreFailed(e.to_string())))?;
            }
            let mut touched: Vec<DestinationRef> = Vec::new();
            for (name, messages) in batches {
                let dest = match known.get(&name) {
                    Some(d) => d.clone(),
                    None => {
                        let d = resolve(&router, name.clone()).await?;
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
            for (how, candidates, message_id) in settles {
                match settle_first(candidates, message_id, how).await {
                    Ok(d) if !touched.iter().any(|t| t.same(&d)) => touched.push(d),
                    Ok(_) => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            // The RECEIPT waits until every destination the COMMIT touched has
            // made its share durable.
            for d in &touched {
                match d.sync().await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(TransactionError::Store(e)),
                    Err(_) => return Err(TransactionError::Stopping),
                }
            }
            match first_error {
                Some(e) => Err(TransactionError::AckFailed(e)),
                None => Ok(known),
            }
        }
        .into_actor(self)
        .map(move |res: Result<HashMap<_, _>, _>, s, _| match res {
            Ok(routes) => {
                s.routes = routes;
                s.receipt(receipt);
            }
            Err(e) => s.fail(e, receipt),
        })
        .wait(ctx);
    }

    pub(super) fn abort(&mut self, tx: String, receipt: Option<String>) {
        let Some(addr) = self.txs.remove(&tx) else {
            return self.fail(TransactionError::Unknown(tx), receipt);
        };
        addr.do_send(Abort);
        self.count_transaction(TxOutcome::Aborted);
        self.receipt(receipt);
    }

    /// Aborts every open transaction (the session is ending).
    pub(super) fn abort_all(&mut self) {
        for (_, tx) in std::mem::take(&mut self.txs) {
            tx.do_send(Abort);
            self.count_transaction(TxOutcome::Aborted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::transaction::TxOp;

    fn publish(destination: &str, body: &'static str) -> TxOp {
        let headers = vec![("destination".to_string(), destination.to_string())];
        TxOp::Publish {
            destination: destination.into(),
            data: MessageData::from_send(headers, bytes::Bytes::from_static(body.as_bytes())),
        }
    }

    #[test]
    fn commit_batches_per_destination_in_first_use_order() {
        let ops = vec![
            publish("/queue/b", "1"),
            publish("/queue/a", "2"),
            publish("/queue/b", "3"),
        ];
        let (batches, settles) = batch(ops);
        assert!(settles.is_empty());
        let names: Vec<_> = batches.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["/queue/b", "/queue/a"]);
        let bodies: Vec<_> = batches[0].1.iter().map(|m| m.body.to_vec()).collect();
        assert_eq!(bodies, [b"1".to_vec(), b"3".to_vec()]);
    }
}
