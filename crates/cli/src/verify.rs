//! A runner for suricata-verify style tests: each test folder holds a pcap, an
//! optional `test.rules`, an optional `suricata.yaml` and a `test.yaml` with
//! `args`, `requires` and `checks` over the EVE output (format: the suite's README).
//!
//! `stormwatch verify <tests-dir>` prints PASS/FAIL/SKIP per test and a total;
//! `--baseline FILE` makes the run fail when fewer tests pass than the file lists,
//! `--record FILE` writes the passing tests to it.

use crate::analyze::{self, Settings};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use yaml_rust2::{Yaml, YamlLoader};

/// The engine version tests are evaluated against (`requires: min-version`).
pub const ENGINE_VERSION: (u64, u64, u64) = (9, 0, 0);

/// `stormwatch verify` flags.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The suite's `tests/` directory (or one test folder).
    pub dir: PathBuf,
    /// Only tests whose name contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// Only the tests named in this file (one per line; `#` comments).
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// Fail (exit 1) when fewer tests pass than this file lists.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write the names of passing tests here.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Print each failing check in full.
    #[arg(long, short)]
    pub verbose: bool,
    /// Keep each test's eve.json in this directory.
    #[arg(long)]
    pub keep: Option<PathBuf>,
}

/// A test's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every applicable check held.
    Pass,
    /// A check failed, the run failed, or the test could not be set up.
    Fail(String),
    /// Requirements not met (or all checks skipped).
    Skip(String),
}

/// One test's result.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// Name (path below the tests directory).
    pub name: String,
    /// Outcome.
    pub outcome: Outcome,
}

/// Finds every test folder (a folder holding `test.yaml`; not descended further).
pub fn discover(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    if dir.join("test.yaml").is_file() {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, dir.to_path_buf()));
        return Ok(out);
    }
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading test directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for p in entries {
        if p.join("test.yaml").is_file() {
            let name = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((name, p));
        } else {
            walk(root, &p, out)?;
        }
    }
    Ok(())
}

