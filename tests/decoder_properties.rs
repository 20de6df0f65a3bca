//! Property tests of the STOMP decoder (the broker's `StompCodec`) over its
//! public API: valid frame sequences, in every version and wire form, decode
//! to the same frames wherever the reads split them; arbitrary bytes, split
//! anywhere, never panic, never yield a frame over the limits, and decode to
//! the same frames and the same outcome as the same bytes read at once.
//!
//! 10,000 cases per property by default (what CI runs). `PROPTEST_CASES`
//! overrides it; the long run is
//! `PROPTEST_CASES=1000000 cargo test --release --test decoder_properties`.

use bytes::BytesMut;
use proptest::prelude::*;
use proptest::test_runner::Config;
use stompede::protocol::{
    Command, ErrorReason, Frame, Inbound, Limits, Outbound, StompCodec, Version,
};
use tokio_util::codec::{Decoder, Encoder};

/// Cases per property: `PROPTEST_CASES`, or 10,000.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    Config {
        cases,
        ..Config::default()
    }
}

/// What a decoder made of a byte stream: the frames, in order, and how it
/// ended (`None`: cleanly; otherwise the ERROR's reason). Heart-beats are
/// left out: a run of EOLs split across reads may count as several.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<ErrorReason>,
}

/// Feeds `wire` to a fresh decoder in the pieces `cuts` make (sorted
/// offsets), decoding everything decodable after each, then ends the
/// stream; stops at the first error, as the broker does.
fn decode_in_pieces(
    limits: Limits,
    version: Option<Version>,
    wire: &[u8],
    cuts: &[usize],
) -> Outcome {
    let mut codec = StompCodec::new(limits);
    if let Some(v) = version {
        codec.set_version(v);
    }
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[from..to]);
        from = to;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(Inbound::Frame(f))) => frames.push(f),
                Ok(Some(Inbound::Heartbeat)) => {}
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        frames,
                        error: Some(e.reason()),
                    }
                }
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(Inbound::Frame(f))) => frames.push(f),
            Ok(Some(Inbound::Heartbeat)) => {}
            Ok(None) => {
                return Outcome {
                    frames,
                    error: None,
                }
            }
            Err(e) => {
                return Outcome {
                    frames,
                    error: Some(e.reason()),
                }
            }
        }
    }
}

/// Read splits of a stream of `len` bytes: a few anywhere, or every byte.
fn splits(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        4 => prop::collection::vec(0..=len, 0..12).prop_map(|mut c| {
            c.sort_unstable();
            c
        }),
        1 => Just((1..len).collect()),
    ]
}

fn any_version() -> impl Strategy<Value = Version> {
    prop::sample::select(&Version::SUPPORTED[..])
}

/// Header text that needs no escaping in any version.
fn plain(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(&['a', 'z', 'Q', '0', '9', '-', '_', '.', ' ', 'é'][..]),
        1..max,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

/// Text with everything that must be escaped in 1.1 and 1.2 (no CR in 1.1,
/// which cannot escape it).
fn tricky(version: Version) -> impl Strategy<Value = String> {
    let chars: &'static [char] = if version == Version::V1_2 {
        &['a', '0', ' ', ':', '\n', '\r', '\\', 'é', '€']
    } else {
        &['a', '0', ' ', ':', '\n', '\\', 'é', '€']
    };
    prop::collection::vec(prop::sample::select(chars), 0..8).prop_map(|cs| cs.into_iter().collect())
}

const CLIENT_COMMANDS: [Command; 11] = [
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
    Command::Error,
];

/// One frame on the wire, and what it must decode to.
#[derive(Debug, Clone)]
struct Wire {
    bytes: Vec<u8>,
    frame: Frame,
}

/// A frame written by hand: plain headers, LF or CRLF line ends, the body
/// with a `content-length` or (when it holds no NUL) ended by its NUL.
fn hand_written() -> impl Strategy<Value = Wire> {
    (
        prop::sample::select(&CLIENT_COMMANDS[..]),
        prop::collection::vec((plain(10), plain(16)), 0..5),
        prop::collection::vec(any::<u8>(), 0..200),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(command, mut headers, body, crlf, with_length)| {
            let body: Vec<u8> = if with_length {
                body
            } else {
                body.into_iter().filter(|b| *b != 0).collect()
            };
            if with_length {
                headers.push(("content-length".into(), body.len().to_string()));
            }
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut bytes = command.as_str().as_bytes().to_vec();
            bytes.extend_from_slice(eol);
            for (n, v) in &headers {
                bytes.extend_from_slice(format!("{n}:{v}").as_bytes());
                bytes.extend_from_slice(eol);
            }
            bytes.extend_from_slice(eol);
            bytes.extend_from_slice(&body);
            bytes.push(0);
            Wire {
                bytes,
                frame: Frame {
                    command,
                    headers,
                    body: body.into(),
                },
            }
        })
}

