//! Writes a background capture: `bggen <bytes> <seed> <out.pcap>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let size: u64 = a[1].parse().unwrap();
    let seed: u64 = a[2].parse().unwrap();
    let f = std::io::BufWriter::new(std::fs::File::create(&a[3]).unwrap());
    let st = stormwatch_sim::write_background(size, seed, f).unwrap();
    eprintln!("{st:?}");
}
