//! Throughput of `write_background` (acceptance: ≥ 500 MB/s) and the time to
//! generate the `mipsiv` scenario.
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

    // Scenario generation (parse + generate + labels) of the seed story.
    let src = stormwatch_sim::builtin_source("mipsiv").unwrap();
    let size = {
        let s = stormwatch_sim::parse_scenario("mipsiv", src).unwrap();
        stormwatch_sim::generate(&s).unwrap().pcap.len() as u64
    };
    let mut g = c.benchmark_group("scenario");
    g.throughput(Throughput::Bytes(size));
    g.sample_size(10);
    g.bench_function("generate_mipsiv", |b| {
        b.iter(|| {
            let s = stormwatch_sim::parse_scenario("mipsiv", src).unwrap();
            stormwatch_sim::generate(&s).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
