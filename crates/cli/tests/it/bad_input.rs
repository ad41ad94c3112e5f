//! Foundation acceptance 3: bad input gives a clear one-line message naming the
//! file and byte offset, never a panic; a truncated capture still yields every
//! flow read before the cut and exits 1 (finished with warnings).

use crate::common::{stderr, stdout, stormwatch};
use std::path::Path;

fn pcap_header(linktype: u32, snaplen: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&snaplen.to_le_bytes());
    v.extend_from_slice(&linktype.to_le_bytes());
    v
}

fn record(v: &mut Vec<u8>, secs: u32, frame: &[u8], orig: u32) {
    v.extend_from_slice(&secs.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    v.extend_from_slice(&orig.to_le_bytes());
    v.extend_from_slice(frame);
}

/// An Ethernet/IPv4/UDP frame with `payload`; `ip_len_override` lets the IP total
/// length lie.
fn udp_frame(sport: u16, payload: &[u8], ip_len_override: Option<u16>) -> Vec<u8> {
    let mut f = vec![0u8; 14];
    f[12] = 0x08;
    let ip_len = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[2..4].copy_from_slice(&ip_len_override.unwrap_or(ip_len).to_be_bytes());
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&53u16.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

#[test]
fn truncated_capture_keeps_what_was_read_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = pcap_header(1, 65_535);
    for i in 0..5u16 {
        record(
            &mut v,
            100 + u32::from(i),
            &udp_frame(1000 + i, b"hello", None),
            47,
        );
    }
    let cut_at = v.len();
    record(
        &mut v,
        200,
        &udp_frame(2000, b"this record is cut", None),
        60,
    );
    v.truncate(cut_at + 20);
    let path = write(dir.path(), "cut.pcap", &v);
    let eve = dir.path().join("eve.json");
    let o = stormwatch(&[
        "analyze",
        &path,
        "--eve",
        eve.to_str().unwrap(),
        "--report",
        "none",
    ]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let err = stderr(&o);
    let warning = err
        .lines()
        .find(|l| l.contains("warning"))
        .expect("a warning line");
    assert!(warning.contains("cut.pcap"), "{warning}");
    assert!(warning.contains(&format!("byte {cut_at}")), "{warning}");
    let text = std::fs::read_to_string(&eve).unwrap();
    let flows = text
        .lines()
        .filter(|l| l.contains("\"event_type\":\"flow\""))
        .count();
    assert_eq!(flows, 5, "every flow before the cut is reported");
    // The benchmark command measures such a capture up to the cut.
    let o = stormwatch(&["throughput", &path, "--repeat", "1"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
    assert!(stdout(&o).contains("5 packets"), "{}", stdout(&o));
}

#[test]
fn not_a_capture_is_one_clear_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "notes.txt",
        b"this is not a capture file at all\n",
    );
    let o = stormwatch(&["analyze", &path, "--report", "none"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let first = err.lines().next().unwrap();
    assert!(
        first.contains("notes.txt") && first.contains("byte 0"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn empty_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.pcap", b"");
    let o = stormwatch(&["analyze", &path, "--report", "none"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).lines().next().unwrap().contains("empty.pcap"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let o = stormwatch(&["analyze", "/nonexistent/x.pcap", "--report", "none"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/x.pcap"), "{}", stderr(&o));
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len().div_ceil(4) * 4) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(len as usize - 4, 0);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

#[test]
fn pcapng_unknown_block_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65_535u32.to_le_bytes());
    let frame = udp_frame(4242, b"ng", None);
    let mut epb = Vec::new();
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&1_000_000u32.to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(&frame);
    while epb.len() % 4 != 0 {
        epb.push(0);
    }
    let mut v = block(0x0A0D_0D0A, &shb);
    v.extend(block(1, &idb));
    v.extend(block(0x0BAD_0BAD, b"a block nobody knows"));
    v.extend(block(6, &epb));
    let path = write(dir.path(), "unknown-block.pcapng", &v);
    let o = stormwatch(&["analyze", &path, "--eve", "-", "--report", "none", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"src_port\":4242"), "{}", stdout(&o));
}

#[test]
fn lying_length_fields_are_anomalies_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = pcap_header(1, 65_535);
    // IPv4 total length claims 1,000 bytes; 33 are there.
    let f = udp_frame(5000, b"abcde", Some(1000));
    record(&mut v, 1, &f, f.len() as u32);
    let path = write(dir.path(), "liar.pcap", &v);
    let o = stormwatch(&["analyze", &path, "--eve", "-", "--report", "none", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("decoder.ipv4.trunc_pkt"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_65535_byte_packet_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = pcap_header(1, 65_535);
    let payload = vec![0x41u8; 65_535 - 14 - 20 - 8];
    let f = udp_frame(6000, &payload, None);
    assert_eq!(f.len(), 65_535);
    record(&mut v, 1, &f, 65_535);
    let path = write(dir.path(), "jumbo.pcap", &v);
    let o = stormwatch(&["analyze", &path, "--eve", "-", "--report", "none", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let flow = out
        .lines()
        .find(|l| l.contains("\"event_type\":\"flow\""))
        .unwrap();
    assert!(flow.contains("\"bytes_toserver\":65535"), "{flow}");
}
