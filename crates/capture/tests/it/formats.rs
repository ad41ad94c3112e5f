//! Every format feature, on crafted files.

use crate::craft::*;
use stormwatch_capture::{CaptureFile, Format, LinkType, RawFrame, Timestamp};

fn read(name: &str, bytes: Vec<u8>) -> (CaptureFile, usize) {
    let cap = CaptureFile::from_bytes(name, bytes).unwrap();
    let n = cap.frames(0).count();
    (cap, n)
}

fn all(cap: &CaptureFile) -> Vec<RawFrame<'_>> {
    cap.frames(3).collect::<Result<_, _>>().unwrap()
}

#[test]
fn pcap_byte_orders_and_resolutions() {
    let a = body(1, 60);
    let b = body(2, 1514);
    for be in [false, true] {
        for nanos in [false, true] {
            let frac = if nanos { 123_456_789 } else { 123_456 };
            let recs = [
                Rec {
                    secs: 1_082_452_324,
                    frac,
                    data: &a,
                    orig_len: 60,
                },
                Rec {
                    secs: 1_082_452_325,
                    frac: 0,
                    data: &b,
                    orig_len: 1514,
                },
            ];
            let (cap, _) = read("t.pcap", pcap(be, nanos, 1, 65535, &recs));
            match cap.format() {
                Format::Pcap {
                    big_endian,
                    nanos: n,
                    link_type,
                    snaplen,
                    record_header_len,
                } => {
                    assert_eq!(
                        (big_endian, n, link_type, snaplen),
                        (be, nanos, LinkType::ETHERNET, 65535)
                    );
                    assert_eq!(record_header_len, 16);
                }
                f => panic!("{f:?}"),
            }
            let f = all(&cap);
            assert_eq!(f.len(), 2);
            assert_eq!(f[0].data, &a[..]);
            assert_eq!(f[1].data, &b[..]);
            let want = if nanos {
                Timestamp::from_secs_nanos(1_082_452_324, 123_456_789)
            } else {
                Timestamp::from_secs_micros(1_082_452_324, 123_456)
            };
            assert_eq!(f[0].ts, want, "be={be} nanos={nanos}");
            assert_eq!(f[1].ts, Timestamp::from_secs_nanos(1_082_452_325, 0));
            assert_eq!(f[0].link_type, LinkType::ETHERNET);
            assert_eq!(f[0].origin.file, 3);
            assert_eq!(f[0].origin.offset, 24);
            assert_eq!(f[1].origin.offset, 24 + 16 + 60);
            assert_eq!(cap.walk_records(), (2, 60 + 1514));
            assert_eq!(cap.len(), 24 + 16 * 2 + 60 + 1514);
        }
    }
}

#[test]
fn pcap_snaplen_truncated_records_keep_wire_length() {
    let a = body(9, 96);
    let cap = CaptureFile::from_bytes(
        "snap.pcap",
        pcap(
            false,
            false,
            1,
            96,
            &[Rec {
                secs: 1,
                frac: 0,
                data: &a,
                orig_len: 1514,
            }],
        ),
    )
    .unwrap();
    let f = all(&cap);
    assert_eq!(f[0].data.len(), 96);
    assert_eq!(f[0].orig_len, 1514);
    assert!(f[0].is_truncated());
}

#[test]
fn pcap_link_type_fcs_bits_are_masked() {
    // FCS present (bit 26) with 4 bytes of FCS (length 2 in 16-bit words) on Ethernet.
    let network = 1 | (1 << 26) | (2 << 28);
    let d = body(0, 64);
    let cap = CaptureFile::from_bytes(
        "fcs.pcap",
        pcap(
            true,
            false,
            network,
            65535,
            &[Rec {
                secs: 0,
                frac: 0,
                data: &d,
                orig_len: 64,
            }],
        ),
    )
    .unwrap();
    assert_eq!(all(&cap)[0].link_type, LinkType::ETHERNET);
    // Other link types pass through.
    let cap = CaptureFile::from_bytes(
        "sll.pcap",
        pcap(
            false,
            false,
            276,
            65535,
            &[Rec {
                secs: 0,
                frac: 0,
                data: &d,
                orig_len: 64,
            }],
        ),
    )
    .unwrap();
    assert_eq!(all(&cap)[0].link_type, LinkType::LINUX_SLL2);
}

