//! `StompCodec`: a resumable tokio-util Decoder/Encoder for STOMP 1.0–1.2.
//!
//! Decoding is incremental: the command line and each header line are parsed
//! and consumed from the buffer as soon as they are complete, and the decoder
//! remembers where it stopped (phase, headers so far, content-length, how far
//! it already searched for a line end or the body's NUL). A large body that
//! arrives in many small reads is therefore scanned once, not once per read.
//!
//! Every limit in [`Limits`] is checked as soon as it can be known, so an
//! oversized frame is rejected before it is buffered. The frame size counts
//! the command line, the header lines and the blank line (EOLs included) and
//! the body, but not the terminating NUL.
//!
//! EOLs (LF or CRLF) between frames, including those many clients send right
//! after a frame's NUL, are heart-beats: each run of them in the buffer yields
//! one [`Inbound::Heartbeat`] (a run split across reads may yield more).
//! CR before LF is stripped on every line in every version, as 1.2 requires
//! and lenient 1.0/1.1 parsing allows.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use memchr::memchr;
use tokio_util::codec::{Decoder, Encoder};

use super::headers::{escape_to, unescape};
use super::{Command, Frame, ProtocolError, Version, FRAME_END};

/// Size bounds the decoder enforces while reading, before buffering more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole frame (command, headers and body) in bytes.
    pub max_frame_size: usize,
    /// Most headers in one frame.
    pub max_headers: usize,
    /// Longest header line in bytes (name, colon and value, before unescaping).
    pub max_header_line: usize,
    /// Longest command line in bytes.
    pub max_command_len: usize,
}

impl Limits {
    /// Default `limits.max_frame_size`: 4 MiB.
    pub const DEFAULT_MAX_FRAME_SIZE: usize = 4 * 1024 * 1024;
    /// Default `limits.max_headers`.
    pub const DEFAULT_MAX_HEADERS: usize = 100;
    /// Default `limits.max_header_line`: 10 KiB.
    pub const DEFAULT_MAX_HEADER_LINE: usize = 10 * 1024;
    /// Default `limits.max_command_len`.
    pub const DEFAULT_MAX_COMMAND_LEN: usize = 32;
}

/// The broker's built-in limits, the same as `config/default.toml`'s
/// `[limits]` (a settings test holds the two together).
impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            max_header_line: Self::DEFAULT_MAX_HEADER_LINE,
            max_command_len: Self::DEFAULT_MAX_COMMAND_LEN,
        }
    }
}

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A complete frame.
    Frame(Frame),
    /// One or more EOLs between frames: a heart-beat.
    Heartbeat,
}

/// What the encoder writes.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Any frame; headers are escaped per the codec's version unless the
    /// command is CONNECT, STOMP or CONNECTED.
    Frame(Frame),
    /// A heart-beat: a single LF.
    Heartbeat,
}

/// Resumable STOMP codec. See the module docs.
#[derive(Debug)]
pub struct StompCodec {
    limits: Limits,
    version: Option<Version>,
    state: DecodeState,
    /// The `receipt` header of the frame the last decode error was in, if it
    /// had been read by then: the ERROR frame should name it.
    failed_receipt: Option<String>,
}

/// Where the decoder is inside the current frame.
#[derive(Debug, Clone, Copy, Default)]
enum Phase {
    /// Between frames: EOLs (heart-beats) or a command line.
    #[default]
    Command,
    /// The command line is consumed; reading header lines.
    Headers(Command),
    /// Headers are consumed; the body starts at the front of the buffer.
    Body {
        command: Command,
        content_length: Option<usize>,
    },
}

/// Decoder progress kept across `decode` calls.
#[derive(Debug, Default)]
struct DecodeState {
    phase: Phase,
    /// Octets of the current frame already consumed from the buffer.
    consumed: usize,
    /// Buffer prefix already searched, in vain, for the current terminator.
    scanned: usize,
    headers: Vec<(String, String)>,
}

