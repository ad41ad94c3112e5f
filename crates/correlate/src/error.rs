//! Operator-facing errors: a bad EVE line or a bad labels file. Malformed traffic
//! never gets here (it is evidence or an anomaly).

/// Why replaying an EVE file or reading labels failed.
#[derive(Debug, thiserror::Error)]
pub enum CorrelateError {
    /// A line of an EVE file is not what was expected.
    #[error("{origin}:{line}: expected {expected}")]
    Replay {
        /// File name (or `-`).
        origin: String,
        /// 1-based line number.
        line: u64,
        /// What was expected, and what was found.
        expected: String,
    },
    /// Reading the EVE file failed.
    #[error("{origin}:{line}: read error: {source}")]
    Io {
        /// File name.
        origin: String,
        /// 1-based line number being read.
        line: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The labels JSON is not what was expected.
    #[error("labels: expected {0}")]
    Labels(String),
}
