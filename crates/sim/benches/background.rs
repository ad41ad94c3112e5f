//! Throughput of `write_background` (acceptance: ≥ 500 MB/s).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SIZE: u64 = 64 << 20;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("background");
    g.throughput(Throughput::Bytes(SIZE));
    g.sample_size(10);
    g.bench_function("write_background_64MiB_to_sink", |b| {
        b.iter(|| stormwatch_sim::write_background(SIZE, 1, std::io::sink()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
