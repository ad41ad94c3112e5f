//! stormwatch-sim (under construction).
