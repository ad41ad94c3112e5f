//! stormwatch-rules (under construction).
