//! tshark as oracle for identification (part A's protocols): for every TCP
//! connection of the shared captures (corpus and suricata-verify) where tshark
//! names TLS/SSL, SSH or IRC, stormwatch names the same protocol, and the TLS
//! server name equals tshark's `tls.handshake.extensions_server_name`. Every
//! disagreement is listed; the test fails when agreement drops below 99% or an
//! SNI differs. tshark decodes by port; where content and port disagree
//! (SSH on port 80) tshark names nothing or something else, and such flows are
//! simply not counted. Skipped when tshark or the shared data is absent.

use crate::ident;
use crate::pcapkit;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use stormwatch_model::{AppEvent, AppProto, IpProto, TlsEvent};
use stormwatch_proto::ProtoConfig;

type Ends = (String, u16, String, u16);

fn norm(a: &str, ap: u16, b: &str, bp: u16) -> Ends {
    if (a, ap) <= (b, bp) {
        (a.to_string(), ap, b.to_string(), bp)
    } else {
        (b.to_string(), bp, a.to_string(), ap)
    }
}

/// tshark's view per TCP stream: protocol named and SNI.
fn tshark_streams(p: &Path) -> BTreeMap<Ends, (Option<AppProto>, Option<String>)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(p)
        .args(["-Y", "tcp", "-T", "fields", "-E", "occurrence=f"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport"])
        .args(["-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport"])
        .args([
            "-e",
            "frame.protocols",
            "-e",
            "tls.handshake.extensions_server_name",
        ])
        .output()
        .unwrap();
    let mut m: BTreeMap<Ends, (Option<AppProto>, Option<String>)> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() < 8 {
            continue;
        }
        let src = if c[0].is_empty() { c[1] } else { c[0] };
        let dst = if c[3].is_empty() { c[4] } else { c[3] };
        let (Ok(sp), Ok(dp)) = (c[2].parse::<u16>(), c[5].parse::<u16>()) else {
            continue;
        };
        let e = m.entry(norm(src, sp, dst, dp)).or_default();
        let protos: Vec<&str> = c[6].split(':').collect();
        let named = if protos.iter().any(|p| *p == "tls" || *p == "ssl") {
            Some(AppProto::Tls)
        } else if protos.contains(&"ssh") {
            Some(AppProto::Ssh)
        } else if protos.contains(&"irc") {
            Some(AppProto::Irc)
        } else {
            None
        };
        if e.0.is_none() {
            e.0 = named;
        }
        if e.1.is_none() && !c[7].is_empty() {
            e.1 = Some(c[7].to_string());
        }
    }
    m
}

fn captures() -> Vec<PathBuf> {
    let Some(shared) = pcapkit::shared_dir() else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(shared.join("corpus"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    // The suricata-verify tests about TLS, SSH, IRC and protocol detection
    // (tshark takes about a second per capture: the others add nothing here).
    for t in [
        "bug-2430",
        "bug-2646-01",
        "bug-5713-01",
        "bug-5758",
        "ja4-sv-handshake",
        "smtp-tls-protodetect",
        "ssl_version_negated",
        "sslv2-tls-upgrade-01",
        "tls",
        "bug-4903",
        "ssh-banner-only",
        "ssh-newkeys",
        "irc",
        "detect-app-layer-protocol-05",
        "output-eve-anomaly-02",
        "http-connect",
    ] {
        walk(&shared.join("suricata-verify/tests").join(t), &mut v);
    }
    v.retain(|p| p.extension().is_some_and(|x| x == "pcap" || x == "cap"));
    v.sort();
    v
}

#[test]
fn tshark_agrees_on_tls_ssh_irc() {
    if Command::new("tshark").arg("-v").output().is_err() {
        println!("skipped: tshark not found");
        return;
    }
    let files = captures();
    if files.is_empty() {
        println!("skipped: shared data not found");
        return;
    }
    let (mut agree, mut total) = (0usize, 0usize);
    let mut disagreements = Vec::new();
    let mut sni_diffs = Vec::new();
    for f in &files {
        let ts = tshark_streams(f);
        if ts.values().all(|(p, _)| p.is_none()) {
            continue;
        }
        let pkts = pcapkit::read_pcap(f);
        let convs = pcapkit::conversations(&pkts);
        let (sink, flows) = ident::run_convs(&convs, ProtoConfig::default());
        // Our SNI per flow id (1-based conversation index).
        let mut sni: BTreeMap<u64, String> = BTreeMap::new();
        for (_, ctx, e) in &sink.events {
            if let AppEvent::Tls(TlsEvent::ClientHello { sni: Some(s), .. }) = e {
                sni.insert(ctx.flow_id.0, s.clone());
            }
        }
        for (i, fl) in flows.iter().enumerate() {
            if fl.key.proto != IpProto::TCP {
                continue;
            }
            let k = norm(
                &fl.key.src.to_string(),
                fl.key.src_port,
                &fl.key.dst.to_string(),
                fl.key.dst_port,
            );
            let Some((Some(want), want_sni)) = ts.get(&k) else {
                continue;
            };
            total += 1;
            // SSLv2 and PCT are TLS-family for tshark.
            // A flow may carry two protocols (STARTTLS / CONNECT upgrades,
            // directions that disagree): any of its names counts.
            let names = [fl.proto, fl.orig, fl.ts, fl.tc]
                .map(|p| if p == AppProto::Pct { AppProto::Tls } else { p });
            if names.contains(want) {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{}: {:?} tshark={want:?} stormwatch={:?}",
                    f.display(),
                    fl.key,
                    fl.proto
                ));
            }
            if let Some(ws) = want_sni {
                let got = sni.get(&(i as u64 + 1));
                if got != Some(ws) {
                    sni_diffs.push(format!(
                        "{}: {:?} tshark={ws} stormwatch={got:?}",
                        f.display(),
                        fl.key
                    ));
                }
            }
        }
    }
    println!("identification: {agree}/{total} flows agree with tshark");
    for d in &disagreements {
        println!("  disagreement: {d}");
    }
    assert!(total >= 20, "only {total} flows named by tshark");
    assert!(
        agree * 100 >= total * 99,
        "{agree}/{total} agree: {disagreements:#?}"
    );
    assert!(sni_diffs.is_empty(), "{sni_diffs:#?}");
}
