//! A message as it crosses NATS between nodes: `[headers len u32 LE][headers][body]`, the
//! headers in the journal's encoding ([`encode_headers`]), so any byte survives (NATS
//! headers cannot carry a STOMP header's line breaks or colons).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use thiserror::Error;

use crate::model::{decode_headers, encode_headers, BadHeaders, MessageData};

/// A payload from NATS that [`encode`] did not write.
#[derive(Debug, Error)]
pub enum WireError {
    #[error("message from the cluster is cut short")]
    Torn,
    #[error(transparent)]
    Headers(#[from] BadHeaders),
}

/// The NATS header naming the node that published a message.
pub const NODE_HEADER: &str = "Stompede-Node";

/// `data`'s headers and body as one NATS payload.
pub fn encode(data: &MessageData) -> Bytes {
    let headers = encode_headers(&data.headers);
    let mut out = BytesMut::with_capacity(4 + headers.len() + data.body.len());
    // Headers passed the frame-size limit, far below 4 GiB.
    out.put_u32_le(u32::try_from(headers.len()).unwrap_or(u32::MAX));
    out.put_slice(&headers);
    out.put_slice(&data.body);
    out.freeze()
}

/// Reads back what [`encode`] wrote: the headers and the body (sharing `payload`'s buffer).
pub fn decode(mut payload: Bytes) -> Result<(Vec<(String, String)>, Bytes), WireError> {
    if payload.remaining() < 4 {
        return Err(WireError::Torn);
    }
    let len = payload.get_u32_le() as usize;
    if payload.remaining() < len {
        return Err(WireError::Torn);
    }
    let headers = decode_headers(payload.split_to(len))?;
    Ok((headers, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_and_a_torn_one_is_an_error() {
        let data = MessageData::from_send(
            vec![
                ("destination".into(), "/topic/a".into()),
                ("odd".into(), "line\nbreak:colon".into()),
            ],
            Bytes::from_static(b"body\0bytes"),
        );
        let wire = encode(&data);
        let (headers, body) = decode(wire.clone()).expect("decodes");
        assert_eq!(headers.as_slice(), &*data.headers);
        assert_eq!(body, data.body);
        for cut in 0..4 + 8 {
            assert!(decode(wire.slice(..cut)).is_err(), "cut at {cut}");
        }
    }
}
