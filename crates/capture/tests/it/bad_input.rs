//! Bad input: every problem is one error naming the file and offset, after
//! every frame that could be read.

use crate::craft::*;
use stormwatch_capture::{CaptureError, CaptureFile, ErrorKind};

fn frames_then_error(cap: &CaptureFile) -> (usize, Option<CaptureError>) {
    let mut n = 0;
    let mut it = cap.frames(0);
    for r in it.by_ref() {
        match r {
            Ok(_) => n += 1,
            Err(e) => {
                // The iterator is fused after an error.
                assert!(it.next().is_none());
                return (n, Some(e));
            }
        }
    }
    (n, None)
}

fn three_records() -> Vec<u8> {
    let (a, b, c) = (body(1, 100), body(2, 1514), body(3, 200));
    pcap(
        false,
        false,
        1,
        65535,
        &[
            Rec {
                secs: 1,
                frac: 0,
                data: &a,
                orig_len: 100,
            },
            Rec {
                secs: 2,
                frac: 0,
                data: &b,
                orig_len: 1514,
            },
            Rec {
                secs: 3,
                frac: 0,
                data: &c,
                orig_len: 200,
            },
        ],
    )
}

#[test]
fn truncated_in_the_middle_of_a_record() {
    let full = three_records();
    // Cut inside the second record's data: 200 of its 1514 bytes remain.
    let second = 24 + 16 + 100;
    let cut = second + 16 + 200;
    let cap = CaptureFile::from_bytes("capture.pcap", full[..cut].to_vec()).unwrap();
    let (n, e) = frames_then_error(&cap);
    assert_eq!(n, 1);
    let e = e.unwrap();
    assert_eq!(e.offset(), Some(second as u64));
    assert!(e.is_truncation());
    assert_eq!(
        e.to_string(),
        format!(
            "capture.pcap: byte {second}: truncated packet record: header says 1514 bytes, \
             only 200 remain"
        )
    );
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn truncated_at_every_offset() {
    let full = three_records();
    let bounds = [24, 24 + 16 + 100, 24 + 16 + 100 + 16 + 1514, full.len()];
    for cut in 24..full.len() {
        let cap = CaptureFile::from_bytes("cut.pcap", full[..cut].to_vec()).unwrap();
        let (n, e) = frames_then_error(&cap);
        let complete = bounds.iter().filter(|&&b| b <= cut).count() - 1;
        assert_eq!(n, complete, "cut at {cut}");
        let at_boundary = bounds.contains(&cut);
        assert_eq!(e.is_none(), at_boundary, "cut at {cut}: {e:?}");
        if let Some(e) = e {
            assert!(e.is_truncation());
            assert_eq!(e.offset(), Some(bounds[complete] as u64));
        }
        assert_eq!(cap.walk_records().0, complete as u64);
    }
    // Truncated file header.
    for cut in 4..24 {
        let e = CaptureFile::from_bytes("h.pcap", full[..cut].to_vec()).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::TruncatedHeader { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "h.pcap: byte 0: truncated pcap file header: 24 bytes expected, only {cut} remain"
            )
        );
    }
}

#[test]
fn truncated_pcapng_at_every_offset() {
    let ng = crate::formats::two_section_ng();
    let full = ng.done();
    for cut in 28..full.len() {
        let cap = CaptureFile::from_bytes("cut.pcapng", full[..cut].to_vec()).unwrap();
        let (n, e) = frames_then_error(&cap);
        // Every packet whose block ends before the cut is read ...
        let complete = ng
            .ends
            .iter()
            .filter(|&&(end, pkt)| pkt && end <= cut)
            .count();
        assert_eq!(n, complete, "cut at {cut}");
        // ... and a cut inside a block is one truncation error at that block.
        let last_end = ng
            .ends
            .iter()
            .map(|e| e.0)
            .filter(|&end| end <= cut)
            .max()
            .unwrap_or(0);
        if last_end == cut {
            assert!(e.is_none(), "cut at {cut}: {e:?}");
        } else {
            let e = e.unwrap();
            assert!(e.is_truncation(), "cut at {cut}: {e}");
            assert_eq!(e.offset(), Some(last_end as u64), "cut at {cut}: {e}");
        }
    }
}

