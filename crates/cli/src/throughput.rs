//! `stormwatch throughput`: the end-to-end benchmark figures of
//! `docs/performance.md` — the raw-read floor (a loop that only walks the records
//! of the memory-mapped capture) against the whole engine, in wall and CPU time.
//!
//! Every run maps the capture afresh, so the floor and the engine both pay for
//! mapping the pages in. With a warm page cache (the default: the file was read
//! before) the floor measures memory bandwidth and page-mapping cost; with
//! `--cold` the page cache is dropped before every run
//! (`/proc/sys/vm/drop_caches`, root only) and the floor is bound by the disk.

use crate::analyze::{Settings, load_rules};
use anyhow::{Context, Result, anyhow};
use clap::Args;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
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
    /// Also measure with a cold page cache: drop it (`sync`, then write 1 to
    /// `/proc/sys/vm/drop_caches`; needs root, and slows every other process on the
    /// machine for a while) before each cold run.
    #[arg(long)]
    pub cold: bool,
}

/// Empties the kernel's page cache, so the next read of the capture comes from disk.
fn drop_page_cache() -> Result<()> {
    let _ = std::process::Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "1")
        .context("--cold: writing /proc/sys/vm/drop_caches (needs root on Linux)")
}

/// User + system CPU seconds of this process, to the nanosecond
/// (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`: the scheduler's own runtime,
/// all threads). The tick counts of `/proc/self/stat` step by 10 ms, 5% of a
/// 0.2 s floor run; they remain the fallback. `None` off Unix.
pub fn cpu_secs() -> Option<f64> {
    clock_cpu_secs().or_else(proc_stat_cpu_secs)
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn clock_cpu_secs() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through the pointer, which
    // points to a live, exclusively borrowed `timespec`; the clock id is a
    // constant every Unix libc defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

#[cfg(not(unix))]
fn clock_cpu_secs() -> Option<f64> {
    None
}

/// User + system CPU seconds from Linux's `/proc/self/stat` (10 ms ticks).
fn proc_stat_cpu_secs() -> Option<f64> {
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
    settings.engine.rules = load_rules(&a.rules, &settings, true, false)?;
    settings.engine.app_records = a.eve;
    let open = || CaptureFile::open(&a.capture).map_err(|e| anyhow!("{e}"));
    let (bytes, records) = {
        let cap = open()?;
        (cap.len(), cap.walk_records().0)
    };
    println!(
        "capture {}: {bytes} bytes, {records} packets",
        a.capture.display()
    );
    if let Some(Err(e)) = open()?.frames(0).find(|f| f.is_err()) {
        if e.is_truncation() {
            eprintln!("stormwatch: warning: {e} (measured up to the cut)");
        } else {
            return Err(anyhow!("{e}"));
        }
    }
    // A loop that only walks the records of a fresh map of the file.
    let floor_run = || -> Result<()> {
        let cap = open()?;
        std::hint::black_box(cap.walk_records());
        Ok(())
    };
    let engine_run = || -> Result<()> {
        let cap = Arc::new(open()?);
        let mut engine = Engine::new(settings.engine.clone());
        engine.attach_capture(cap.clone());
        let mut null = Null;
        let mut eve = EveWriter::new(Discard, EveOptions::default());
        let sink: &mut dyn Sink = if a.eve { &mut eve } else { &mut null };
        for f in cap.frames(0) {
            let f = match f {
                Ok(f) => f,
                // A capture cut short is measured up to the cut (as `analyze`
                // reads it); the cut is reported once, before the runs.
                Err(e) if e.is_truncation() => break,
                Err(e) => return Err(anyhow!("{e}")),
            };
            engine.process(&f, sink).context("engine")?;
        }
        engine.finish(sink)?;
        Ok(())
    };
    let label = match (a.rules.is_empty(), a.eve) {
        (true, false) => "engine, no rules",
        (true, true) => "engine+EVE, no rules",
        (false, false) => "engine, rules",
        (false, true) => "engine+EVE, rules",
    };
    // Warm page cache: read once, then the best of `repeat` runs of each.
    floor_run()?;
    let mut floor = Vec::new();
    let mut engine_runs = Vec::new();
    for _ in 0..a.repeat.max(1) {
        floor.push(measure(floor_run)?);
        engine_runs.push(measure(engine_run)?);
    }
    let (fl, en) = (best(&floor), best(&engine_runs));
    println!("{}", line("floor, warm cache", bytes, records, fl));
    println!("{}", line(label, bytes, records, en));
    println!(
        "engine / floor, warm cache: {:.1}% (cpu), {:.1}% (wall)",
        100.0 * fl.cpu / en.cpu.max(1e-9),
        100.0 * fl.wall / en.wall.max(1e-9)
    );
    if a.cold {
        // Cold page cache: every run reads the file from disk (one run each).
        drop_page_cache()?;
        let fl = measure(floor_run)?;
        drop_page_cache()?;
        let en = measure(engine_run)?;
        println!("{}", line("floor, cold cache", bytes, records, fl));
        println!("{}", line(&format!("{label}, cold"), bytes, records, en));
        println!(
            "engine / floor, cold cache: {:.1}% (wall), {:.1}% (cpu)",
            100.0 * fl.wall / en.wall.max(1e-9),
            100.0 * fl.cpu / en.cpu.max(1e-9)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU clock steps far finer than the 10 ms scheduler tick (a floor run
    /// takes ≈ 0.2 s, so ticks alone moved the engine/floor ratio by ±5%), and
    /// it does not go backwards.
    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_clock_is_finer_than_a_tick() {
        let start = cpu_secs().expect("a CPU clock on Linux");
        let mut last = start;
        let mut x = 0u64;
        let step = loop {
            for i in 0..1_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
            let now = cpu_secs().expect("a CPU clock on Linux");
            assert!(now >= last, "CPU clock went back: {last} -> {now}");
            if now > start {
                break now - start;
            }
            last = now;
        };
        assert!(step < 0.002, "CPU clock stepped by {step} s");
    }
}
