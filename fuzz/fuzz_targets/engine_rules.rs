//! The whole engine (flow table, reassembly, protocol parsers, rules,
//! behaviour stages, EVE writer) with a rule set using most rule keywords
//! (`engine_rules.rules`), on conversations the input scripts: no panic,
//! whatever the packets say.
//!
//! Input: a settings byte, then packets of `[control, length, payload…]`.
//! Settings: bit 0 on-ack delivery, bit 1 behaviour stages off, bits 2–4 the
//! server port (HTTP, TLS, IRC, FTP, SMTP, SSH, DNS over TCP, 9), bit 5
//! IP options on every packet, bit 6 overlap policy "last" instead of
//! the default (BSD). Control: bit 0 direction (set: server to client), bits 1–3 TCP
//! flags (SYN, SYN+ACK, ACK, PSH+ACK, FIN+ACK, RST, URG+PSH+ACK, none),
//! bits 4–5 sequence (in order; back by the payload length, a
//! retransmission or overlap; ahead by 1000, a gap; back by half the payload
//! length), bit 6 a protocol template before the payload (by direction and
//! port: a request or response head, a TLS record, an IRC command), bit 7 UDP
//! (port 53; with bit 6 a DNS query or answer) or ICMP echo (FIN+ACK's
//! index) instead of TCP. Timestamps advance by each packet's length in
//! milliseconds, so a long input spans seconds and the rules' threshold and
//! detection-filter windows pass. `FUZZ_EVE=1` prints the EVE an input makes
//! (`cargo fuzz run engine_rules <file>`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use stormwatch_engine::{Config, Engine};
use stormwatch_flow::{Delivery, OverlapPolicy};
use stormwatch_model::{FrameOrigin, LinkType, RawFrame, Timestamp};
use stormwatch_output::eve::{EveOptions, EveWriter};
use stormwatch_rules::{RuleSet, RulesConfig};

const CLIENT: [u8; 4] = [192, 168, 1, 10];
const SERVER: [u8; 4] = [203, 0, 113, 5];
const PORTS: [u16; 8] = [80, 443, 6667, 21, 25, 22, 53, 9];
const FLAGS: [u8; 8] = [0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x38, 0x00];

fn rules() -> Arc<RuleSet> {
    static SET: OnceLock<Arc<RuleSet>> = OnceLock::new();
    SET.get_or_init(|| {
        let text = include_str!("../engine_rules.rules");
        let (set, report) = RuleSet::from_text("engine_rules.rules", text, &RulesConfig::default());
        assert_eq!(report.loaded(), text.lines().count(), "every rule loads");
        Arc::new(set)
    })
    .clone()
}

