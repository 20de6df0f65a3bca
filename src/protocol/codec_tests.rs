//! Tests for `StompCodec`: exact bytes for each grammar rule and limit, plus
//! property tests for round-trips, arbitrary read splits and hostile input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use super::*;

fn codec(version: Option<Version>) -> StompCodec {
    let mut c = StompCodec::new(Limits::default());
    if let Some(v) = version {
        c.set_version(v);
    }
    c
}

/// Decodes everything decodable from `buf`, stopping at the first error.
fn drain(c: &mut StompCodec, buf: &mut BytesMut) -> Result<Vec<Inbound>, ProtocolError> {
    let mut out = Vec::new();
    while let Some(item) = c.decode(buf)? {
        out.push(item);
    }
    Ok(out)
}

fn decode_with(c: &mut StompCodec, bytes: &[u8]) -> Result<Vec<Inbound>, ProtocolError> {
    drain(c, &mut BytesMut::from(bytes))
}

fn decode(version: Option<Version>, bytes: &[u8]) -> Result<Vec<Inbound>, ProtocolError> {
    decode_with(&mut codec(version), bytes)
}

/// The single frame `bytes` must decode to.
fn one(version: Option<Version>, bytes: &[u8]) -> Frame {
    match decode(version, bytes).unwrap().as_slice() {
        [Inbound::Frame(f)] => f.clone(),
        other => panic!("expected one frame, got {other:?}"),
    }
}

fn err(version: Option<Version>, bytes: &[u8]) -> ProtocolError {
    decode(version, bytes).unwrap_err()
}

fn small_limits() -> Limits {
    Limits {
        max_frame_size: 64,
        max_headers: 2,
        max_header_line: 24,
        max_command_len: 12,
    }
}

fn decode_small(bytes: &[u8]) -> Result<Vec<Inbound>, ProtocolError> {
    decode_with(&mut StompCodec::new(small_limits()), bytes)
}

fn encode(c: &mut StompCodec, item: Outbound) -> Vec<u8> {
    let mut dst = BytesMut::new();
    c.encode(item, &mut dst).unwrap();
    dst.to_vec()
}

fn hdrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn decodes_a_simple_frame() {
    let f = one(None, b"SEND\ndestination:/q/a\nreceipt:1\n\nhello\0");
    assert_eq!(f.command, Command::Send);
    assert_eq!(
        f.headers,
        hdrs(&[("destination", "/q/a"), ("receipt", "1")])
    );
    assert_eq!(f.body, Bytes::from_static(b"hello"));
}

#[test]
fn crlf_line_endings_are_stripped_everywhere() {
    for v in [
        None,
        Some(Version::V1_0),
        Some(Version::V1_1),
        Some(Version::V1_2),
    ] {
        let f = one(v, b"SEND\r\ndestination:/q/a\r\nempty:\r\n\r\nhi\0");
        assert_eq!(f.headers, hdrs(&[("destination", "/q/a"), ("empty", "")]));
        assert_eq!(f.body, Bytes::from_static(b"hi"));
    }
}

#[test]
fn crlf_split_at_every_pair_of_points() {
    let wire: &[u8] = b"\r\nSEND\r\nk:v\r\n\r\nbody\0\r\n";
    for i in 0..=wire.len() {
        for j in i..=wire.len() {
            let mut c = codec(Some(Version::V1_2));
            let mut buf = BytesMut::new();
            let mut seen = Vec::new();
            for part in [&wire[..i], &wire[i..j], &wire[j..]] {
                buf.extend_from_slice(part);
                seen.extend(drain(&mut c, &mut buf).unwrap());
            }
            let frames: Vec<_> = seen
                .iter()
                .filter(|x| matches!(x, Inbound::Frame(_)))
                .collect();
            assert_eq!(frames.len(), 1, "split {i}/{j}");
            let Inbound::Frame(f) = frames[0] else {
                unreachable!()
            };
            assert_eq!(f.headers, hdrs(&[("k", "v")]));
            assert_eq!(f.body, Bytes::from_static(b"body"));
            assert!(buf.is_empty(), "split {i}/{j} left {buf:?}");
            assert!(matches!(seen.first(), Some(Inbound::Heartbeat)));
            assert!(matches!(seen.last(), Some(Inbound::Heartbeat)));
        }
    }
}