impl StompCodec {
    /// A codec that enforces `limits`; headers are not unescaped until a
    /// version is set.
    pub fn new(limits: Limits) -> Self {
        StompCodec {
            limits,
            version: None,
            state: DecodeState::default(),
            failed_receipt: None,
        }
    }

    /// After a decode error: the `receipt` header of the offending frame, if
    /// it came before the error.
    pub fn take_failed_receipt(&mut self) -> Option<String> {
        self.failed_receipt.take()
    }

    /// Replaces the limits: the broker allows more once CONNECT is accepted.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Whether part of a frame has been consumed: the command line at least.
    /// (Bytes of a frame still in the caller's buffer are not counted here.)
    pub fn in_frame(&self) -> bool {
        !matches!(self.state.phase, Phase::Command)
    }

    /// Sets the negotiated version, which decides header escaping.
    pub fn set_version(&mut self, version: Version) {
        self.version = Some(version);
    }

    /// The escaping rules for `command`'s headers; `V1_0` means none.
    fn escaping(&self, command: Command) -> Version {
        match self.version {
            Some(v) if command.escapes_headers() => v,
            _ => Version::V1_0,
        }
    }

    /// Searches for the LF ending the line at the front of `src`, resuming
    /// where the last search stopped. Returns the line's length without its
    /// EOL and the length including it.
    fn find_line(&mut self, src: &[u8]) -> Option<(usize, usize)> {
        let start = self.state.scanned;
        match src.get(start..).and_then(|rest| memchr(b'\n', rest)) {
            Some(i) => {
                self.state.scanned = 0;
                let lf = start + i;
                let len = if lf > 0 && src.get(lf - 1) == Some(&b'\r') {
                    lf - 1
                } else {
                    lf
                };
                Some((len, lf + 1))
            }
            None => {
                self.state.scanned = src.len();
                None
            }
        }
    }

    /// Counts `n` more octets against the frame-size limit.
    fn charge(&mut self, n: usize) -> Result<(), ProtocolError> {
        self.state.consumed = self.state.consumed.saturating_add(n);
        if self.state.consumed > self.limits.max_frame_size {
            return Err(ProtocolError::FrameTooLarge {
                limit: self.limits.max_frame_size,
            });
        }
        Ok(())
    }