fn parse_version(s: &str) -> (u64, u64, u64) {
    let mut it = s
        .trim()
        .split('.')
        .map(|p| p.trim().parse::<u64>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

fn yaml_str(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Evaluates a `requires` block against [`ENGINE_VERSION`]: `None` when met,
/// else the reason it is not.
pub fn requirement_unmet(req: &Yaml) -> Option<String> {
    let Yaml::Hash(h) = req else { return None };
    for (k, v) in h {
        let key = yaml_str(k).unwrap_or_default();
        let val = yaml_str(v).unwrap_or_default();
        match key.as_str() {
            "min-version" if ENGINE_VERSION < parse_version(&val) => {
                return Some(format!("min-version {val}"));
            }
            "lt-version" if ENGINE_VERSION >= parse_version(&val) => {
                return Some(format!("lt-version {val}"));
            }
            "version" => {
                let want = parse_version(&val);
                let parts = val.split('.').count();
                let have = ENGINE_VERSION;
                let ok = match parts {
                    1 => have.0 == want.0,
                    2 => (have.0, have.1) == (want.0, want.1),
                    _ => have == want,
                };
                if !ok {
                    return Some(format!("version {val}"));
                }
            }
            "pcap" if v.as_bool() == Some(false) => {
                return Some("needs no pcap".into());
            }
            // Feature / file / script requirements: we assume the features of a
            // full build; unknown keys are not a reason to skip.
            _ => {}
        }
    }
    None
}

/// Converts a YAML check value to JSON with YAML 1.1 (PyYAML) typing for plain
/// scalars: `yes/no/on/off` are booleans.
fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(Value::String(r.clone())),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => match s.as_str() {
            "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Value::Bool(true),
            "no" | "No" | "NO" | "off" | "Off" | "OFF" => Value::Bool(false),
            _ => Value::String(s.clone()),
        },
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| (yaml_str(k).unwrap_or_default(), yaml_to_json(v)))
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

/// Resolves a dotted path with optional `[N]` indices.
fn resolve<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for comp in path.split('.') {
        let (name, idx) = match comp.find('[') {
            Some(i) if comp.ends_with(']') => (
                &comp[..i],
                comp[i + 1..comp.len() - 1].parse::<usize>().ok(),
            ),
            _ => (comp, None),
        };
        cur = cur.as_object()?.get(name)?;
        if let Some(n) = idx {
            cur = cur.as_array()?.get(n)?;
        }
    }
    Some(cur)
}

/// Python `==` between a JSON value and an expected value.
fn py_eq(a: &Value, b: &Value) -> bool {
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        (Value::Null, _) | (_, Value::Null) => false,
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn match_one(line: &Value, key: &str, expected: &Value) -> bool {
    match key {
        "has-key" | "not-has-key" => {
            let paths: Vec<String> = match expected {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            };
            let present = |p: &str| resolve(line, p).is_some_and(|v| !v.is_null());
            if key == "has-key" {
                paths.iter().all(|p| present(p))
            } else {
                paths.iter().all(|p| !present(p))
            }
        }
        _ => {
            if let Some((path, op)) = key.rsplit_once(".__") {
                let Some(v) = resolve(line, path) else {
                    return false;
                };
                let s = |x: &Value| x.as_str().map(String::from);
                let nums = || match (v, expected) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64().zip(b.as_f64()),
                    _ => None,
                };
                return match op {
                    "len" => {
                        let n: i64 = match v {
                            Value::Array(a) => a.len() as i64,
                            Value::String(st) => st.chars().count() as i64,
                            Value::Object(o) => o.len() as i64,
                            _ => -1,
                        };
                        py_eq(&Value::from(n), expected)
                    }
                    "find" => s(v).zip(s(expected)).is_some_and(|(h, n)| h.contains(&n)),
                    "contains" => match v {
                        Value::Array(a) => a.iter().any(|x| py_eq(x, expected)),
                        _ => s(v).zip(s(expected)).is_some_and(|(h, n)| h.contains(&n)),
                    },
                    "startswith" => s(v)
                        .zip(s(expected))
                        .is_some_and(|(h, n)| h.starts_with(&n)),
                    "endswith" => s(v).zip(s(expected)).is_some_and(|(h, n)| h.ends_with(&n)),
                    "gt" => nums().is_some_and(|(a, b)| a > b),
                    "gte" => nums().is_some_and(|(a, b)| a >= b),
                    "lt" => nums().is_some_and(|(a, b)| a < b),
                    "lte" => nums().is_some_and(|(a, b)| a <= b),
                    _ => resolve(line, key).is_some_and(|v| py_eq(v, expected)),
                };
            }
            resolve(line, key).is_some_and(|v| py_eq(v, expected))
        }
    }
}

/// Evaluates one `filter` check; `Ok(None)` = skipped, `Ok(Some(true))` = passed.
fn eval_filter(f: &Yaml, lines: &[Value], verbose: bool, why: &mut String) -> Option<bool> {
    if let Some(reason) = requirement_unmet(&f["requires"]) {
        let _ = reason;
        return None;
    }
    let count = f["count"].as_i64();
    let Yaml::Hash(m) = &f["match"] else {
        let _ = write!(why, "filter without match");
        return Some(false);
    };
    let conds: Vec<(String, Value)> = m
        .iter()
        .map(|(k, v)| (yaml_str(k).unwrap_or_default(), yaml_to_json(v)))
        .collect();
    let n = lines
        .iter()
        .filter(|l| conds.iter().all(|(k, v)| match_one(l, k, v)))
        .count() as i64;
    let ok = count.is_none_or(|c| c == n);
    if !ok {
        let _ = write!(why, "expected {} got {n} for {{", count.unwrap_or(-1));
        for (i, (k, v)) in conds.iter().enumerate() {
            if i > 0 {
                why.push_str(", ");
            }
            let _ = write!(why, "{k}: {v}");
        }
        why.push('}');
        if verbose {
            // Say which condition is the first that no line satisfies.
            for (k, v) in &conds {
                if !lines.iter().any(|l| match_one(l, k, v)) {
                    let _ = write!(why, " [no line has {k} == {v}]");
                    break;
                }
            }
        }
    }
    Some(ok)
}

fn single_with_ext(dir: &Path, exts: &[&str]) -> Result<Option<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| exts.contains(&e))
        })
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => bail!("more than one {} file in {}", exts.join("/"), dir.display()),
    }
}

/// Runs one test folder.
pub fn run_test(name: &str, dir: &Path, verbose: bool, keep: Option<&Path>) -> TestResult {
    let outcome = match run_test_inner(name, dir, verbose, keep) {
        Ok(o) => o,
        Err(e) => Outcome::Fail(format!("{e:#}")),
    };
    TestResult {
        name: name.to_string(),
        outcome,
    }
}

