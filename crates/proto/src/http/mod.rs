//! Http (under construction).

/// Http parser and logger settings.
#[derive(Clone, Debug, Default)]
pub struct HttpConfig {}