    fn decode_step(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtocolError> {
        let limits = self.limits;
        loop {
            match self.state.phase {
                Phase::Command => {
                    let eols = leading_eols(src);
                    if eols > 0 {
                        // A CR seen alone earlier may have been part of these.
                        self.state.scanned = 0;
                        src.advance(eols);
                        return Ok(Some(Inbound::Heartbeat));
                    }
                    let Some((len, total)) = self.find_line(src) else {
                        if partial_line_len(src) > limits.max_command_len {
                            return Err(ProtocolError::CommandTooLong {
                                limit: limits.max_command_len,
                            });
                        }
                        return Ok(None);
                    };
                    let line = src.get(..len).unwrap_or_default();
                    if len > limits.max_command_len {
                        return Err(ProtocolError::CommandTooLong {
                            limit: limits.max_command_len,
                        });
                    }
                    let command = Command::parse(line).ok_or_else(|| {
                        ProtocolError::UnknownCommand(String::from_utf8_lossy(line).into_owned())
                    })?;
                    self.charge(total)?;
                    src.advance(total);
                    self.state.phase = Phase::Headers(command);
                }
                Phase::Headers(command) => {
                    let at_max_headers = self.state.headers.len() >= limits.max_headers;
                    let Some((len, total)) = self.find_line(src) else {
                        let partial = partial_line_len(src);
                        if partial > 0 && at_max_headers {
                            return Err(ProtocolError::TooManyHeaders {
                                limit: limits.max_headers,
                            });
                        }
                        if partial > limits.max_header_line {
                            return Err(ProtocolError::HeaderLineTooLong {
                                limit: limits.max_header_line,
                            });
                        }
                        if self.state.consumed.saturating_add(partial) > limits.max_frame_size {
                            return Err(ProtocolError::FrameTooLarge {
                                limit: limits.max_frame_size,
                            });
                        }
                        return Ok(None);
                    };
                    self.charge(total)?;
                    if len == 0 {
                        src.advance(total);
                        self.start_body(command, src)?;
                        continue;
                    }
                    if at_max_headers {
                        return Err(ProtocolError::TooManyHeaders {
                            limit: limits.max_headers,
                        });
                    }
                    if len > limits.max_header_line {
                        return Err(ProtocolError::HeaderLineTooLong {
                            limit: limits.max_header_line,
                        });
                    }
                    let version = self.escaping(command);
                    let header = parse_header(src.get(..len).unwrap_or_default(), version)?;
                    self.state.headers.push(header);
                    src.advance(total);
                }
                Phase::Body {
                    command,
                    content_length: Some(len),
                } => {
                    return match src.get(len) {
                        None => Ok(None),
                        Some(0) => {
                            let body = src.split_to(len).freeze();
                            src.advance(1);
                            Ok(Some(self.finish(command, body)))
                        }
                        Some(_) => Err(ProtocolError::MissingNul(len)),
                    };
                }
                Phase::Body {
                    command,
                    content_length: None,
                } => {
                    let allowance = limits.max_frame_size.saturating_sub(self.state.consumed);
                    // Never look past the allowance: a NUL found beyond it
                    // would be a frame we must reject anyway.
                    let window = src.len().min(allowance.saturating_add(1));
                    let start = self.state.scanned;
                    let found = src
                        .get(start..window)
                        .and_then(|rest| memchr(0, rest))
                        .map(|i| start + i);
                    return match found {
                        Some(nul) => {
                            let body = src.split_to(nul).freeze();
                            src.advance(1);
                            Ok(Some(self.finish(command, body)))
                        }
                        None if src.len() > allowance => Err(ProtocolError::FrameTooLarge {
                            limit: limits.max_frame_size,
                        }),
                        None => {
                            self.state.scanned = window;
                            Ok(None)
                        }
                    };
                }
            }
        }
    }

    /// Moves from headers to body: checks the declared content-length against
    /// the remaining allowance and reserves room for the whole body at once.
    fn start_body(&mut self, command: Command, src: &mut BytesMut) -> Result<(), ProtocolError> {
        let content_length = match self
            .state
            .headers
            .iter()
            .find(|(n, _)| n == "content-length")
        {
            Some((_, value)) => Some(parse_content_length(value)?),
            None => None,
        };
        if let Some(len) = content_length {
            let allowance = self
                .limits
                .max_frame_size
                .saturating_sub(self.state.consumed);
            if len > allowance {
                return Err(ProtocolError::FrameTooLarge {
                    limit: self.limits.max_frame_size,
                });
            }
            // Body plus its NUL; without this a large body would grow the
            // buffer by doubling, copying it several times.
            src.reserve((len + 1).saturating_sub(src.len()));
        }
        self.state.scanned = 0;
        self.state.phase = Phase::Body {
            command,
            content_length,
        };
        Ok(())
    }

    fn finish(&mut self, command: Command, body: Bytes) -> Inbound {
        let headers = std::mem::take(&mut self.state.headers);
        self.state = DecodeState::default();
        Inbound::Frame(Frame {
            command,
            headers,
            body,
        })
    }

    fn encode_frame(&self, frame: Frame, dst: &mut BytesMut) {
        let version = self.escaping(frame.command);
        let needs_length =
            !frame.body.is_empty() && !frame.headers.iter().any(|(n, _)| n == "content-length");
        let header_bytes: usize = frame
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 2)
            .sum();
        dst.reserve(frame.command.as_str().len() + header_bytes + frame.body.len() + 40);
        dst.put_slice(frame.command.as_str().as_bytes());
        dst.put_u8(b'\n');
        for (name, value) in &frame.headers {
            put_header(dst, name, value, version);
        }
        if needs_length {
            put_content_length(dst, frame.body.len());
        }
        dst.put_u8(b'\n');
        dst.extend_from_slice(&frame.body);
        dst.put_slice(FRAME_END);
    }
}