fn run_test_inner(name: &str, dir: &Path, verbose: bool, keep: Option<&Path>) -> Result<Outcome> {
    let text = std::fs::read_to_string(dir.join("test.yaml")).context("reading test.yaml")?;
    let docs = YamlLoader::load_from_str(&text).context("parsing test.yaml")?;
    let doc = docs.into_iter().next().unwrap_or(Yaml::Null);
    if let Some(r) = requirement_unmet(&doc["requires"]) {
        return Ok(Outcome::Skip(r));
    }
    let pcap = match yaml_str(&doc["pcap"]) {
        Some(p) if p != "false" => dir.join(p),
        _ => match single_with_ext(dir, &["pcap", "pcapng"])? {
            Some(p) => p,
            None => return Ok(Outcome::Skip("no pcap file found".into())),
        },
    };
    let rules = single_with_ext(dir, &["rules"])?;
    let yaml = dir.join("suricata.yaml");
    let mut overrides: Vec<String> = Vec::new();
    if let Yaml::Array(args) = &doc["args"] {
        for a in args {
            if let Some(s) = yaml_str(a) {
                overrides.extend(s.split_whitespace().map(String::from));
            }
        }
    }
    let mut env = Vec::new();
    if let Yaml::Hash(h) = &doc["env"] {
        for (k, v) in h {
            env.push((
                yaml_str(k).unwrap_or_default(),
                yaml_str(v).unwrap_or_default(),
            ));
        }
    }
    let settings =
        Settings::suricata_compat(yaml.is_file().then_some(yaml.as_path()), &overrides, &env)
            .with_context(|| format!("{name}: configuration"))?;
    let eve = analyze::run_to_memory(&[pcap], rules.as_deref(), &settings)?;
    if let Some(k) = keep {
        let path = k.join(format!("{}.eve.json", name.replace('/', "__")));
        std::fs::create_dir_all(k)?;
        std::fs::write(&path, &eve)?;
    }
    let lines: Vec<Value> = eve
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(serde_json::from_slice)
        .collect::<std::result::Result<_, _>>()
        .context("our own EVE output is not JSON")?;
    let Yaml::Array(checks) = &doc["checks"] else {
        return Ok(Outcome::Skip("no checks".into()));
    };
    let (mut passed, mut failed, mut reasons) = (0, 0, Vec::new());
    for (i, c) in checks.iter().enumerate() {
        let f = &c["filter"];
        if f.is_badvalue() {
            return Ok(Outcome::Skip(format!("check {i} is not a filter check")));
        }
        let mut why = String::new();
        match eval_filter(f, &lines, verbose, &mut why) {
            None => {}
            Some(true) => passed += 1,
            Some(false) => {
                failed += 1;
                reasons.push(format!("check {i}: {why}"));
            }
        }
    }
    Ok(if failed > 0 {
        Outcome::Fail(reasons.join("; "))
    } else if passed == 0 {
        Outcome::Skip("all checks skipped".into())
    } else {
        Outcome::Pass
    })
}

