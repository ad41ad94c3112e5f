//! stormwatch-flow (under construction).