#[test]
fn not_a_capture() {
    let e = CaptureFile::from_bytes("notes.txt", b"hello world\n".to_vec()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotACapture { .. }));
    assert_eq!(
        e.to_string(),
        "notes.txt: byte 0: not a capture file: starts with 68 65 6c 6c; expected a pcap magic \
         (a1b2c3d4 or a1b23c4d, either byte order), a pcapng section header (0a0d0d0a) or gzip (1f8b)"
    );
    let e = CaptureFile::from_bytes("x", vec![0xd4, 0xc3]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotACapture { .. }));
    // gzip of something that is not a capture.
    let e = CaptureFile::from_bytes("x.gz", gzip(b"plain text")).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotACapture { .. }));
}

#[test]
fn empty_file() {
    let e = CaptureFile::from_bytes("empty.pcap", Vec::new()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Empty));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.pcap");
    std::fs::write(&p, b"").unwrap();
    let e = CaptureFile::open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Empty));
    assert!(
        e.to_string()
            .ends_with("empty.pcap: byte 0: empty file: expected a pcap or pcapng header")
    );
    let e = CaptureFile::from_bytes("e.gz", gzip(b"")).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Empty));
}

#[test]
fn missing_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = CaptureFile::open(&dir.path().join("nope.pcap")).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Io(_)));
    assert!(e.to_string().contains("nope.pcap: I/O error: "), "{e}");
    let e = CaptureFile::open(dir.path()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Io(_)));
}

#[test]
fn absurd_caplen() {
    let mut v = pcap(
        false,
        false,
        1,
        65535,
        &[Rec {
            secs: 0,
            frac: 0,
            data: &[1, 2],
            orig_len: 2,
        }],
    );
    v[24 + 8..24 + 12].copy_from_slice(&300_000u32.to_le_bytes());
    v.resize(400_000, 0);
    let cap = CaptureFile::from_bytes("absurd.pcap", v).unwrap();
    let (n, e) = frames_then_error(&cap);
    assert_eq!(n, 0);
    let e = e.unwrap();
    assert!(matches!(e.kind(), ErrorKind::AbsurdCaplen { len: 300_000 }));
    assert_eq!(e.offset(), Some(24));
}

fn ng_with(f: impl FnOnce(&mut Ng)) -> Vec<u8> {
    let mut ng = Ng::new();
    ng.shb(false)
        .idb(1, 65535, None, None)
        .epb(0, 1, &body(1, 20), 20);
    f(&mut ng);
    ng.done()
}

#[test]
fn pcapng_bad_block_lengths() {
    // Length not a multiple of 4.
    let mut v = ng_with(|ng| {
        ng.epb(0, 2, &body(2, 20), 20);
    });
    let second = v.len() - 64; // the last EPB: 12 + 20 + 20 + 8 + 4
    let len = u32::from_le_bytes(v[second + 4..second + 8].try_into().unwrap());
    assert_eq!(len, 64);
    v[second + 4..second + 8].copy_from_slice(&62u32.to_le_bytes());
    let cap = CaptureFile::from_bytes("bad.pcapng", v.clone()).unwrap();
    let (n, e) = frames_then_error(&cap);
    assert_eq!(n, 1);
    let e = e.unwrap();
    assert!(
        matches!(e.kind(), ErrorKind::BadBlockLength { len: 62, .. }),
        "{e}"
    );
    assert_eq!(e.offset(), Some(second as u64 + 4));
    assert_eq!(
        e.to_string(),
        format!(
            "bad.pcapng: byte {}: bad pcapng block length 62 (block type 0x6): expected a \
             multiple of 4, at least 12",
            second + 4
        )
    );
    // Below the minimum.
    v[second + 4..second + 8].copy_from_slice(&8u32.to_le_bytes());
    let cap = CaptureFile::from_bytes("bad.pcapng", v.clone()).unwrap();
    assert!(matches!(
        frames_then_error(&cap).1.unwrap().kind(),
        ErrorKind::BadBlockLength { len: 8, .. }
    ));
    // Runs past the end.
    v[second + 4..second + 8].copy_from_slice(&4096u32.to_le_bytes());
    let cap = CaptureFile::from_bytes("bad.pcapng", v.clone()).unwrap();
    let e = frames_then_error(&cap).1.unwrap();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::TruncatedBlock {
                says: 4096,
                remain: 64,
                ..
            }
        ),
        "{e}"
    );
    // Trailer disagrees.
    v[second + 4..second + 8].copy_from_slice(&60u32.to_le_bytes());
    let cap = CaptureFile::from_bytes("bad.pcapng", v).unwrap();
    let e = frames_then_error(&cap).1.unwrap();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::BlockTrailerMismatch { leading: 60, .. }
        ),
        "{e}"
    );
    assert_eq!(e.offset(), Some(second as u64 + 56));
}

