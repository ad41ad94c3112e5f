//! Dns (under construction).

/// Dns parser and logger settings.
#[derive(Clone, Debug, Default)]
pub struct DnsConfig {}
