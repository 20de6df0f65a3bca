//! ACK and NACK: which subscription and message a frame names (a 1.2 ack id,
//! 1.1 message plus subscription, or a 1.0 message id alone), and handing the
//! settlement to the destination that holds the message. `client` mode
//! subscriptions settle cumulatively, `client-individual` one message.

use actix::prelude::*;
use tokio::sync::OwnedSemaphorePermit;

use super::subscriptions::Sub;
use super::{AckTarget, Ctx, Session, SessionError, SettleError, TransactionError};
use crate::messages::destination::{
    Ack, AckError, DestinationRef, Nack, Origin, Prepare, PrepareRefused, StagedSettle,
};
use crate::messages::transaction::{AckCandidate, Settlement, TxOp};
use crate::model::AckMode;

impl Session {
    /// Finds the subscriptions that may hold the message an ACK/NACK names,
    /// and the message's id.
    fn ack_candidates(&self, target: &AckTarget) -> Result<(Vec<AckCandidate>, u64), SettleError> {
        let parse_id = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| SettleError::UnknownMessageId(s.to_string()))
        };
        let entry = |sub: &Sub| AckCandidate {
            dest: sub.dest.clone(),
            key: self.key(sub.key),
            cumulative: sub.ack == AckMode::Client,
        };
        match target {
            AckTarget::AckId(v) => {
                let unknown = || SettleError::UnknownAckId(v.clone());
                let (sub, msg) = v.split_once(':').ok_or_else(unknown)?;
                let sub_key = parse_id(sub).map_err(|_| unknown())?;
                let msg = parse_id(msg).map_err(|_| unknown())?;
                let sub = self
                    .subs
                    .values()
                    .find(|s| s.key == sub_key)
                    .ok_or_else(|| SettleError::NoActiveSubscription(v.clone()))?;
                Ok((vec![entry(sub)], msg))
            }
            AckTarget::MessageOnSubscription {
                message_id,
                subscription,
            } => {
                let sub = self
                    .subs
                    .get(subscription)
                    .ok_or_else(|| SettleError::NoSubscription(subscription.clone()))?;
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

    /// ACK or NACK `target`, now or, with `transaction`, at COMMIT.
    pub(super) fn settle(
        &mut self,
        how: Settlement,
        target: AckTarget,
        transaction: Option<String>,
        receipt: Option<String>,
        permit: OwnedSemaphorePermit,
        ctx: &mut Ctx,
    ) {
        let failed = move |cause| SessionError::Settle { how, cause };
        let (candidates, message_id) = match self.ack_candidates(&target) {
            Ok(c) => c,
            Err(e) => return self.fail(failed(e), receipt),
        };
        if let Some(tx) = transaction {
            if !self.txs.contains_key(&tx) {
                return self.fail(TransactionError::Unknown(tx), receipt);
            }
            // Checked now, so that a bad ACK gets its ERROR (not a RECEIPT)
            // when staged; COMMIT checks the whole transaction again.
            return holder(candidates, message_id, how)
                .into_actor(self)
                .map(move |res, s, ctx| match res {
                    Ok(on) => {
                        let op = TxOp::Settle {
                            how,
                            on,
                            message_id,
                        };
                        s.stage(tx, op, receipt, ctx)
                    }
                    Err(e) => s.fail(failed(e), receipt),
                })
                .wait(ctx);
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
                match how {
                    Settlement::Ack => dest.ack(Ack {
                        key,
                        message_id,
                        cumulative,
                        origin,
                        permit,
                    }),
                    Settlement::Nack => dest.nack(Nack {
                        key,
                        message_id,
                        cumulative,
                        origin,
                        permit,
                    }),
                }
            }
            return;
        }
        // 1.0 names only the message: try each client-ack subscription in turn.
        settle_first(candidates, message_id, how)
            .into_actor(self)
            .map(move |res, s, _| match res {
                Ok(_) => s.receipt(receipt),
                Err(e) => s.fail(failed(e.into()), receipt),
            })
            .wait(ctx);
    }
}

/// The first of `candidates` whose subscription holds `message_id` (a 1.0
/// ACK names only the message, so each client-ack subscription is asked).
async fn holder(
    candidates: Vec<AckCandidate>,
    message_id: u64,
    how: Settlement,
) -> Result<AckCandidate, SettleError> {
    let mut last = SettleError::UnknownMessageId(message_id.to_string());
    for c in candidates {
        let check = Prepare {
            count: 0,
            bytes: 0,
            settles: vec![StagedSettle {
                how,
                key: c.key,
                message_id,
                cumulative: c.cumulative,
            }],
        };
        match c.dest.prepare(check).await {
            Ok(Ok(_)) => return Ok(c),
            Ok(Err(PrepareRefused::Ack(e))) => last = e.into(),
            Ok(Err(_)) | Err(_) => last = AckError::NoSubscription.into(),
        }
    }
    Err(last)
}

/// ACKs (or NACKs) `message_id` on the first of `candidates` that holds it:
/// a 1.0 ACK names only the message, so each client-ack subscription is tried.
/// Returns the destination that held it.
async fn settle_first(
    candidates: Vec<AckCandidate>,
    message_id: u64,
    how: Settlement,
) -> Result<DestinationRef, AckError> {
    let mut last = AckError::Unknown(message_id);
    for AckCandidate {
        dest,
        key,
        cumulative,
    } in candidates
    {
        let reply = match how {
            Settlement::Ack => {
                dest.request_ack(Ack {
                    key,
                    message_id,
                    cumulative,
                    origin: None,
                    permit: None,
                })
                .await
            }
            Settlement::Nack => {
                dest.request_nack(Nack {
                    key,
                    message_id,
                    cumulative,
                    origin: None,
                    permit: None,
                })
                .await
            }
        };
        match reply.unwrap_or(Err(AckError::NoSubscription)) {
            Ok(()) => return Ok(dest),
            Err(e) => last = e,
        }
    }
    Err(last)
}
