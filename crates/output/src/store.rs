//! The SQLite store: runs, hosts, evidence, verdicts with their history,
//! incidents with members and eggs, the propagation graph and the flows evidence
//! cites (schema in `docs/store.md`). `stormwatch report <store>` rebuilds a
//! [`ReportInput`] from the store alone ([`Store::read_run`]).
//!
//! ```
//! use stormwatch_output::report::ReportInput;
//! use stormwatch_output::store::Store;
//! let dir = std::env::temp_dir().join(format!("sw-store-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("run.sqlite");
//! let _ = std::fs::remove_file(&path);
//! let mut s = Store::create(&path).unwrap();
//! let id = s.write_run(&ReportInput::default()).unwrap();
//! assert_eq!(Store::open(&path).unwrap().read_run(id).unwrap(), ReportInput::default());
//! ```

use crate::report::{ReportInput, RunSummary};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use stormwatch_model::{
    AppProto, Confidence, EndReason, Evidence, EvidenceRef, EvidenceSource, FlowId, FlowKey,
    FlowRecord, FlowState, Incident, IpProto, Label, PropagationEdge, Stage, Strength, TcpState,
    TcpSummary, Timestamp, Vector, Verdict, WhyNot,
};

/// The schema version this code writes and reads (`meta.schema_version`).
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, captures TEXT NOT NULL, first_ts INTEGER, last_ts INTEGER,
  packets INTEGER NOT NULL, flows INTEGER NOT NULL, alerts INTEGER NOT NULL,
  notices INTEGER NOT NULL, home_net TEXT);
CREATE TABLE IF NOT EXISTS hosts (
  run_id INTEGER NOT NULL REFERENCES runs(id), ip TEXT NOT NULL, internal INTEGER NOT NULL,
  label TEXT NOT NULL, confidence TEXT NOT NULL, revision INTEGER NOT NULL,
  campaign TEXT, infected_by TEXT, generation INTEGER, evidence_count INTEGER NOT NULL,
  PRIMARY KEY (run_id, ip));
