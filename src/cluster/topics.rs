//! Topics across nodes on core NATS subjects. Out: a message a client of this node published
//! on `/topic/X` goes to `<prefix>.topic.<escape(X)>`, once, after local delivery. In: one
//! subscription to `<prefix>.topic.>` hands what other nodes published to the local topic
//! (which fans it out to local subscribers and wildcard topics as it does a local publish).
//! Both directions are bounded: an outgoing relay holds the publisher's in-flight permit until
//! the NATS client has taken it, and incoming ones take a permit of `cluster.max_inflight`
//! that the local topic releases once it has taken the message.
//! Core NATS is at-most-once, as a STOMP topic is: a node that is down misses what is
//! published meanwhile.

use std::collections::HashMap;
use std::sync::Arc;

use actix::Recipient;
use futures_util::StreamExt;
use tokio::sync::OwnedSemaphorePermit;

use super::{decode, encode, escape, unescape, Backplane, ClusterError, NODE_HEADER};
use crate::messages::destination::{DestinationRef, Publish};
use crate::messages::router::Resolve;
use crate::model::MessageData;

/// Local topics remembered by the incoming relay; past it the memory is cleared and names are
/// resolved again (bounded however many topic names other nodes use).
const MAX_CACHED_TOPICS: usize = 1024;

impl Backplane {
    /// The subject of topic `name` (`/topic/X`), `None` for a name outside the topic prefix.
    pub fn topic_subject(&self, name: &str) -> Option<String> {
        let topic = name.strip_prefix(&self.topic_prefix)?;
        Some(format!("{}.topic.{}", self.prefix, escape(topic)))
    }

    /// The topic a relayed subject names, `None` if this node's [`topic_subject`] did not write it.
    fn topic_of(&self, subject: &str) -> Option<String> {
        let token = subject
            .strip_prefix(&self.prefix)?
            .strip_prefix(".topic.")?;
        Some(format!("{}{}", self.topic_prefix, unescape(token)?))
    }

    /// Relays what a client of this node published on topic `name` to the other nodes. Returns
    /// at once; `permit` (the publisher's in-flight permit) is held until the NATS client has
    /// taken every message, so a slow NATS connection pauses the publisher.
    pub fn relay_topic(
        self: &Arc<Self>,
        name: &str,
        messages: &[Arc<MessageData>],
        permit: Option<Arc<OwnedSemaphorePermit>>,
    ) {
        let Some(subject) = self.topic_subject(name) else {
            return;
        };
        let local: Vec<Arc<MessageData>> = messages
            .iter()
            .filter(|m| !m.is_remote())
            .cloned()
            .collect();
        if local.is_empty() {
            return;
        }
        let me = self.clone();
        actix_rt::spawn(async move {
            let _permit = permit;
            for data in local {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(NODE_HEADER, me.node.as_ref());
                let sent = me
                    .client
                    .publish_with_headers(subject.clone(), headers, encode(&data))
                    .await;
                match sent {
                    Ok(()) => me.metrics.relayed.with_label_values(&["out"]).inc(),
                    Err(e) => {
                        me.metrics
                            .dropped
                            .with_label_values(&["publish_failed"])
                            .inc();
                        tracing::warn!(subject = %subject, error = %e, "topic message not relayed to the cluster");
                    }
                }
            }
        });
    }

    /// Subscribes to every topic subject and starts handing what other nodes publish to the
    /// local topics, found through `router`. The subscription is in place (flushed to the
    /// NATS server) when this returns.
    pub async fn start_topic_relay(
        self: &Arc<Self>,
        router: Recipient<Resolve>,
    ) -> Result<(), ClusterError> {
        let subject = format!("{}.topic.>", self.prefix);
        let fail = |reason: String| ClusterError::Subscribe {
            subject: subject.clone(),
            reason,
        };
        let mut sub = self
            .client
            .subscribe(subject.clone())
            .await
            .map_err(|e| fail(e.to_string()))?;
        self.client.flush().await.map_err(|e| fail(e.to_string()))?;
        let me = self.clone();
        actix_rt::spawn(async move {
            let mut topics: HashMap<String, DestinationRef> = HashMap::new();
            while let Some(msg) = sub.next().await {
                let from = msg.headers.as_ref().and_then(|h| h.get(NODE_HEADER));
                if from.is_some_and(|n| n.as_str() == me.node.as_ref()) {
                    // Our own publish (no_echo should have kept it from us).
                    continue;
                }
                let (Some(name), Ok((headers, body))) =
                    (me.topic_of(msg.subject.as_str()), decode(msg.payload))
                else {
                    me.metrics.dropped.with_label_values(&["malformed"]).inc();
                    continue;
                };
                let Ok(permit) = me.inflight.clone().acquire_owned().await else {
                    return;
                };
                let dest = match topics.get(&name) {
                    Some(d) => d.clone(),
                    None => match router.send(Resolve { name: name.clone() }).await {
                        Ok(Ok(d)) => {
                            if topics.len() >= MAX_CACHED_TOPICS {
                                topics.clear();
                            }
                            topics.insert(name, d.clone());
                            d
                        }
                        Ok(Err(e)) => {
                            me.metrics
                                .dropped
                                .with_label_values(&["no_destination"])
                                .inc();
                            tracing::debug!(error = %e, "relayed topic message has no local destination");
                            continue;
                        }
                        // The router stopped: the broker is shutting down.
                        Err(_) => return,
                    },
                };
                me.metrics.relayed.with_label_values(&["in"]).inc();
                dest.publish(Publish {
                    messages: vec![MessageData::from_remote(headers, body)],
                    permit: Some(permit),
                    origin: None,
                });
            }
        });
        Ok(())
    }
}
