//! The SQLite store: a run written and read back is the same `ReportInput`, and the
//! report rebuilt from the store alone is the same report.

use crate::report::mipsiv_input;
use stormwatch_output::report::{ReportInput, render_html, render_text};
use stormwatch_output::store::{Store, StoreError};

#[test]
fn run_round_trips_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sw.sqlite");
    let input = mipsiv_input();
    assert!(!input.evidence.is_empty() && !input.incidents.is_empty() && !input.flows.is_empty());
    let id = Store::create(&path).unwrap().write_run(&input).unwrap();
    let back = Store::open(&path).unwrap().read_run(id).unwrap();
    assert_eq!(back, input);
    // `stormwatch report <store>`: the same report from the store alone.
    assert_eq!(render_text(&back), render_text(&input));
    assert_eq!(render_html(&back), render_html(&input));
}

#[test]
fn runs_append_and_latest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sw.sqlite");
    let first = ReportInput::default();
    let second = mipsiv_input();
    let mut s = Store::create(&path).unwrap();
    let a = s.write_run(&first).unwrap();
    drop(s);
    // Creating again opens the existing store and appends.
    let b = Store::create(&path).unwrap().write_run(&second).unwrap();
    assert!(b > a);
    let s = Store::open(&path).unwrap();
    let runs = s.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].captures, vec!["mipsiv.pcap".to_string()]);
    assert_eq!(runs[1].hosts as usize, second.current().len());
    assert_eq!(s.latest_run().unwrap(), Some(b));
    assert_eq!(s.read_latest().unwrap(), second);
    assert_eq!(s.read_run(a).unwrap(), first);
    let e = s.read_run(b + 10).unwrap_err();
    assert!(matches!(e, StoreError::NoRun { .. }));
    assert!(e.to_string().contains("no run"), "{e}");
}

#[test]
fn schema_is_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sw.sqlite");
    let input = mipsiv_input();
    Store::create(&path).unwrap().write_run(&input).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    let current: Vec<(String, String)> = db
        .prepare("SELECT host, label FROM verdicts WHERE is_current = 1 AND label = 'trojan' ORDER BY host")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(current.len(), 3);
    let history: Vec<String> = db
        .prepare("SELECT label FROM verdicts WHERE host = '10.1.1.20' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        &history[..4],
        ["probed", "targeted", "compromised", "trojan"]
    );
    let why: String = db
        .query_row(
            "SELECT w.reason FROM why_not w JOIN verdicts v ON v.id = w.verdict_id WHERE v.host = '10.1.1.20' AND v.is_current = 1 AND w.label = 'worm'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(why.starts_with("no outbound scanning"), "{why}");
    let members: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM incident_members WHERE role = 'member'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(members, 3);
    let flows: i64 = db
        .query_row("SELECT COUNT(*) FROM flows", [], |r| r.get(0))
        .unwrap();
    assert_eq!(flows, 3);
    let hosts: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM hosts WHERE label = 'probed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hosts, 1);
}

#[test]
fn foreign_files_and_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.sqlite");
    let db = rusqlite::Connection::open(&other).unwrap();
    db.execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
    drop(db);
    let e = Store::open(&other).unwrap_err().to_string();
    assert!(
        e.contains("other.sqlite") && e.contains("expected a stormwatch store"),
        "{e}"
    );
    let newer = dir.path().join("newer.sqlite");
    Store::create(&newer).unwrap();
    let db = rusqlite::Connection::open(&newer).unwrap();
    db.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(db);
    let e = Store::open(&newer).unwrap_err().to_string();
    assert!(e.contains("schema version 99"), "{e}");
    assert!(Store::create(&newer).is_err());
}