CREATE TABLE IF NOT EXISTS evidence (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
  ts INTEGER NOT NULL, host TEXT NOT NULL, stage TEXT NOT NULL, peer TEXT, flow_id INTEGER,
  source_type TEXT NOT NULL, gid INTEGER, sid INTEGER, msg TEXT, classtype TEXT,
  notice_kind TEXT, identifier TEXT, event TEXT, strength TEXT NOT NULL,
  vector_proto INTEGER, vector_port INTEGER, vector_signature TEXT,
  egg_sha256 TEXT, controller TEXT, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS evidence_host ON evidence(run_id, host);
CREATE TABLE IF NOT EXISTS verdicts (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
  ts INTEGER NOT NULL, host TEXT NOT NULL, label TEXT NOT NULL, roles TEXT NOT NULL,
  confidence TEXT NOT NULL, reason TEXT NOT NULL, revision INTEGER NOT NULL,
  previous TEXT, campaign TEXT, infected_by TEXT, generation INTEGER,
  internal INTEGER NOT NULL, is_current INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS verdicts_host ON verdicts(run_id, host);
CREATE TABLE IF NOT EXISTS verdict_evidence (
  verdict_id INTEGER NOT NULL REFERENCES verdicts(id), seq INTEGER NOT NULL,
  ts INTEGER NOT NULL, stage TEXT NOT NULL, flow_id INTEGER, peer TEXT, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS why_not (
  verdict_id INTEGER NOT NULL REFERENCES verdicts(id), seq INTEGER NOT NULL,
  label TEXT NOT NULL, reason TEXT NOT NULL, span_start INTEGER, span_end INTEGER);
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
  name TEXT NOT NULL, label TEXT NOT NULL, first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL, vector_proto INTEGER, vector_port INTEGER,
  vector_signature TEXT, controller TEXT, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incident_members (
  incident_id INTEGER NOT NULL REFERENCES incidents(id), seq INTEGER NOT NULL,
  ip TEXT NOT NULL, role TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incident_eggs (
  incident_id INTEGER NOT NULL REFERENCES incidents(id), seq INTEGER NOT NULL,
  sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edges (
  run_id INTEGER NOT NULL REFERENCES runs(id), incident_id INTEGER REFERENCES incidents(id),
  seq INTEGER NOT NULL, from_ip TEXT NOT NULL, to_ip TEXT NOT NULL, ts INTEGER NOT NULL,
  vector_proto INTEGER, vector_port INTEGER, vector_signature TEXT,
  generation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flows (
  run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL, flow_id INTEGER NOT NULL,
  src_ip TEXT NOT NULL, src_port INTEGER NOT NULL, dest_ip TEXT NOT NULL,
  dest_port INTEGER NOT NULL, proto INTEGER NOT NULL, vlan0 INTEGER NOT NULL,
  vlan1 INTEGER NOT NULL, start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL,
  pkts_toserver INTEGER NOT NULL, pkts_toclient INTEGER NOT NULL,
  bytes_toserver INTEGER NOT NULL, bytes_toclient INTEGER NOT NULL,
  app_proto TEXT NOT NULL, app_proto_ts TEXT, app_proto_tc TEXT, state TEXT NOT NULL,
  reason TEXT NOT NULL, alerted INTEGER NOT NULL,
  tcp_flags INTEGER, tcp_flags_ts INTEGER, tcp_flags_tc INTEGER, tcp_state TEXT,
  tcp_history TEXT, tcp_handshake INTEGER, tcp_gap_ts INTEGER, tcp_gap_tc INTEGER,
  icmp_type INTEGER, icmp_code INTEGER, src_mac TEXT, dest_mac TEXT,
  PRIMARY KEY (run_id, flow_id));
"#;

/// Why the store could not be created, written or read.
#[derive(Debug)]
pub enum StoreError {
    /// SQLite refused an operation.
    Sqlite {
        /// The store file.
        path: PathBuf,
        /// What was being done.
        doing: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is not a stormwatch store of a version this code reads.
    Schema {
        /// The store file.
        path: PathBuf,
        /// What was found.
        found: String,
    },
    /// The run does not exist (or the store holds none).
    NoRun {
        /// The store file.
        path: PathBuf,
        /// Requested run, `None` for "the latest".
        run: Option<i64>,
    },
    /// A stored value cannot be read back.
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// Table and column.
        at: String,
        /// What was expected and found.
        expected: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite {
                path,
                doing,
                source,
            } => {
                write!(f, "{}: {doing}: {source}", path.display())
            }
            StoreError::Schema { path, found } => write!(
                f,
                "{}: expected a stormwatch store (schema version {SCHEMA_VERSION}), found {found}",
                path.display()
            ),
            StoreError::NoRun { path, run: Some(r) } => {
                write!(f, "{}: no run {r} in the store", path.display())
            }
            StoreError::NoRun { path, run: None } => {
                write!(f, "{}: the store holds no run", path.display())
            }
            StoreError::Corrupt { path, at, expected } => {
                write!(f, "{}: {at}: expected {expected}", path.display())
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Sqlite { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One run, as listed by [`Store::runs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// Run id.
    pub id: i64,
    /// Inputs.
    pub captures: Vec<String>,
    /// First packet.
    pub first_ts: Option<Timestamp>,
    /// Last packet.
    pub last_ts: Option<Timestamp>,
    /// Hosts judged.
    pub hosts: u64,
}

/// A stormwatch SQLite store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn i(u: u64) -> i64 {
    u.cast_signed()
}

fn uu(v: i64) -> u64 {
    v.cast_unsigned()
}

fn stage_from(code: &str) -> Option<Stage> {
    Stage::from_code(code)
}

fn strength_str(s: Strength) -> &'static str {
    match s {
        Strength::Weak => "weak",
        Strength::Normal => "normal",
        Strength::Strong => "strong",
    }
}

fn strength_from(s: &str) -> Option<Strength> {
    Some(match s {
        "weak" => Strength::Weak,
        "normal" => Strength::Normal,
        "strong" => Strength::Strong,
        _ => return None,
    })
}

fn confidence_from(s: &str) -> Option<Confidence> {
    Some(match s {
        "low" => Confidence::Low,
        "medium" => Confidence::Medium,
        "high" => Confidence::High,
        _ => return None,
    })
}

fn state_from(s: &str) -> Option<FlowState> {
    Some(match s {
        "new" => FlowState::New,
        "established" => FlowState::Established,
        "closed" => FlowState::Closed,
        "bypassed" => FlowState::Bypassed,
        _ => return None,
    })
}

fn reason_from(s: &str) -> Option<EndReason> {
    Some(match s {
        "timeout" => EndReason::Timeout,
        "forced" => EndReason::Forced,
        "shutdown" => EndReason::Shutdown,
        _ => return None,
    })
}

fn tcp_state_from(s: &str) -> Option<TcpState> {
    Some(match s {
        "none" => TcpState::None,
        "syn_sent" => TcpState::SynSent,
        "syn_recv" => TcpState::SynRecv,
        "established" => TcpState::Established,
        "fin_wait1" => TcpState::FinWait1,
        "fin_wait2" => TcpState::FinWait2,
        "time_wait" => TcpState::TimeWait,
        "close_wait" => TcpState::CloseWait,
        "last_ack" => TcpState::LastAck,
        "closing" => TcpState::Closing,
        "closed" => TcpState::Closed,
        _ => return None,
    })
}

fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn mac_from(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    for (o, p) in out.iter_mut().zip(parts) {
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// Reads rows into values, turning conversion failures into [`StoreError::Corrupt`].
struct Reader<'a> {
    path: &'a Path,
}

impl Reader<'_> {
    fn bad(&self, at: &str, expected: &str, found: &str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.to_path_buf(),
            at: at.to_string(),
            expected: format!("{expected}, found {found:?}"),
        }
    }
    fn ip(&self, at: &str, s: &str) -> Result<IpAddr, StoreError> {
        s.parse().map_err(|_| self.bad(at, "an IP address", s))
    }
    fn ip_opt(&self, at: &str, s: Option<String>) -> Result<Option<IpAddr>, StoreError> {
        s.map(|s| self.ip(at, &s)).transpose()
    }
    fn label(&self, at: &str, s: &str) -> Result<Label, StoreError> {
        Label::from_name(s).ok_or_else(|| self.bad(at, "a label word", s))
    }
    fn stage(&self, at: &str, s: &str) -> Result<Stage, StoreError> {
        stage_from(s).ok_or_else(|| self.bad(at, "a stage code E1..E7", s))
    }
    fn app(&self, at: &str, s: &str) -> Result<AppProto, StoreError> {
        AppProto::from_name(s).ok_or_else(|| self.bad(at, "an app-layer protocol name", s))
    }
    fn u8v(&self, at: &str, v: i64) -> Result<u8, StoreError> {
        u8::try_from(v).map_err(|_| self.bad(at, "a value 0-255", &v.to_string()))
    }
    fn u16v(&self, at: &str, v: i64) -> Result<u16, StoreError> {
        u16::try_from(v).map_err(|_| self.bad(at, "a value 0-65535", &v.to_string()))
    }
    fn u32v(&self, at: &str, v: i64) -> Result<u32, StoreError> {
        u32::try_from(v).map_err(|_| self.bad(at, "a 32-bit unsigned value", &v.to_string()))
    }
    fn vector(
        &self,
        at: &str,
        proto: Option<i64>,
        port: Option<i64>,
        sig: Option<String>,
    ) -> Result<Option<Vector>, StoreError> {
        match (proto, port) {
            (Some(p), Some(q)) => Ok(Some(Vector {
                proto: self.u8v(at, p)?,
                port: self.u16v(at, q)?,
                signature: sig,
            })),
            _ => Ok(None),
        }
    }
}

type Raw = Vec<rusqlite::types::Value>;

fn raw(row: &Row<'_>, n: usize) -> rusqlite::Result<Raw> {
    (0..n)
        .map(|k| row.get::<_, rusqlite::types::Value>(k))
        .collect()
}

fn text(v: &rusqlite::types::Value) -> Option<String> {
    match v {
        rusqlite::types::Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

fn int(v: &rusqlite::types::Value) -> Option<i64> {
    match v {
        rusqlite::types::Value::Integer(n) => Some(*n),
        _ => None,
    }
}

fn col(r: &Raw, k: usize) -> &rusqlite::types::Value {
    static NULL: rusqlite::types::Value = rusqlite::types::Value::Null;
    r.get(k).unwrap_or(&NULL)
}

impl Store {
    fn err(&self, doing: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        let doing = doing.to_string();
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            doing,
            source,
        }
    }

    /// Creates the store file with its schema (an existing stormwatch store is
    /// opened and further runs are appended to it).
    pub fn create(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            doing: "creating the store".into(),
            source,
        })?;
        let s = Store {
            conn,
            path: path.to_path_buf(),
        };
        s.conn
            .execute_batch(SCHEMA)
            .map_err(s.err("creating the schema (is it a SQLite file?)"))?;
        let found: Option<String> = s
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(s.err("reading the schema version"))?;
        match found {
            None => {
                s.conn
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                        params![SCHEMA_VERSION.to_string()],
                    )
                    .map_err(s.err("writing the schema version"))?;
            }
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) => {
                return Err(StoreError::Schema {
                    path: path.to_path_buf(),
                    found: format!("schema version {v}"),
                });
            }
        }
        Ok(s)
    }

    /// Opens an existing store.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            doing: "opening the store".into(),
            source,
        })?;
        let s = Store {
            conn,
            path: path.to_path_buf(),
        };
        let found: Result<Option<String>, rusqlite::Error> = s
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional();
        match found {
            Ok(Some(v)) if v == SCHEMA_VERSION.to_string() => Ok(s),
            Ok(Some(v)) => Err(StoreError::Schema {
                path: path.to_path_buf(),
                found: format!("schema version {v}"),
            }),
            Ok(None) => Err(StoreError::Schema {
                path: path.to_path_buf(),
                found: "no schema version".into(),
            }),
            Err(e) => Err(StoreError::Schema {
                path: path.to_path_buf(),
                found: format!("no stormwatch tables ({e})"),
            }),
        }
    }

    /// Writes one run in one transaction; returns its id.
    pub fn write_run(&mut self, input: &ReportInput) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let e = |doing: &'static str| {
            let path = path.clone();
            move |source| StoreError::Sqlite {
                path,
                doing: doing.to_string(),
                source,
            }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(e("starting a transaction"))?;
        let s = &input.summary;
        let captures = serde_json::to_string(&s.captures).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "INSERT INTO runs (captures, first_ts, last_ts, packets, flows, alerts, notices, home_net) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                captures,
                s.first_ts.map(|t| t.0),
                s.last_ts.map(|t| t.0),
                i(s.packets),
                i(s.flows),
                i(s.alerts),
                i(s.notices),
                s.home_net
            ],
        )
        .map_err(e("writing the run"))?;
        let run = tx.last_insert_rowid();
        {
            let mut st = tx
                .prepare("INSERT INTO evidence (run_id, seq, ts, host, stage, peer, flow_id, source_type, gid, sid, msg, classtype, notice_kind, identifier, event, strength, vector_proto, vector_port, vector_signature, egg_sha256, controller, detail) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)")
                .map_err(e("preparing evidence rows"))?;
            for (k, ev) in input.evidence.iter().enumerate() {
                let (stype, gid, sid, msg, classtype, nkind, ident, event) = match &ev.source {
                    EvidenceSource::Alert {
                        gid,
                        sid,
                        msg,
                        classtype,
                    } => (
                        "alert",
                        Some(i64::from(*gid)),
                        Some(i64::from(*sid)),
                        Some(msg.clone()),
                        classtype.clone(),
                        None,
                        None,
                        None,
                    ),
                    EvidenceSource::Notice { kind, identifier } => (
                        "notice",
                        None,
                        None,
                        None,
                        None,
                        Some(kind.clone()),
                        Some(identifier.clone()),
                        None,
                    ),
                    EvidenceSource::Anomaly { event } => (
                        "anomaly",
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        Some(event.clone()),
                    ),
                };
                st.execute(params![
                    run,
                    k as i64,
                    ev.ts.0,
                    ev.host.to_string(),
                    ev.stage.code(),
                    ev.peer.map(|p| p.to_string()),
                    ev.flow_id.map(|f| i(f.0)),
                    stype,
                    gid,
                    sid,
                    msg,
                    classtype,
                    nkind,
                    ident,
                    event,
                    strength_str(ev.strength),
                    ev.vector.as_ref().map(|v| i64::from(v.proto)),
                    ev.vector.as_ref().map(|v| i64::from(v.port)),
                    ev.vector.as_ref().and_then(|v| v.signature.clone()),
                    ev.egg_sha256,
                    ev.controller,
                    ev.detail
                ])
                .map_err(e("writing evidence"))?;
            }
        }
        // Verdicts; the last record of each host is current.
        let mut last_of: std::collections::BTreeMap<IpAddr, usize> = Default::default();
        for (k, v) in input.verdicts.iter().enumerate() {
            last_of.insert(v.host, k);
        }
        {
            let mut vs = tx
                .prepare("INSERT INTO verdicts (run_id, seq, ts, host, label, roles, confidence, reason, revision, previous, campaign, infected_by, generation, internal, is_current) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)")
                .map_err(e("preparing verdict rows"))?;
            let mut es = tx
                .prepare("INSERT INTO verdict_evidence (verdict_id, seq, ts, stage, flow_id, peer, detail) VALUES (?1,?2,?3,?4,?5,?6,?7)")
                .map_err(e("preparing verdict evidence rows"))?;
            let mut ws = tx
                .prepare("INSERT INTO why_not (verdict_id, seq, label, reason, span_start, span_end) VALUES (?1,?2,?3,?4,?5,?6)")
                .map_err(e("preparing why-not rows"))?;
            for (k, v) in input.verdicts.iter().enumerate() {
                let roles: Vec<&str> = v.roles.iter().map(|l| l.as_str()).collect();
                vs.execute(params![
                    run,
                    k as i64,
                    v.ts.0,
                    v.host.to_string(),
                    v.label.as_str(),
                    roles.join(","),
                    v.confidence.as_str(),
                    v.reason,
                    i64::from(v.revision),
                    v.previous.map(|l| l.as_str()),
                    v.campaign,
                    v.infected_by.map(|p| p.to_string()),
                    v.generation.map(i64::from),
                    v.internal,
                    last_of.get(&v.host) == Some(&k)
                ])
                .map_err(e("writing a verdict"))?;
                let vid = tx.last_insert_rowid();
                for (j, r) in v.evidence.iter().enumerate() {
                    es.execute(params![
                        vid,
                        j as i64,
                        r.ts.0,
                        r.stage.code(),
                        r.flow_id.map(|f| i(f.0)),
                        r.peer.map(|p| p.to_string()),
                        r.detail
                    ])
                    .map_err(e("writing verdict evidence"))?;
                }
                for (j, w) in v.why_not.iter().enumerate() {
                    ws.execute(params![
                        vid,
                        j as i64,
                        w.label.as_str(),
                        w.reason,
                        w.span_start.map(|t| t.0),
                        w.span_end.map(|t| t.0)
                    ])
                    .map_err(e("writing a why-not"))?;
                }
            }
        }
        // Hosts: the current verdict of each, with its evidence count.
        {
            let mut hs = tx
                .prepare("INSERT INTO hosts (run_id, ip, internal, label, confidence, revision, campaign, infected_by, generation, evidence_count) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)")
                .map_err(e("preparing host rows"))?;
            for v in input.current() {
                let n = input.evidence.iter().filter(|x| x.host == v.host).count();
                hs.execute(params![
                    run,
                    v.host.to_string(),
                    v.internal,
                    v.label.as_str(),
                    v.confidence.as_str(),
                    i64::from(v.revision),
                    v.campaign,
                    v.infected_by.map(|p| p.to_string()),
                    v.generation.map(i64::from),
                    n as i64
                ])
                .map_err(e("writing a host"))?;
            }
        }
        {
            let mut is = tx
                .prepare("INSERT INTO incidents (run_id, seq, name, label, first_seen, last_seen, vector_proto, vector_port, vector_signature, controller, summary) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)")
                .map_err(e("preparing incident rows"))?;
            let mut ms = tx
                .prepare("INSERT INTO incident_members (incident_id, seq, ip, role) VALUES (?1,?2,?3,?4)")
                .map_err(e("preparing member rows"))?;
            let mut gs = tx
                .prepare("INSERT INTO incident_eggs (incident_id, seq, sha256) VALUES (?1,?2,?3)")
                .map_err(e("preparing egg rows"))?;
            let mut eds = tx
                .prepare("INSERT INTO edges (run_id, incident_id, seq, from_ip, to_ip, ts, vector_proto, vector_port, vector_signature, generation) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)")
                .map_err(e("preparing edge rows"))?;
            let edge = |eds: &mut rusqlite::Statement<'_>,
                        inc: Option<i64>,
                        k: usize,
                        x: &PropagationEdge|
             -> rusqlite::Result<usize> {
                eds.execute(params![
                    run,
                    inc,
                    k as i64,
                    x.from.to_string(),
                    x.to.to_string(),
                    x.ts.0,
                    x.vector.as_ref().map(|v| i64::from(v.proto)),
                    x.vector.as_ref().map(|v| i64::from(v.port)),
                    x.vector.as_ref().and_then(|v| v.signature.clone()),
                    i64::from(x.generation)
                ])
            };
            for (k, inc) in input.incidents.iter().enumerate() {
                is.execute(params![
                    run,
                    k as i64,
                    inc.name,
                    inc.label.as_str(),
                    inc.first_seen.0,
                    inc.last_seen.0,
                    inc.vector.as_ref().map(|v| i64::from(v.proto)),
                    inc.vector.as_ref().map(|v| i64::from(v.port)),
                    inc.vector.as_ref().and_then(|v| v.signature.clone()),
                    inc.controller,
                    inc.summary
                ])
                .map_err(e("writing an incident"))?;
                let iid = tx.last_insert_rowid();
                let members = inc
                    .hosts
                    .iter()
                    .map(|h| (*h, "member"))
                    .chain(inc.actors.iter().map(|(ip, l)| (*ip, l.as_str())));
                for (j, (ip, role)) in members.enumerate() {
                    ms.execute(params![iid, j as i64, ip.to_string(), role])
                        .map_err(e("writing an incident member"))?;
                }
                for (j, egg) in inc.eggs.iter().enumerate() {
                    gs.execute(params![iid, j as i64, egg])
                        .map_err(e("writing an incident egg"))?;
                }
                for (j, x) in inc.edges.iter().enumerate() {
                    edge(&mut eds, Some(iid), j, x).map_err(e("writing an incident edge"))?;
                }
            }
            for (k, x) in input.edges.iter().enumerate() {
                edge(&mut eds, None, k, x).map_err(e("writing an edge"))?;
            }
        }
        {
            let mut fs = tx
                .prepare("INSERT OR REPLACE INTO flows (run_id, seq, flow_id, src_ip, src_port, dest_ip, dest_port, proto, vlan0, vlan1, start_ts, end_ts, pkts_toserver, pkts_toclient, bytes_toserver, bytes_toclient, app_proto, app_proto_ts, app_proto_tc, state, reason, alerted, tcp_flags, tcp_flags_ts, tcp_flags_tc, tcp_state, tcp_history, tcp_handshake, tcp_gap_ts, tcp_gap_tc, icmp_type, icmp_code, src_mac, dest_mac) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34)")
                .map_err(e("preparing flow rows"))?;
            for (k, f) in input.flows.iter().enumerate() {
                let t = f.tcp.as_ref();
                fs.execute(params![
                    run,
                    k as i64,
                    i(f.flow_id.0),
                    f.key.src.to_string(),
                    f.key.src_port,
                    f.key.dst.to_string(),
                    f.key.dst_port,
                    f.key.proto.0,
                    f.key.vlan[0],
                    f.key.vlan[1],
                    f.start.0,
                    f.end.0,
                    i(f.pkts_toserver),
                    i(f.pkts_toclient),
                    i(f.bytes_toserver),
                    i(f.bytes_toclient),
                    f.app_proto.as_str(),
                    f.app_proto_ts.map(|p| p.as_str()),
                    f.app_proto_tc.map(|p| p.as_str()),
                    f.state.as_str(),
                    f.reason.as_str(),
                    f.alerted,
                    t.map(|t| t.flags),
                    t.map(|t| t.flags_ts),
                    t.map(|t| t.flags_tc),
                    t.map(|t| t.state.as_str()),
                    t.map(|t| t.history.clone()),
                    t.map(|t| t.handshake_done),
                    t.map(|t| i(t.gap_bytes_ts)),
                    t.map(|t| i(t.gap_bytes_tc)),
                    f.icmp.map(|x| x.0),
                    f.icmp.map(|x| x.1),
                    f.macs.map(|m| mac_str(&m.0)),
                    f.macs.map(|m| mac_str(&m.1))
                ])
                .map_err(e("writing a flow"))?;
            }
        }
        tx.commit().map_err(e("committing the run"))?;
        Ok(run)
    }

    /// Runs in the store, oldest first.
    pub fn runs(&self) -> Result<Vec<RunInfo>, StoreError> {
        let rd = Reader { path: &self.path };
        let mut st = self
            .conn
            .prepare("SELECT r.id, r.captures, r.first_ts, r.last_ts, (SELECT COUNT(*) FROM hosts h WHERE h.run_id = r.id) FROM runs r ORDER BY r.id")
            .map_err(self.err("listing runs"))?;
        let rows: Vec<Raw> = st
            .query_map([], |r| raw(r, 5))
            .map_err(self.err("listing runs"))?
            .collect::<Result<_, _>>()
            .map_err(self.err("listing runs"))?;
        let mut out = Vec::new();
        for r in rows {
            let caps = text(col(&r, 1)).unwrap_or_default();
            out.push(RunInfo {
                id: int(col(&r, 0)).unwrap_or(0),
                captures: serde_json::from_str(&caps)
                    .map_err(|_| rd.bad("runs.captures", "a JSON array of strings", &caps))?,
                first_ts: int(col(&r, 2)).map(Timestamp),
                last_ts: int(col(&r, 3)).map(Timestamp),
                hosts: int(col(&r, 4)).map_or(0, uu),
            });
        }
        Ok(out)
    }

    /// The newest run's id.
    pub fn latest_run(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT MAX(id) FROM runs", [], |r| r.get(0))
            .map_err(self.err("finding the latest run"))
    }

    /// The newest run, rebuilt.
    pub fn read_latest(&self) -> Result<ReportInput, StoreError> {
        match self.latest_run()? {
            Some(id) => self.read_run(id),
            None => Err(StoreError::NoRun {
                path: self.path.clone(),
                run: None,
            }),
        }
    }

    fn rows(&self, sql: &str, arg: i64, n: usize, doing: &str) -> Result<Vec<Raw>, StoreError> {
        let mut st = self.conn.prepare(sql).map_err(self.err(doing))?;
        let rows = st
            .query_map(params![arg], |r| raw(r, n))
            .map_err(self.err(doing))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err(doing))?;
        Ok(rows)
    }

    /// Rebuilds run `run` as a [`ReportInput`].
    pub fn read_run(&self, run: i64) -> Result<ReportInput, StoreError> {
        let rd = Reader { path: &self.path };
        let head = self.rows(
            "SELECT captures, first_ts, last_ts, packets, flows, alerts, notices, home_net FROM runs WHERE id = ?1",
            run,
            8,
            "reading the run",
        )?;
        let Some(h) = head.first() else {
            return Err(StoreError::NoRun {
                path: self.path.clone(),
                run: Some(run),
            });
        };
        let caps = text(col(h, 0)).unwrap_or_default();
        let summary = RunSummary {
            captures: serde_json::from_str(&caps)
                .map_err(|_| rd.bad("runs.captures", "a JSON array of strings", &caps))?,
            first_ts: int(col(h, 1)).map(Timestamp),
            last_ts: int(col(h, 2)).map(Timestamp),
            packets: int(col(h, 3)).map_or(0, uu),
            flows: int(col(h, 4)).map_or(0, uu),
            alerts: int(col(h, 5)).map_or(0, uu),
            notices: int(col(h, 6)).map_or(0, uu),
            home_net: text(col(h, 7)),
        };
        let mut evidence = Vec::new();
        for r in self.rows(
            "SELECT ts, host, stage, peer, flow_id, source_type, gid, sid, msg, classtype, notice_kind, identifier, event, strength, vector_proto, vector_port, vector_signature, egg_sha256, controller, detail FROM evidence WHERE run_id = ?1 ORDER BY seq",
            run,
            20,
            "reading evidence",
        )? {
            let stype = text(col(&r, 5)).unwrap_or_default();
            let source = match stype.as_str() {
                "alert" => EvidenceSource::Alert {
                    gid: rd.u32v("evidence.gid", int(col(&r, 6)).unwrap_or(1))?,
                    sid: rd.u32v("evidence.sid", int(col(&r, 7)).unwrap_or(0))?,
                    msg: text(col(&r, 8)).unwrap_or_default(),
                    classtype: text(col(&r, 9)),
                },
                "notice" => EvidenceSource::Notice {
                    kind: text(col(&r, 10)).unwrap_or_default(),
                    identifier: text(col(&r, 11)).unwrap_or_default(),
                },
                "anomaly" => EvidenceSource::Anomaly {
                    event: text(col(&r, 12)).unwrap_or_default(),
                },
                other => {
                    return Err(rd.bad("evidence.source_type", "alert, notice or anomaly", other));
                }
            };
            let strength = text(col(&r, 13)).unwrap_or_default();
            evidence.push(Evidence {
                ts: Timestamp(int(col(&r, 0)).unwrap_or(0)),
                host: rd.ip("evidence.host", &text(col(&r, 1)).unwrap_or_default())?,
                stage: rd.stage("evidence.stage", &text(col(&r, 2)).unwrap_or_default())?,
                peer: rd.ip_opt("evidence.peer", text(col(&r, 3)))?,
                flow_id: int(col(&r, 4)).map(|f| FlowId(uu(f))),
                source,
                strength: strength_from(&strength)
                    .ok_or_else(|| rd.bad("evidence.strength", "weak, normal or strong", &strength))?,
                vector: rd.vector(
                    "evidence.vector",
                    int(col(&r, 14)),
                    int(col(&r, 15)),
                    text(col(&r, 16)),
                )?,
                egg_sha256: text(col(&r, 17)),
                controller: text(col(&r, 18)),
                detail: text(col(&r, 19)).unwrap_or_default(),
            });
        }
        let mut verdicts = Vec::new();
        for r in self.rows(
            "SELECT id, ts, host, label, roles, confidence, reason, revision, previous, campaign, infected_by, generation, internal FROM verdicts WHERE run_id = ?1 ORDER BY seq",
            run,
            13,
            "reading verdicts",
        )? {
            let vid = int(col(&r, 0)).unwrap_or(0);
            let mut refs = Vec::new();
            for e in self.rows(
                "SELECT ts, stage, flow_id, peer, detail FROM verdict_evidence WHERE verdict_id = ?1 ORDER BY seq",
                vid,
                5,
                "reading verdict evidence",
            )? {
                refs.push(EvidenceRef {
                    ts: Timestamp(int(col(&e, 0)).unwrap_or(0)),
                    stage: rd.stage("verdict_evidence.stage", &text(col(&e, 1)).unwrap_or_default())?,
                    flow_id: int(col(&e, 2)).map(|f| FlowId(uu(f))),
                    peer: rd.ip_opt("verdict_evidence.peer", text(col(&e, 3)))?,
                    detail: text(col(&e, 4)).unwrap_or_default(),
                });
            }
            let mut why = Vec::new();
            for w in self.rows(
                "SELECT label, reason, span_start, span_end FROM why_not WHERE verdict_id = ?1 ORDER BY seq",
                vid,
                4,
                "reading why-not lines",
            )? {
                why.push(WhyNot {
                    label: rd.label("why_not.label", &text(col(&w, 0)).unwrap_or_default())?,
                    reason: text(col(&w, 1)).unwrap_or_default(),
                    span_start: int(col(&w, 2)).map(Timestamp),
                    span_end: int(col(&w, 3)).map(Timestamp),
                });
            }
            let roles_s = text(col(&r, 4)).unwrap_or_default();
            let roles = roles_s
                .split(',')
                .filter(|x| !x.is_empty())
                .map(|x| rd.label("verdicts.roles", x))
                .collect::<Result<Vec<_>, _>>()?;
            let conf = text(col(&r, 5)).unwrap_or_default();
            verdicts.push(Verdict {
                ts: Timestamp(int(col(&r, 1)).unwrap_or(0)),
                host: rd.ip("verdicts.host", &text(col(&r, 2)).unwrap_or_default())?,
                label: rd.label("verdicts.label", &text(col(&r, 3)).unwrap_or_default())?,
                roles,
                confidence: confidence_from(&conf)
                    .ok_or_else(|| rd.bad("verdicts.confidence", "low, medium or high", &conf))?,
                reason: text(col(&r, 6)).unwrap_or_default(),
                evidence: refs,
                why_not: why,
                revision: rd.u32v("verdicts.revision", int(col(&r, 7)).unwrap_or(0))?,
                previous: text(col(&r, 8))
                    .map(|p| rd.label("verdicts.previous", &p))
                    .transpose()?,
                campaign: text(col(&r, 9)),
                infected_by: rd.ip_opt("verdicts.infected_by", text(col(&r, 10)))?,
                generation: int(col(&r, 11))
                    .map(|g| rd.u32v("verdicts.generation", g))
                    .transpose()?,
                internal: int(col(&r, 12)).unwrap_or(0) != 0,
            });
        }
        let read_edges = |rows: Vec<Raw>| -> Result<Vec<PropagationEdge>, StoreError> {
            rows.iter()
                .map(|x| {
                    Ok(PropagationEdge {
                        from: rd.ip("edges.from_ip", &text(col(x, 0)).unwrap_or_default())?,
                        to: rd.ip("edges.to_ip", &text(col(x, 1)).unwrap_or_default())?,
                        ts: Timestamp(int(col(x, 2)).unwrap_or(0)),
                        vector: rd.vector(
                            "edges.vector",
                            int(col(x, 3)),
                            int(col(x, 4)),
                            text(col(x, 5)),
                        )?,
                        generation: rd.u32v("edges.generation", int(col(x, 6)).unwrap_or(0))?,
                    })
                })
                .collect()
        };
        let mut incidents = Vec::new();
        for r in self.rows(
            "SELECT id, name, label, first_seen, last_seen, vector_proto, vector_port, vector_signature, controller, summary FROM incidents WHERE run_id = ?1 ORDER BY seq",
            run,
            10,
            "reading incidents",
        )? {
            let iid = int(col(&r, 0)).unwrap_or(0);
            let mut hosts = Vec::new();
            let mut actors = Vec::new();
            for m in self.rows(
                "SELECT ip, role FROM incident_members WHERE incident_id = ?1 ORDER BY seq",
                iid,
                2,
                "reading incident members",
            )? {
                let ip = rd.ip("incident_members.ip", &text(col(&m, 0)).unwrap_or_default())?;
                match text(col(&m, 1)).unwrap_or_default().as_str() {
                    "member" => hosts.push(ip),
                    role => actors.push((ip, rd.label("incident_members.role", role)?)),
                }
            }
            let eggs = self
                .rows(
                    "SELECT sha256 FROM incident_eggs WHERE incident_id = ?1 ORDER BY seq",
                    iid,
                    1,
                    "reading incident eggs",
                )?
                .iter()
                .filter_map(|x| text(col(x, 0)))
                .collect();
            let edges = read_edges(self.rows(
                "SELECT from_ip, to_ip, ts, vector_proto, vector_port, vector_signature, generation FROM edges WHERE incident_id = ?1 ORDER BY seq",
                iid,
                7,
                "reading incident edges",
            )?)?;
            incidents.push(Incident {
                name: text(col(&r, 1)).unwrap_or_default(),
                label: rd.label("incidents.label", &text(col(&r, 2)).unwrap_or_default())?,
                first_seen: Timestamp(int(col(&r, 3)).unwrap_or(0)),
                last_seen: Timestamp(int(col(&r, 4)).unwrap_or(0)),
                hosts,
                actors,
                vector: rd.vector(
                    "incidents.vector",
                    int(col(&r, 5)),
                    int(col(&r, 6)),
                    text(col(&r, 7)),
                )?,
                controller: text(col(&r, 8)),
                eggs,
                edges,
                summary: text(col(&r, 9)).unwrap_or_default(),
            });
        }
        let edges = read_edges(self.rows(
            "SELECT from_ip, to_ip, ts, vector_proto, vector_port, vector_signature, generation FROM edges WHERE run_id = ?1 AND incident_id IS NULL ORDER BY seq",
            run,
            7,
            "reading edges",
        )?)?;
        let mut flows = Vec::new();
        for r in self.rows(
            "SELECT flow_id, src_ip, src_port, dest_ip, dest_port, proto, vlan0, vlan1, start_ts, end_ts, pkts_toserver, pkts_toclient, bytes_toserver, bytes_toclient, app_proto, app_proto_ts, app_proto_tc, state, reason, alerted, tcp_flags, tcp_flags_ts, tcp_flags_tc, tcp_state, tcp_history, tcp_handshake, tcp_gap_ts, tcp_gap_tc, icmp_type, icmp_code, src_mac, dest_mac FROM flows WHERE run_id = ?1 ORDER BY seq",
            run,
            32,
            "reading flows",
        )? {
            let g = |k: usize| int(col(&r, k)).unwrap_or(0);
            let tcp = match (int(col(&r, 20)), text(col(&r, 23))) {
                (Some(flags), Some(state)) => Some(TcpSummary {
                    flags: rd.u8v("flows.tcp_flags", flags)?,
                    flags_ts: rd.u8v("flows.tcp_flags_ts", g(21))?,
                    flags_tc: rd.u8v("flows.tcp_flags_tc", g(22))?,
                    state: tcp_state_from(&state)
                        .ok_or_else(|| rd.bad("flows.tcp_state", "a TCP state name", &state))?,
                    history: text(col(&r, 24)).unwrap_or_default(),
                    handshake_done: g(25) != 0,
                    gap_bytes_ts: uu(g(26)),
                    gap_bytes_tc: uu(g(27)),
                }),
                _ => None,
            };
            let icmp = match (int(col(&r, 28)), int(col(&r, 29))) {
                (Some(t), Some(c)) => Some((rd.u8v("flows.icmp_type", t)?, rd.u8v("flows.icmp_code", c)?)),
                _ => None,
            };
            let macs = match (text(col(&r, 30)), text(col(&r, 31))) {
                (Some(a), Some(b)) => Some((
                    mac_from(&a).ok_or_else(|| rd.bad("flows.src_mac", "a MAC address", &a))?,
                    mac_from(&b).ok_or_else(|| rd.bad("flows.dest_mac", "a MAC address", &b))?,
                )),
                _ => None,
            };
            let state = text(col(&r, 17)).unwrap_or_default();
            let reason = text(col(&r, 18)).unwrap_or_default();
            flows.push(FlowRecord {
                flow_id: FlowId(uu(g(0))),
                key: FlowKey {
                    src: rd.ip("flows.src_ip", &text(col(&r, 1)).unwrap_or_default())?,
                    dst: rd.ip("flows.dest_ip", &text(col(&r, 3)).unwrap_or_default())?,
                    src_port: rd.u16v("flows.src_port", g(2))?,
                    dst_port: rd.u16v("flows.dest_port", g(4))?,
                    proto: IpProto(rd.u8v("flows.proto", g(5))?),
                    vlan: [rd.u16v("flows.vlan0", g(6))?, rd.u16v("flows.vlan1", g(7))?],
                },
                start: Timestamp(g(8)),
                end: Timestamp(g(9)),
                pkts_toserver: uu(g(10)),
                pkts_toclient: uu(g(11)),
                bytes_toserver: uu(g(12)),
                bytes_toclient: uu(g(13)),
                app_proto: rd.app("flows.app_proto", &text(col(&r, 14)).unwrap_or_default())?,
                app_proto_ts: text(col(&r, 15))
                    .map(|p| rd.app("flows.app_proto_ts", &p))
                    .transpose()?,
                app_proto_tc: text(col(&r, 16))
                    .map(|p| rd.app("flows.app_proto_tc", &p))
                    .transpose()?,
                state: state_from(&state)
                    .ok_or_else(|| rd.bad("flows.state", "a flow state name", &state))?,
                reason: reason_from(&reason)
                    .ok_or_else(|| rd.bad("flows.reason", "timeout, forced or shutdown", &reason))?,
                alerted: g(19) != 0,
                tcp,
                icmp,
                macs,
            });
        }
        Ok(ReportInput {
            summary,
            verdicts,
            evidence,
            incidents,
            edges,
            flows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_round_trip() {
        let m = [0, 0x1b, 0x21, 0xfe, 0x0a, 0xff];
        assert_eq!(mac_from(&mac_str(&m)), Some(m));
        assert_eq!(mac_from("zz"), None);
    }

    #[test]
    fn bad_files_are_named_errors() {
        let dir = std::env::temp_dir().join(format!("sw-store-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("not-a-store.txt");
        std::fs::write(
            &p,
            b"hello, this is not sqlite at all, just some text bytes",
        )
        .unwrap();
        let e = Store::open(&p).unwrap_err().to_string();
        assert!(e.contains("not-a-store.txt"), "{e}");
        let e = Store::create(&p).unwrap_err().to_string();
        assert!(e.contains("not-a-store.txt") && e.contains("schema"), "{e}");
        let missing = dir.join("missing.sqlite");
        let _ = std::fs::remove_file(&missing);
        assert!(Store::open(&missing).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
