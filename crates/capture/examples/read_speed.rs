//! Reading throughput of a capture file (release build, hot page cache):
//! the raw-read floor (`walk_records`) and `frames()`.
//!
//! ```sh
//! cargo run --release -p stormwatch-capture --example read_speed -- bench-data/mixed.pcap --generate 1024
//! ```
//!
//! `--generate MIB` first writes a pcap of that size (mixed frame sizes) to the
//! path. Prints GB/s and Mframes/s, best of five runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::time::Instant;
use stormwatch_capture::CaptureFile;

/// Frame sizes cycled through (mean about 630 bytes).
const MIXED: [usize; 8] = [60, 1514, 66, 590, 1514, 54, 1066, 150];

fn generate(path: &Path, mib: u64, sizes: &[usize]) {
    let total = mib << 20;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut head = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    head.extend([0; 8]);
    head.extend(262_144u32.to_le_bytes());
    head.extend(1u32.to_le_bytes());
    w.write_all(&head).unwrap();
    let mut written = head.len() as u64;
    let mut i = 0usize;
    let frame = vec![0x5au8; 1514];
    while written < total {
        let n = sizes[i % sizes.len()];
        let mut rec = Vec::with_capacity(16);
        rec.extend((1_600_000_000 + (i / 100_000) as u32).to_le_bytes());
        rec.extend(((i % 100_000) as u32 * 10).to_le_bytes());
        rec.extend((n as u32).to_le_bytes());
        rec.extend((n as u32).to_le_bytes());
        w.write_all(&rec).unwrap();
        w.write_all(&frame[..n]).unwrap();
        written += 16 + n as u64;
        i += 1;
    }
    w.flush().unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: read_speed <capture> [--generate MIB] [--small]");
        std::process::exit(2);
    };
    let path = Path::new(path);
    if let Some(i) = args.iter().position(|a| a == "--generate") {
        let mib: u64 = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(1024);
        let sizes: &[usize] = if args.iter().any(|a| a == "--small") {
            &[64]
        } else {
            &MIXED
        };
        generate(path, mib, sizes);
    }
    let cap = CaptureFile::open(path).unwrap();
    let len = cap.len() as f64;
    let time = |f: &dyn Fn() -> u64| {
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..5 {
            let t = Instant::now();
            n = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        (best, n)
    };
    let (t_walk, records) = time(&|| cap.walk_records().0);
    let (t_frames, frames) = time(&|| {
        let mut n = 0u64;
        let mut acc = 0usize;
        for f in cap.frames(0) {
            acc = acc.wrapping_add(f.unwrap().data.len());
            n += 1;
        }
        std::hint::black_box(acc);
        n
    });
    assert_eq!(records, frames);
    println!("{}: {:.2} GB, {records} records", path.display(), len / 1e9);
    for (name, t) in [("walk_records", t_walk), ("frames", t_frames)] {
        println!(
            "{name:>12}: {:.2} GB/s, {:.1} Mframes/s ({:.0} ms)",
            len / t / 1e9,
            records as f64 / t / 1e6,
            t * 1e3
        );
    }
}