#[test]
fn pcap_max_size_records() {
    // A 65,535-byte frame and the largest record accepted (256 KiB).
    let big = body(3, 65_535);
    let huge = body(4, stormwatch_capture::MAX_CAPLEN as usize);
    let cap = CaptureFile::from_bytes(
        "big.pcap",
        pcap(
            false,
            false,
            1,
            262_144,
            &[
                Rec {
                    secs: 0,
                    frac: 0,
                    data: &big,
                    orig_len: 65_535,
                },
                Rec {
                    secs: 0,
                    frac: 1,
                    data: &huge,
                    orig_len: 262_144,
                },
            ],
        ),
    )
    .unwrap();
    let f = all(&cap);
    assert_eq!(f[0].data, &big[..]);
    assert_eq!(f[1].data.len(), 262_144);
}

#[test]
fn pcap_empty_after_header_has_no_frames() {
    let (cap, n) = read("hdr.pcap", pcap(false, false, 1, 65535, &[]));
    assert_eq!(n, 0);
    assert_eq!(cap.walk_records(), (0, 0));
}

#[test]
fn pcap_modified_format_record_headers() {
    // Kuznetzov's "modified" pcap: 24-byte record headers.
    let mut v = vec![0x34, 0xcd, 0xb2, 0xa1, 2, 0, 4, 0];
    v.extend([0; 8]);
    v.extend(65535u32.to_le_bytes());
    v.extend(1u32.to_le_bytes());
    for (i, len) in [(1u32, 10u32), (2, 20)] {
        v.extend(i.to_le_bytes());
        v.extend(0u32.to_le_bytes());
        v.extend(len.to_le_bytes());
        v.extend(len.to_le_bytes());
        v.extend([0; 8]); // ifindex, protocol, pkt_type, pad
        v.extend(body(i as u8, len as usize));
    }
    let cap = CaptureFile::from_bytes("mod.pcap", v).unwrap();
    let f = all(&cap);
    assert_eq!(f.len(), 2);
    assert_eq!(f[1].data, &body(2, 20)[..]);
    assert_eq!(cap.walk_records(), (2, 30));
}

/// Two sections of different byte order, each with two interfaces of
/// different link types and timestamp resolutions; EPB, SPB, OPB and blocks
/// to skip.
pub fn two_section_pcapng() -> Vec<u8> {
    two_section_ng().done()
}

/// The builder behind [`two_section_pcapng`] (block boundaries included).
pub fn two_section_ng() -> Ng {
    let mut ng = Ng::new();
    ng.shb(false)
        .idb(1, 65535, None, None) // Ethernet, µs
        .idb(101, 65535, Some(9), None) // raw IP, ns
        .block(4, &[0, 0, 0, 0]) // name resolution: end of records
        .epb(0, 1_600_000_000_123_456, &body(1, 60), 60)
        .epb(1, 1_600_000_001_987_654_321, &body(2, 40), 40)
        .block(0x0000_0bad, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]) // custom
        .block(5, &[0; 12]) // interface statistics
        .block(0x0bad_cafe, &[]) // unknown type
        .spb(&body(3, 50), 50)
        .opb(1, 1_600_000_002_000_000_001, &body(4, 30), 30);
    ng.shb(true)
        .idb(113, 128, Some(0x80 | 20), Some(100)) // SLL, 2^-20 s, offset 100 s
        .idb(0, 65535, Some(3), None) // NULL, ms
        .epb(1, 5_000, &body(5, 44), 44)
        .epb(0, 3 << 20, &body(6, 128), 1500) // snaplen-cut
        .spb(&body(7, 128), 300); // SPB holds min(orig_len, snaplen) bytes
    ng
}