#[test]
fn eols_between_frames_are_heartbeats() {
    let mut c = codec(None);
    let mut buf = BytesMut::from(&b"\n\r\n\n"[..]);
    assert_eq!(c.decode(&mut buf).unwrap(), Some(Inbound::Heartbeat));
    assert!(buf.is_empty());
    assert_eq!(c.decode(&mut buf).unwrap(), None);

    // A lone CR may be half of a CRLF: wait for more.
    buf.extend_from_slice(b"\r");
    assert_eq!(c.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(b"\n");
    assert_eq!(c.decode(&mut buf).unwrap(), Some(Inbound::Heartbeat));

    let items = decode(None, b"\nSEND\n\n\0\n\nSEND\n\n\0").unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0], Inbound::Heartbeat);
    assert!(matches!(items[1], Inbound::Frame(_)));
    assert_eq!(items[2], Inbound::Heartbeat);
    assert!(matches!(items[3], Inbound::Frame(_)));
}

#[test]
fn a_cr_held_back_then_completed_is_a_heartbeat() {
    let mut c = codec(None);
    let mut buf = BytesMut::from(&b"\r"[..]);
    assert_eq!(c.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(b"\nSEND\n\n\0");
    let items = drain(&mut c, &mut buf).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], Inbound::Heartbeat);
    assert!(matches!(&items[1], Inbound::Frame(f) if f.command == Command::Send));
}

#[test]
fn content_length_body_may_contain_nul() {
    let f = one(None, b"SEND\ncontent-length:5\n\na\0b\0c\0");
    assert_eq!(f.body, Bytes::from_static(b"a\0b\0c"));
    assert_eq!(one(None, b"SEND\ncontent-length:0\n\n\0").body.len(), 0);
    // Lenient about surrounding blanks, as many clients are.
    assert_eq!(one(None, b"SEND\ncontent-length: 2 \n\nab\0").body.len(), 2);
}

#[test]
fn content_length_must_be_followed_by_nul() {
    assert_eq!(
        err(None, b"SEND\ncontent-length:2\n\nabc\0"),
        ProtocolError::MissingNul(2)
    );
}

#[test]
fn content_length_must_be_a_number() {
    for bad in ["abc", "-1", "", "+3", "1 2", "99999999999999999999999"] {
        let wire = format!("SEND\ncontent-length:{bad}\n\n\0");
        assert_eq!(
            err(None, wire.as_bytes()),
            ProtocolError::InvalidContentLength(bad.to_owned()),
            "{bad:?}"
        );
    }
}

#[test]
fn repeated_headers_are_kept_and_the_first_wins() {
    let f = one(
        None,
        b"SEND\nfoo:1\nfoo:2\ncontent-length:1\ncontent-length:3\n\nx\0",
    );
    assert_eq!(f.header("foo"), Some("1"));
    assert_eq!(f.headers.len(), 4);
    assert_eq!(f.headers[1], ("foo".to_owned(), "2".to_owned()));
    assert_eq!(f.body, Bytes::from_static(b"x"));
}

#[test]
fn values_may_contain_colons_and_names_may_be_escaped() {
    let f = one(Some(Version::V1_0), b"SEND\nurl:http://x:80\n\n\0");
    assert_eq!(f.header("url"), Some("http://x:80"));
    let f = one(Some(Version::V1_2), b"SEND\na\\cb:c\\\\d\n\n\0");
    assert_eq!(f.headers, hdrs(&[("a:b", "c\\d")]));
}

