//! Oracles: frame counts against `capinfos` for every shared capture, and
//! timestamps / lengths against `tshark` frame by frame. A disagreement fails
//! the test when the tool is installed; without the tool (or the shared data)
//! the test prints why and passes.

use crate::craft::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use stormwatch_capture::{CaptureFile, Format, Timestamp, expand_inputs};

/// The shared data directory: `$STORMWATCH_SHARED`, else `<workspace>/../shared`,
/// else `/work/shared`.
pub fn shared_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STORMWATCH_SHARED") {
        return Some(PathBuf::from(p)).filter(|p| p.is_dir());
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [ws.join("../shared"), PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.is_dir())
}

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every capture in the corpus and under suricata-verify's tests, found by magic.
fn shared_captures(shared: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![shared.join("corpus")];
    dirs.push(shared.join("suricata-verify/tests"));
    dirs.retain(|d| d.is_dir());
    expand_inputs(&dirs).unwrap()
}

/// `capinfos -c -M` packet counts for many files at once: (file, packets,
/// capinfos stopped at an error).
fn capinfos_counts(files: &[PathBuf]) -> Vec<(PathBuf, u64, bool)> {
    let mut out = Vec::new();
    for chunk in files.chunks(64) {
        let o = Command::new("capinfos")
            .args(["-c", "-M"])
            .args(chunk)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let mut name: Option<PathBuf> = None;
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("File name:") {
                name = Some(PathBuf::from(v.trim()));
            } else if let Some(v) = line.strip_prefix("Number of packets:") {
                let n: u64 = v
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("capinfos: {line}"));
                out.push((name.take().expect("capinfos: count before name"), n, false));
            }
        }
        // A damaged file: `An error occurred after reading N packets from "F".`
        for line in String::from_utf8_lossy(&o.stderr).lines() {
            let Some(rest) = line.strip_prefix("capinfos: An error occurred after reading ") else {
                continue;
            };
            let (n, file) = rest.split_once(" packets from \"").unwrap();
            let file = file.trim_end_matches("\".");
            out.push((PathBuf::from(file), n.parse().unwrap(), true));
        }
    }
    out
}

#[test]
fn frame_counts_equal_capinfos() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if !tool("capinfos") {
        println!("skipped: capinfos not installed");
        return;
    }
    let files = shared_captures(&shared);
    assert!(
        files.len() > 30,
        "only {} captures found under {}",
        files.len(),
        shared.display()
    );
    let counts = capinfos_counts(&files);
    assert_eq!(
        counts.len(),
        files.len(),
        "capinfos did not report every file"
    );
    let mut bad = Vec::new();
    for (path, want, damaged) in counts {
        let cap = CaptureFile::open(&path).unwrap();
        let mut n = 0u64;
        let mut error = None;
        for f in cap.frames(0) {
            match f {
                Ok(_) => n += 1,
                Err(e) => error = Some(e),
            }
        }
        match (&error, damaged) {
            (Some(e), false) => bad.push(format!("{e} (capinfos reads the whole file)")),
            (None, true) => bad.push(format!(
                "{}: no error, capinfos finds damage",
                path.display()
            )),
            (Some(e), true) => println!("damaged, as capinfos says: {e}"),
            (None, false) => {}
        }
        if n != want {
            bad.push(format!(
                "{}: read {n} frames, capinfos says {want}",
                path.display()
            ));
        }
        // The raw-read floor walks the same records.
        if cap.walk_records().0 != n {
            bad.push(format!(
                "{}: walk_records disagrees with frames()",
                path.display()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// tshark's (frame.time_epoch as ns, frame.len, frame.cap_len) for every
/// frame; the time is `None` for a frame without one (simple packet block).
/// For pcapng, tshark also lists custom blocks as records (capinfos does not
/// count them); they have no interface, which filters them out.
fn tshark_frames(path: &Path, pcapng: bool) -> Vec<(Option<i64>, u32, usize)> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path);
    if pcapng {
        cmd.args(["-Y", "frame.interface_id"]);
    }
    let o = cmd
        .args([
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let mut it = l.split('\t');
            let t = it.next().unwrap();
            let ns = (!t.is_empty()).then(|| {
                let (s, frac) = t.split_once('.').unwrap_or((t, "0"));
                let frac = format!("{frac:0<9}");
                s.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
            });
            (
                ns,
                it.next().unwrap().parse().unwrap(),
                it.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn ours(cap: &CaptureFile) -> Vec<(i64, u32, usize)> {
    cap.frames(0)
        .map(|f| {
            let f = f.unwrap();
            (f.ts.as_nanos(), f.orig_len, f.data.len())
        })
        .collect()
}

fn compare_with_tshark(path: &Path) -> Option<String> {
    let cap = CaptureFile::open(path).unwrap();
    let pcapng = cap.format() == Format::Pcapng;
    let (a, b) = (ours(&cap), tshark_frames(path, pcapng));
    if a.len() != b.len() {
        return Some(format!(
            "{}: {} frames, tshark {}",
            path.display(),
            a.len(),
            b.len()
        ));
    }
    // tshark shows no time for a simple packet block; ours repeats the
    // previous packet's, so only lengths are compared there.
    let same = |x: &(i64, u32, usize), y: &(Option<i64>, u32, usize)| {
        y.0.is_none_or(|t| t == x.0) && (x.1, x.2) == (y.1, y.2)
    };
    a.iter()
        .zip(&b)
        .enumerate()
        .find(|(_, (x, y))| !same(x, y))
        .map(|(i, (x, y))| {
            format!(
                "{}: frame {}: (ts ns, len, caplen) ours {x:?}, tshark {y:?} ({} vs {:?})",
                path.display(),
                i + 1,
                Timestamp(x.0),
                y.0.map(Timestamp)
            )
        })
}

#[test]
fn corpus_timestamps_and_lengths_equal_tshark() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if !tool("tshark") {
        println!("skipped: tshark not installed");
        return;
    }
    let corpus = shared.join("corpus");
    let files = expand_inputs(&[corpus]).unwrap();
    assert!(files.len() >= 20);
    let bad: Vec<String> = files
        .iter()
        .filter_map(|p| compare_with_tshark(p))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn crafted_files_equal_tshark() {
    if !tool("tshark") {
        println!("skipped: tshark not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (body(1, 60), body(2, 200));
    let mut files = Vec::new();
    for be in [false, true] {
        for nanos in [false, true] {
            let frac = if nanos { 999_999_999 } else { 999_999 };
            let recs = [
                Rec {
                    secs: 1_082_452_324,
                    frac,
                    data: &a,
                    orig_len: 60,
                },
                Rec {
                    secs: 1_700_000_000,
                    frac: 1,
                    data: &b,
                    orig_len: 1514,
                },
            ];
            let p = dir.path().join(format!("be{be}-ns{nanos}.pcap"));
            std::fs::write(&p, pcap(be, nanos, 1, 65535, &recs)).unwrap();
            files.push(p);
        }
    }
    let p = dir.path().join("two.pcapng");
    std::fs::write(&p, crate::formats::two_section_pcapng()).unwrap();
    files.push(p);
    let bad: Vec<String> = files
        .iter()
        .filter_map(|p| compare_with_tshark(p))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
