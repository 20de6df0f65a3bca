//! Header escaping, per protocol version.
//!
//! STOMP 1.0 has no escaping at all. 1.1 escapes LF (`\n`), colon (`\c`) and
//! backslash (`\\`); 1.2 adds CR (`\r`). Any other character after a backslash
//! is a fatal protocol error in 1.1 and 1.2. CONNECT, STOMP and CONNECTED frames
//! are never escaped; callers decide that and pass [`Version::V1_0`] for them.
//!
//! Since 1.0 cannot escape, a value written for 1.0 (a 1.1/1.2 producer's,
//! delivered to a 1.0 subscriber) has each CR, LF and NUL replaced by a space:
//! written raw, they would end the header line or the frame and let the bytes
//! after them read as headers or a body of the sender's choosing. A header
//! name that 1.0 cannot carry (see [`representable_name`]) is left out.

use bytes::BufMut;

use super::{ProtocolError, Version};

/// Appends `value` to `out`, escaped as `version` requires.
///
/// Only allocates if `out` has to grow; a value with nothing to escape is
/// copied in one piece.
pub fn escape_into(value: &str, version: Version, out: &mut Vec<u8>) {
    escape_to(value, version, out);
}

/// [`escape_into`] for any buffer, so the encoder can write straight into the
/// socket buffer without an intermediate `Vec`.
pub(crate) fn escape_to<B: BufMut>(value: &str, version: Version, out: &mut B) {
    let bytes = value.as_bytes();
    if version == Version::V1_0 {
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if matches!(b, b'\n' | b'\r' | 0) {
                out.put_slice(&bytes[start..i]);
                out.put_u8(b' ');
                start = i + 1;
            }
        }
        out.put_slice(&bytes[start..]);
        return;
    }
    let table = if version == Version::V1_2 {
        &NEEDS_ESCAPE_1_2
    } else {
        &NEEDS_ESCAPE_1_1
    };
    let mut start = 0;
    // A table lookup per byte instead of a four-way match: header values are
    // mostly plain, and this loop runs for every header of every MESSAGE.
    for (i, &b) in bytes.iter().enumerate() {
        if !table[b as usize] {
            continue;
        }
        let escaped: &[u8] = match b {
            b'\n' => b"\\n",
            b':' => b"\\c",
            b'\\' => b"\\\\",
            _ => b"\\r",
        };
        out.put_slice(&bytes[start..i]);
        out.put_slice(escaped);
        start = i + 1;
    }
    out.put_slice(&bytes[start..]);
}

/// The bytes 1.1 escapes: LF, colon and backslash.
static NEEDS_ESCAPE_1_1: [bool; 256] = escape_table(false);
/// The bytes 1.2 escapes: those of 1.1 and CR.
static NEEDS_ESCAPE_1_2: [bool; 256] = escape_table(true);

const fn escape_table(cr: bool) -> [bool; 256] {
    let mut table = [false; 256];
    table[b'\n' as usize] = true;
    table[b':' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'\r' as usize] = cr;
    table
}

/// Whether `name` can be written as a header name in `version`. In 1.0 the
/// first colon ends the name, so a name holding one would be read as a
/// different header; such a header is dropped rather than renamed.
pub(crate) fn representable_name(name: &str, version: Version) -> bool {
    version != Version::V1_0 || !name.bytes().any(|b| matches!(b, b':' | b'\n' | b'\r' | 0))
}

