//! How a message's headers are written into a journal record and read back:
//! `[name len u32][name][value len u32][value]`, little-endian, so any byte
//! may appear in a name or a value.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

/// Headers read back from the journal that are not what [`encode_headers`] wrote.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("journaled headers are malformed: {0}")]
pub struct BadHeaders(&'static str);

/// Writes headers as `[name len u32][name][value len u32][value]`, little-endian:
/// any byte may appear in a name or value.
pub fn encode_headers(headers: &[(String, String)]) -> Bytes {
    let len: usize = headers.iter().map(|(n, v)| 8 + n.len() + v.len()).sum();
    let mut out = BytesMut::with_capacity(len);
    for (n, v) in headers {
        for part in [n, v] {
            // A header longer than 4 GiB cannot have passed the frame-size limit.
            out.put_u32_le(u32::try_from(part.len()).unwrap_or(u32::MAX));
            out.put_slice(part.as_bytes());
        }
    }
    out.freeze()
}

/// Reads back what [`encode_headers`] wrote.
pub fn decode_headers(mut buf: Bytes) -> Result<Vec<(String, String)>, BadHeaders> {
    let part = |buf: &mut Bytes| -> Result<String, BadHeaders> {
        if buf.remaining() < 4 {
            return Err(BadHeaders("length cut short"));
        }
        let len = buf.get_u32_le() as usize;
        if buf.remaining() < len {
            return Err(BadHeaders("text cut short"));
        }
        String::from_utf8(buf.split_to(len).to_vec()).map_err(|_| BadHeaders("not UTF-8"))
    };
    let mut headers = Vec::new();
    while buf.has_remaining() {
        let name = part(&mut buf)?;
        let value = part(&mut buf)?;
        headers.push((name, value));
    }
    Ok(headers)
}

/// The value of the first header called `name` in what [`encode_headers`]
/// wrote, without decoding the rest; `None` when absent or malformed.
pub fn find_encoded<'a>(mut buf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    fn part<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, rest) = buf.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let (part, rest) = (rest.get(..len)?, rest.get(len..)?);
        *buf = rest;
        Some(part)
    }
    while !buf.is_empty() {
        let n = part(&mut buf)?;
        let v = part(&mut buf)?;
        if n == name.as_bytes() {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_with_any_bytes() {
        let h = vec![
            ("destination".to_string(), "/queue/a".to_string()),
            ("odd:name\n".to_string(), "\0value\u{e9}".to_string()),
            (String::new(), String::new()),
        ];
        assert_eq!(decode_headers(encode_headers(&h)), Ok(h.clone()));
        let encoded = encode_headers(&h);
        assert_eq!(
            find_encoded(&encoded, "odd:name\n"),
            Some("\0value\u{e9}".as_bytes())
        );
        assert_eq!(find_encoded(&encoded, ""), Some(&b""[..]));
        assert_eq!(find_encoded(&encoded, "absent"), None);
        assert_eq!(find_encoded(&encoded[..6], "odd:name\n"), None, "cut short");
        assert_eq!(decode_headers(Bytes::new()), Ok(vec![]));
    }

    #[test]
    fn truncated_headers_are_an_error_not_a_panic() {
        let h = vec![("k".to_string(), "value".to_string())];
        let full = encode_headers(&h);
        for cut in 1..full.len() {
            assert!(decode_headers(full.slice(..cut)).is_err(), "cut at {cut}");
        }
    }
}