#[test]
fn escaping_follows_the_version() {
    let wire: &[u8] = b"SEND\nk:a\\nb\\cc\\\\d\n\n\0";
    assert_eq!(one(None, wire).header("k"), Some("a\\nb\\cc\\\\d"));
    assert_eq!(
        one(Some(Version::V1_0), wire).header("k"),
        Some("a\\nb\\cc\\\\d")
    );
    assert_eq!(
        one(Some(Version::V1_1), wire).header("k"),
        Some("a\nb:c\\d")
    );
    assert_eq!(
        one(Some(Version::V1_2), wire).header("k"),
        Some("a\nb:c\\d")
    );

    let cr: &[u8] = b"SEND\nk:x\\ry\n\n\0";
    assert_eq!(one(Some(Version::V1_2), cr).header("k"), Some("x\ry"));
    assert_eq!(
        err(Some(Version::V1_1), cr),
        ProtocolError::InvalidEscape('r')
    );
    assert_eq!(one(Some(Version::V1_0), cr).header("k"), Some("x\\ry"));
}

#[test]
fn invalid_escapes_are_errors_in_1_1_and_1_2() {
    for v in [Version::V1_1, Version::V1_2] {
        assert_eq!(
            err(Some(v), b"SEND\nk:a\\tb\n\n\0"),
            ProtocolError::InvalidEscape('t')
        );
        assert_eq!(
            err(Some(v), b"SEND\nk:a\\\n\n\0"),
            ProtocolError::IncompleteEscape
        );
        // `\:` in a name: the colon is read as the separator.
        assert_eq!(
            err(Some(v), b"SEND\na\\:b\n\n\0"),
            ProtocolError::InvalidEscape(':')
        );
    }
}

#[test]
fn connect_stomp_and_connected_are_never_unescaped() {
    for cmd in ["CONNECT", "STOMP", "CONNECTED"] {
        let wire = format!("{cmd}\npasscode:a\\b\\c\nlogin:x\\ny\n\n\0");
        let f = one(Some(Version::V1_2), wire.as_bytes());
        assert_eq!(f.header("passcode"), Some("a\\b\\c"));
        assert_eq!(f.header("login"), Some("x\\ny"));
    }
}

#[test]
fn header_without_colon_is_rejected() {
    assert_eq!(
        err(None, b"SEND\ndestination\n\n\0"),
        ProtocolError::MissingColon
    );
}

#[test]
fn headers_must_be_utf8() {
    assert_eq!(
        err(None, b"SEND\nk\xff:v\n\n\0"),
        ProtocolError::InvalidUtf8
    );
    assert_eq!(
        err(Some(Version::V1_2), b"SEND\nk:v\xc3\n\n\0"),
        ProtocolError::InvalidUtf8
    );
}

#[test]
fn unknown_commands_are_named() {
    assert_eq!(
        err(None, b"FOO\n\n\0"),
        ProtocolError::UnknownCommand("FOO".to_owned())
    );
    assert_eq!(
        err(None, b"send\n\n\0"),
        ProtocolError::UnknownCommand("send".to_owned())
    );
    assert_eq!(
        err(None, b"S\xffND\r\n\n\0"),
        ProtocolError::UnknownCommand("S\u{fffd}ND".to_owned())
    );
}

#[test]
fn command_too_long_is_detected_before_the_line_ends() {
    let limit = ProtocolError::CommandTooLong { limit: 12 };
    assert_eq!(decode_small(b"SUBSCRIBEXXXX\n").unwrap_err(), limit);
    assert_eq!(decode_small(b"SUBSCRIBEXXXX").unwrap_err(), limit);
    // Exactly at the limit, with a CR that may start a CRLF, is fine so far.
    assert_eq!(decode_small(b"SUBSCRIBEXXX\r").unwrap(), vec![]);
}

#[test]
fn too_many_headers_is_detected_at_the_first_byte_of_one_more() {
    let limit = ProtocolError::TooManyHeaders { limit: 2 };
    assert!(decode_small(b"SEND\na:1\nb:2\n\n\0").is_ok());
    assert_eq!(
        decode_small(b"SEND\na:1\nb:2\nc:3\n\n\0").unwrap_err(),
        limit
    );
    assert_eq!(decode_small(b"SEND\na:1\nb:2\nc").unwrap_err(), limit);
    assert_eq!(decode_small(b"SEND\na:1\nb:2\n\r").unwrap(), vec![]);
}

