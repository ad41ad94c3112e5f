//! Flow-stage benchmarks (written below).
fn main() {}