impl Decoder for StompCodec {
    type Item = Inbound;
    type Error = ProtocolError;

    /// Yields a frame once it is complete, or [`Inbound::Heartbeat`] for each
    /// run of EOLs found between frames.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtocolError> {
        let result = self.decode_step(src);
        if result.is_err() {
            self.failed_receipt = self
                .state
                .headers
                .iter()
                .find(|(n, _)| n == "receipt")
                .map(|(_, v)| v.clone());
            self.state = DecodeState::default();
        }
        result
    }

    /// Like the default, but also notices a frame whose consumed lines are no
    /// longer in the buffer, and tolerates a lone trailing CR.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtocolError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        let idle = matches!(self.state.phase, Phase::Command) && partial_line_len(src) == 0;
        self.state = DecodeState::default();
        if idle {
            src.clear();
            Ok(None)
        } else {
            Err(ProtocolError::Io(
                "connection closed in the middle of a frame".to_owned(),
            ))
        }
    }
}

impl Encoder<Outbound> for StompCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Outbound, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match item {
            Outbound::Frame(frame) => self.encode_frame(frame, dst),
            Outbound::Heartbeat => dst.put_u8(b'\n'),
        }
        Ok(())
    }
}

/// Splits a header line at its first colon (values may contain raw colons in
/// 1.0, and lenient parsing accepts them later too) and unescapes both halves.
fn parse_header(line: &[u8], version: Version) -> Result<(String, String), ProtocolError> {
    let colon = memchr(b':', line).ok_or(ProtocolError::MissingColon)?;
    let (name, value) = line.split_at(colon);
    let value = value.get(1..).unwrap_or_default();
    // A name ending in a backslash means the wire had `\:`: report that.
    let name = unescape(name, version).map_err(|e| match e {
        ProtocolError::IncompleteEscape => ProtocolError::InvalidEscape(':'),
        other => other,
    })?;
    Ok((name, unescape(value, version)?))
}

fn parse_content_length(value: &str) -> Result<usize, ProtocolError> {
    let digits = value.trim_matches(|c| c == ' ' || c == '\t');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProtocolError::InvalidContentLength(value.to_owned()));
    }
    digits
        .parse()
        .map_err(|_| ProtocolError::InvalidContentLength(value.to_owned()))
}

/// Length of the EOLs (`LF` or `CR LF`) at the front of `buf`.
fn leading_eols(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match (buf.get(i), buf.get(i + 1)) {
            (Some(b'\n'), _) => i += 1,
            (Some(b'\r'), Some(b'\n')) => i += 2,
            _ => return i,
        }
    }
}

/// Length of an unterminated line, not counting a final CR that may turn out
/// to be half of a CRLF.
fn partial_line_len(buf: &[u8]) -> usize {
    match buf.last() {
        Some(b'\r') => buf.len() - 1,
        _ => buf.len(),
    }
}

fn put_header(dst: &mut BytesMut, name: &str, value: &str, version: Version) {
    escape_to(name, version, dst);
    dst.put_u8(b':');
    escape_to(value, version, dst);
    dst.put_u8(b'\n');
}

pub(super) fn put_content_length(dst: &mut BytesMut, len: usize) {
    dst.put_slice(b"content-length:");
    put_decimal(dst, len as u64);
    dst.put_u8(b'\n');
}

/// Writes `n` in decimal without going through `fmt` (this is per frame).
pub(super) fn put_decimal(dst: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.put_slice(&digits[start..]);
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
