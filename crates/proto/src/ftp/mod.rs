//! Ftp (under construction).

/// Ftp parser and logger settings.
#[derive(Clone, Debug, Default)]
pub struct FtpConfig {}
