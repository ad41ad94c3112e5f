//! stormwatch-proto (under construction).
