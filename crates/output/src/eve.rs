//! EVE JSON lines (under construction).
