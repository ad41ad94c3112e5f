//! stormwatch-engine (under construction).
