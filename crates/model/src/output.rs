//! Records leaving the engine, and the push-model [`Sink`] that consumes them.

use crate::{Alert, Anomaly, FlowId, FlowKey, FlowRecord, Incident, Notice, Timestamp, Verdict};
use serde::{Deserialize, Serialize};
use std::io;

/// An application-layer EVE record (`tls`, `http`, `dns`, `ssh`, `ftp`, `smtp`,
/// `irc`, `fileinfo`): the common header plus the protocol object, already in
/// JSON form (built by the protocol's logger).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppRecord {
    /// Time of the packet that completed the record.
    pub ts: Timestamp,
    /// EVE `event_type`.
    pub event_type: String,
    /// Flow.
    pub flow_id: FlowId,
    /// Endpoints as EVE writes them for transactions (client → server).
    pub key: FlowKey,
    /// Transaction id.
    pub tx_id: Option<u64>,
    /// The object written under the `event_type` key.
    pub body: serde_json::Value,
    /// Extra top-level members (e.g. `app_proto`, `fileinfo` next to `http`).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Run counters, written as the final `stats` record and the terminal summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Packet time of the last packet.
    pub ts: Timestamp,
    /// Counters by dotted name (`decoder.pkts`, `flow.memcap_evictions`, ...), sorted on output.
    pub counters: Vec<(String, u64)>,
}

impl Stats {
    /// Adds to counter `name` (creating it).
    pub fn add(&mut self, name: &str, v: u64) {
        if let Some(c) = self.counters.iter_mut().find(|(n, _)| n == name) {
            c.1 += v;
        } else {
            self.counters.push((name.to_string(), v));
        }
    }

    /// Reads counter `name` (0 when absent).
    pub fn get(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |c| c.1)
    }
}

/// Anything the pipeline outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum OutputRecord {
    /// End of a flow.
    Flow(FlowRecord),
    /// Signature match.
    Alert(Alert),
    /// Anomaly.
    Anomaly(Anomaly),
    /// Application-layer record.
    App(AppRecord),
    /// Behavioural finding.
    Notice(Notice),
    /// Host verdict (revision).
    Verdict(Verdict),
    /// Campaign / incident.
    Incident(Incident),
    /// End-of-run counters.
    Stats(Stats),
}

impl OutputRecord {
    /// Packet time of the record.
    pub fn ts(&self) -> Timestamp {
        match self {
            OutputRecord::Flow(r) => r.end,
            OutputRecord::Alert(r) => r.ts,
            OutputRecord::Anomaly(r) => r.ts,
            OutputRecord::App(r) => r.ts,
            OutputRecord::Notice(r) => r.ts,
            OutputRecord::Verdict(r) => r.ts,
            OutputRecord::Incident(r) => r.last_seen,
            OutputRecord::Stats(r) => r.ts,
        }
    }
}

/// Engine facts about a record that are not part of the record itself.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordMeta {
    /// 1-based number of the packet whose processing produced the record
    /// (EVE `pcap_cnt`); `None` for records produced by timeouts or at the end.
    pub pcap_cnt: Option<u64>,
    /// Link type of that packet (EVE `packet_info.linktype`).
    pub linktype: Option<u32>,
    /// Source of the inspected data for alerts (EVE `pkt_src`: `wire/pcap`,
    /// `stream (flow timeout)`, `ip defrag`...).
    pub pkt_src: Option<&'static str>,
}

/// A consumer of output records (EVE writer, SQLite store, report builder...).
pub trait Sink {
    /// Takes one record.
    fn write(&mut self, rec: &OutputRecord) -> io::Result<()>;
    /// Takes one record with engine facts (`pcap_cnt`...). Sinks that do not print
    /// them need not implement this.
    fn write_meta(&mut self, rec: &OutputRecord, meta: &RecordMeta) -> io::Result<()> {
        let _ = meta;
        self.write(rec)
    }
    /// Takes one record with engine facts and extra top-level members for its EVE
    /// form (e.g. the `http` object an alert on an HTTP transaction carries).
    /// Sinks that do not print them need not implement this.
    fn write_extra(
        &mut self,
        rec: &OutputRecord,
        meta: &RecordMeta,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> io::Result<()> {
        let _ = extra;
        self.write_meta(rec, meta)
    }
    /// Flushes at the end of the run.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink that keeps every record in memory (tests, correlation after the run).
#[derive(Default, Debug)]
pub struct VecSink {
    /// Records in arrival order.
    pub records: Vec<OutputRecord>,
}

impl Sink for VecSink {
    fn write(&mut self, rec: &OutputRecord) -> io::Result<()> {
        self.records.push(rec.clone());
        Ok(())
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn write(&mut self, rec: &OutputRecord) -> io::Result<()> {
        (**self).write(rec)
    }
    fn write_meta(&mut self, rec: &OutputRecord, meta: &RecordMeta) -> io::Result<()> {
        (**self).write_meta(rec, meta)
    }
    fn write_extra(
        &mut self,
        rec: &OutputRecord,
        meta: &RecordMeta,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> io::Result<()> {
        (**self).write_extra(rec, meta, extra)
    }
    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn write(&mut self, rec: &OutputRecord) -> io::Result<()> {
        (**self).write(rec)
    }
    fn write_meta(&mut self, rec: &OutputRecord, meta: &RecordMeta) -> io::Result<()> {
        (**self).write_meta(rec, meta)
    }
    fn write_extra(
        &mut self,
        rec: &OutputRecord,
        meta: &RecordMeta,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> io::Result<()> {
        (**self).write_extra(rec, meta, extra)
    }
    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
}
