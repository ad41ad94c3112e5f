//! What loading a rule set did: per-file counts and every skipped rule with
//! its place and reason.

use std::collections::BTreeMap;
use std::fmt;

/// Counts for one rule file (or text origin).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReport {
    /// Path or origin name as given.
    pub path: String,
    /// Rules loaded.
    pub loaded: usize,
    /// Rules skipped (see [`LoadReport::skips`]).
    pub skipped: usize,
}

impl FileReport {
    /// Share of rules loaded, in percent (100 for an empty file).
    pub fn percent_loaded(&self) -> f64 {
        let total = self.loaded + self.skipped;
        if total == 0 {
            100.0
        } else {
            self.loaded as f64 * 100.0 / total as f64
        }
    }
}

/// One rule that did not load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// File (or origin).
    pub file: String,
    /// 1-based line of the fault.
    pub line: usize,
    /// The rule's sid when it could be read.
    pub sid: Option<u32>,
    /// Short reason, the key of the skip-reason table (`unsupported keyword "lua"`).
    pub reason: String,
    /// Full message: what was found and what was expected.
    pub detail: String,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(s) = self.sid {
            write!(f, "sid {s}: ")?;
        }
        f.write_str(&self.detail)
    }
}

/// The result of loading rules. `Display` prints the `stormwatch rules check`
/// table: per-file loaded/skipped counts, then skip reasons with counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Per file, in load order.
    pub files: Vec<FileReport>,
    /// Every skipped rule, in load order.
    pub skips: Vec<Skip>,
    /// Notes that do not skip a rule (keywords accepted but not acting, ...).
    pub notes: Vec<String>,
}

impl LoadReport {
    /// Rules loaded in total.
    pub fn loaded(&self) -> usize {
        self.files.iter().map(|f| f.loaded).sum()
    }

    /// Rules skipped in total.
    pub fn skipped(&self) -> usize {
        self.files.iter().map(|f| f.skipped).sum()
    }

    /// Skip reasons with their counts, most frequent first (ties by name).
    pub fn reason_counts(&self) -> Vec<(String, usize)> {
        let mut m: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &self.skips {
            *m.entry(s.reason.as_str()).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// The report for one file, by the path it was loaded under.
    pub fn file(&self, path: &str) -> Option<&FileReport> {
        self.files.iter().find(|f| f.path == path)
    }

    pub(crate) fn file_mut(&mut self, path: &str) -> &mut FileReport {
        if let Some(i) = self.files.iter().position(|f| f.path == path) {
            return &mut self.files[i];
        }
        self.files.push(FileReport {
            path: path.to_string(),
            ..FileReport::default()
        });
        let n = self.files.len() - 1;
        &mut self.files[n]
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self
            .files
            .iter()
            .map(|x| x.path.len())
            .max()
            .unwrap_or(4)
            .max(5);
        writeln!(
            f,
            "{:<w$}  {:>7}  {:>7}  {:>7}",
            "file", "loaded", "skipped", "loaded%"
        )?;
        for x in &self.files {
            writeln!(
                f,
                "{:<w$}  {:>7}  {:>7}  {:>6.1}%",
                x.path,
                x.loaded,
                x.skipped,
                x.percent_loaded()
            )?;
        }
        let total = FileReport {
            path: "total".into(),
            loaded: self.loaded(),
            skipped: self.skipped(),
        };
        writeln!(
            f,
            "{:<w$}  {:>7}  {:>7}  {:>6.1}%",
            "total",
            total.loaded,
            total.skipped,
            total.percent_loaded()
        )?;
        let reasons = self.reason_counts();
        if !reasons.is_empty() {
            let rw = reasons.iter().map(|r| r.0.len()).max().unwrap_or(6).max(11);
            writeln!(f)?;
            writeln!(f, "{:<rw$}  {:>7}", "skip reason", "rules")?;
            for (r, n) in reasons {
                writeln!(f, "{r:<rw$}  {n:>7}")?;
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
