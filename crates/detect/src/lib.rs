//! stormwatch-detect (under construction).
