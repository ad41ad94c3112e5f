//! Reports and stores at the end of `analyze` and `correlate`, and the
//! `report`, `correlate` and `eval` commands.

use crate::analyze::{AnalyzeArgs, ReportFormat, RunOutcome, Settings};
use anyhow::{Context, Result, anyhow};
use clap::Args;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stormwatch_correlate::{CorrelateConfig, Correlator, evaluate, replay_eve};
use stormwatch_model::{FlowId, NetSet, OutputRecord, Timestamp, Verdict};
use stormwatch_output::eve::EveWriter;
use stormwatch_output::report::{ReportInput, RunSummary, render_html, render_text};
use stormwatch_output::store::Store;

/// Builds the report input from a run's records (verdict history, flows cited by
/// evidence) and the engine's conclusion.
pub fn report_input(
    captures: &[PathBuf],
    home_net: &NetSet,
    outcome: &RunOutcome,
    records: &[OutputRecord],
) -> ReportInput {
    let s = &outcome.summary;
    let cited: BTreeSet<FlowId> = s.evidence.iter().filter_map(|e| e.flow_id).collect();
    let mut verdicts = Vec::new();
    let mut flows = Vec::new();
    for r in records {
        match r {
            OutputRecord::Verdict(v) => verdicts.push(v.clone()),
            OutputRecord::Flow(f) if cited.contains(&f.flow_id) => flows.push(f.clone()),
            _ => {}
        }
    }
    // The current verdicts restate every host at the end of the watched span (a
    // host's last record is its current verdict).
    verdicts.extend(s.verdicts.iter().cloned());
    ReportInput {
        summary: RunSummary {
            captures: captures.iter().map(|p| p.display().to_string()).collect(),
            first_ts: s.first_ts,
            last_ts: s.last_ts,
            packets: s.packets,
            flows: s.flows,
            alerts: s.alerts,
            notices: s.notices,
            home_net: Some(home_net.to_string()),
        },
        verdicts,
        evidence: s.evidence.clone(),
        incidents: s.incidents.clone(),
        edges: s.edges.clone(),
        flows,
    }
}

