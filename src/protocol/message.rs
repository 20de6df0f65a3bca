//! Encoding MESSAGE frames for delivery. The headers every delivery of a
//! message shares (the SEND's) are encoded once per message and protocol
//! version; each delivery only writes its own few headers around them.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{put_content_length, put_decimal};
use super::headers::{escape_to, representable_name};
use super::Version;

/// Names the broker writes per delivery. A SEND header of the same name is
/// left out of the shared part, so a producer cannot forge them.
const PER_DELIVERY: [&str; 6] = [
    "subscription",
    "message-id",
    "ack",
    "redelivered",
    "delivery-count",
    "content-length",
];

/// The per-delivery headers of one MESSAGE.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The client's subscription id.
    pub subscription: &'a str,
    /// The broker-wide message id.
    pub message_id: u64,
    /// The `ack` header value, for subscriptions that acknowledge (1.2).
    pub ack: Option<&'a str>,
    /// Deliveries so far, when this is a redelivery.
    pub redelivered: Option<u32>,
}

/// Encodes `headers` (a SEND's) as MESSAGE header lines for `version`, once
/// for all deliveries of the message. For 1.0, which cannot escape, a name
/// it cannot carry is left out and line breaks in values become spaces (see
/// [`super::headers`]), so no producer can break a 1.0 subscriber's frame.
pub fn encode_shared_headers(headers: &[(String, String)], version: Version) -> Bytes {
    let len: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    let mut out = BytesMut::with_capacity(len + len / 8);
    for (name, value) in headers {
        if PER_DELIVERY.contains(&name.as_str()) || !representable_name(name, version) {
            continue;
        }
        escape_to(name, version, &mut out);
        out.put_u8(b':');
        escape_to(value, version, &mut out);
        out.put_u8(b'\n');
    }
    out.freeze()
}

/// Writes a MESSAGE up to and including the blank line: command, the
/// delivery's headers, the pre-encoded `shared` headers and content-length.
/// The caller writes the body and the closing [`FRAME_END`](super::FRAME_END).
pub fn encode_message_head(
    d: &Delivery<'_>,
    shared: &[u8],
    body_len: usize,
    version: Version,
    dst: &mut BytesMut,
) {
    dst.reserve(64 + d.subscription.len() + shared.len() + d.ack.map_or(0, str::len));
    dst.put_slice(b"MESSAGE\nsubscription:");
    escape_to(d.subscription, version, dst);
    dst.put_slice(b"\nmessage-id:");
    put_decimal(dst, d.message_id);
    if let Some(ack) = d.ack {
        dst.put_slice(b"\nack:");
        escape_to(ack, version, dst);
    }
    if let Some(n) = d.redelivered {
        dst.put_slice(b"\nredelivered:true\ndelivery-count:");
        put_decimal(dst, u64::from(n));
    }
    dst.put_u8(b'\n');
    dst.put_slice(shared);
    put_content_length(dst, body_len);
    dst.put_u8(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_is_exact_and_shared_headers_skip_forged_names() {
        let shared = encode_shared_headers(
            &[
                ("destination".into(), "/queue/a".into()),
                ("message-id".into(), "forged".into()),
                ("x-k".into(), "a:b".into()),
            ],
            Version::V1_2,
        );
        let mut out = BytesMut::new();
        let d = Delivery {
            subscription: "s\n1",
            message_id: 42,
            ack: Some("3:42"),
            redelivered: Some(2),
        };
        encode_message_head(&d, &shared, 5, Version::V1_2, &mut out);
        assert_eq!(
            &out[..],
            &b"MESSAGE\nsubscription:s\\n1\nmessage-id:42\nack:3\\c42\nredelivered:true\ndelivery-count:2\ndestination:/queue/a\nx-k:a\\cb\ncontent-length:5\n\n"[..]
        );
    }

    #[test]
    fn a_whole_message_ends_in_nul_lf_and_counts_its_body() {
        let shared = encode_shared_headers(
            &[
                ("subscription".into(), "forged".into()),
                ("content-length".into(), "999".into()),
                ("x".into(), "y".into()),
            ],
            Version::V1_1,
        );
        let d = Delivery {
            subscription: "s1",
            message_id: 7,
            ack: None,
            redelivered: None,
        };
        let mut out = BytesMut::new();
        encode_message_head(&d, &shared, 3, Version::V1_1, &mut out);
        out.extend_from_slice(b"\0ab");
        out.extend_from_slice(crate::protocol::FRAME_END);
        assert_eq!(
            &out[..],
            &b"MESSAGE\nsubscription:s1\nmessage-id:7\nx:y\ncontent-length:3\n\n\0ab\0\n"[..]
        );
        let mut empty = BytesMut::new();
        encode_message_head(&d, &[], 0, Version::V1_1, &mut empty);
        assert_eq!(
            &empty[..],
            &b"MESSAGE\nsubscription:s1\nmessage-id:7\ncontent-length:0\n\n"[..]
        );
    }
}
