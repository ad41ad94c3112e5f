//! stormwatch-correlate (under construction).
