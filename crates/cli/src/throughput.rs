//! `stormwatch throughput`: the end-to-end benchmark figures of
//! `docs/performance.md` — the raw-read floor (a loop that only walks the records
//! of the memory-mapped capture) against the whole engine, in wall and CPU time.

use crate::analyze::{Settings, load_rules};
use anyhow::{Context, Result, anyhow};
use clap::Args;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use stormwatch_capture::CaptureFile;
use stormwatch_engine::Engine;
use stormwatch_model::{OutputRecord, RecordMeta, Sink};
use stormwatch_output::eve::{EveOptions, EveWriter};

/// `stormwatch throughput` flags.
#[derive(Debug, Args)]
pub struct ThroughputArgs {
    /// The capture to measure.
    pub capture: PathBuf,
    /// Rule files or directories to load.
    #[arg(long)]
    pub rules: Vec<PathBuf>,
    /// Also format EVE (to a discarding writer), as `analyze --eve` would.
    #[arg(long)]
    pub eve: bool,
    /// Runs of each measurement (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Configuration file, as for `analyze`.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`; `None` elsewhere).
pub fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / 100.0)
}

struct Discard;

impl io::Write for Discard {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Null;

impl Sink for Null {
    fn write(&mut self, _: &OutputRecord) -> io::Result<()> {
        Ok(())
    }
    fn write_meta(&mut self, _: &OutputRecord, _: &RecordMeta) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Clone, Copy, Default)]
struct Figure {
    wall: f64,
    cpu: f64,
}

fn best(runs: &[Figure]) -> Figure {
    let mut b = Figure {
        wall: f64::INFINITY,
        cpu: f64::INFINITY,
    };
    for r in runs {
        b.wall = b.wall.min(r.wall);
        b.cpu = b.cpu.min(r.cpu);
    }
    b
}

fn measure(f: impl FnOnce() -> Result<()>) -> Result<Figure> {
    let c0 = cpu_secs().unwrap_or(0.0);
    let t0 = Instant::now();
    f()?;
    Ok(Figure {
        wall: t0.elapsed().as_secs_f64(),
        cpu: cpu_secs().unwrap_or(0.0) - c0,
    })
}

fn line(name: &str, bytes: u64, packets: u64, f: Figure) -> String {
    let gbs = |s: f64| bytes as f64 / s.max(1e-9) / 1e9;
    let mpps = |s: f64| packets as f64 / s.max(1e-9) / 1e6;
    format!(
        "{name:<22} wall {:>7.3}s {:>6.2} GB/s {:>6.2} Mpkt/s | cpu {:>7.3}s {:>6.2} GB/s {:>6.2} Mpkt/s",
        f.wall,
        gbs(f.wall),
        mpps(f.wall),
        f.cpu,
        gbs(f.cpu),
        mpps(f.cpu)
    )
}

/// `stormwatch throughput`.
pub fn run(a: ThroughputArgs) -> Result<ExitCode> {
    let mut settings = Settings::load(a.config.as_deref(), &[])?;
    settings.engine.rules = load_rules(&a.rules, &settings, true)?;
    settings.engine.app_records = a.eve;
    let cap = CaptureFile::open(&a.capture).map_err(|e| anyhow!("{e}"))?;
    let bytes = cap.len();
    let (records, _) = cap.walk_records();
    println!(
        "capture {}: {bytes} bytes, {records} packets",
        a.capture.display()
    );
    let mut floor = Vec::new();
    let mut engine_runs = Vec::new();
    for _ in 0..a.repeat.max(1) {
        floor.push(measure(|| {
            let (n, b) = cap.walk_records();
            std::hint::black_box((n, b));
            Ok(())
        })?);
        engine_runs.push(measure(|| {
            let mut engine = Engine::new(settings.engine.clone());
            let mut null = Null;
            let mut eve = EveWriter::new(Discard, EveOptions::default());
            let sink: &mut dyn Sink = if a.eve { &mut eve } else { &mut null };
            for f in cap.frames(0) {
                let f = f.map_err(|e| anyhow!("{e}"))?;
                engine.process(&f, sink).context("engine")?;
            }
            engine.finish(sink)?;
            Ok(())
        })?);
    }
    let fl = best(&floor);
    let en = best(&engine_runs);
    println!("{}", line("raw-read floor", bytes, records, fl));
    let label = match (a.rules.is_empty(), a.eve) {
        (true, false) => "engine, no rules",
        (true, true) => "engine+EVE, no rules",
        (false, false) => "engine, rules",
        (false, true) => "engine+EVE, rules",
    };
    println!("{}", line(label, bytes, records, en));
    println!(
        "engine / floor (cpu): {:.1}%",
        100.0 * fl.cpu / en.cpu.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