fn read_list(p: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// Runs every selected test; returns the results in name order.
pub fn run_suite(
    dir: &Path,
    only: Option<&str>,
    list: Option<&[String]>,
    verbose: bool,
    keep: Option<&Path>,
) -> Result<Vec<TestResult>> {
    let tests = discover(dir)?;
    Ok(tests
        .into_iter()
        .filter(|(n, _)| only.is_none_or(|o| n.contains(o)))
        .filter(|(n, _)| list.is_none_or(|l| l.iter().any(|x| x == n)))
        .map(|(n, p)| run_test(&n, &p, verbose, keep))
        .collect())
}

/// `stormwatch verify`.
pub fn run(a: VerifyArgs) -> Result<ExitCode> {
    let list = a.list.as_deref().map(read_list).transpose()?;
    let results = run_suite(
        &a.dir,
        a.only.as_deref(),
        list.as_deref(),
        a.verbose,
        a.keep.as_deref(),
    )?;
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    for r in &results {
        match &r.outcome {
            Outcome::Pass => {
                pass += 1;
                println!("PASS  {}", r.name);
            }
            Outcome::Fail(why) => {
                fail += 1;
                println!("FAIL  {}: {why}", r.name);
            }
            Outcome::Skip(why) => {
                skip += 1;
                println!("SKIP  {}: {why}", r.name);
            }
        }
    }
    let total = pass + fail;
    let rate = if total > 0 {
        100.0 * pass as f64 / total as f64
    } else {
        0.0
    };
    println!(
        "total: {} tests, {pass} passed, {fail} failed, {skip} skipped ({rate:.1}% of run tests pass)",
        results.len()
    );
    if let Some(rec) = &a.record {
        let mut s = String::from(
            "# suricata-verify tests stormwatch passes (written by `stormwatch verify --record`)\n",
        );
        for r in results.iter().filter(|r| r.outcome == Outcome::Pass) {
            s.push_str(&r.name);
            s.push('\n');
        }
        std::fs::write(rec, s).with_context(|| format!("writing {}", rec.display()))?;
    }
    if let Some(base) = &a.baseline {
        let expected = read_list(base)?;
        let regressions: Vec<&String> = expected
            .iter()
            .filter(|n| {
                !results
                    .iter()
                    .any(|r| &r.name == *n && r.outcome == Outcome::Pass)
            })
            .collect();
        if pass < expected.len() {
            println!(
                "pass count {pass} fell below the recorded {}; no longer passing: {regressions:?}",
                expected.len()
            );
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn y(s: &str) -> Yaml {
        YamlLoader::load_from_str(s).unwrap().remove(0)
    }

    #[test]
    fn dotted_paths_and_indices() {
        let v = json!({"dns": {"answers": [{"rrname": "a"}, {"rrname": "b"}]}, "vlan": [1, 10]});
        assert_eq!(resolve(&v, "dns.answers[1].rrname"), Some(&json!("b")));
        assert_eq!(resolve(&v, "dns.answers.rrname"), None);
        assert_eq!(resolve(&v, "dns.answers[2].rrname"), None);
        assert!(match_one(&v, "vlan", &json!([1, 10])));
        assert!(!match_one(&v, "vlan", &json!([1])));
        assert!(match_one(&v, "dns.answers.__len", &json!(2)));
        assert!(match_one(&v, "has-key", &json!("dns.answers")));
        assert!(match_one(&v, "not-has-key", &json!(["dns.queries", "x"])));
    }

    #[test]
    fn python_equality() {
        assert!(py_eq(&json!(1), &json!(1.0)));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(!py_eq(&Value::Null, &Value::Null));
        assert!(py_eq(&json!({"a": [1]}), &json!({"a": [1]})));
        assert!(!py_eq(&json!({"a": 1, "b": 2}), &json!({"a": 1})));
    }

    #[test]
    fn yaml_1_1_scalars() {
        let d = y("a: yes\nb: '00'\nc: 1b\nd: 3\ne: false");
        assert_eq!(yaml_to_json(&d["a"]), json!(true));
        assert_eq!(yaml_to_json(&d["b"]), json!("00"));
        assert_eq!(yaml_to_json(&d["c"]), json!("1b"));
        assert_eq!(yaml_to_json(&d["d"]), json!(3));
        assert_eq!(yaml_to_json(&d["e"]), json!(false));
    }

    #[test]
    fn requirements_against_9_0_0() {
        assert!(requirement_unmet(&y("min-version: 8")).is_none());
        assert!(requirement_unmet(&y("min-version: 9.0.1")).is_some());
        assert!(requirement_unmet(&y("lt-version: 8.0.7")).is_some());
        assert!(requirement_unmet(&y("version: 7")).is_some());
        assert!(requirement_unmet(&y("version: 9")).is_none());
    }

    #[test]
    fn filter_counts_exactly() {
        let lines = vec![
            json!({"event_type": "alert", "alert": {"signature_id": 1}}),
            json!({"event_type": "flow"}),
        ];
        let mut why = String::new();
        let f = y("count: 1\nmatch:\n  event_type: alert\n  alert.signature_id: 1\n");
        assert_eq!(eval_filter(&f, &lines, false, &mut why), Some(true));
        let f = y("count: 0\nmatch:\n  event_type: alert\n");
        assert_eq!(eval_filter(&f, &lines, false, &mut why), Some(false));
        let f = y("count: 1\nrequires:\n  lt-version: 8\nmatch:\n  event_type: alert\n");
        assert_eq!(eval_filter(&f, &lines, false, &mut why), None);
    }
}
