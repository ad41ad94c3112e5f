//! A large, realistic benign capture for benchmarks: TLS, HTTP (small pages
//! and large downloads), DNS, IRC chat, SSH, NTP and ICMP flows, interleaved.
//!
//! Speed comes from templates: each flow kind is generated once with the full
//! simulator; every instance copies a template's frames and patches the
//! addresses, ports, sequence numbers and timestamps, adjusting checksums
//! incrementally (RFC 1624).

use crate::generator::{TemplateFrame, template_flows};
use crate::pcap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

/// What [`write_background`] wrote.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BackgroundStats {
    /// Frames written.
    pub frames: u64,
    /// Bytes written, pcap headers included.
    pub bytes: u64,
    /// Flows started.
    pub flows: u64,
}

/// Flows in progress at any time.
const CONCURRENT: usize = 256;
/// Output buffer size.
const BUF: usize = 1 << 20;

const TEMPLATES: &str = r##"
[scenario]
name = "background-templates"
seed = 7
start = "2004-04-20T09:00:00Z"
home_net = ["10.0.0.0/8"]

[[host]]
name = "ws"
ip = "10.0.0.10"
os = "windows"

[[host]]
name = "lx"
ip = "10.0.0.11"
os = "linux"

[[host]]
name = "web"
ip = "192.0.2.80"
os = "linux"

[[host]]
name = "resolver"
ip = "10.0.0.53"
os = "linux"

[[activity]]
kind = "tls_session"
at = "+1s"
client = "ws"
server = "web"
sni = "www.example.com"
requests = 2
response_size = 6000

[[activity]]
kind = "tls_session"
at = "+2s"
client = "lx"
server = "web"
sni = "mail.example.org"
version = "tls1.2"
requests = 4
response_size = 30000

[[activity]]
kind = "tls_session"
at = "+3s"
client = "ws"
server = "web"
sni = "login.example.net"
hello = "sslv2-compat"
requests = 1
response_size = 1500

[[activity]]
kind = "http_download"
at = "+4s"
client = "ws"
server = "web"
path = "/index.html"
host_header = "www.example.com"
body = "html"
size = 12000

[[activity]]
kind = "http_download"
at = "+5s"
client = "lx"
server = "web"
path = "/pub/release.tar.gz"
host_header = "ftp.example.com"
body = "text"
size = 400000

[[activity]]
kind = "http_download"
at = "+6s"
client = "ws"
server = "web"
path = "/news/"
host_header = "news.example.com"
body = "html"
size = 40000
chunked = 8192

[[activity]]
kind = "dns"
at = "+7s"
client = "ws"
server = "resolver"
names = ["www.example.com"]

[[activity]]
kind = "dns"
at = "+8s"
client = "lx"
server = "resolver"
names = ["mail.example.org", "ntp.example.org"]

[[activity]]
kind = "ssh_session"
at = "+9s"
client = "lx"
server = "web"
exchanges = 12

[[activity]]
kind = "irc_session"
at = "+10s"
client = "ws"
server = "web"
nick = "alice"
channel = "#chat"
duration = "4m"
ping_interval = "90s"
members = ["bob", "carol"]
says = ["hi all", "anyone seen the new release?", "ok thanks"]
hears = ["hey alice", "yes, it is on the mirror", "np"]
quit = true

[[activity]]
kind = "background"
at = "+20s"
until = "+22s"
clients = ["ws"]
servers = ["web"]
rate = 300
mix = { tls = 0, http = 0, dns = 0, ssh = 0, icmp = 1, udp = 3 }
"##;

struct Frame {
    rel: i64,
    bytes: Vec<u8>,
    from_client: bool,
    kind: u8, // 6 tcp, 17 udp, 1 icmp
    /// Sum of the words the patch replaces (src, dst, ports, seq, ack).
    old_sum: u32,
    seq: u32,
    ack: u32,
    has_ack: bool,
    sport: u16,
    dport: u16,
    ip_sum_old: u32,
}

