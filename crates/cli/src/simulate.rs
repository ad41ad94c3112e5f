//! `stormwatch simulate`: scenario → pcap + ground-truth labels; `--background`
//! for benchmark captures.

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

/// `stormwatch simulate` flags.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A scenario file (TOML) or the name of a built-in scenario.
    #[arg(required_unless_present_any = ["background", "list"])]
    pub scenario: Option<String>,
    /// The capture to write.
    #[arg(short, long, required_unless_present = "list")]
    pub output: Option<PathBuf>,
    /// Also write the ground-truth labels (JSON).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Write background traffic for benchmarks instead of a scenario.
    #[arg(long)]
    pub background: bool,
    /// Size of the background capture (`2GiB`, `500MB`).
    #[arg(long, default_value = "1GiB")]
    pub size: String,
    /// Seed for the background generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With --background: 64-byte frames only (per-packet cost benchmark).
    #[arg(long, requires = "background")]
    pub small_packets: bool,
    /// With --small-packets: number of concurrent flows the frames are spread over.
    #[arg(long, default_value_t = 10_000, requires = "small_packets")]
    pub flows: u32,
    /// List the built-in scenarios.
    #[arg(long)]
    pub list: bool,
}

/// `stormwatch simulate`.
pub fn run(a: SimulateArgs) -> Result<ExitCode> {
    if a.list {
        for n in stormwatch_sim::builtin_names() {
            println!("{n}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let out = a
        .output
        .clone()
        .ok_or_else(|| anyhow!("--output is required"))?;
    if a.background {
        let size = crate::settings::parse_size(&a.size)
            .ok_or_else(|| anyhow!("--size {:?}: expected a size such as 2GiB", a.size))?;
        let f = File::create(&out).with_context(|| format!("creating {}", out.display()))?;
        let w = BufWriter::with_capacity(1 << 22, f);
        if a.small_packets {
            let stats = stormwatch_sim::write_small_packets(size, a.flows, a.seed, w)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("stormwatch: wrote {} ({stats:?})", out.display());
        } else {
            let stats = stormwatch_sim::write_background(size, a.seed, w)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("stormwatch: wrote {} ({stats:?})", out.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(name) = a.scenario.as_deref() else {
        bail!("a scenario file or built-in name is required")
    };
    let (origin, text) = match stormwatch_sim::builtin_source(name) {
        Some(t) if !std::path::Path::new(name).exists() => {
            (format!("scenarios/{name}.toml"), t.to_string())
        }
        _ => {
            let t = std::fs::read_to_string(name).with_context(|| {
                format!(
                    "reading scenario {name} (built-ins: {})",
                    stormwatch_sim::builtin_names().join(", ")
                )
            })?;
            (name.to_string(), t)
        }
    };
    let scenario = stormwatch_sim::parse_scenario(&origin, &text).map_err(|e| anyhow!("{e}"))?;
    let generated = stormwatch_sim::generate(&scenario).map_err(|e| anyhow!("{e}"))?;
    std::fs::write(&out, &generated.pcap).with_context(|| format!("writing {}", out.display()))?;
    if let Some(l) = &a.labels {
        let json = serde_json::to_string_pretty(&generated.labels)?;
        std::fs::write(l, json + "\n").with_context(|| format!("writing {}", l.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
