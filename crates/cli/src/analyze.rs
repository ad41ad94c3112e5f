//! `stormwatch analyze`: captures in; EVE, a report and a store out.

pub use crate::settings::Settings;
use anyhow::{Context, Result, anyhow};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use stormwatch_capture::{CaptureFile, expand_inputs};
use stormwatch_engine::{Engine, Summary};
use stormwatch_model::{OutputRecord, RecordMeta, Sink};
use stormwatch_output::eve::EveWriter;
use stormwatch_rules::RuleSet;

/// Report formats.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Terminal text.
    Text,
    /// One self-contained HTML page.
    Html,
    /// No report.
    None,
}

/// `stormwatch analyze` flags.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally gzip-compressed) or directories.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write EVE JSON lines to this file (`-` = standard output).
    #[arg(long)]
    pub eve: Option<PathBuf>,
    /// Output directory: `eve.json` (unless `--eve`), `report.html` with `--report html`.
    #[arg(short = 'o', long = "output-dir")]
    pub output_dir: Option<PathBuf>,
    /// Protected networks (`HOME_NET`), comma-separated CIDRs, `!` to exclude.
    #[arg(long)]
    pub home_net: Option<String>,
    /// Configuration file (suricata.yaml-style YAML; see docs/configuration.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one configuration key: `--set stream.midstream=false`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Rule files or directories (Snort/Suricata syntax).
    #[arg(long)]
    pub rules: Vec<PathBuf>,
    /// Report for people.
    #[arg(long, value_enum, default_value = "text")]
    pub report: ReportFormat,
    /// Write the report here instead of standard output (text) or `<dir>/report.html` (html).
    #[arg(long)]
    pub report_out: Option<PathBuf>,
    /// SQLite store to write hosts, evidence, verdicts and incidents into.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Profile the rules and write the profile here as JSON (`-` = standard
    /// output): per rule its evaluations, matches and their time, per buffer
    /// the searches, bytes and time, as Suricata's `rule_perf.log`; the
    /// costliest rules are also listed on standard error unless `--quiet`.
    /// Profiling reads the clock around every evaluation and search, so the
    /// run is slower.
    #[arg(long, value_name = "FILE")]
    pub rule_profile: Option<PathBuf>,
}

/// What a run produced besides its records.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Engine figures.
    pub summary: Summary,
    /// Warnings (truncated captures...), one line each.
    pub warnings: Vec<String>,
    /// Bytes of capture read.
    pub capture_bytes: u64,
    /// Wall time of the run in seconds (for the throughput line only).
    pub elapsed_secs: f64,
}

/// Sends each record to several sinks.
pub struct Tee<'a> {
    /// The sinks.
    pub sinks: Vec<&'a mut dyn Sink>,
}

impl Sink for Tee<'_> {
    fn write(&mut self, rec: &OutputRecord) -> io::Result<()> {
        self.write_meta(rec, &RecordMeta::default())
    }
    fn write_meta(&mut self, rec: &OutputRecord, meta: &RecordMeta) -> io::Result<()> {
        for s in &mut self.sinks {
            s.write_meta(rec, meta)?;
        }
        Ok(())
    }
    fn write_extra(
        &mut self,
        rec: &OutputRecord,
        meta: &RecordMeta,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> io::Result<()> {
        for s in &mut self.sinks {
            s.write_extra(rec, meta, extra)?;
        }
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        for s in &mut self.sinks {
            s.finish()?;
        }
        Ok(())
    }
}

/// Loads rules from `paths` (reporting skips on stderr unless `quiet`).
pub fn load_rules(
    paths: &[PathBuf],
    settings: &Settings,
    quiet: bool,
    profile: bool,
) -> Result<Option<Arc<RuleSet>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let (mut set, report) = RuleSet::load(paths, &settings.rules)?;
    if profile {
        set.enable_profiling();
    }
    if !quiet {
        eprintln!(
            "stormwatch: {} rules loaded, {} skipped (`stormwatch rules check` lists why)",
            report.loaded(),
            report.skipped()
        );
    }
    Ok(Some(Arc::new(set)))
}