/// Writes the report selected by `--report` and the store selected by `--store`.
pub fn emit(
    a: &AnalyzeArgs,
    settings: &Settings,
    outcome: &RunOutcome,
    records: &[OutputRecord],
    eve_to_stdout: bool,
) -> Result<()> {
    let input = report_input(&a.inputs, &settings.engine.home_net, outcome, records);
    write_report(
        a.report,
        a.report_out.as_deref(),
        a.output_dir.as_deref(),
        &input,
        eve_to_stdout,
    )?;
    if let Some(p) = &a.store {
        let mut st = Store::create(p).map_err(|e| anyhow!("{e}"))?;
        st.write_run(&input).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(())
}

fn write_report(
    fmt: ReportFormat,
    out: Option<&Path>,
    dir: Option<&Path>,
    input: &ReportInput,
    eve_to_stdout: bool,
) -> Result<()> {
    match fmt {
        ReportFormat::None => Ok(()),
        ReportFormat::Text => {
            let text = render_text(input);
            match out {
                Some(p) => std::fs::write(p, text)
                    .with_context(|| format!("writing report {}", p.display())),
                None if eve_to_stdout => {
                    eprint!("{text}");
                    Ok(())
                }
                None => {
                    let mut so = std::io::stdout().lock();
                    so.write_all(text.as_bytes())?;
                    so.flush()?;
                    Ok(())
                }
            }
        }
        ReportFormat::Html => {
            let p = match (out, dir) {
                (Some(p), _) => p.to_path_buf(),
                (None, Some(d)) => d.join("report.html"),
                (None, None) => PathBuf::from("report.html"),
            };
            std::fs::write(&p, render_html(input))
                .with_context(|| format!("writing report {}", p.display()))?;
            eprintln!("stormwatch: report written to {}", p.display());
            Ok(())
        }
    }
}

/// `stormwatch report` flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A store written by `analyze --store` or `correlate --store`.
    pub store: PathBuf,
    /// Format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Output file (text: standard output by default; html: report.html).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// `stormwatch report`.
pub fn run_report(a: ReportArgs) -> Result<ExitCode> {
    let st = Store::open(&a.store).map_err(|e| anyhow!("{e}"))?;
    let input = st.read_latest().map_err(|e| anyhow!("{e}"))?;
    write_report(a.format, a.output.as_deref(), None, &input, false)?;
    Ok(ExitCode::SUCCESS)
}

/// `stormwatch correlate` flags.
#[derive(Debug, Args)]
pub struct CorrelateArgs {
    /// EVE JSON files (Suricata's or stormwatch's).
    #[arg(required = true)]
    pub eve: Vec<PathBuf>,
    /// Protected networks (`HOME_NET`).
    #[arg(long)]
    pub home_net: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub report: ReportFormat,
    /// Report output file.
    #[arg(long)]
    pub report_out: Option<PathBuf>,
    /// Write verdict and incident records as EVE lines here (`-` = standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// SQLite store to write.
    #[arg(long)]
    pub store: Option<PathBuf>,
}

/// `stormwatch correlate`: replays alerts, notices, anomalies, app records and
/// flows from EVE files into a correlator.
pub fn run_correlate(a: CorrelateArgs) -> Result<ExitCode> {
    let mut cfg = CorrelateConfig::default();
    if let Some(h) = &a.home_net {
        cfg.home_net = NetSet::parse(h).map_err(|e| anyhow!("--home-net: {e}"))?;
    }
    let home = cfg.home_net.clone();
    let mut c = Correlator::new(cfg);
    let mut revisions: Vec<Verdict> = Vec::new();
    let (mut first, mut last) = (None, None);
    let (mut alerts, mut notices, mut flows) = (0, 0, 0);
    for p in &a.eve {
        let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
        let stats = replay_eve(
            BufReader::new(f),
            &p.display().to_string(),
            &mut c,
            &mut revisions,
        )
        .map_err(|e| anyhow!("{e}"))?;
        alerts += stats.alerts;
        notices += stats.notices;
        flows += stats.flows;
        let (f0, l0) = time_span(p)?;
        first = match (first, f0) {
            (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
            (a, b) => a.or(b),
        };
        last = match (last, l0) {
            (Some(a), Some(b)) => Some(std::cmp::max(a, b)),
            (a, b) => a.or(b),
        };
    }
    let conclusion = c.finish(last.unwrap_or_default());
    revisions.extend(conclusion.verdicts.iter().cloned());
    if let Some(o) = &a.out {
        let w: Box<dyn Write> = if o.as_os_str() == "-" {
            Box::new(BufWriter::new(std::io::stdout().lock()))
        } else {
            Box::new(BufWriter::new(
                File::create(o).with_context(|| format!("creating {}", o.display()))?,
            ))
        };
        let mut eve = EveWriter::new(w, stormwatch_output::eve::EveOptions::default());
        use stormwatch_model::Sink;
        for v in &revisions {
            eve.write(&OutputRecord::Verdict(v.clone()))?;
        }
        for i in &conclusion.incidents {
            eve.write(&OutputRecord::Incident(i.clone()))?;
        }
        eve.finish()?;
    }
    let input = ReportInput {
        summary: RunSummary {
            captures: a.eve.iter().map(|p| p.display().to_string()).collect(),
            first_ts: first,
            last_ts: last,
            packets: 0,
            flows,
            alerts,
            notices,
            home_net: Some(home.to_string()),
        },
        verdicts: revisions
            .into_iter()
            .chain(conclusion.current.iter().cloned())
            .collect(),
        evidence: c.evidence().cloned().collect(),
        incidents: conclusion.incidents,
        edges: conclusion.edges,
        flows: Vec::new(),
    };
    let to_stdout = a.out.as_deref() == Some(Path::new("-"));
    write_report(a.report, a.report_out.as_deref(), None, &input, to_stdout)?;
    if let Some(p) = &a.store {
        let mut st = Store::create(p).map_err(|e| anyhow!("{e}"))?;
        st.write_run(&input).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// First and last `timestamp` in an EVE file (flow records also carry their end).
fn time_span(p: &Path) -> Result<(Option<Timestamp>, Option<Timestamp>)> {
    use std::io::BufRead;
    let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
    let (mut first, mut last): (Option<Timestamp>, Option<Timestamp>) = (None, None);
    for line in BufReader::new(f).lines() {
        let line = line?;
        for key in ["\"timestamp\":\"", "\"end\":\""] {
            if let Some(i) = line.find(key) {
                let rest = &line[i + key.len()..];
                if let Some(t) = rest.split('"').next().and_then(Timestamp::parse) {
                    first = Some(first.map_or(t, |f| f.min(t)));
                    last = Some(last.map_or(t, |l| l.max(t)));
                }
            }
        }
    }
    Ok((first, last))
}

/// `stormwatch eval` flags.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labels files (`*.labels.json`, next to their `.pcap`), directories holding
    /// them, or built-in scenario names (generated on the fly).
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

/// `stormwatch eval`: analyses each labelled capture and prints per-class
/// precision and recall against the labels. Exit 1 when any host is wrong.
pub fn run_eval(a: EvalArgs) -> Result<ExitCode> {
    let mut cases: Vec<(String, Vec<u8>, String)> = Vec::new(); // (name, pcap bytes, labels json)
    for i in &a.inputs {
        let p = Path::new(i);
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.to_string_lossy().ends_with(".labels.json"))
                .collect();
            files.sort();
            for f in files {
                cases.push(labelled_case(&f)?);
            }
        } else if p.is_file() {
            cases.push(labelled_case(p)?);
        } else if let Some(src) = stormwatch_sim::builtin_source(i) {
            let sc = stormwatch_sim::parse_scenario(&format!("scenarios/{i}.toml"), src)
                .map_err(|e| anyhow!("{e}"))?;
            let g = stormwatch_sim::generate(&sc).map_err(|e| anyhow!("{e}"))?;
            cases.push((i.clone(), g.pcap, serde_json::to_string(&g.labels)?));
        } else {
            return Err(anyhow!(
                "{i}: not a labels file, a directory or a built-in scenario ({})",
                stormwatch_sim::builtin_names().join(", ")
            ));
        }
    }
    let mut all_ok = true;
    for (name, pcap, labels) in cases {
        let verdicts = analyze_bytes(&name, pcap, &labels)?;
        let rep = evaluate(&labels, &verdicts).map_err(|e| anyhow!("{name}: {e}"))?;
        println!("== {name}");
        print!("{rep}");
        if rep.correct != rep.hosts {
            all_ok = false;
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn labelled_case(labels: &Path) -> Result<(String, Vec<u8>, String)> {
    let text =
        std::fs::read_to_string(labels).with_context(|| format!("reading {}", labels.display()))?;
    let s = labels.to_string_lossy();
    let pcap_path = PathBuf::from(s.trim_end_matches(".labels.json").to_string() + ".pcap");
    let pcap = std::fs::read(&pcap_path).with_context(|| {
        format!(
            "reading {} (the capture next to {})",
            pcap_path.display(),
            labels.display()
        )
    })?;
    Ok((labels.display().to_string(), pcap, text))
}

/// Runs the engine over an in-memory capture with `HOME_NET` from the labels.
fn analyze_bytes(name: &str, pcap: Vec<u8>, labels: &str) -> Result<Vec<Verdict>> {
    let mut settings = Settings::default();
    let v: serde_json::Value =
        serde_json::from_str(labels).with_context(|| format!("{name}: labels are not JSON"))?;
    if let Some(nets) = v.get("home_net").and_then(|h| h.as_array()) {
        let list: Vec<String> = nets
            .iter()
            .filter_map(|n| n.as_str().map(String::from))
            .collect();
        if !list.is_empty() {
            let joined = list.join(",");
            settings.engine.set_home_net(
                NetSet::parse(&joined).map_err(|e| anyhow!("{name}: home_net: {e}"))?,
            );
            settings
                .rules
                .set_var("HOME_NET", &format!("[{joined}]"))
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    let cap =
        stormwatch_capture::CaptureFile::from_bytes(name, pcap).map_err(|e| anyhow!("{e}"))?;
    let mut engine = stormwatch_engine::Engine::new(settings.engine.clone());
    let mut sink = stormwatch_model::VecSink::default();
    for f in cap.frames(0) {
        let f = f.map_err(|e| anyhow!("{e}"))?;
        engine.process(&f, &mut sink)?;
    }
    let summary = engine.finish(&mut sink)?;
    Ok(summary.verdicts)
}