#[test]
fn header_line_too_long_is_detected_before_the_line_ends() {
    let limit = ProtocolError::HeaderLineTooLong { limit: 24 };
    assert!(decode_small(b"SEND\nk:23456789abcdefghijklmn\r\n\n\0").is_ok());
    assert_eq!(
        decode_small(b"SEND\nk:23456789abcdefghijklmno\n\n\0").unwrap_err(),
        limit
    );
    assert_eq!(
        decode_small(b"SEND\nk:23456789abcdefghijklmno").unwrap_err(),
        limit
    );
}

#[test]
fn frame_too_large_content_length_is_rejected_right_after_headers() {
    let limit = ProtocolError::FrameTooLarge { limit: 64 };
    // 5 + 18 + 1 = 24 octets of command and headers leave 40 for the body.
    assert!(decode_small(b"SEND\ncontent-length:40\n\n")
        .unwrap()
        .is_empty());
    assert_eq!(
        decode_small(b"SEND\ncontent-length:41\n\n").unwrap_err(),
        limit
    );
}

#[test]
fn frame_too_large_without_content_length_is_rejected_without_a_nul() {
    let limit = ProtocolError::FrameTooLarge { limit: 64 };
    let mut wire = b"SEND\n\n".to_vec();
    wire.extend(std::iter::repeat_n(b'x', 58));
    assert!(decode_small(&wire).unwrap().is_empty());
    wire.push(b'x');
    assert_eq!(decode_small(&wire).unwrap_err(), limit);
    // Even if a NUL follows later in the same read.
    wire.push(0);
    assert_eq!(decode_small(&wire).unwrap_err(), limit);
    wire.truncate(64);
    wire.push(0);
    assert_eq!(decode_small(&wire).unwrap().len(), 1);
}

#[test]
fn frame_too_large_counts_headers() {
    let mut c = StompCodec::new(Limits {
        max_headers: 100,
        ..small_limits()
    });
    let mut wire = b"SEND\n".to_vec();
    for _ in 0..9 {
        wire.extend_from_slice(b"abc:defg\n");
    }
    assert_eq!(
        decode_with(&mut c, &wire).unwrap_err(),
        ProtocolError::FrameTooLarge { limit: 64 }
    );
}

#[test]
fn large_content_length_reserves_once_and_body_is_not_copied() {
    let len = 1 << 20;
    let mut c = codec(None);
    let mut buf = BytesMut::from(&format!("SEND\ncontent-length:{len}\n\n")[..]);
    assert_eq!(c.decode(&mut buf).unwrap(), None);
    assert!(buf.capacity() > len);
    let chunk = [7u8; 4096];
    for _ in 0..len / chunk.len() {
        let before = buf.capacity();
        buf.extend_from_slice(&chunk);
        assert_eq!(buf.capacity(), before, "buffer reallocated");
        assert_eq!(c.decode(&mut buf).unwrap(), None);
    }
    buf.extend_from_slice(b"\0");
    let start = buf.as_ptr();
    let Some(Inbound::Frame(f)) = c.decode(&mut buf).unwrap() else {
        panic!("expected a frame")
    };
    assert_eq!(f.body.len(), len);
    assert_eq!(f.body.as_ptr(), start);
}

