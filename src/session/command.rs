//! Client frames as typed commands, with the headers each one requires.

use std::sync::Arc;

use thiserror::Error;

use crate::model::selector::Selector;
use crate::model::AckMode;
use crate::protocol::{Command, Frame, Version};

/// A frame that is well-formed STOMP but not a valid command here.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CommandError {
    #[error("missing required header '{header}' on {command}")]
    MissingHeader {
        command: &'static str,
        header: &'static str,
    },
    #[error("invalid value '{value}' for header '{header}'")]
    InvalidHeader { header: &'static str, value: String },
    #[error("{0} is a server frame; clients may not send it")]
    ServerFrame(&'static str),
    #[error("already connected")]
    AlreadyConnected,
    /// A SUBSCRIBE `selector` that does not parse (the text says where).
    #[error(transparent)]
    BadSelector(#[from] crate::model::selector::SelectorError),
}

/// A SUBSCRIBE's or UNSUBSCRIBE's durable subscription name, in whichever
/// broker's spelling it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableName {
    /// The subscription name.
    pub name: String,
    /// Named by the ActiveMQ or Artemis headers, which need a CONNECT
    /// `client-id`; a RabbitMQ-style one (`durable:true`, named by its `id`)
    /// does not.
    pub needs_client_id: bool,
}

/// The ActiveMQ and Artemis headers naming a durable subscription.
const DURABLE_NAME_HEADERS: [&str; 4] = [
    "activemq.subscriptionName",
    "durable-subscription-name",
    "durable-subscriber-name",
    "subscription-name",
];

fn is_true(frame: &Frame, header: &str) -> bool {
    frame
        .header(header)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The durable subscription `frame` names: an ActiveMQ/Artemis name header,
/// or RabbitMQ's `durable:true` (or `persistent:true`) without
/// `auto-delete:true`, named by the subscription `id`.
fn durable_name(frame: &Frame, id: &str) -> Option<DurableName> {
    if let Some(name) = DURABLE_NAME_HEADERS
        .iter()
        .find_map(|h| frame.header(h))
        .filter(|n| !n.is_empty())
    {
        return Some(DurableName {
            name: name.to_string(),
            needs_client_id: true,
        });
    }
    ((is_true(frame, "durable") || is_true(frame, "persistent")) && !is_true(frame, "auto-delete"))
        .then(|| DurableName {
            name: id.to_string(),
            needs_client_id: false,
        })
}

/// Which message an ACK or NACK names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckTarget {
    /// 1.2: the MESSAGE's `ack` value, `subscription:message`.
    AckId(String),
    /// 1.1: `message-id` plus `subscription`.
    MessageOnSubscription {
        message_id: String,
        subscription: String,
    },
    /// 1.0: `message-id` alone.
    Message(String),
}

/// One client command.
#[derive(Debug)]
pub enum ClientCommand {
    Send {
        destination: String,
        transaction: Option<String>,
        frame: Frame,
    },
    Subscribe {
        destination: String,
        id: String,
        ack: AckMode,
        prefetch: Option<u32>,
        /// Only messages this selects are delivered (`selector`, ActiveMQ and Artemis).
        selector: Option<Arc<Selector>>,
        /// A durable subscription's name (on a topic only; ignored on a queue).
        durable: Option<DurableName>,
        /// An exclusive consumer (`activemq.exclusive`, RabbitMQ's `exclusive`):
        /// on a queue, the first of them gets every message while the others wait.
        exclusive: bool,
    },
    Unsubscribe {
        id: String,
        /// Also remove this durable subscription and its backlog.
        durable: Option<DurableName>,
    },
    Ack {
        target: AckTarget,
        transaction: Option<String>,
    },
    Nack {
        target: AckTarget,
        transaction: Option<String>,
    },
    Begin(String),
    Commit(String),
    Abort(String),
    Disconnect,
}

fn required(frame: &Frame, header: &'static str) -> Result<String, CommandError> {
    frame
        .header(header)
        .map(str::to_string)
        .ok_or(CommandError::MissingHeader {
            command: frame.command.as_str(),
            header,
        })
}

fn ack_target(frame: &Frame, version: Version) -> Result<AckTarget, CommandError> {
    let missing = |header| CommandError::MissingHeader {
        command: frame.command.as_str(),
        header,
    };
    // Clients often send the headers of another version; accept any complete
    // form, but name the negotiated version's header when none is present.
    if version < Version::V1_2 && frame.header("message-id").is_none() {
        // Before 1.2 a MESSAGE carries no ack id, so an `id` without the ack
        // id's ':' can only be its message-id: iridium-stomp sends 1.0/1.1
        // ACKs as `id:<message-id>` + `subscription`.
        if let (Some(id), Some(s)) = (frame.header("id"), frame.header("subscription")) {
            if !id.contains(':') {
                return Ok(AckTarget::MessageOnSubscription {
                    message_id: id.to_string(),
                    subscription: s.to_string(),
                });
            }
        }
    }
    if let Some(id) = frame.header("id") {
        return Ok(AckTarget::AckId(id.to_string()));
    }
    match (frame.header("message-id"), frame.header("subscription")) {
        (Some(m), Some(s)) => Ok(AckTarget::MessageOnSubscription {
            message_id: m.to_string(),
            subscription: s.to_string(),
        }),
        (Some(m), None) if version == Version::V1_0 => Ok(AckTarget::Message(m.to_string())),
        (Some(_), None) => Err(missing("subscription")),
        (None, _) if version >= Version::V1_2 => Err(missing("id")),
        (None, _) => Err(missing("message-id")),
    }
}

/// Refuses a SEND whose `priority` is not an integer, and writes a clamped
/// one (`15` becomes `9`) back into the frame, so that MESSAGE shows the
/// priority the message is delivered with.
fn with_priority_checked(mut frame: Frame) -> Result<Frame, CommandError> {
    let value = frame.header("priority");
    let p = crate::model::parse_priority(value).map_err(|value| CommandError::InvalidHeader {
        header: "priority",
        value,
    })?;
    if let (Some(p), Some(v)) = (p, value) {
        if v != p.to_string() {
            if let Some(slot) = frame.headers.iter_mut().find(|(n, _)| n == "priority") {
                slot.1 = p.to_string();
            }
        }
    }
    Ok(frame)
}

/// Whether a SUBSCRIBE asks for an exclusive consumer: `activemq.exclusive`
/// (ActiveMQ) or `exclusive` (RabbitMQ), `true` or `false` in any case.
fn exclusive(frame: &Frame) -> Result<bool, CommandError> {
    let mut exclusive = false;
    for header in ["activemq.exclusive", "exclusive"] {
        match frame.header(header).map(str::trim) {
            None => {}
            Some(v) if v.eq_ignore_ascii_case("true") => exclusive = true,
            Some(v) if v.eq_ignore_ascii_case("false") => {}
            Some(v) => {
                return Err(CommandError::InvalidHeader {
                    header,
                    value: v.to_string(),
                })
            }
        }
    }
    Ok(exclusive)
}

impl ClientCommand {
    /// Validates `frame` for a session speaking `version`.
    pub fn parse(frame: Frame, version: Version) -> Result<ClientCommand, CommandError> {
        let tx = |f: &Frame| f.header("transaction").map(str::to_string);
        Ok(match frame.command {
            Command::Send => {
                // Read here once so a bad value is the client's ERROR, not a
                // message that silently never expires.
                if let Err(value) = crate::model::parse_expires(frame.header("expires")) {
                    return Err(CommandError::InvalidHeader {
                        header: "expires",
                        value,
                    });
                }
                let frame = with_priority_checked(frame)?;
                ClientCommand::Send {
                    destination: required(&frame, "destination")?,
                    transaction: tx(&frame),
                    frame,
                }
            }
            Command::Subscribe => {
                let destination = required(&frame, "destination")?;
                // 1.0 made `id` optional; its subscription is then named by destination.
                let id = match frame.header("id") {
                    Some(id) => id.to_string(),
                    None if version == Version::V1_0 => destination.clone(),
                    None => required(&frame, "id")?,
                };
                let ack_value = frame.header("ack");
                let ack = AckMode::parse(ack_value).ok_or_else(|| CommandError::InvalidHeader {
                    header: "ack",
                    value: ack_value.unwrap_or("").to_string(),
                })?;
                let prefetch = match frame
                    .header("prefetch-count")
                    .or_else(|| frame.header("activemq.prefetchSize"))
                {
                    None => None,
                    Some(v) => Some(v.trim().parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(
                        || CommandError::InvalidHeader {
                            header: "prefetch-count",
                            value: v.to_string(),
                        },
                    )?),
                };
                // Parsed untrimmed, so positions count in what the client sent.
                let selector = match frame.header("selector") {
                    None => None,
                    Some(text) if text.trim().is_empty() => None,
                    Some(text) => Some(Arc::new(Selector::parse(text)?)),
                };
                let durable = durable_name(&frame, &id);
                ClientCommand::Subscribe {
                    destination,
                    id,
                    ack,
                    prefetch,
                    selector,
                    durable,
                    exclusive: exclusive(&frame)?,
                }
            }
            Command::Unsubscribe => {
                let id = match frame.header("id") {
                    Some(id) => id.to_string(),
                    None if version == Version::V1_0 => required(&frame, "destination")?,
                    None => required(&frame, "id")?,
                };
                let durable = durable_name(&frame, &id);
                ClientCommand::Unsubscribe { id, durable }
            }
            Command::Ack => ClientCommand::Ack {
                target: ack_target(&frame, version)?,
                transaction: tx(&frame),
            },
            Command::Nack => ClientCommand::Nack {
                target: ack_target(&frame, version)?,
                transaction: tx(&frame),
            },
            Command::Begin => ClientCommand::Begin(required(&frame, "transaction")?),
            Command::Commit => ClientCommand::Commit(required(&frame, "transaction")?),
            Command::Abort => ClientCommand::Abort(required(&frame, "transaction")?),
            Command::Disconnect => ClientCommand::Disconnect,
            Command::Connect | Command::Stomp => return Err(CommandError::AlreadyConnected),
            c @ (Command::Connected | Command::Message | Command::Receipt | Command::Error) => {
                return Err(CommandError::ServerFrame(c.as_str()))
            }
        })
    }
}
