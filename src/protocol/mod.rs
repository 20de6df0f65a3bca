//! The STOMP wire protocol: frames, versions, and the codec that turns bytes
//! into frames and back. Pure: it knows nothing of actors, sessions or routing.

mod codec;
mod error;
mod error_reason;
mod frame;
mod headers;
mod message;
mod server;
mod version;

pub use codec::{Inbound, Limits, Outbound, StompCodec};
pub use error::ProtocolError;
pub use error_reason::ErrorReason;
pub use frame::{Command, Frame, FRAME_END};
pub use headers::{escape_into, unescape};
pub use message::{encode_message_head, encode_shared_headers, Delivery};
pub use server::{
    error_frame, receipt_frame, sanitize_message, ErrorVersion, ERROR_CONTENT_TYPE,
    MAX_ERROR_MESSAGE,
};
pub use version::Version;
