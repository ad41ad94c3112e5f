//! Tftp (under construction).

/// Tftp parser and logger settings.
#[derive(Clone, Debug, Default)]
pub struct TftpConfig {}