struct Template {
    frames: Vec<Frame>,
    weight: u32,
    client: [u8; 4],
    server: [u8; 4],
    /// (IP protocol, server port) of the flow.
    kind: (u8, u16),
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn words4(a: [u8; 4]) -> u32 {
    u32::from(u16::from_be_bytes([a[0], a[1]])) + u32::from(u16::from_be_bytes([a[2], a[3]]))
}

fn words32(v: u32) -> u32 {
    (v >> 16) + (v & 0xffff)
}

/// RFC 1624 eq. 3: HC' = ~(~HC + ~m + m').
fn adjust(csum: u16, old: u32, new: u32) -> u16 {
    let s = u32::from(!csum) + u32::from(!fold(old)) + u32::from(fold(new));
    !fold(s)
}

fn get4(b: &[u8], o: usize) -> [u8; 4] {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(o..o + 4) {
        a.copy_from_slice(s);
    }
    a
}

fn get16(b: &[u8], o: usize) -> u16 {
    match b.get(o..o + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn prepare(flows: Vec<Vec<TemplateFrame>>) -> Vec<Template> {
    let mut out = Vec::new();
    for f in flows {
        let Some(first) = f.first() else { continue };
        let b = &first.bytes;
        let (src, dst) = (get4(b, 26), get4(b, 30));
        let (client, server) = if first.from_client {
            (src, dst)
        } else {
            (dst, src)
        };
        let proto = b.get(23).copied().unwrap_or(0);
        let dport = if first.from_client {
            get16(b, 36)
        } else {
            get16(b, 34)
        };
        // Share of flows per kind (percent); split among the kind's templates below.
        let weight = match (proto, dport) {
            (6, 443) => 30,
            (6, 80) => 25,
            (17, 53) => 20,
            (6, 22) => 5,
            (6, 6667) => 5,
            (17, _) => 10,
            _ => 5,
        };
        let frames = f
            .into_iter()
            .map(|tf| {
                let b = &tf.bytes;
                let kind = b.get(23).copied().unwrap_or(0);
                let (s4, d4) = (get4(b, 26), get4(b, 30));
                let ip_sum_old = words4(s4) + words4(d4);
                let (sport, dport) = (get16(b, 34), get16(b, 36));
                let (seq, ack) = (
                    u32::from_be_bytes(get4(b, 38)),
                    u32::from_be_bytes(get4(b, 42)),
                );
                let has_ack = kind == 6 && b.get(47).is_some_and(|f| f & 0x10 != 0);
                let old_sum = match kind {
                    6 => {
                        ip_sum_old
                            + u32::from(sport)
                            + u32::from(dport)
                            + words32(seq)
                            + words32(ack)
                    }
                    17 => ip_sum_old + u32::from(sport) + u32::from(dport),
                    _ => 0,
                };
                Frame {
                    rel: tf.rel,
                    kind,
                    old_sum,
                    seq,
                    ack,
                    has_ack,
                    sport,
                    dport,
                    ip_sum_old,
                    from_client: tf.from_client,
                    bytes: tf.bytes,
                }
            })
            .collect();
        out.push(Template {
            frames,
            weight,
            client,
            server,
            kind: (proto, dport),
        });
    }
    // Each kind keeps its share however many templates it has.
    let mut per_kind: std::collections::BTreeMap<(u8, u16), u32> =
        std::collections::BTreeMap::new();
    for t in &out {
        *per_kind.entry(t.kind).or_default() += 1;
    }
    for t in &mut out {
        let n = per_kind.get(&t.kind).copied().unwrap_or(1).max(1);
        t.weight = (t.weight * 1000 / n).max(1);
    }
    out
}

/// One running flow instance.
struct Inst {
    t: usize,
    next: usize,
    start: i64,
    client: [u8; 4],
    server: [u8; 4],
    cport: u16,
    dc: u32,
    ds: u32,
}

fn public_addr(rng: &mut ChaCha8Rng) -> [u8; 4] {
    loop {
        let a: [u8; 4] = rng.r#gen();
        match a[0] {
            0 | 10 | 127 | 224..=255 => continue,
            172 if (16..32).contains(&a[1]) => continue,
            192 if a[1] == 168 => continue,
            _ => return a,
        }
    }
}

/// Writes a benign background capture of about `size_bytes` bytes (pcap
/// headers included; the last frame may overshoot by one frame) to `w`.
/// Deterministic for a seed.
pub fn write_background<W: Write>(
    size_bytes: u64,
    seed: u64,
    mut w: W,
) -> io::Result<BackgroundStats> {
    let flows = template_flows(TEMPLATES).map_err(|e| io::Error::other(e.to_string()))?;
    let templates = prepare(flows);
    if templates.is_empty() {
        return Err(io::Error::other("no background templates"));
    }
    let total_w: u32 = templates.iter().map(|t| t.weight).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats = BackgroundStats::default();
    let mut buf: Vec<u8> = Vec::with_capacity(BUF + 70_000);
    buf.extend_from_slice(&pcap::file_header());
    stats.bytes = 24;
    let t0: i64 = 1_082_451_600 * 1_000_000_000; // 2004-04-20T09:00:00Z
    let mut insts: Vec<Inst> = Vec::with_capacity(CONCURRENT);
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::with_capacity(CONCURRENT);
    let spawn = |rng: &mut ChaCha8Rng, at: i64, stats: &mut BackgroundStats| -> Inst {
        let mut pick = rng.gen_range(0..total_w);
        let mut t = 0;
        for (i, tp) in templates.iter().enumerate() {
            if pick < tp.weight {
                t = i;
                break;
            }
            pick -= tp.weight;
        }
        stats.flows += 1;
        let c: u32 = rng.gen_range(0..(1 << 20));
        Inst {
            t,
            next: 0,
            start: at,
            client: [10, (c >> 16) as u8 & 0x0f, (c >> 8) as u8, (c as u8).max(1)],
            server: public_addr(rng),
            cport: rng.gen_range(1025..65535),
            dc: rng.r#gen(),
            ds: rng.r#gen(),
        }
    };
    for i in 0..CONCURRENT {
        let at = t0 + rng.gen_range(0..2_000_000_000);
        let inst = spawn(&mut rng, at, &mut stats);
        heap.push(Reverse((at, i)));
        insts.push(inst);
    }
    while stats.bytes < size_bytes {
        let Some(Reverse((now, i))) = heap.pop() else {
            break;
        };
        let inst = &mut insts[i];
        let tp = &templates[inst.t];
        let Some(fr) = tp.frames.get(inst.next) else {
            // Flow done: start another a little later in the same slot.
            let at = now + rng.gen_range(1_000_000..50_000_000);
            *inst = spawn(&mut rng, at, &mut stats);
            heap.push(Reverse((at, i)));
            continue;
        };
        let ts = inst.start + fr.rel;
        let len = fr.bytes.len();
        buf.extend_from_slice(&pcap::record_header(ts, len));
        let at = buf.len();
        buf.extend_from_slice(&fr.bytes);
        let f = &mut buf[at..at + len];
        patch(f, fr, inst, tp);
        stats.frames += 1;
        stats.bytes += 16 + len as u64;
        inst.next += 1;
        let next_ts = tp.frames.get(inst.next).map_or(ts, |n| inst.start + n.rel);
        heap.push(Reverse((next_ts.max(now), i)));
        if buf.len() >= BUF {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.flush()?;
    Ok(stats)
}

fn patch(f: &mut [u8], fr: &Frame, inst: &Inst, tp: &Template) {
    if f.len() < 34 {
        return;
    }
    let (src, dst) = if fr.from_client {
        (inst.client, inst.server)
    } else {
        (inst.server, inst.client)
    };
    let _ = (tp.client, tp.server);
    // MACs: the internal side's MAC follows its address.
    let mac_at = if fr.from_client { 8 } else { 2 };
    f[mac_at..mac_at + 4].copy_from_slice(&inst.client);
    // IP addresses and header checksum.
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    let new_ip = words4(src) + words4(dst);
    let c = adjust(get16(f, 24), fr.ip_sum_old, new_ip);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    match fr.kind {
        6 if f.len() >= 54 => {
            let (sport, dport, seq, ack) = if fr.from_client {
                (
                    inst.cport,
                    fr.dport,
                    fr.seq.wrapping_add(inst.dc),
                    if fr.has_ack {
                        fr.ack.wrapping_add(inst.ds)
                    } else {
                        fr.ack
                    },
                )
            } else {
                (
                    fr.sport,
                    inst.cport,
                    fr.seq.wrapping_add(inst.ds),
                    if fr.has_ack {
                        fr.ack.wrapping_add(inst.dc)
                    } else {
                        fr.ack
                    },
                )
            };
            f[34..36].copy_from_slice(&sport.to_be_bytes());
            f[36..38].copy_from_slice(&dport.to_be_bytes());
            f[38..42].copy_from_slice(&seq.to_be_bytes());
            f[42..46].copy_from_slice(&ack.to_be_bytes());
            let new = new_ip + u32::from(sport) + u32::from(dport) + words32(seq) + words32(ack);
            let c = adjust(get16(f, 50), fr.old_sum, new);
            f[50..52].copy_from_slice(&c.to_be_bytes());
        }
        17 if f.len() >= 42 => {
            let (sport, dport) = if fr.from_client {
                (inst.cport, fr.dport)
            } else {
                (fr.sport, inst.cport)
            };
            // NTP keeps 123 on both sides.
            let (sport, dport) = if fr.sport == 123 && fr.dport == 123 {
                (123, 123)
            } else {
                (sport, dport)
            };
            f[34..36].copy_from_slice(&sport.to_be_bytes());
            f[36..38].copy_from_slice(&dport.to_be_bytes());
            let new = new_ip + u32::from(sport) + u32::from(dport);
            let old = get16(f, 40);
            if old != 0 {
                let mut c = adjust(old, fr.old_sum, new);
                if c == 0 {
                    c = 0xffff;
                }
                f[40..42].copy_from_slice(&c.to_be_bytes());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{checksum, checksum_add, checksum_finish};

    #[test]
    fn incremental_checksum_matches_recomputation() {
        let mut hdr = vec![
            0x45u8, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 192, 0, 2, 1,
        ];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        let old = words4([10, 0, 0, 1]) + words4([192, 0, 2, 1]);
        hdr[12..16].copy_from_slice(&[10, 3, 7, 9]);
        hdr[16..20].copy_from_slice(&[203, 0, 113, 200]);
        let new = words4([10, 3, 7, 9]) + words4([203, 0, 113, 200]);
        let adj = adjust(c, old, new);
        hdr[10..12].copy_from_slice(&adj.to_be_bytes());
        assert_eq!(checksum(&hdr), 0);
        let _ = (checksum_add, checksum_finish);
    }

    fn verify_frame(f: &[u8]) {
        assert_eq!(checksum(&f[14..34]), 0, "IP checksum");
        let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
        let l4 = &f[34..14 + total];
        let proto = f[23];
        if proto == 6 || proto == 17 {
            if proto == 17 && l4[6..8] == [0, 0] {
                return;
            }
            let mut s = checksum_add(0, &f[26..34]);
            s = s
                .wrapping_add(u32::from(proto))
                .wrapping_add(l4.len() as u32);
            s = checksum_add(s, l4);
            assert_eq!(checksum_finish(s), 0, "L4 checksum proto {proto}");
        }
    }

    #[test]
    fn background_is_deterministic_with_valid_checksums() {
        let mut a = Vec::new();
        let st = write_background(3 << 20, 11, &mut a).unwrap();
        assert!(st.bytes >= 3 << 20);
        assert_eq!(st.bytes as usize, a.len());
        let mut b = Vec::new();
        write_background(3 << 20, 11, &mut b).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_background(3 << 20, 12, &mut c).unwrap();
        assert_ne!(a, c);
        // Walk the records: timestamps never go backwards, every checksum verifies.
        let mut p = 24;
        let mut last = 0u64;
        let mut n = 0;
        while p + 16 <= a.len() {
            let secs = u64::from(u32::from_le_bytes([a[p], a[p + 1], a[p + 2], a[p + 3]]));
            let us = u64::from(u32::from_le_bytes([a[p + 4], a[p + 5], a[p + 6], a[p + 7]]));
            let len = u32::from_le_bytes([a[p + 8], a[p + 9], a[p + 10], a[p + 11]]) as usize;
            let t = secs * 1_000_000 + us;
            assert!(t >= last, "time went backwards at record {n}");
            last = t;
            verify_frame(&a[p + 16..p + 16 + len]);
            p += 16 + len;
            n += 1;
        }
        assert_eq!(p, a.len());
        assert_eq!(n as u64, st.frames);
    }
}

/// What [`write_small_packets`] wrote.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SmallPacketStats {
    /// Frames written (each 64 bytes on the wire).
    pub frames: u64,
    /// Bytes written, pcap headers included.
    pub bytes: u64,
    /// Distinct flows.
    pub flows: u64,
}

fn csum_add(mut sum: u32, b: &[u8]) -> u32 {
    let mut it = b.chunks_exact(2);
    for c in &mut it {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [x] = it.remainder() {
        sum += u32::from(*x) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes 64-byte frames (Ethernet + IPv4 + TCP or UDP + a few payload bytes)
/// spread round-robin over `flows` concurrent flows: the worst case for per-packet
/// cost, and — with many flows — for flow-table memory. Half the flows are TCP
/// (a SYN, then ACK-flagged segments carrying 6 bytes), half UDP. Packets are
/// 1 µs apart, so every flow stays alive for the whole capture as long as
/// `flows` µs is below the flow timeouts. Deterministic for a given `seed`.
pub fn write_small_packets<W: Write>(
    size_bytes: u64,
    flows: u32,
    seed: u64,
    mut w: W,
) -> io::Result<SmallPacketStats> {
    let flows = flows.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let salt: u16 = rng.r#gen();
    let mut stats = SmallPacketStats {
        flows: u64::from(flows),
        ..SmallPacketStats::default()
    };
    let mut buf: Vec<u8> = Vec::with_capacity(BUF + 128);
    buf.extend_from_slice(&pcap::file_header());
    stats.bytes = 24;
    let t0: i64 = 1_082_451_600 * 1_000_000_000;
    let mut seqs: Vec<u32> = vec![0; flows as usize];
    let mut k: u64 = 0;
    while stats.bytes + 80 <= size_bytes.max(24 + 80) {
        let f = (k % u64::from(flows)) as u32;
        let round = k / u64::from(flows);
        let tcp = f.is_multiple_of(2);
        let src = [10, (f >> 16) as u8, (f >> 8) as u8, f as u8];
        let dst = [192, 0, 2, (f % 250) as u8 + 1];
        let sport = 1024 + (f % 60_000) as u16;
        let dport: u16 = if tcp { 443 } else { 53 };
        let mut fr = [0u8; 64];
        fr[0..6].copy_from_slice(&[0x00, 0x16, 0x3e, 0x00, 0x00, 0x02]);
        fr[6..12].copy_from_slice(&[0x00, 0x16, 0x3e, 0x00, 0x00, 0x01]);
        fr[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut fr[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&50u16.to_be_bytes());
        ip[4..6].copy_from_slice(&((k as u16) ^ salt).to_be_bytes());
        ip[8] = 64;
        ip[9] = if tcp { 6 } else { 17 };
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        let c = csum_fold(csum_add(0, ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let l4_len: u16 = 30;
        let mut pseudo = csum_add(0, &src);
        pseudo = csum_add(pseudo, &dst);
        pseudo += u32::from(if tcp { 6u16 } else { 17 }) + u32::from(l4_len);
        if tcp {
            let seq = seqs.get(f as usize).copied().unwrap_or(0);
            let t = &mut fr[34..64];
            t[0..2].copy_from_slice(&sport.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[4..8].copy_from_slice(&seq.to_be_bytes());
            t[12] = 0x50;
            t[13] = if round == 0 { 0x02 } else { 0x18 };
            t[14..16].copy_from_slice(&64_240u16.to_be_bytes());
            t[24..30].copy_from_slice(b"ping\r\n");
            let c = csum_fold(csum_add(pseudo, t));
            t[16..18].copy_from_slice(&c.to_be_bytes());
            if let Some(s) = seqs.get_mut(f as usize) {
                *s = seq.wrapping_add(if round == 0 { 1 } else { 6 });
            }
        } else {
            let u = &mut fr[34..64];
            u[0..2].copy_from_slice(&sport.to_be_bytes());
            u[2..4].copy_from_slice(&dport.to_be_bytes());
            u[4..6].copy_from_slice(&l4_len.to_be_bytes());
            u[8..30].copy_from_slice(b"small udp payload 0123");
            let c = csum_fold(csum_add(pseudo, u));
            u[6..8].copy_from_slice(&c.to_be_bytes());
        }
        buf.extend_from_slice(&pcap::record_header(t0 + (k as i64) * 1000, 64));
        buf.extend_from_slice(&fr);
        stats.frames += 1;
        stats.bytes += 80;
        k += 1;
        if buf.len() >= BUF {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.flush()?;
    Ok(stats)
}

#[cfg(test)]
mod small_tests {
    use super::*;

    #[test]
    fn small_packets_are_64_bytes_and_deterministic() {
        let mut a = Vec::new();
        let s = write_small_packets(24 + 80 * 10, 4, 1, &mut a).unwrap();
        assert_eq!(s.frames, 10);
        assert_eq!(a.len(), 24 + 80 * 10);
        let mut b = Vec::new();
        write_small_packets(24 + 80 * 10, 4, 1, &mut b).unwrap();
        assert_eq!(a, b);
        // Every record holds a 64-byte frame.
        for i in 0..10 {
            let off = 24 + i * 80;
            assert_eq!(
                u32::from_le_bytes(a[off + 8..off + 12].try_into().unwrap()),
                64
            );
        }
    }
}
