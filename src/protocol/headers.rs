//! Header value escaping, per protocol version.
//! (Interface only; the implementation is being written.)

use super::{ProtocolError, Version};

/// Appends `value` to `out`, escaped as `version` requires.
pub fn escape_into(_value: &str, _version: Version, _out: &mut Vec<u8>) {
    todo!()
}

/// Unescapes a raw header name or value as `version` requires.
pub fn unescape(_raw: &[u8], _version: Version) -> Result<String, ProtocolError> {
    todo!()
}