/// Runs the engine over `inputs` into `sink`.
pub fn run_pipeline(
    inputs: &[PathBuf],
    settings: &Settings,
    sink: &mut dyn Sink,
    progress: bool,
) -> Result<RunOutcome> {
    let files = expand_inputs(inputs)?;
    if files.is_empty() {
        return Err(anyhow!(
            "no capture files found in {}",
            display_list(inputs)
        ));
    }
    let started = Instant::now();
    let mut out = RunOutcome::default();
    let mut captures = Vec::with_capacity(files.len());
    for f in &files {
        captures.push(Arc::new(CaptureFile::open(f)?));
    }
    let total: u64 = captures.iter().map(|c| c.len()).sum();
    let bar = progress.then(|| {
        let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} ({bytes_per_sec}, {msg}) {wide_bar} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let mut engine = Engine::new(settings.engine.clone());
    let mut done: u64 = 0;
    for (i, cap) in captures.iter().enumerate() {
        let idx = u32::try_from(i).unwrap_or(u32::MAX);
        let mut n: u64 = 0;
        engine.attach_capture(cap.clone());
        for frame in cap.frames(idx) {
            match frame {
                Ok(f) => {
                    engine.process(&f, sink)?;
                    n += 1;
                    if n.is_multiple_of(65_536)
                        && let Some(b) = &bar
                    {
                        b.set_position(done + f.origin.offset);
                        let s = engine.summary();
                        let secs = started.elapsed().as_secs_f64().max(1e-9);
                        b.set_message(format!("{:.2} Mpkt/s", s.packets as f64 / secs / 1e6));
                    }
                }
                Err(e) => {
                    out.warnings.push(e.to_string());
                    break;
                }
            }
        }
        done += cap.len();
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    out.summary = engine.finish(sink)?;
    out.capture_bytes = total;
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Runs `inputs` with `rules` under `settings` and returns the EVE bytes
/// (suricata-verify runner, tests).
pub fn run_to_memory(
    inputs: &[PathBuf],
    rules: Option<&Path>,
    settings: &Settings,
) -> Result<Vec<u8>> {
    let mut settings = settings.clone();
    if let Some(r) = rules {
        let (set, report) = RuleSet::load(&[r.to_path_buf()], &settings.rules)?;
        if report.skipped() > 0 {
            return Err(anyhow!(
                "{} rule(s) did not load:\n{report}",
                report.skipped()
            ));
        }
        settings.engine.rules = Some(Arc::new(set));
    }
    let mut eve = EveWriter::new(Vec::new(), settings.eve.clone());
    // A capture that ends in a broken record still yields what was read before it
    // (Suricata also finishes such runs normally).
    let outcome = run_pipeline(inputs, &settings, &mut eve, false)?;
    for w in &outcome.warnings {
        eprintln!("stormwatch: warning: {w}");
    }
    Ok(eve.into_inner())
}

fn display_list(p: &[PathBuf]) -> String {
    p.iter()
        .map(|x| x.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b} B")
    }
}

/// The short end-of-run summary.
pub fn summary_text(o: &RunOutcome) -> String {
    let s = &o.summary;
    let secs = o.elapsed_secs.max(1e-9);
    let mut t = format!(
        "packets {}  bytes {}  flows {}  alerts {}  notices {}  in {:.2}s ({}/s, {:.2} Mpkt/s)\n",
        s.packets,
        human_bytes(s.bytes),
        s.flows,
        s.alerts,
        s.notices,
        o.elapsed_secs,
        human_bytes((o.capture_bytes as f64 / secs) as u64),
        s.packets as f64 / secs / 1e6
    );
    if !s.protocols.is_empty() {
        let p: Vec<String> = s
            .protocols
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        t.push_str(&format!("protocols: {}\n", p.join(", ")));
    }
    if !s.anomalies.is_empty() {
        let total: u64 = s.anomalies.values().sum();
        let mut top: Vec<(&String, &u64)> = s.anomalies.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let p: Vec<String> = top
            .iter()
            .take(5)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        t.push_str(&format!("anomalies: {total} ({})\n", p.join(", ")));
    }
    t
}

/// `stormwatch analyze`.
pub fn run(a: AnalyzeArgs) -> Result<ExitCode> {
    let sets: Vec<(String, String)> = a
        .sets
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("--set {kv}: expected KEY=VALUE"))
        })
        .collect::<Result<_>>()?;
    let mut settings = Settings::load(a.config.as_deref(), &sets)?;
    if let Some(h) = &a.home_net {
        let net = stormwatch_model::NetSet::parse(h).map_err(|e| anyhow!("--home-net: {e}"))?;
        settings
            .rules
            .set_var("HOME_NET", h)
            .map_err(|e| anyhow!("--home-net: {e}"))?;
        settings.engine.set_home_net(net);
    }
    let rule_paths = if a.rules.is_empty() {
        settings.rule_files.clone()
    } else {
        a.rules.clone()
    };
    if a.rule_profile.as_deref() == Some(Path::new("-"))
        && (a.eve.as_deref() == Some(Path::new("-"))
            || (a.report == ReportFormat::Text && a.report_out.is_none()))
    {
        return Err(anyhow!(
            "--rule-profile -: standard output already carries the EVE records or the text report (give a file, or --report none)"
        ));
    }
    if a.rule_profile.is_some() && rule_paths.is_empty() {
        return Err(anyhow!(
            "--rule-profile: no rules to profile (give --rules or `rule-files` in the configuration)"
        ));
    }
    settings.engine.rules = load_rules(&rule_paths, &settings, a.quiet, a.rule_profile.is_some())?;

    let eve_path = match (&a.eve, &a.output_dir) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(d)) => Some(d.join("eve.json")),
        (None, None) => None,
    };
    if let Some(d) = &a.output_dir {
        std::fs::create_dir_all(d)
            .with_context(|| format!("creating output directory {}", d.display()))?;
    }
    let eve_to_stdout = eve_path.as_deref() == Some(Path::new("-"));
    // Without EVE output nobody reads application records: let the parsers skip them.
    settings.engine.app_records = eve_path.is_some();
    let mut eve: Option<EveWriter<Box<dyn Write>>> = match &eve_path {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(EveWriter::new(
            Box::new(BufWriter::new(io::stdout().lock())),
            settings.eve.clone(),
        )),
        Some(p) => {
            let f =
                File::create(p).with_context(|| format!("creating EVE file {}", p.display()))?;
            Some(EveWriter::new(
                Box::new(BufWriter::with_capacity(1 << 20, f)),
                settings.eve.clone(),
            ))
        }
    };
    let mut collect = stormwatch_model::VecSink::default();
    let want_report = a.report != ReportFormat::None || a.store.is_some();
    let progress = !a.quiet && io::stderr().is_terminal();
    let outcome = {
        let mut sinks: Vec<&mut dyn Sink> = Vec::new();
        if let Some(e) = eve.as_mut() {
            sinks.push(e);
        }
        let mut judged = JudgedOnly {
            inner: &mut collect,
        };
        if want_report {
            sinks.push(&mut judged);
        }
        let mut tee = Tee { sinks };
        run_pipeline(&a.inputs, &settings, &mut tee, progress)?
    };
    drop(eve);

    if want_report {
        crate::report::emit(&a, &settings, &outcome, &collect.records, eve_to_stdout)?;
    }
    if let (Some(path), Some(rules)) = (&a.rule_profile, settings.engine.rules.as_deref()) {
        write_rule_profile(path, rules, a.quiet)?;
    }
    if !a.quiet {
        eprint!("{}", summary_text(&outcome));
        for w in &outcome.warnings {
            eprintln!("stormwatch: warning: {w}");
        }
    }
    // Everything is written: the process ends after this, and the operating system
    // takes the rule set's memory back at once, where freeing its compiled rules one
    // allocation at a time took ≈ 20 ms with all ET rules (longer than analysing a
    // small capture).
    std::mem::forget(settings.engine.rules.take());
    Ok(if outcome.warnings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes the rule set's profile to `path` as one JSON document (and the
/// costliest rules to standard error unless `quiet`).
fn write_rule_profile(path: &Path, rules: &RuleSet, quiet: bool) -> Result<()> {
    let Some(p) = rules.profile() else {
        return Ok(());
    };
    let total: u64 = p.rules.iter().map(|r| r.total_ns).sum();
    let rule_json: Vec<serde_json::Value> = p
        .rules
        .iter()
        .map(|r| {
            serde_json::json!({
                "signature_id": r.sid,
                "gid": r.gid,
                "rev": r.rev,
                "msg": r.msg,
                "checks": r.checks,
                "matches": r.matches,
                "ns_total": r.total_ns,
                "ns_max": r.max_ns,
                "ns_avg": r.avg_ns(),
                "ns_avg_match": r.avg_match_ns(),
                "ns_avg_nomatch": r.avg_nomatch_ns(),
                "percent": stormwatch_rules::profile_percent(r.total_ns, total),
            })
        })
        .collect();
    let search_json: Vec<serde_json::Value> = p
        .searches
        .iter()
        .map(|b| {
            serde_json::json!({
                "buffer": b.buffer,
                "searches": b.calls,
                "bytes": b.bytes,
                "ns_total": b.total_ns,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "sort": "ns_total",
        "rules_ns_total": total,
        "rules": rule_json,
        "searches": search_json,
    });
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    if path.as_os_str() == "-" {
        io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing the rule profile to standard output")?;
    } else {
        std::fs::write(path, text)
            .with_context(|| format!("writing the rule profile {}", path.display()))?;
    }
    if !quiet {
        eprint!("{}", p.table(10));
        eprintln!("stormwatch: rule profile written to {}", path.display());
    }
    Ok(())
}

/// Keeps only the records reports and stores need (alerts, notices, verdicts,
/// incidents, anomalies of the application layer), not every flow.
struct JudgedOnly<'a> {
    inner: &'a mut stormwatch_model::VecSink,
}

impl Sink for JudgedOnly<'_> {
    fn write(&mut self, rec: &OutputRecord) -> io::Result<()> {
        match rec {
            OutputRecord::Alert(_)
            | OutputRecord::Notice(_)
            | OutputRecord::Verdict(_)
            | OutputRecord::Incident(_) => self.inner.write(rec),
            _ => Ok(()),
        }
    }
}
