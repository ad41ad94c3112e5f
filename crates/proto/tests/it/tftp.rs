//! TFTP parser: requests, transfers into files (retransmissions, lost blocks,
//! option-negotiated block sizes), truncated and random datagrams.

use super::http::Rng;
use super::pcapkit::{Recorded, ctx_for};
use sha2::{Digest, Sha256};
use stormwatch_model::{AppEvent, Direction, FileEvent, FileMagic, FlowKey, IpProto, Timestamp};
use stormwatch_proto::ProtoConfig;
use stormwatch_proto::api::DatagramParser;
use stormwatch_proto::tftp::TftpParser;

fn key() -> FlowKey {
    FlowKey {
        src: "10.1.1.20".parse().unwrap(),
        dst: "203.0.113.7".parse().unwrap(),
        src_port: 1042,
        dst_port: 69,
        proto: IpProto::UDP,
        vlan: [0, 0],
    }
}

fn run(p: &mut TftpParser, dgrams: &[(Direction, Vec<u8>)]) -> Recorded {
    let mut sink = Recorded::default();
    for (i, (d, b)) in dgrams.iter().enumerate() {
        sink.cur = i as u64 + 1;
        p.parse(&ctx_for(1, key(), Timestamp::ZERO, *d), b, &mut sink);
    }
    p.close(
        &ctx_for(1, key(), Timestamp::ZERO, Direction::ToServer),
        &mut sink,
    );
    sink
}

fn elf(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    v[..4].copy_from_slice(b"\x7fELF");
    v
}

fn data(block: u16, d: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 3];
    v.extend_from_slice(&block.to_be_bytes());
    v.extend_from_slice(d);
    v
}

fn ack(block: u16) -> Vec<u8> {
    let mut v = vec![0, 4];
    v.extend_from_slice(&block.to_be_bytes());
    v
}

fn file_of(r: &Recorded) -> FileEvent {
    r.events
        .iter()
        .find_map(|(_, _, e)| match e {
            AppEvent::File(f) => Some(f.clone()),
            _ => None,
        })
        .expect("a file event")
}

#[test]
fn read_request_and_transfer() {
    use Direction::*;
    let body = elf(1300);
    let mut d = vec![(ToServer, b"\x00\x01mipsel.bin\x00octet\x00".to_vec())];
    for (i, c) in body.chunks(512).enumerate() {
        let b = i as u16 + 1;
        d.push((ToClient, data(b, c)));
        if b == 2 {
            d.push((ToClient, data(b, c))); // retransmitted
        }
        d.push((ToServer, ack(b)));
    }
    let r = run(&mut TftpParser::new(&ProtoConfig::default()), &d);
    let rec = &r
        .records
        .iter()
        .find(|(_, x)| x.event_type == "tftp")
        .unwrap()
        .1;
    assert_eq!(rec.body["packet"], "read");
    assert_eq!(rec.body["file"], "mipsel.bin");
    assert_eq!(rec.body["mode"], "octet");
    let f = file_of(&r);
    assert_eq!(f.magic, FileMagic::Elf);
    assert_eq!(f.size, 1300);
    assert!(f.complete);
    assert_eq!(f.name.as_deref(), Some("mipsel.bin"));
    assert_eq!(f.sha256.unwrap(), format!("{:x}", Sha256::digest(&body)));
    let fi = &r
        .records
        .iter()
        .find(|(_, x)| x.event_type == "fileinfo")
        .unwrap()
        .1;
    assert_eq!(fi.body["state"], "CLOSED");
}

#[test]
fn lost_blocks_and_negotiated_block_size() {
    use Direction::*;
    let body = elf(3000);
    let mut p = TftpParser::for_transfer(&ProtoConfig::default(), Some("x.bin"));
    let mut d = vec![(ToClient, b"\x00\x06blksize\x001024\x00".to_vec())];
    for (i, c) in body.chunks(1024).enumerate() {
        if i == 1 {
            continue; // lost
        }
        d.push((ToClient, data(i as u16 + 1, c)));
    }
    let r = run(&mut p, &d);
    let f = file_of(&r);
    assert_eq!(f.size, 3000);
    assert!(!f.complete);
    assert_eq!(f.sha256, None);
    assert_eq!(f.name.as_deref(), Some("x.bin"));

    // A transfer cut short by the end of the flow is truncated.
    let mut p = TftpParser::new(&ProtoConfig::default());
    let r = run(&mut p, &[(ToClient, data(1, &body[..512]))]);
    assert!(!file_of(&r).complete);
    // An ERROR ends it, truncated.
    let mut p = TftpParser::new(&ProtoConfig::default());
    let r = run(
        &mut p,
        &[
            (ToClient, data(1, &body[..512])),
            (ToServer, b"\x00\x05\x00\x00disk full\x00".to_vec()),
        ],
    );
    assert!(!file_of(&r).complete);
}

#[test]
fn truncated_and_random_datagrams() {
    let req = b"\x00\x02upload.txt\x00netascii\x00".to_vec();
    for n in 0..req.len() {
        let mut p = TftpParser::new(&ProtoConfig::default());
        let r = run(&mut p, &[(Direction::ToServer, req[..n].to_vec())]);
        assert!(r.records.is_empty(), "cut at {n}");
    }
    let mut rng = Rng(0x0bad_cafe_dead_beef);
    let all: Vec<u8> = (0..=255).collect();
    let small = [0u8, 1, 2, 3, 4, 5, 6, b'a', b'o', 0xff];
    for round in 0..2000 {
        let alpha: &[u8] = if round % 2 == 0 { &all } else { &small };
        let n = (rng.next() % 600) as usize;
        let mut b = rng.bytes(n, alpha);
        if round % 3 == 0 && b.len() > 4 {
            b[0] = 0;
            b[1] = 3;
        }
        let mut p = TftpParser::new(&ProtoConfig::default());
        let _ = run(
            &mut p,
            &[(Direction::ToClient, b.clone()), (Direction::ToClient, b)],
        );
    }
}