#[test]
fn nul_search_resumes_where_it_stopped() {
    let mut c = codec(None);
    let mut buf = BytesMut::from(&b"SEND\n\n"[..]);
    assert_eq!(c.decode(&mut buf).unwrap(), None);
    for i in 1..=10 {
        buf.extend_from_slice(&[b'x'; 100]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        assert_eq!(c.state.scanned, i * 100);
    }
    buf.extend_from_slice(b"\0");
    let Some(Inbound::Frame(f)) = c.decode(&mut buf).unwrap() else {
        panic!("expected a frame")
    };
    assert_eq!(f.body.len(), 1000);
}

#[test]
fn eof_mid_frame_is_an_error_and_eof_between_frames_is_not() {
    let mut c = codec(None);
    let mut buf = BytesMut::from(&b"SEND\nk:v\n"[..]);
    assert_eq!(c.decode(&mut buf).unwrap(), None);
    assert!(matches!(c.decode_eof(&mut buf), Err(ProtocolError::Io(_))));
    let mut buf = BytesMut::from(&b"\r"[..]);
    assert_eq!(c.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn an_error_resets_the_decoder() {
    let mut c = codec(None);
    assert!(decode_with(&mut c, b"SEND\nbad\n").is_err());
    assert_eq!(decode_with(&mut c, b"ACK\nid:1\n\n\0").unwrap().len(), 1);
}

#[test]
fn encodes_frames_with_escaping_and_content_length() {
    let frame = Frame::new(Command::Error)
        .with_header("message", "a:b\nc\\d\re")
        .with_body(&b"oops"[..]);
    let mut c = codec(None);
    assert_eq!(
        encode(&mut c, Outbound::Frame(frame.clone())),
        // Unescaped, as before CONNECT and in 1.0, but line breaks cannot
        // leave the header line.
        b"ERROR\nmessage:a:b c\\d e\ncontent-length:4\n\noops\0\n"
    );
    c.set_version(Version::V1_1);
    assert_eq!(
        encode(&mut c, Outbound::Frame(frame.clone())),
        b"ERROR\nmessage:a\\cb\\nc\\\\d\re\ncontent-length:4\n\noops\0\n"
    );
    c.set_version(Version::V1_2);
    assert_eq!(
        encode(&mut c, Outbound::Frame(frame)),
        b"ERROR\nmessage:a\\cb\\nc\\\\d\\re\ncontent-length:4\n\noops\0\n"
    );
}

#[test]
fn encoder_keeps_a_given_content_length_and_skips_it_for_empty_bodies() {
    let mut c = codec(Some(Version::V1_2));
    let f = Frame::new(Command::Receipt).with_header("receipt-id", "7");
    assert_eq!(
        encode(&mut c, Outbound::Frame(f)),
        b"RECEIPT\nreceipt-id:7\n\n\0\n"
    );
    let f = Frame::new(Command::Send)
        .with_header("content-length", "2")
        .with_body(&b"hi"[..]);
    assert_eq!(
        encode(&mut c, Outbound::Frame(f)),
        b"SEND\ncontent-length:2\n\nhi\0\n"
    );
}

#[test]
fn connected_is_encoded_without_escaping() {
    let mut c = codec(Some(Version::V1_2));
    let f = Frame::new(Command::Connected).with_header("server", "stompede\\1:0");
    assert_eq!(
        encode(&mut c, Outbound::Frame(f)),
        b"CONNECTED\nserver:stompede\\1:0\n\n\0\n"
    );
}

#[test]
fn encodes_heartbeats_as_one_lf() {
    assert_eq!(encode(&mut codec(None), Outbound::Heartbeat), b"\n");
}

// ---- property tests ----

const ESCAPING: [Command; 12] = [
    Command::Send,
    Command::Subscribe,
    Command::Unsubscribe,
    Command::Ack,
    Command::Nack,
    Command::Begin,
    Command::Commit,
    Command::Abort,
    Command::Disconnect,
    Command::Message,
    Command::Receipt,
    Command::Error,
];

fn text(alphabet: &'static [char]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..10)
        .prop_map(|cs| cs.into_iter().collect())
}

const TRICKY: &[char] = &['a', 'Z', '0', ' ', '-', ':', '\n', '\r', '\\', 'é', '€'];
const NO_CR: &[char] = &['a', 'Z', '0', ' ', '-', ':', '\n', '\\', 'é', '€'];

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V1_1), Just(Version::V1_2)]
}

/// A frame that round-trips under `version`: 1.2 can carry any header text;
/// 1.1 has no CR escape, so its values avoid CR.
fn frame_for(version: Version) -> impl Strategy<Value = Frame> {
    let chars = if version == Version::V1_2 {
        TRICKY
    } else {
        NO_CR
    };
    (
        prop::sample::select(&ESCAPING[..]),
        prop::collection::vec((text(chars), text(chars)), 0..6),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(command, headers, body)| Frame {
            command,
            headers: headers
                .into_iter()
                .filter(|(n, _)| n != "content-length")
                .collect(),
            body: body.into(),
        })
}