/// Unescapes a raw header name or value as `version` requires.
///
/// The raw bytes must be UTF-8 ([`ProtocolError::InvalidUtf8`] otherwise) and
/// hold no NUL ([`ProtocolError::NulInHeader`]): relayed, a NUL would end the
/// frame early and let the bytes after it read as a forged frame. In
/// 1.1 and 1.2 an undefined escape is [`ProtocolError::InvalidEscape`] and a
/// backslash with nothing after it is [`ProtocolError::IncompleteEscape`].
/// The only allocation is the returned `String`.
pub fn unescape(raw: &[u8], version: Version) -> Result<String, ProtocolError> {
    // Escape sequences are pure ASCII and a backslash can never be part of a
    // multi-byte sequence, so validating the raw bytes once also validates the
    // unescaped result.
    let text = std::str::from_utf8(raw).map_err(|_| ProtocolError::InvalidUtf8)?;
    // One SIMD pass finds both what is refused (NUL) and what needs work
    // (a backslash); most values have neither and are copied as they are.
    let Some(first) = memchr::memchr2(0, b'\\', raw) else {
        return Ok(text.to_owned());
    };
    if memchr::memchr(0, &raw[first..]).is_some() {
        return Err(ProtocolError::NulInHeader);
    }
    if version == Version::V1_0 {
        return Ok(text.to_owned());
    }
    // `first` is a backslash (the NUL check above passed), an ASCII byte, so
    // both halves are on character boundaries.
    let (head, rest) = text.split_at(first);
    let mut rest = &rest[1..];
    let mut out = String::with_capacity(text.len());
    out.push_str(head);
    loop {
        let mut chars = rest.chars();
        let unescaped = match chars.next() {
            Some('n') => '\n',
            Some('c') => ':',
            Some('\\') => '\\',
            Some('r') if version == Version::V1_2 => '\r',
            Some(other) => return Err(ProtocolError::InvalidEscape(other)),
            None => return Err(ProtocolError::IncompleteEscape),
        };
        out.push(unescaped);
        match chars.as_str().split_once('\\') {
            Some((plain, next)) => {
                out.push_str(plain);
                rest = next;
            }
            None => {
                out.push_str(chars.as_str());
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(value: &str, version: Version) -> String {
        let mut out = Vec::new();
        escape_into(value, version, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn v1_0_never_escapes_but_replaces_line_breaks_and_nul() {
        assert_eq!(esc("a:b\\c\nd\re\0f", Version::V1_0), "a:b\\c d e f");
        assert!(representable_name("x-a.b", Version::V1_0));
        for bad in ["a:b", "a\nb", "a\rb", "a\0b"] {
            assert!(!representable_name(bad, Version::V1_0), "{bad:?}");
            assert!(representable_name(bad, Version::V1_2), "{bad:?}");
        }
        assert_eq!(
            unescape(b"a\\nb\\q\\", Version::V1_0).unwrap(),
            "a\\nb\\q\\"
        );
    }

    #[test]
    fn v1_1_escapes_lf_colon_backslash_but_not_cr() {
        assert_eq!(esc("a:b\\c\nd\re", Version::V1_1), "a\\cb\\\\c\\nd\re");
        assert_eq!(
            unescape(b"a\\cb\\\\c\\nd", Version::V1_1).unwrap(),
            "a:b\\c\nd"
        );
        assert_eq!(
            unescape(b"x\\ry", Version::V1_1),
            Err(ProtocolError::InvalidEscape('r'))
        );
    }

    #[test]
    fn v1_2_adds_cr() {
        assert_eq!(esc("a:b\\c\nd\re", Version::V1_2), "a\\cb\\\\c\\nd\\re");
        assert_eq!(
            unescape(b"a\\cb\\\\c\\nd\\re", Version::V1_2).unwrap(),
            "a:b\\c\nd\re"
        );
    }

    #[test]
    fn plain_values_pass_through() {
        for v in Version::SUPPORTED {
            assert_eq!(esc("plain value é", v), "plain value é");
            assert_eq!(
                unescape("plain value é".as_bytes(), v).unwrap(),
                "plain value é"
            );
            assert_eq!(unescape(b"", v).unwrap(), "");
        }
    }

    #[test]
    fn undefined_escapes_are_errors() {
        for v in [Version::V1_1, Version::V1_2] {
            assert_eq!(unescape(b"a\\t", v), Err(ProtocolError::InvalidEscape('t')));
            assert_eq!(
                unescape("\\é".as_bytes(), v),
                Err(ProtocolError::InvalidEscape('é'))
            );
            assert_eq!(unescape(b"a\\", v), Err(ProtocolError::IncompleteEscape));
            assert_eq!(unescape(b"\\\\\\", v), Err(ProtocolError::IncompleteEscape));
        }
    }

    #[test]
    fn escapes_at_edges_and_adjacent() {
        assert_eq!(unescape(b"\\n", Version::V1_2).unwrap(), "\n");
        assert_eq!(unescape(b"\\c\\c", Version::V1_2).unwrap(), "::");
        assert_eq!(unescape(b"\\\\n", Version::V1_2).unwrap(), "\\n");
        assert_eq!(esc("::", Version::V1_1), "\\c\\c");
    }

    #[test]
    fn nul_is_rejected_in_every_version() {
        for v in Version::SUPPORTED {
            assert_eq!(unescape(b"a\0b", v), Err(ProtocolError::NulInHeader));
            assert_eq!(unescape(b"\0", v), Err(ProtocolError::NulInHeader));
        }
    }

    #[test]
    fn invalid_utf8_is_rejected_in_every_version() {
        for v in Version::SUPPORTED {
            assert_eq!(unescape(b"\xff\xfe", v), Err(ProtocolError::InvalidUtf8));
            assert_eq!(unescape(b"ok\\n\xc3", v), Err(ProtocolError::InvalidUtf8));
        }
    }
}
