//! Sixteen gram probes a step (AVX-512 VBMI) against the scalar loop it
//! replaces, over 64 KiB of printable text with a table of 2^18 bits about
//! 1.5 % set (the prefilter's big groups), at the gram strides it uses.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rng;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use stormwatch_simd::GramProbe;

const MUL: u32 = 0x9E37_79B1;
const MUL2: u32 = 0x85EB_CA77;
const BITS: u32 = 18;

/// The scalar probes, four to a branch (as the prefilter's loop).
fn scalar(table: &[u64], hay: &[u8], stride: usize) -> usize {
    let test = |i: usize| {
        let x = u32::from_le_bytes([hay[i], hay[i + 1], hay[i + 2], hay[i + 3]]) | 0x2020_2020;
        let h = (x.wrapping_mul(MUL) >> (32 - BITS)) as usize;
        (table[(h >> 6) & (table.len() - 1)] >> (h & 63)) & 1
    };
    let mut n = 0;
    let mut i = 0;
    while i + 3 * stride + 4 <= hay.len() {
        let hits =
            test(i) | test(i + stride) << 1 | test(i + 2 * stride) << 2 | test(i + 3 * stride) << 3;
        if hits != 0 {
            n += hits.count_ones() as usize;
        }
        i += 4 * stride;
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut r = rng(11);
    let mut table = vec![0u64; 1 << (BITS - 6)];
    for _ in 0..(1 << BITS) / 64 {
        let b = r() % (1 << BITS);
        table[(b >> 6) as usize] |= 1 << (b & 63);
    }
    let hay: Vec<u8> = (0..65536).map(|_| (r() % 95 + 32) as u8).collect();
    let mut g = c.benchmark_group("gram");
    g.throughput(Throughput::Bytes(hay.len() as u64));
    for stride in [3usize, 6, 9] {
        g.bench_function(format!("scalar/stride{stride}"), |b| {
            b.iter(|| scalar(black_box(&table), black_box(&hay), stride))
        });
        if let Some(p) = GramProbe::new(stride, 4, MUL, MUL2, 32 - BITS, (1 << BITS) - 1) {
            g.bench_function(format!("vbmi/stride{stride}"), |b| {
                b.iter(|| {
                    let mut n = 0;
                    p.scan(black_box(&table), black_box(&hay), &mut |_| n += 1);
                    n
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
