//! Operator faults: unreadable files, bad variables, bad configuration.
//!
//! A bad *rule* is not an error: it is skipped and reported in the
//! [`LoadReport`](crate::LoadReport). Errors are for what the operator must fix
//! before anything can run.

use std::path::PathBuf;

/// An operator fault. `Display` is one line naming the file (and line where
/// there is one) and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A rule file, directory, config or threshold file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A variable definition is malformed.
    #[error("variable {name}: {message}")]
    BadVar {
        /// Variable name (without `$`).
        name: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A configuration file (suricata.yaml, classification.config,
    /// threshold.config) is malformed.
    #[error("{}:{line}: {message}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the whole file is at fault).
        line: usize,
        /// What was expected.
        message: String,
    },
    /// A directory named as a rule source holds no `*.rules` file.
    #[error(
        "{}: no *.rules file in this directory (subdirectories are not searched){}",
        path.display(),
        if found.is_empty() { String::new() } else { format!("; rule files are in: {}", found.join(", ")) }
    )]
    NoRuleFiles {
        /// The directory.
        path: PathBuf,
        /// Directories below it that hold rule files, with their counts
        /// (`dir (n)`), for the message.
        found: Vec<String>,
    },
}
