//! # Overview
//!
//! The `stormwatch` command line: flags are parsed with clap into [`Cli`], turned
//! into validated settings, then into built objects (engine, sinks) — the binary
//! (`main.rs`) only maps the result to an exit code.
//!
//! Commands: `analyze` (the main job), `simulate` (scenario → pcap + labels),
//! `rules check`, `correlate` (EVE in, verdicts out), `report` (from a store),
//! `eval` (verdicts against simulator labels), `verify` (suricata-verify runner),
//! `throughput` (benchmark figures).
//!
//! ```no_run
//! let code = stormwatch_cli::run(["stormwatch", "analyze", "examples/mipsiv.pcap"]).unwrap();
//! ```

pub mod analyze;
pub mod report;
pub mod settings;
pub mod simulate;
pub mod throughput;
pub mod verify;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

/// The `stormwatch` command line.
#[derive(Debug, Parser)]
#[command(
    name = "stormwatch",
    version,
    about = "Network threat detection: captures in, infection stories out."
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse captures (pcap, pcapng, gzip; files or directories).
    Analyze(analyze::AnalyzeArgs),
    /// Write a scenario's capture and ground-truth labels.
    Simulate(simulate::SimulateArgs),
    /// Rule-file commands.
    Rules {
        /// What to do with rules.
        #[command(subcommand)]
        cmd: RulesCmd,
    },
    /// Judge hosts from EVE files (Suricata's or stormwatch's alerts and notices).
    Correlate(report::CorrelateArgs),
    /// Print or render the report held in a SQLite store.
    Report(report::ReportArgs),
    /// Compare verdicts with simulator labels: per-class precision and recall.
    Eval(report::EvalArgs),
    /// Run the suricata-verify test suite and print pass/fail per test.
    Verify(verify::VerifyArgs),
    /// Measure throughput: the raw-read floor against the whole engine.
    Throughput(throughput::ThroughputArgs),
}

/// `stormwatch rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// Load rule files or directories and report what loads and why the rest is skipped.
    Check {
        /// Rule files or directories.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// A suricata.yaml-style file for variables.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
}

/// Runs the command line `args` (including the program name).
pub fn run<I, T>(args: I) -> Result<ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(ExitCode::from(code));
        }
    };
    match cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Rules {
            cmd: RulesCmd::Check { paths, config },
        } => rules_check(&paths, config.as_deref()),
        Command::Correlate(a) => report::run_correlate(a),
        Command::Report(a) => report::run_report(a),
        Command::Eval(a) => report::run_eval(a),
        Command::Verify(a) => verify::run(a),
        Command::Throughput(a) => throughput::run(a),
    }
}

fn rules_check(paths: &[std::path::PathBuf], config: Option<&std::path::Path>) -> Result<ExitCode> {
    let cfg = match config {
        Some(p) => stormwatch_rules::RulesConfig::from_suricata_yaml(p)?,
        None => stormwatch_rules::RulesConfig::default(),
    };
    let (_set, report) = stormwatch_rules::RuleSet::load(paths, &cfg)?;
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}