#[test]
fn pcapng_bad_blocks() {
    // Packet on an interface the section does not have.
    let v = ng_with(|ng| {
        ng.epb(5, 2, &body(2, 20), 20);
    });
    let cap = CaptureFile::from_bytes("i.pcapng", v).unwrap();
    let (n, e) = frames_then_error(&cap);
    assert_eq!(n, 1);
    assert!(matches!(
        e.unwrap().kind(),
        ErrorKind::UnknownInterface { id: 5, count: 1 }
    ));
    // A new section forgets the interfaces of the previous one.
    let v = ng_with(|ng| {
        ng.shb(true).epb(0, 2, &body(2, 20), 20);
    });
    let cap = CaptureFile::from_bytes("s.pcapng", v).unwrap();
    assert!(matches!(
        frames_then_error(&cap).1.unwrap().kind(),
        ErrorKind::UnknownInterface { id: 0, count: 0 }
    ));
    // EPB whose captured length runs past its block.
    let v = ng_with(|ng| {
        let mut body = Vec::new();
        for x in [0u32, 0, 0, 500, 500] {
            body.extend(x.to_le_bytes());
        }
        body.extend([0; 16]);
        ng.block(6, &body);
    });
    let cap = CaptureFile::from_bytes("c.pcapng", v).unwrap();
    let e = frames_then_error(&cap).1.unwrap();
    assert!(
        matches!(e.kind(), ErrorKind::BadBlock { block_type: 6, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("captured length 500 runs past the block"),
        "{e}"
    );
    // Unsupported version and bad byte-order magic.
    let mut v = ng_with(|_| {});
    v[12] = 2;
    let cap = CaptureFile::from_bytes("v.pcapng", v).unwrap();
    let e = frames_then_error(&cap).1.unwrap();
    assert!(e.to_string().contains("version 2.0; expected 1.x"), "{e}");
    let mut v = ng_with(|_| {});
    v[8] = 0;
    let e = CaptureFile::from_bytes("b.pcapng", v).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::BadSectionHeader { .. }),
        "{e}"
    );
}

#[test]
fn pcapng_unknown_block_is_skipped_not_an_error() {
    let v = ng_with(|ng| {
        ng.block(0x4000_0bad, &body(0, 33))
            .block(0x1234, &[])
            .epb(0, 9, &body(9, 9), 9);
    });
    let cap = CaptureFile::from_bytes("u.pcapng", v).unwrap();
    let (n, e) = frames_then_error(&cap);
    assert_eq!((n, e.is_none()), (2, true));
}

#[test]
fn truncated_gzip_yields_what_was_decompressed_then_an_error() {
    let full = three_records();
    let gz = gzip(&full);
    // Cut the compressed stream short: the frames decompressed are read, then a
    // gzip error (not a plain truncation) is reported.
    let cap = CaptureFile::from_bytes("cut.pcap.gz", gz[..gz.len() - 30].to_vec()).unwrap();
    let (n, e) = frames_then_error(&cap);
    let e = e.unwrap();
    assert!(matches!(e.kind(), ErrorKind::Gzip { .. }), "{e}");
    assert!(e.is_truncation());
    assert!(n <= 3);
    assert!(e.to_string().starts_with("cut.pcap.gz: byte "), "{e}");
    // A stream whose gzip trailer alone is missing still yields every frame.
    let cap = CaptureFile::from_bytes("cut.pcap.gz", gz[..gz.len() - 4].to_vec()).unwrap();
    let (n, e) = frames_then_error(&cap);
    assert_eq!(n, 3);
    assert!(matches!(e.unwrap().kind(), ErrorKind::Gzip { .. }));
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut seeds = vec![three_records(), crate::formats::two_section_pcapng()];
    seeds.push(gzip(&seeds[0]));
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for seed in &seeds {
        for _ in 0..3000 {
            let mut m = seed.clone();
            for _ in 0..(rnd() % 4 + 1) {
                let i = (rnd() as usize) % m.len();
                m[i] = rnd() as u8;
            }
            if rnd() % 3 == 0 {
                m.truncate((rnd() as usize) % m.len());
            }
            if let Ok(cap) = CaptureFile::from_bytes("fuzz", m) {
                let _ = cap.frames(0).count();
                let _ = cap.walk_records();
            }
        }
    }
}