/// What a packet of `port`'s protocol may start with.
fn template(port: u16, to_client: bool) -> &'static [u8] {
    match (port, to_client) {
        (80 | 9, false) => b"POST /a/b64=aGk%2f?x=1 HTTP/1.1\r\nHost: example\r\nCookie: s=1\r\nContent-Length: 8\r\n\r\n",
        (80 | 9, true) => b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n",
        (443, false) => b"\x16\x03\x01\x00\x40\x01\x00\x00\x3c\x03\x03",
        (443, true) => b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26\x03\x03",
        (6667, false) => b"NICK fz\r\nUSER a b c :d\r\nJOIN #x\r\nPRIVMSG #x :",
        (6667, true) => b":srv 001 fz :Welcome\r\nPING :",
        (21, false) => b"USER anonymous\r\nPORT 1,2,3,4,5,6\r\n",
        (21, true) => b"220 ready\r\n227 Entering Passive Mode (1,2,3,4,5,6)\r\n",
        (25, false) => b"EHLO a\r\nMAIL FROM:<a@b>\r\nDATA\r\n",
        (25, true) => b"220 mail ESMTP\r\n250 ok\r\n354 go\r\n",
        (22, _) => b"SSH-2.0-OpenSSH_9.0\r\n",
        (53, _) => b"\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04evil\x03com\x00\x00\x01\x00\x01",
        _ => b"",
    }
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], opts: bool, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    let ihl = if opts { 6 } else { 5 };
    let total = u16::try_from(ihl * 4 + l4.len()).unwrap_or(u16::MAX);
    f.extend_from_slice(&[0x40 | ihl as u8, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 0, 1, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    if opts {
        // Record route, then end of list.
        f.extend_from_slice(&[7, 3, 4, 0]);
    }
    f.extend_from_slice(l4);
    f
}

fuzz_target!(|data: &[u8]| {
    let Some((&settings, mut rest)) = data.split_first() else {
        return;
    };
    let port = PORTS[usize::from(settings >> 2) & 7];
    let opts = settings & 0x20 != 0;
    let mut cfg = Config {
        rules: Some(rules()),
        behaviour: settings & 2 == 0,
        ..Config::default()
    };
    if settings & 1 != 0 {
        cfg.flow.delivery = Delivery::OnAck;
    }
    if settings & 0x40 != 0 {
        cfg.flow.overlap_policy = OverlapPolicy::Last;
    }
    let mut engine = Engine::new(cfg);
    // `FUZZ_EVE=1` prints the EVE lines (to see what an input makes).
    let out: Box<dyn std::io::Write> = if std::env::var_os("FUZZ_EVE").is_some() {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::sink())
    };
    let mut eve = EveWriter::new(out, EveOptions::default());
    // Next sequence number of each direction (client, server).
    let mut seq = [1000u32, 5000u32];
    let mut ms: u64 = 0;
    while let [ctl, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        let to_client = ctl & 1 != 0;
        let d = usize::from(to_client);
        let mut body = Vec::new();
        if ctl & 0x40 != 0 {
            if ctl & 0x80 != 0 {
                // A DNS message over UDP: no length prefix.
                body.extend_from_slice(template(53, to_client).get(2..).unwrap_or(&[]));
            } else {
                body.extend_from_slice(template(port, to_client));
            }
        }
        body.extend_from_slice(payload);
        let (src, dst, sp, dp) = if to_client {
            (SERVER, CLIENT, port, 40000u16)
        } else {
            (CLIENT, SERVER, 40000u16, port)
        };
        let flags = FLAGS[usize::from(ctl >> 1) & 7];
        let frame = if ctl & 0x80 != 0 {
            if flags & 1 == 0 {
                // UDP to or from port 53.
                let (sp, dp) = if to_client {
                    (53u16, 40000u16)
                } else {
                    (40000, 53)
                };
                let mut u = Vec::new();
                u.extend_from_slice(&sp.to_be_bytes());
                u.extend_from_slice(&dp.to_be_bytes());
                let ulen = u16::try_from(8 + body.len()).unwrap_or(u16::MAX);
                u.extend_from_slice(&ulen.to_be_bytes());
                u.extend_from_slice(&[0, 0]);
                u.extend_from_slice(&body);
                ipv4(17, src, dst, opts, &u)
            } else {
                // ICMP echo request or reply.
                let mut i = vec![if to_client { 0 } else { 8 }, 0, 0, 0, 0, 0, 0, 1];
                i.extend_from_slice(&body);
                ipv4(1, src, dst, opts, &i)
            }
        } else {
            let len32 = u32::try_from(body.len()).unwrap_or(u32::MAX);
            let s = match (ctl >> 4) & 3 {
                0 => seq[d],
                1 => seq[d].wrapping_sub(len32),
                2 => seq[d].wrapping_add(1000),
                _ => seq[d].wrapping_sub(len32 / 2),
            };
            let ack = seq[1 - d];
            let mut t = Vec::new();
            t.extend_from_slice(&sp.to_be_bytes());
            t.extend_from_slice(&dp.to_be_bytes());
            t.extend_from_slice(&s.to_be_bytes());
            t.extend_from_slice(&ack.to_be_bytes());
            t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
            t.extend_from_slice(&body);
            let syn_fin = u32::from(flags & 0x03 != 0);
            seq[d] = s.wrapping_add(len32).wrapping_add(syn_fin);
            ipv4(6, src, dst, opts, &t)
        };
        ms += body.len() as u64 + 1;
        let raw = RawFrame {
            ts: Timestamp::from_secs_micros(
                1_000_000 + (ms / 1000) as i64,
                ((ms % 1000) * 1000) as u32,
            ),
            link_type: LinkType::ETHERNET,
            data: &frame,
            orig_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
            origin: FrameOrigin::default(),
        };
        engine.process(&raw, &mut eve).expect("writing to a sink");
    }
    engine.finish(&mut eve).expect("writing to a sink");
});
