//! # Overview
//!
//! `stormwatch-output` turns [`stormwatch_model::OutputRecord`]s into what people
//! and tools read: EVE JSON lines ([`eve::EveWriter`]), a terminal or HTML report
//! ([`report`]) and a SQLite store ([`store`]).

pub mod eve;
mod json;
pub mod report;
pub mod store;