/// A frame as the broker's encoder writes it for `version`, escapes and all.
fn encoded(version: Version) -> impl Strategy<Value = Wire> {
    (
        prop::sample::select(&CLIENT_COMMANDS[..]),
        prop::collection::vec((tricky(version), tricky(version)), 0..5),
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(move |(command, headers, body)| {
            let headers: Vec<(String, String)> = headers
                .into_iter()
                .filter(|(n, _)| n != "content-length")
                .collect();
            let frame = Frame {
                command,
                headers,
                body: body.into(),
            };
            let mut codec = StompCodec::new(Limits::default());
            codec.set_version(version);
            let mut buf = BytesMut::new();
            codec
                .encode(Outbound::Frame(frame.clone()), &mut buf)
                .expect("encode");
            let mut expected = frame;
            if !expected.body.is_empty() {
                let len = expected.body.len().to_string();
                expected.headers.push(("content-length".into(), len));
            }
            Wire {
                bytes: buf.to_vec(),
                frame: expected,
            }
        })
}

/// Heart-beat EOLs a client may send between frames.
const BEATS: &[&[u8]] = &[b"", b"\n", b"\r\n", b"\n\n\r\n"];

/// A valid stream for `version`: frames (hand-written, or encoded where
/// the version escapes) with heart-beat EOLs between them.
fn valid_stream() -> impl Strategy<Value = (Version, Vec<u8>, Vec<Frame>)> {
    any_version().prop_flat_map(|version| {
        let frame = if version == Version::V1_0 {
            hand_written().boxed()
        } else {
            prop_oneof![hand_written(), encoded(version)].boxed()
        };
        let beats = prop::sample::select(BEATS);
        prop::collection::vec((beats, frame), 1..6).prop_map(move |items| {
            let mut wire = Vec::new();
            let mut frames = Vec::new();
            for (beat, w) in items {
                wire.extend_from_slice(beat);
                wire.extend_from_slice(&w.bytes);
                frames.push(w.frame);
            }
            (version, wire, frames)
        })
    })
}

/// Bytes a client might send by mistake or malice: pieces of frames,
/// EOLs, NULs and noise.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b"SEND\n".to_vec()),
            Just(b"CONNECT\r\n".to_vec()),
            Just(b"MESSAGE\n".to_vec()),
            Just(b"content-length:4\n".to_vec()),
            Just(b"content-length:99\n".to_vec()),
            Just(b"content-length:x\n".to_vec()),
            Just(b"k:v\\n\n".to_vec()),
            Just(b"k:v\\t\n".to_vec()),
            Just(b"destination:/queue/a\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(vec![0]),
            Just(vec![0xff, 0xfe]),
            prop::collection::vec(any::<u8>(), 0..40),
        ],
        0..30,
    )
    .prop_map(|pieces| pieces.concat())
}

/// Small limits, so that arbitrary input reaches every one of them.
fn small_limits() -> Limits {
    Limits {
        max_frame_size: 96,
        max_headers: 3,
        max_header_line: 32,
        max_command_len: 12,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn valid_frames_decode_the_same_at_any_split(
        (version, wire, frames, cuts) in valid_stream().prop_flat_map(|(v, wire, frames)| {
            let len = wire.len();
            (Just(v), Just(wire), Just(frames), splits(len))
        }),
    ) {
        let whole = decode_in_pieces(Limits::default(), Some(version), &wire, &[]);
        prop_assert_eq!(&whole, &Outcome { frames, error: None });
        let split = decode_in_pieces(Limits::default(), Some(version), &wire, &cuts);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn arbitrary_bytes_at_any_split_never_panic_and_agree_with_one_read(
        (wire, cuts) in soup().prop_flat_map(|w| {
            let len = w.len();
            (Just(w), splits(len))
        }),
        version in prop::option::of(any_version()),
    ) {
        let limits = small_limits();
        let whole = decode_in_pieces(limits, version, &wire, &[]);
        for f in &whole.frames {
            let size = f.command.as_str().len()
                + f.headers.iter().map(|(n, v)| n.len() + v.len() + 1).sum::<usize>()
                + f.body.len();
            prop_assert!(size <= limits.max_frame_size, "{:?}", f);
            prop_assert!(f.headers.len() <= limits.max_headers, "{:?}", f);
        }
        let split = decode_in_pieces(limits, version, &wire, &cuts);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn random_bytes_with_default_limits_never_panic(
        (wire, cuts) in prop::collection::vec(any::<u8>(), 0..512).prop_flat_map(|w| {
            let len = w.len();
            (Just(w), splits(len))
        }),
        version in prop::option::of(any_version()),
    ) {
        let whole = decode_in_pieces(Limits::default(), version, &wire, &[]);
        let split = decode_in_pieces(Limits::default(), version, &wire, &cuts);
        prop_assert_eq!(split, whole);
    }
}
