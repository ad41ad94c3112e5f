//! Operator-facing errors: a bad scenario file, with file, line, column and
//! what was expected.

use std::fmt;

/// A scenario that cannot be read or generated. `Display` is one line:
/// `scenarios/x.toml:12:5: unknown key "tagret" in [[activity]]: expected one of kind, at, ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// File name (or built-in name) the scenario came from.
    pub origin: String,
    /// 1-based line (0 when the error concerns the whole scenario).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.origin, self.message),
            (l, 0) => write!(f, "{}:{l}: {}", self.origin, self.message),
            (l, c) => write!(f, "{}:{l}:{c}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column_message() {
        let mut e = ScenarioError {
            origin: "x.toml".into(),
            line: 12,
            column: 5,
            message: "unknown key".into(),
        };
        assert_eq!(e.to_string(), "x.toml:12:5: unknown key");
        e.column = 0;
        assert_eq!(e.to_string(), "x.toml:12: unknown key");
        e.line = 0;
        assert_eq!(e.to_string(), "x.toml: unknown key");
    }
}
