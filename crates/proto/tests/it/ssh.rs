//! SSH: suricata-verify EVE checks, per-direction buffers, SSH on port 80,
//! and robustness.

use crate::ident::{self, conv, key, run_convs, sv_check};
use stormwatch_model::{AppEvent, AppProto, BufferId, Direction};
use stormwatch_proto::ProtoConfig;

#[test]
fn suricata_verify_ssh_records() {
    let mut n = 0;
    let mut failures = Vec::new();
    for t in [
        "bug-4903/bug-4903-01",
        "bug-4903/bug-4903-04",
        "ssh-banner-only",
    ] {
        let Some(r) = sv_check(t, &["ssh"], ProtoConfig::default()) else {
            println!("skipped: shared data not found");
            return;
        };
        n += r.evaluated;
        failures.extend(r.failures);
    }
    assert_eq!(n, 3);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn buffers_follow_the_inspected_direction() {
    let Some(p) = ident::sv_pcap("bug-4903/bug-4903-04") else {
        println!("skipped: shared data not found");
        return;
    };
    let (sink, _) = ident::run_capture(&p, ProtoConfig::default());
    let proto = |d: Direction| {
        sink.txs
            .iter()
            .rev()
            .find(|(_, t)| t.proto == AppProto::Ssh && t.dir == Some(d))
            .and_then(|(_, t)| t.buffer(BufferId::SshProto).map(<[u8]>::to_vec))
    };
    assert_eq!(proto(Direction::ToServer).as_deref(), Some(&b"2.0"[..]));
    assert_eq!(proto(Direction::ToClient).as_deref(), Some(&b"1.99"[..]));
}

#[test]
fn ssh_on_port_80_is_a_masquerade() {
    let Some(p) = ident::corpus("zeek-ssh-on-port-80.pcap") else {
        println!("skipped: shared data not found");
        return;
    };
    let (sink, flows) = ident::run_capture(&p, ProtoConfig::default());
    let f = flows.iter().find(|f| f.key.dst_port == 80).unwrap();
    assert_eq!(f.proto, AppProto::Ssh);
    assert!(f.masquerade);
    let a: Vec<_> = sink
        .anomalies
        .iter()
        .filter(|(_, a)| a.event == "applayer.masquerade")
        .collect();
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].1.detail.as_deref(),
        Some("ssh on tcp/80, registered to http")
    );
    let rec = sink
        .records
        .iter()
        .find(|(_, r)| r.event_type == "ssh")
        .unwrap();
    assert_eq!(rec.1.body["client"]["software_version"], "OpenSSH_5.2");
    assert_eq!(rec.1.body["server"]["software_version"], "OpenSSH_5.8p1");
    assert!(
        sink.events
            .iter()
            .filter(|(_, _, e)| matches!(e, AppEvent::Ssh(_)))
            .count()
            >= 2
    );
}

#[test]
fn brute_force_on_unregistered_port() {
    let Some(p) = ident::corpus("stratosphere-malicious-ssh-bruteforce.pcap") else {
        println!("skipped: shared data not found");
        return;
    };
    let (_, flows) = ident::run_capture(&p, ProtoConfig::default());
    let ssh = flows.iter().filter(|f| f.proto == AppProto::Ssh).count();
    assert!(ssh >= 10, "{ssh} SSH flows");
    assert!(flows.iter().all(|f| !f.masquerade));
}

fn kexinit_packet() -> Vec<u8> {
    let mut payload = vec![20u8];
    payload.extend_from_slice(&[0x41; 16]);
    payload.extend_from_slice(&19u32.to_be_bytes());
    payload.extend_from_slice(b"diffie-hellman-sha1");
    for _ in 0..9 {
        payload.extend_from_slice(&0u32.to_be_bytes());
    }
    payload.extend_from_slice(&[0, 0, 0, 0, 0]);
    let pad = 4usize;
    let mut p = ((1 + payload.len() + pad) as u32).to_be_bytes().to_vec();
    p.push(pad as u8);
    p.extend_from_slice(&payload);
    p.extend_from_slice(&[0; 4]);
    p
}

fn ssh_session() -> Vec<(Direction, Vec<u8>)> {
    let newkeys = b"\x00\x00\x00\x0c\x0a\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    vec![
        (
            Direction::ToClient,
            b"SSH-2.0-OpenSSH_5.8p1 Debian-1ubuntu3\r\n".to_vec(),
        ),
        (Direction::ToServer, b"SSH-2.0-OpenSSH_5.2\r\n".to_vec()),
        (Direction::ToServer, kexinit_packet()),
        (Direction::ToServer, newkeys.clone()),
        (Direction::ToClient, newkeys),
    ]
}

fn facts(pieces: &[(Direction, Vec<u8>)]) -> Vec<String> {
    let p: Vec<(Direction, &[u8])> = pieces.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    let (sink, flows) = run_convs(&[conv(key(40000, 22), &p)], ProtoConfig::default());
    let mut v: Vec<String> = sink
        .records
        .iter()
        .map(|(_, r)| r.body.to_string())
        .collect();
    v.extend(sink.anomalies.iter().map(|(_, a)| a.event.to_string()));
    v.push(format!("{:?}", flows[0].proto));
    v
}

#[test]
fn split_and_truncate_ssh() {
    let session = ssh_session();
    let whole = session.clone();
    let want = facts(&whole);
    assert_eq!(want.len(), 2, "{want:?}");
    for (i, (d, b)) in session.iter().enumerate() {
        for at in 1..b.len() {
            let mut pieces = Vec::new();
            for (j, (d2, b2)) in session.iter().enumerate() {
                if i == j {
                    pieces.push((*d, b[..at].to_vec()));
                    pieces.push((*d, b[at..].to_vec()));
                } else {
                    pieces.push((*d2, b2.to_vec()));
                }
            }
            assert_eq!(facts(&pieces), want, "piece {i} split at {at}");
            // Truncated stream: no panic.
            let mut t = pieces.clone();
            t.truncate(i + 1);
            let _ = facts(&t);
        }
    }
}

#[test]
fn ssh_random_bytes_never_panic() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..300 {
        let mut s = ssh_session();
        let i = (next() % s.len() as u64) as usize;
        let len = s[i].1.len();
        for _ in 0..(1 + next() % 6) {
            let at = (next() as usize) % len;
            s[i].1[at] = next() as u8;
        }
        let junk: Vec<u8> = (0..(next() % 200)).map(|_| next() as u8).collect();
        s.push((Direction::ToClient, junk));
        let _ = facts(&s);
    }
}
