//! Load + compile all ET rule files (acceptance: ≤ 1 s in release).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::shared;

use criterion::{Criterion, criterion_group, criterion_main};
use stormwatch_rules::{RuleSet, RulesConfig};

/// Nanoseconds this thread has run on a CPU (Linux).
fn on_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn load(c: &mut Criterion) {
    let Some(sh) = shared() else {
        println!("skipped: shared data not found");
        return;
    };
    let dir = sh.join("rules/et-open-snort-2.9.0-2017");
    let mut cfg = RulesConfig::default();
    cfg.load_classification(&dir.join("classification.config"))
        .unwrap();
    let paths = vec![dir.join("rules")];
    let (rs, rep) = RuleSet::load(&paths, &cfg).unwrap();
    println!("ET: {} rules loaded, {} skipped", rs.len(), rep.skipped());
    if let Some(t0) = on_cpu_ns() {
        for _ in 0..3 {
            RuleSet::load(&paths, &cfg).unwrap();
        }
        if let Some(t1) = on_cpu_ns() {
            println!(
                "load+compile ET: {:.0} ms on-CPU per run",
                (t1 - t0) as f64 / 3e6
            );
        }
    }
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.bench_function("et_open_all_files", |b| {
        b.iter(|| RuleSet::load(&paths, &cfg).unwrap().0.len())
    });
    g.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
