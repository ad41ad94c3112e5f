//! stormwatch-capture (under construction).