/// What the decoder should return for `frame` after encoding.
fn expected(frame: &Frame) -> Frame {
    let mut f = frame.clone();
    if !f.body.is_empty() {
        f.headers
            .push(("content-length".to_owned(), f.body.len().to_string()));
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_decode_round_trips(
        (frame, version) in version().prop_flat_map(|v| (frame_for(v), Just(v))),
    ) {
        let mut c = codec(Some(version));
        let mut buf = BytesMut::new();
        c.encode(Outbound::Frame(frame.clone()), &mut buf).unwrap();
        let items = drain(&mut c, &mut buf).unwrap();
        // The EOL after the frame's NUL reads as a heart-beat.
        prop_assert_eq!(items, vec![Inbound::Frame(expected(&frame)), Inbound::Heartbeat]);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_read_splits_give_the_same_frames(
        (frames, version) in version()
            .prop_flat_map(|v| (prop::collection::vec(frame_for(v), 1..4), Just(v))),
        beats in prop::collection::vec(0..3usize, 4),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut c = codec(Some(version));
        let mut wire = BytesMut::new();
        let mut want = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            for _ in 0..beats[i] {
                c.encode(Outbound::Heartbeat, &mut wire).unwrap();
            }
            c.encode(Outbound::Frame(frame.clone()), &mut wire).unwrap();
            want.push(expected(frame));
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|ix| ix.index(wire.len() + 1)).collect();
        cuts.push(wire.len());
        cuts.sort_unstable();

        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut heartbeats = 0;
        let mut from = 0;
        for to in cuts {
            buf.extend_from_slice(&wire[from..to]);
            from = to;
            for item in drain(&mut c, &mut buf).unwrap() {
                match item {
                    Inbound::Frame(f) => got.push(f),
                    Inbound::Heartbeat => heartbeats += 1,
                }
            }
        }
        prop_assert_eq!(got, want);
        prop_assert!(buf.is_empty());
        // Every frame ends with an EOL after its NUL, which reads as a heart-beat.
        prop_assert!(heartbeats >= frames.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_exceed_limits(
        pieces in prop::collection::vec(
            prop_oneof![
                Just(b"SEND\n".to_vec()),
                Just(b"CONNECT\r\n".to_vec()),
                Just(b"content-length:4\n".to_vec()),
                Just(b"content-length:99\n".to_vec()),
                Just(b"k:v\\n\n".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(vec![0]),
                prop::collection::vec(any::<u8>(), 0..24),
            ],
            0..24,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        version in prop::option::of(prop::sample::select(&Version::SUPPORTED[..])),
    ) {
        let limits = small_limits();
        let mut c = StompCodec::new(limits);
        if let Some(v) = version {
            c.set_version(v);
        }
        let wire = pieces.concat();
        let mut cuts: Vec<usize> = cuts.iter().map(|ix| ix.index(wire.len() + 1)).collect();
        cuts.push(wire.len());
        cuts.sort_unstable();
        let mut buf = BytesMut::new();
        let mut from = 0;
        'feed: for to in cuts {
            buf.extend_from_slice(&wire[from..to]);
            from = to;
            loop {
                match c.decode(&mut buf) {
                    Ok(Some(Inbound::Frame(f))) => {
                        let size = f.command.as_str().len()
                            + f.headers.iter().map(|(n, v)| n.len() + v.len() + 1).sum::<usize>()
                            + f.body.len();
                        prop_assert!(size <= limits.max_frame_size);
                        prop_assert!(f.headers.len() <= limits.max_headers);
                        for (n, v) in &f.headers {
                            prop_assert!(n.len() + v.len() < limits.max_header_line);
                        }
                    }
                    Ok(Some(Inbound::Heartbeat)) => {}
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
        let _ = c.decode_eof(&mut buf);
    }
}
