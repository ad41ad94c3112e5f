//! stormwatch-output (under construction).
