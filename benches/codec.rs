//! Codec throughput: a small SEND, a 1 MiB frame in one buffer, and the same
//! large frame arriving in 4 KiB reads as it would from a socket.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use stompede::protocol::{Command, Frame, Inbound, Limits, Outbound, StompCodec, Version};
use tokio_util::codec::{Decoder, Encoder};

const READ_SIZE: usize = 4096;

fn codec() -> StompCodec {
    let mut codec = StompCodec::new(Limits::default());
    codec.set_version(Version::V1_2);
    codec
}

fn small_frame() -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", "/queue/orders")
        .with_header("content-type", "application/json")
        .with_header("receipt", "r-1234")
        .with_header("correlation-id", "c:42")
        .with_header("priority", "4")
        .with_body(Bytes::from(vec![b'x'; 256]))
}

fn large_frame() -> Frame {
    Frame::new(Command::Send)
        .with_header("destination", "/queue/blobs")
        .with_body(Bytes::from(vec![b'y'; 1 << 20]))
}

fn wire(frame: &Frame) -> Bytes {
    let mut dst = BytesMut::new();
    codec()
        .encode(Outbound::Frame(frame.clone()), &mut dst)
        .expect("encoding never fails");
    dst.freeze()
}

fn decode_one(codec: &mut StompCodec, buf: &mut BytesMut) -> Option<Inbound> {
    codec.decode(buf).expect("benchmark input is valid")
}

fn bench_frame(c: &mut Criterion, name: &str, frame: &Frame) {
    let bytes = wire(frame);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes.len() as u64));

    group.bench_function("decode", |b| {
        let mut codec = codec();
        b.iter_batched_ref(
            || BytesMut::from(&bytes[..]),
            |buf| black_box(decode_one(&mut codec, buf)),
            BatchSize::SmallInput,
        );
    });

    group.bench_function("encode", |b| {
        let mut codec = codec();
        let mut dst = BytesMut::new();
        b.iter_batched(
            || Outbound::Frame(frame.clone()),
            |item| {
                dst.clear();
                codec.encode(item, &mut dst).expect("encoding never fails");
                black_box(dst.len())
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn codec_benches(c: &mut Criterion) {
    bench_frame(c, "small_send", &small_frame());
    bench_frame(c, "large_1mib", &large_frame());

    // Each iteration copies the frame in READ_SIZE pieces and calls decode
    // after each, like FramedRead does, so rescanning would show up here.
    let bytes = wire(&large_frame());
    let mut group = c.benchmark_group("large_1mib_split_reads");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("decode", |b| {
        let mut codec = codec();
        b.iter(|| {
            let mut buf = BytesMut::with_capacity(8 * 1024);
            let mut frame = None;
            for chunk in bytes.chunks(READ_SIZE) {
                buf.extend_from_slice(chunk);
                if let Some(item) = decode_one(&mut codec, &mut buf) {
                    frame = Some(item);
                }
            }
            black_box(frame)
        });
    });
    group.finish();
}

criterion_group!(benches, codec_benches);
criterion_main!(benches);
