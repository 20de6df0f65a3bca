//! BEGIN, staging and ABORT: each open transaction is a supervised
//! `Transaction` actor holding its staged SEND, ACK and NACK frames, charged
//! to the memory budget; COMMIT (`commit.rs`) takes them back and applies
//! them all or nothing, ABORT drops them.

use actix::prelude::*;

use super::{Ctx, Session, SessionError, TransactionError};
use crate::messages::transaction::{Abort, Stage, StageError, TxOp};
use crate::metrics::TxOutcome;
use crate::supervision::RestartBudget;
use crate::transaction::Transaction;

impl Session {
    pub(super) fn count_transaction(&self, outcome: TxOutcome) {
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
        let bounds = (limits.max_frames, limits.max_bytes);
        let memory = self.shared.memory.clone();
        let metrics = self.shared.metrics.clone();
        let budget = RestartBudget::from(&self.shared.settings.supervision);
        let addr = Supervisor::start(move |_| Transaction::new(bounds, memory, budget, metrics));
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
                Ok(Err(StageError::TooLarge(e))) => s.fail(e, receipt),
                Ok(Err(StageError::Memory(e))) => s.fail(e, receipt),
                Ok(Err(StageError::Abandoned(_))) | Err(_) => {
                    s.fail(SessionError::TransactionLost(tx), receipt)
                }
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
