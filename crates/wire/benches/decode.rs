//! Decode speed per frame kind (ns/frame).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use stormwatch_wire::{
    Decoded, LinkType, decode_frame, decode_frame_into, decode_frame_with_orig_len, tcp_checksum_ok,
};

fn eth(et: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![
        0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    ];
    v.extend(et.to_be_bytes());
    v.extend(payload);
    v
}

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut v = vec![0x45, 0];
    v.extend(total.to_be_bytes());
    v.extend([
        0x12, 0x34, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    v.extend(payload);
    v
}

fn ipv6(nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend((payload.len() as u16).to_be_bytes());
    v.extend([nh, 64]);
    v.extend([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v.extend([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v.extend(payload);
    v
}

/// TCP with the timestamp option (the common case on established flows).
fn tcp(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 2, 0x80, 0x18, 0x01, 0xf5, 0, 0, 0, 0,
    ];
    v.extend([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    v.extend(payload);
    v
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0xc3, 0x50, 0, 53];
    v.extend(((8 + payload.len()) as u16).to_be_bytes());
    v.extend([0, 0]);
    v.extend(payload);
    v
}

fn bench(c: &mut Criterion) {
    let http = vec![b'x'; 1448];
    let syn_opts = {
        let mut v = vec![
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
        ];
        v.extend([
            2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ]);
        v
    };
    let mut gre = vec![0x20, 0, 0x08, 0, 0, 0, 0, 7];
    gre.extend(ipv4(6, &tcp(b"inner")));
    let frames: Vec<(&str, LinkType, Vec<u8>)> = vec![
        (
            "eth_ipv4_tcp_1448",
            LinkType::ETHERNET,
            eth(0x0800, &ipv4(6, &tcp(&http))),
        ),
        ("eth_ipv4_tcp_ack", LinkType::ETHERNET, {
            let mut f = eth(0x0800, &ipv4(6, &tcp(b"")));
            f.resize(66, 0);
            f
        }),
        (
            "eth_ipv4_tcp_syn_opts",
            LinkType::ETHERNET,
            eth(0x0800, &ipv4(6, &syn_opts)),
        ),
        (
            "eth_ipv4_udp_dns",
            LinkType::ETHERNET,
            eth(0x0800, &ipv4(17, &udp(&[0; 40]))),
        ),
        ("eth_vlan_ipv6_tcp", LinkType::ETHERNET, {
            let mut tag = vec![0, 100, 0x86, 0xdd];
            tag.extend(ipv6(6, &tcp(b"hello")));
            eth(0x8100, &tag)
        }),
        ("raw_ipv4_gre_ipv4_tcp", LinkType::RAW, ipv4(47, &gre)),
    ];
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, link, f) in &frames {
        assert!(decode_frame(*link, f).anomalies.is_empty(), "{name}");
        g.bench_with_input(BenchmarkId::new("decode_frame", name), f, |b, f| {
            b.iter(|| {
                let d = decode_frame(*link, black_box(f));
                black_box(&d);
            })
        });
    }
    let (_, link, f) = &frames[0];
    g.bench_function("decode_frame_into/eth_ipv4_tcp_1448", |b| {
        b.iter(|| {
            let mut d = Decoded::default();
            decode_frame_into(&mut d, *link, black_box(f), f.len() as u32);
            black_box(&d);
        })
    });
    g.bench_function("decode_frame_with_orig_len/eth_ipv4_tcp_1448", |b| {
        b.iter(|| {
            black_box(decode_frame_with_orig_len(
                *link,
                black_box(f),
                f.len() as u32,
            ))
        })
    });
    g.bench_function("tcp_checksum_ok/eth_ipv4_tcp_1448", |b| {
        let d = decode_frame(*link, f);
        b.iter(|| black_box(tcp_checksum_ok(black_box(&d))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
