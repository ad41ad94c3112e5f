//! Smtp (under construction).

/// Smtp parser and logger settings.
#[derive(Clone, Debug, Default)]
pub struct SmtpConfig {}
