//! Slowloris: hundreds of connections sending a byte a second before
//! CONNECT, and a hundred more that complete CONNECT and then dribble a
//! frame, while a probe client keeps doing SEND/RECEIPT round trips. The
//! probe's latency under that load stays within a generous multiple of its
//! latency measured just before, in the same test; the slow connections are
//! closed by `limits.connect_timeout_ms` and `limits.frame_timeout_ms`, each
//! with its ERROR and then a clean end of stream.

mod common;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::*;
use stompede::protocol::{Command, Frame, Inbound, Limits, StompCodec, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::codec::Decoder;

/// Connections that never finish their CONNECT.
const BEFORE_CONNECT: usize = 300;
/// Connections that finish CONNECT, then never finish a frame.
const AFTER_CONNECT: usize = 100;
const CONNECT_TIMEOUT_MS: u64 = 6000;
const FRAME_TIMEOUT_MS: u64 = 8000;
/// How long the probe measures while every slow connection is open, at
/// most (it stops a second before the first timeout can fire).
const LOADED_FOR: Duration = Duration::from_millis(2000);
/// How long a slow connection may stay open past its timeout (the linger,
/// and a loaded machine).
const CLOSE_SLACK: Duration = Duration::from_secs(5);

/// The probe's round-trip latency may grow under the slow connections by
/// this factor over its baseline, plus this much (scheduling noise on a
/// shared machine), at the 90th percentile.
const FACTOR: u32 = 10;
const NOISE: Duration = Duration::from_millis(50);

/// Writes `bytes` one a second until the broker says anything, then reads
/// until the end of stream. What was read, and how the stream ended.
async fn dribble(mut stream: TcpStream, bytes: &[u8]) -> (Vec<u8>, std::io::Result<()>) {
    let mut got = Vec::new();
    let mut scratch = [0u8; 1024];
    let mut next = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let give_up = tokio::time::sleep(Duration::from_millis(FRAME_TIMEOUT_MS) + 2 * CLOSE_SLACK);
    tokio::pin!(give_up);
    loop {
        tokio::select! {
            read = stream.read(&mut scratch) => match read {
                Ok(0) => return (got, Ok(())),
                Ok(n) => got.extend_from_slice(&scratch[..n]),
                Err(e) => return (got, Err(e)),
            },
            _ = tick.tick(), if got.is_empty() && next < bytes.len() => {
                // A failed write shows up as the read's error next.
                let _ = stream.write_all(&bytes[next..=next]).await;
                next += 1;
            }
            () = &mut give_up => panic!("a slow connection was never closed"),
        }
    }
}

/// The ERROR frame a slow connection read, checked to be followed by a clean close.
fn error_of(what: &str, (got, end): (Vec<u8>, std::io::Result<()>)) -> Frame {
    if let Err(e) = end {
        panic!(
            "{what}: after {:?} the connection ended with {e}, not a clean close",
            String::from_utf8_lossy(&got)
        );
    }
    let mut codec = StompCodec::new(Limits::default());
    codec.set_version(Version::V1_2);
    let mut buf = BytesMut::from(&got[..]);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(Inbound::Frame(f))) => {
                assert_eq!(f.command, Command::Error, "{what}: {f:?}");
                return f;
            }
            Ok(Some(Inbound::Heartbeat)) => continue,
            other => panic!(
                "{what}: no ERROR before the close ({other:?}); got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

/// SEND/RECEIPT round trips for `period` (at least `min` of them).
async fn round_trips(probe: &mut Client, period: Duration, min: usize) -> Vec<Duration> {
    let start = Instant::now();
    let mut rtts = Vec::new();
    while rtts.len() < min || start.elapsed() < period {
        let t = Instant::now();
        probe.publish_sync("/queue/probe", "ping", &[]).await;
        rtts.push(t.elapsed());
    }
    rtts
}

fn p90(mut rtts: Vec<Duration>) -> Duration {
    rtts.sort_unstable();
    rtts[(rtts.len() * 9 / 10).min(rtts.len() - 1)]
}

#[tokio::test]
async fn slow_connections_are_closed_and_do_not_slow_a_probe() {
    let connect_timeout = CONNECT_TIMEOUT_MS.to_string();
    let frame_timeout = FRAME_TIMEOUT_MS.to_string();
    let broker = TestBroker::with(&[
        (
            "STOMPEDE__LIMITS__CONNECT_TIMEOUT_MS",
            connect_timeout.as_str(),
        ),
        ("STOMPEDE__LIMITS__FRAME_TIMEOUT_MS", frame_timeout.as_str()),
    ]);
    let mut probe = broker.client().await;
    let _warm_up = round_trips(&mut probe, Duration::ZERO, 20).await;
    let baseline = p90(round_trips(&mut probe, Duration::from_millis(500), 50).await);

    let mut before = JoinSet::new();
    let started = Instant::now();
    for _ in 0..BEFORE_CONNECT {
        let stream = TcpStream::connect(broker.stomp()).await.expect("connect");
        before.spawn(dribble(
            stream,
            b"CONNECT\naccept-version:1.2\nhost:/\n\n\0",
        ));
    }
    let mut after = JoinSet::new();
    for _ in 0..AFTER_CONNECT {
        let mut raw = broker.raw().await;
        let reply = raw
            .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
            .await;
        assert_eq!(reply.command, Command::Connected, "{reply:?}");
        raw.expect_frame_eol().await;
        after.spawn(dribble(
            raw.stream,
            b"SEND\ndestination:/queue/slow\n\nnever finished\0",
        ));
    }
    let opened_in = started.elapsed();
    let measure_for = Duration::from_millis(CONNECT_TIMEOUT_MS)
        .saturating_sub(opened_in + Duration::from_secs(1))
        .min(LOADED_FOR);
    assert!(
        measure_for >= Duration::from_millis(500),
        "opening the slow connections took {opened_in:?}: too long to measure under them"
    );

    let loaded = p90(round_trips(&mut probe, measure_for, 50).await);
    eprintln!(
        "probe p90 round trip: {baseline:?} alone, {loaded:?} beside {} slow connections",
        BEFORE_CONNECT + AFTER_CONNECT
    );
    assert!(
        loaded <= baseline * FACTOR + NOISE,
        "probe p90 {loaded:?} under load against {baseline:?} alone"
    );

    let deadline = started + Duration::from_millis(CONNECT_TIMEOUT_MS) + CLOSE_SLACK;
    while let Some(ended) = before.join_next().await {
        let error = error_of("before CONNECT", ended.expect("task"));
        assert_eq!(
            error.header("message"),
            Some("no CONNECT frame received in time"),
            "{error:?}"
        );
    }
    let closed_in = started.elapsed();
    assert!(
        Instant::now() <= deadline,
        "the connections without CONNECT were closed only after {closed_in:?}"
    );
    let deadline = started + opened_in + Duration::from_millis(FRAME_TIMEOUT_MS) + CLOSE_SLACK;
    while let Some(ended) = after.join_next().await {
        let error = error_of("after CONNECT", ended.expect("task"));
        assert_eq!(
            error.header("message"),
            Some("frame not completed in time"),
            "{error:?}"
        );
    }
    let closed_in = started.elapsed();
    assert!(
        Instant::now() <= deadline,
        "the connections dribbling a frame were closed only after {closed_in:?}"
    );

    let s = broker.scrape().await;
    assert_eq!(
        s.value("stompede_errors_total", &[("reason", "connect_timeout")]),
        BEFORE_CONNECT as f64
    );
    assert_eq!(
        s.value("stompede_errors_total", &[("reason", "frame_timeout")]),
        AFTER_CONNECT as f64
    );
    // The probe is still served.
    probe.publish_sync("/queue/probe", "still here", &[]).await;
}

/// Heart-beat EOLs between frames do not start the frame clock: a client
/// that only heart-beats for longer than `limits.frame_timeout_ms`, then
/// sends a whole frame, is still served; one that leaves a frame unfinished
/// that long is not.
#[tokio::test]
async fn only_an_unfinished_frame_runs_out_of_time() {
    let broker = TestBroker::with(&[("STOMPEDE__LIMITS__FRAME_TIMEOUT_MS", "600")]);
    let mut raw = broker.raw().await;
    let reply = raw
        .stomp_connect(&[("accept-version", "1.2"), ("host", "/")])
        .await;
    assert_eq!(reply.command, Command::Connected, "{reply:?}");
    raw.expect_frame_eol().await;
    // Three times the frame timeout of heart-beats only (the pacing of a
    // client, not a wait for the broker).
    for _ in 0..18 {
        raw.send(b"\n").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    raw.send(b"SEND\ndestination:/queue/beats\nreceipt:r1\n\nhi\0")
        .await;
    let receipt = raw.read_frame().await;
    assert_eq!(receipt.command, Command::Receipt, "{receipt:?}");
    raw.expect_frame_eol().await;

    // Half a frame, then nothing: ERROR within the timeout (plus slack).
    let sent = Instant::now();
    raw.send(b"SEND\ndestination:/queue/beats\n").await;
    let error = raw.read_frame().await;
    assert_eq!(error.command, Command::Error, "{error:?}");
    assert_eq!(error.header("message"), Some("frame not completed in time"));
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(600),
        "ERROR after only {waited:?}"
    );
    raw.expect_closed().await;
}
