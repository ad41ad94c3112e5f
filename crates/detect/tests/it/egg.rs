//! Egg downloads (E3) and whether an exploit came before.

use crate::util::*;
use stormwatch_model::*;

fn file(magic: FileMagic, name: &str, sha: &str) -> AppEvent {
    AppEvent::File(FileEvent {
        proto: AppProto::Http,
        name: Some(name.into()),
        magic,
        size: 28_672,
        sha256: Some(sha.into()),
        complete: true,
        tx_id: Some(0),
    })
}

fn downloads(out: &[Notice]) -> Vec<(&Notice, &DownloadInfo)> {
    out.iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::Download(x) => Some((n, x)),
            _ => None,
        })
        .collect()
}

#[test]
fn egg_after_exploit_versus_installer_without() {
    let mut d = detectors();
    let mut out = Vec::new();
    // PCT overflow against 10.1.1.20, then it fetches an executable.
    d.on_alert(
        &alert(
            10_000,
            2515,
            "attempted-admin",
            "WEB-MISC PCT Client_Hello overflow attempt",
            "203.0.113.7",
            "10.1.1.20",
            443,
        ),
        &mut out,
    );
    assert!(
        out.is_empty(),
        "an exploit alone is the correlator's (E2 comes from the alert)"
    );
    let ctx = app_ctx(
        20_000,
        7,
        "10.1.1.20",
        1040,
        "198.51.100.3",
        80,
        Direction::ToClient,
    );
    d.on_app_event(&ctx, &file(FileMagic::Pe, "/x.exe", "aa11"), &mut out);
    // A legitimate installer on another host, no exploit anywhere near it.
    let ctx = app_ctx(
        30_000,
        8,
        "10.1.1.30",
        1041,
        "192.0.2.10",
        80,
        Direction::ToClient,
    );
    d.on_app_event(&ctx, &file(FileMagic::Pe, "/setup.exe", "bb22"), &mut out);
    let dl = downloads(&out);
    assert_eq!(dl.len(), 2);
    let (n, x) = dl[0];
    assert_eq!(n.host, ip("10.1.1.20"));
    assert_eq!(n.peer, Some(ip("198.51.100.3")));
    assert_eq!(n.stage, Some(Stage::E3EggDownload));
    assert!(x.exploit_before);
    assert_eq!(x.sha256.as_deref(), Some("aa11"));
    assert_eq!(x.server_port, 80);
    assert_eq!(x.size, 28_672);
    assert_eq!(x.name.as_deref(), Some("/x.exe"));
    assert!(n.msg.contains("after an exploit against it"), "{}", n.msg);
    let (n, x) = dl[1];
    assert_eq!(n.host, ip("10.1.1.30"));
    assert!(!x.exploit_before);
    assert!(n.msg.contains("no exploit against it before"));
}

#[test]
fn exploit_after_the_download_does_not_count() {
    let mut d = detectors();
    let mut out = Vec::new();
    let ctx = app_ctx(
        1_000,
        7,
        "10.1.1.20",
        1040,
        "198.51.100.3",
        80,
        Direction::ToClient,
    );
    d.on_app_event(&ctx, &file(FileMagic::Elf, "/bot", "cc33"), &mut out);
    d.on_alert(
        &alert(
            5_000,
            1,
            "shellcode-detect",
            "SHELLCODE x86 NOOP",
            "203.0.113.7",
            "10.1.1.20",
            80,
        ),
        &mut out,
    );
    let dl = downloads(&out);
    assert_eq!(dl.len(), 1);
    assert!(!dl[0].1.exploit_before);
}

#[test]
fn pct_overflow_hello_or_anomaly_counts_as_exploit() {
    for via_anomaly in [false, true] {
        let mut d = detectors();
        let mut out = Vec::new();
        if via_anomaly {
            let mut a = Anomaly::new(
                ts_ms(100),
                AnomalyType::Applayer,
                "pct.client_hello_oversized_challenge",
            );
            a.endpoints = Some(Endpoints {
                src: ip("203.0.113.7"),
                dst: ip("10.1.1.20"),
                src_port: 3333,
                dst_port: 443,
                proto: IpProto::TCP,
            });
            d.on_anomaly(&a, &mut out);
        } else {
            let ctx = app_ctx(
                100,
                3,
                "203.0.113.7",
                3333,
                "10.1.1.20",
                443,
                Direction::ToServer,
            );
            let ev = AppEvent::Tls(TlsEvent::PctClientHello {
                version: 0x8001,
                challenge_len: 65_535,
                cipher_specs_len: 3,
                key_specs_len: 0,
                overflow: true,
            });
            d.on_app_event(&ctx, &ev, &mut out);
        }
        let ctx = app_ctx(
            5_000,
            9,
            "10.1.1.20",
            1040,
            "203.0.113.7",
            8080,
            Direction::ToClient,
        );
        d.on_app_event(&ctx, &file(FileMagic::Pe, "/mipsiv.exe", "dd44"), &mut out);
        let dl = downloads(&out);
        assert_eq!(dl.len(), 1);
        assert!(dl[0].1.exploit_before, "via anomaly: {via_anomaly}");
    }
}

#[test]
fn non_executables_are_not_eggs_and_duplicates_are_suppressed() {
    let mut d = detectors();
    let mut out = Vec::new();
    let ctx = app_ctx(
        1_000,
        7,
        "10.1.1.20",
        1040,
        "198.51.100.3",
        80,
        Direction::ToClient,
    );
    for m in [
        FileMagic::Zip,
        FileMagic::Pdf,
        FileMagic::Gzip,
        FileMagic::Other,
    ] {
        d.on_app_event(&ctx, &file(m, "/doc", "ee55"), &mut out);
    }
    assert!(out.is_empty());
    d.on_app_event(&ctx, &file(FileMagic::Script, "/x.sh", "ff66"), &mut out);
    d.on_app_event(&ctx, &file(FileMagic::Script, "/x.sh", "ff66"), &mut out);
    assert_eq!(downloads(&out).len(), 1);
}

#[test]
fn active_ftp_data_receiver_is_the_client() {
    // Active mode: the FTP server (192.168.1.32) opens the data connection to
    // the client (192.168.1.31), so the file flows to the server side of the flow.
    let mut d = detectors();
    let mut out = Vec::new();
    let mut ctx = app_ctx(
        1_000,
        7,
        "192.168.1.32",
        20,
        "192.168.1.31",
        50_123,
        Direction::ToServer,
    );
    ctx.key.proto = IpProto::TCP;
    let ev = AppEvent::File(FileEvent {
        proto: AppProto::FtpData,
        name: Some("NOTEPAD.EXE".into()),
        magic: FileMagic::Pe,
        size: 69_120,
        sha256: Some("0123".into()),
        complete: true,
        tx_id: None,
    });
    d.on_app_event(&ctx, &ev, &mut out);
    let dl = downloads(&out);
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0].1.client, ip("192.168.1.31"));
    assert_eq!(dl[0].1.server, ip("192.168.1.32"));
    assert_eq!(dl[0].1.server_port, 20);
    assert_eq!(dl[0].1.proto, AppProto::FtpData);
}
