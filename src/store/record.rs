//! The journal's record format: `[len u32][crc32c u32][payload]`, little-endian, where the payload
//! is a sequence of operations and the CRC covers the payload. A zero length marks the end of the
//! written part of a (zero-filled) segment. This file knows bytes only, not files.

use bytes::{BufMut, Bytes};

use super::batch::{Op, QueueId};

/// Bytes of `len` + `crc` in front of every payload.
pub(crate) const FRAME_LEN: usize = 8;

const DECLARE: u8 = 1;
const APPEND: u8 = 2;
const ACK: u8 = 3;
const DELIVERIES: u8 = 4;

/// What was found at a position of a segment.
#[derive(Debug)]
pub(crate) enum Read {
    /// A whole, valid record and the position just after it.
    Record { ops: Vec<Op>, next: usize },
    /// Zeros: nothing was ever written here.
    End,
    /// A record that is cut short or fails its CRC (a torn write, or corruption).
    Torn(String),
    /// A record whose CRC matches but whose payload cannot be decoded (a bug or another version).
    Invalid(String),
}

/// Bytes one operation takes inside a record.
pub(crate) fn op_len(op: &Op) -> usize {
    match op {
        Op::Declare { name, .. } => 1 + 4 + 2 + name.len(),
        Op::Append { headers, body, .. } => 1 + 4 + 8 + 8 + 4 + 4 + headers.len() + 4 + body.len(),
        Op::Ack { .. } => 1 + 4 + 8,
        Op::Deliveries { .. } => 1 + 4 + 8 + 4,
    }
}

/// Bytes one record holding `ops` takes, framing included.
pub(crate) fn record_len(ops: &[Op]) -> usize {
    FRAME_LEN + ops.iter().map(op_len).sum::<usize>()
}

/// Appends one record holding `ops` to `out`. `ops` must not be empty (a zero length means "end").
pub(crate) fn encode(ops: &[Op], out: &mut Vec<u8>) {
    debug_assert!(!ops.is_empty());
    let start = out.len();
    out.put_u64_le(0); // len and crc, filled below
    for op in ops {
        match op {
            Op::Declare { queue, name } => {
                out.put_u8(DECLARE);
                out.put_u32_le(queue.0);
                // Names longer than u16::MAX are refused by declare_queue.
                out.put_u16_le(name.len() as u16);
                out.put_slice(name.as_bytes());
            }
            Op::Append {
                queue,
                id,
                seq,
                deliveries,
                headers,
                body,
            } => {
                out.put_u8(APPEND);
                out.put_u32_le(queue.0);
                out.put_u64_le(*id);
                out.put_u64_le(*seq);
                out.put_u32_le(*deliveries);
                out.put_u32_le(headers.len() as u32);
                out.put_slice(headers);
                out.put_u32_le(body.len() as u32);
                out.put_slice(body);
            }
            Op::Ack { queue, id } => {
                out.put_u8(ACK);
                out.put_u32_le(queue.0);
                out.put_u64_le(*id);
            }
            Op::Deliveries { queue, id, count } => {
                out.put_u8(DELIVERIES);
                out.put_u32_le(queue.0);
                out.put_u64_le(*id);
                out.put_u32_le(*count);
            }
        }
    }
    let payload_len = (out.len() - start - FRAME_LEN) as u32;
    let crc = crc32c::crc32c(&out[start + FRAME_LEN..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Reads the record at `pos` of `buf` (a whole segment).
pub(crate) fn read(buf: &[u8], pos: usize) -> Read {
    let Some(frame) = buf.get(pos..pos + FRAME_LEN) else {
        return Read::End; // no room for another record: the segment is full
    };
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    if len == 0 {
        return if crc == 0 {
            Read::End
        } else {
            Read::Torn("zero length with a non-zero CRC".into())
        };
    }
    let start = pos + FRAME_LEN;
    let Some(payload) = buf.get(start..start + len) else {
        return Read::Torn(format!("length {len} runs past the end of the segment"));
    };
    if crc32c::crc32c(payload) != crc {
        return Read::Torn(format!("CRC mismatch in a record of {len} bytes"));
    }
    match decode_ops(payload) {
        Ok(ops) => Read::Record {
            ops,
            next: start + len,
        },
        Err(reason) => Read::Invalid(reason),
    }
}

/// A cursor over a payload whose every read is bounds-checked.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!(
                "operation cut short: wanted {n} bytes, {} left",
                self.0.len()
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<Bytes, String> {
        let n = self.u32()? as usize;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }
}

/// Decodes a payload (or one operation cut out of it) into its operations.
pub(crate) fn decode_ops(payload: &[u8]) -> Result<Vec<Op>, String> {
    let mut c = Cursor(payload);
    let mut ops = Vec::new();
    while !c.0.is_empty() {
        let kind = c.u8()?;
        let queue = QueueId(c.u32()?);
        let op = match kind {
            DECLARE => {
                let n = c.u16()? as usize;
                let name = std::str::from_utf8(c.take(n)?)
                    .map_err(|_| "queue name is not UTF-8".to_string())?;
                Op::Declare {
                    queue,
                    name: name.to_string(),
                }
            }
            APPEND => Op::Append {
                queue,
                id: c.u64()?,
                seq: c.u64()?,
                deliveries: c.u32()?,
                headers: c.bytes()?,
                body: c.bytes()?,
            },
            ACK => Op::Ack {
                queue,
                id: c.u64()?,
            },
            DELIVERIES => Op::Deliveries {
                queue,
                id: c.u64()?,
                count: c.u32()?,
            },
            other => return Err(format!("unknown operation kind {other}")),
        };
        ops.push(op);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Op> {
        vec![
            Op::Declare {
                queue: QueueId(1),
                name: "/queue/a".into(),
            },
            Op::Append {
                queue: QueueId(1),
                id: 7,
                seq: 3,
                deliveries: 2,
                headers: Bytes::from_static(b"h:v\n"),
                body: Bytes::from_static(b"body"),
            },
            Op::Deliveries {
                queue: QueueId(1),
                id: 7,
                count: 4,
            },
            Op::Ack {
                queue: QueueId(1),
                id: 7,
            },
        ]
    }

    #[test]
    fn round_trip_and_length() {
        let mut buf = Vec::new();
        encode(&sample(), &mut buf);
        assert_eq!(buf.len(), record_len(&sample()));
        buf.extend_from_slice(&[0; 16]);
        match read(&buf, 0) {
            Read::Record { ops, next } => {
                assert_eq!(ops, sample());
                assert_eq!(next, record_len(&sample()));
                assert!(matches!(read(&buf, next), Read::End));
            }
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_detected() {
        let mut good = Vec::new();
        encode(&sample(), &mut good);
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            assert!(!matches!(read(&bad, 0), Read::Record { .. }), "flip at {i}");
            assert!(
                !matches!(read(&good[..i], 0), Read::Record { .. }),
                "cut at {i}"
            );
        }
    }
}