#[test]
fn pcapng_sections_interfaces_and_block_kinds() {
    let cap = CaptureFile::from_bytes("two.pcapng", two_section_pcapng()).unwrap();
    assert_eq!(cap.format(), Format::Pcapng);
    let f = all(&cap);
    let summary: Vec<(LinkType, usize, u32)> = f
        .iter()
        .map(|x| (x.link_type, x.data.len(), x.orig_len))
        .collect();
    assert_eq!(
        summary,
        vec![
            (LinkType::ETHERNET, 60, 60),
            (LinkType::RAW, 40, 40),
            (LinkType::ETHERNET, 50, 50), // SPB: interface 0
            (LinkType::RAW, 30, 30),      // OPB on interface 1
            (LinkType::NULL, 44, 44),
            (LinkType::LINUX_SLL, 128, 1500),
            (LinkType::LINUX_SLL, 128, 300),
        ]
    );
    assert_eq!(f[0].data, &body(1, 60)[..]);
    assert_eq!(f[5].data, &body(6, 128)[..]);
    assert_eq!(f[6].data, &body(7, 128)[..]);
    // A writer that puts more than the snaplen into an SPB: the reader keeps
    // min(orig_len, snaplen, room in the block).
    let mut ng = Ng::new();
    ng.shb(false)
        .idb(1, 64, None, None)
        .spb(&body(8, 100), 90)
        .spb(&body(9, 20), 90);
    let cap2 = CaptureFile::from_bytes("spb.pcapng", ng.done()).unwrap();
    let g = all(&cap2);
    assert_eq!(g[0].data, &body(8, 64)[..]);
    assert_eq!(g[1].data, &body(9, 20)[..]);
    assert_eq!(f[0].ts, Timestamp::from_secs_micros(1_600_000_000, 123_456));
    assert_eq!(
        f[1].ts,
        Timestamp::from_secs_nanos(1_600_000_001, 987_654_321)
    );
    // SPB has no timestamp: it carries the previous packet's.
    assert_eq!(f[2].ts, f[1].ts);
    assert_eq!(f[3].ts, Timestamp::from_secs_nanos(1_600_000_002, 1));
    assert_eq!(f[4].ts, Timestamp::from_secs_nanos(5, 0));
    // 3 * 2^20 units of 2^-20 s = 3 s, plus the 100 s offset.
    assert_eq!(f[5].ts, Timestamp::from_secs_nanos(103, 0));
    assert!(
        f.windows(2)
            .all(|w| w[0].origin.offset < w[1].origin.offset)
    );
    assert_eq!(cap.walk_records().0, 7);
}

#[test]
fn gzip_pcap_and_pcapng() {
    let d = body(5, 100);
    let plain = pcap(
        false,
        true,
        1,
        65535,
        &[Rec {
            secs: 7,
            frac: 8,
            data: &d,
            orig_len: 100,
        }],
    );
    let cap = CaptureFile::from_bytes("t.pcap.gz", gzip(&plain)).unwrap();
    assert!(cap.is_gzip());
    assert_eq!(cap.len(), plain.len() as u64);
    let f = all(&cap);
    assert_eq!(f[0].data, &d[..]);
    assert_eq!(f[0].ts, Timestamp::from_secs_nanos(7, 8));

    let ng = two_section_pcapng();
    let cap = CaptureFile::from_bytes("t.pcapng.gz", gzip(&ng)).unwrap();
    assert_eq!(all(&cap).len(), 7);

    // Several gzip members concatenated (as `cat a.gz b.gz`) form one stream.
    let mut two = gzip(&plain[..30]);
    two.extend(gzip(&plain[30..]));
    let cap = CaptureFile::from_bytes("two-members.gz", two).unwrap();
    assert_eq!(all(&cap)[0].data, &d[..]);
}

#[test]
fn open_from_disk_maps_and_gunzips() {
    let dir = tempfile::tempdir().unwrap();
    let d = body(1, 70);
    let plain = pcap(
        true,
        false,
        1,
        65535,
        &[Rec {
            secs: 1,
            frac: 2,
            data: &d,
            orig_len: 70,
        }],
    );
    let p1 = dir.path().join("a.pcap");
    std::fs::write(&p1, &plain).unwrap();
    let p2 = dir.path().join("b.bin");
    std::fs::write(&p2, gzip(&plain)).unwrap();
    for p in [&p1, &p2] {
        let cap = CaptureFile::open(p).unwrap();
        assert_eq!(cap.path(), p.as_path());
        assert_eq!(cap.len(), plain.len() as u64);
        let f = all(&cap);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].data, &d[..]);
    }
}
