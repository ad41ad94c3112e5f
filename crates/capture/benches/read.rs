//! Reading speed: frames() and the raw-read floor (walk_records) over
//! generated in-memory captures (mixed sizes, and 64-byte packets).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use stormwatch_capture::CaptureFile;

/// A little-endian µs pcap of about `total` bytes, frame sizes cycling through `sizes`.
fn pcap(total: usize, sizes: &[usize]) -> Vec<u8> {
    let mut v = Vec::with_capacity(total + 2048);
    v.extend([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
    v.extend([0; 8]);
    v.extend(262_144u32.to_le_bytes());
    v.extend(1u32.to_le_bytes());
    let mut i = 0usize;
    while v.len() < total {
        let n = sizes[i % sizes.len()];
        v.extend((1_600_000_000 + (i / 1000) as u32).to_le_bytes());
        v.extend(((i % 1000) as u32 * 1000).to_le_bytes());
        v.extend((n as u32).to_le_bytes());
        v.extend((n as u32).to_le_bytes());
        v.extend(std::iter::repeat_n((i % 251) as u8, n));
        i += 1;
    }
    v
}

/// The same frames as an EPB-only pcapng.
fn pcapng(total: usize, sizes: &[usize]) -> Vec<u8> {
    let mut v = Vec::with_capacity(total + 2048);
    let block = |v: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = (body.len() + 12) as u32;
        v.extend(kind.to_le_bytes());
        v.extend(len.to_le_bytes());
        v.extend(body);
        v.extend(len.to_le_bytes());
    };
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend([1, 0, 0, 0]);
    shb.extend([0xff; 8]);
    block(&mut v, 0x0a0d_0d0a, &shb);
    block(&mut v, 1, &[1, 0, 0, 0, 0, 0, 4, 0]);
    let mut i = 0usize;
    let mut body = Vec::new();
    while v.len() < total {
        let n = sizes[i % sizes.len()];
        body.clear();
        body.extend(0u32.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        body.extend((1_600_000_000_000_000u64 as u32 + i as u32).to_le_bytes());
        body.extend((n as u32).to_le_bytes());
        body.extend((n as u32).to_le_bytes());
        body.extend(std::iter::repeat_n(7u8, n.next_multiple_of(4)));
        block(&mut v, 6, &body);
        i += 1;
    }
    v
}

/// A blend of frame sizes (mean ≈ 630 bytes), like mixed Internet traffic.
const MIXED: [usize; 8] = [60, 1514, 66, 590, 1514, 54, 1066, 150];

fn bench(c: &mut Criterion) {
    let size = 256 << 20;
    let inputs = [
        ("pcap_mixed", pcap(size, &MIXED)),
        ("pcap_64B", pcap(size / 2, &[64])),
        ("pcapng_mixed", pcapng(size, &MIXED)),
    ];
    let mut g = c.benchmark_group("read");
    g.sample_size(10);
    for (name, bytes) in inputs {
        let cap = CaptureFile::from_bytes(name, bytes).unwrap();
        let records = cap.walk_records().0;
        eprintln!("{name}: {} bytes, {records} records", cap.len());
        g.throughput(Throughput::Bytes(cap.len()));
        g.bench_with_input(BenchmarkId::new("frames", name), &cap, |b, cap| {
            b.iter(|| {
                let mut acc = 0usize;
                for f in cap.frames(0) {
                    acc = acc.wrapping_add(f.unwrap().data.len());
                }
                black_box(acc)
            })
        });
        g.bench_with_input(BenchmarkId::new("walk_records", name), &cap, |b, cap| {
            b.iter(|| black_box(cap.walk_records()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
