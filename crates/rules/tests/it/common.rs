//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared data folder: `STORMWATCH_SHARED`, else `<workspace>/../shared`,
/// else `/work/shared`; None (test prints "skipped") when none exists.
pub fn shared() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STORMWATCH_SHARED") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return Some(p);
        }
    }
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for c in [ws.join("../shared"), PathBuf::from("/work/shared")] {
        if c.is_dir() {
            return Some(c);
        }
    }
    println!("skipped: shared data not found");
    None
}

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use stormwatch_model::{
    Alert, AppProto, Backing, BufferId, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp,
    TxField, TxView,
};
use stormwatch_rules::{
    FlowInfo, FlowState, PacketInput, RuleSet, RulesConfig, StreamInput, TxInput,
};
use stormwatch_wire::{LinkType, decode_frame};

/// Client and server of the test flows.
pub const CLIENT: [u8; 4] = [192, 168, 1, 10];
/// Server address.
pub const SERVER: [u8; 4] = [203, 0, 113, 7];

/// A raw-IP IPv4 frame.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + l4.len()).unwrap();
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x40, 0, ttl, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let ck = stormwatch_wire::checksum(&p).to_be_bytes();
    p[10] = ck[0];
    p[11] = ck[1];
    p.extend_from_slice(l4);
    p
}

/// A raw-IP IPv4/TCP frame.
pub fn tcp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&1000u32.to_be_bytes());
    t.extend_from_slice(&2000u32.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let ck = stormwatch_wire::ipv4_pseudo_checksum(src.into(), dst.into(), 6, &t).to_be_bytes();
    t[16] = ck[0];
    t[17] = ck[1];
    ipv4(src, dst, 6, 64, &t)
}

/// A raw-IP IPv4/UDP frame.
pub fn udp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sp.to_be_bytes());
    u.extend_from_slice(&dp.to_be_bytes());
    u.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4(src, dst, 17, 64, &u)
}

/// A raw-IP ICMP echo request.
pub fn icmp_echo(src: [u8; 4], dst: [u8; 4], id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut i = vec![8, 0, 0, 0];
    i.extend_from_slice(&id.to_be_bytes());
    i.extend_from_slice(&seq.to_be_bytes());
    i.extend_from_slice(payload);
    let ck = stormwatch_wire::checksum(&i).to_be_bytes();
    i[2] = ck[0];
    i[3] = ck[1];
    ipv4(src, dst, 1, 64, &i)
}

/// TCP flag bytes.
pub const SYN: u8 = 0x02;
/// ACK.
pub const ACK: u8 = 0x10;
/// PSH|ACK.
pub const PA: u8 = 0x18;

/// Builds a rule set that must load completely.
pub fn rules(text: &str) -> RuleSet {
    let (rs, rep) = RuleSet::from_text("test.rules", text, &RulesConfig::default());
    assert!(
        rep.skips.is_empty(),
        "unexpected skips:\n{rep}\n{:?}",
        rep.skips
    );
    rs
}

/// Signature ids of alerts, in order.
pub fn sids(a: &[Alert]) -> Vec<u32> {
    a.iter().map(|a| a.sig.sid).collect()
}

/// A test flow between CLIENT:sp and SERVER:dp.
pub struct Flow {
    /// The flow facts handed to the rules.
    pub info: FlowInfo,
    /// The rule state.
    pub fs: FlowState,
    /// Alerts so far.
    pub alerts: Vec<Alert>,
    /// Packet clock (seconds).
    pub t: i64,
    /// Per direction: stream offsets of the next raw chunk and of the next
    /// chunk handed to the application layer.
    pub raw_off: [u64; 2],
    pub app_off: [u64; 2],
}

impl Flow {
    /// A TCP (proto 6) or UDP (17) flow, established, stream-tracked for TCP.
    pub fn new(proto: u8, sp: u16, dp: u16) -> Flow {
        Flow::between(CLIENT, SERVER, proto, sp, dp)
    }

    /// Like [`Flow::new`] between given hosts.
    pub fn between(client: [u8; 4], server: [u8; 4], proto: u8, sp: u16, dp: u16) -> Flow {
        let key = FlowKey {
            src: IpAddr::V4(Ipv4Addr::from(client)),
            dst: IpAddr::V4(Ipv4Addr::from(server)),
            src_port: sp,
            dst_port: dp,
            proto: IpProto(proto),
            vlan: [0, 0],
        };
        let mut info = FlowInfo::new(
            FlowId(7),
            key,
            Direction::ToServer,
            Timestamp::from_secs_nanos(1000, 0),
        );
        info.established = true;
        info.stream_tracked = proto == 6;
        Flow {
            info,
            fs: FlowState::default(),
            alerts: Vec::new(),
            t: 1000,
            raw_off: [0; 2],
            app_off: [0; 2],
        }
    }

    /// Sets the application protocol.
    pub fn app(mut self, p: AppProto) -> Flow {
        self.info.app_proto = p;
        self
    }

    fn ts(&mut self) -> Timestamp {
        self.t += 1;
        Timestamp::from_secs_nanos(self.t, 0)
    }

    /// One packet in direction `dir` with TCP flags (ignored for UDP).
    pub fn packet(&mut self, rs: &RuleSet, dir: Direction, flags: u8, payload: &[u8]) -> Vec<u32> {
        let k = self.info.key;
        let (IpAddr::V4(c), IpAddr::V4(s)) = (k.src, k.dst) else {
            unreachable!()
        };
        let (src, sp, dst, dp) = match dir {
            Direction::ToServer => (c.octets(), k.src_port, s.octets(), k.dst_port),
            Direction::ToClient => (s.octets(), k.dst_port, c.octets(), k.src_port),
        };
        let frame = if k.proto == IpProto::TCP {
            tcp(src, sp, dst, dp, flags, payload)
        } else {
            udp(src, sp, dst, dp, payload)
        };
        let d = decode_frame(LinkType::RAW, &frame);
        let mut info = self.info;
        info.dir = dir;
        let ts = self.ts();
        let before = self.alerts.len();
        rs.match_packet(
            &PacketInput {
                ts,
                pkt: &d,
                frame: &frame,
                flow: Some(info),
            },
            Some(&mut self.fs),
            &mut self.alerts,
        );
        sids(&self.alerts[before..])
    }

    /// One packet and, for stream-tracked TCP, its payload as a stream chunk.
    pub fn send(&mut self, rs: &RuleSet, dir: Direction, payload: &[u8]) -> Vec<u32> {
        let mut v = self.packet(rs, dir, PA, payload);
        if self.info.stream_tracked && !payload.is_empty() {
            v.extend(self.chunk(rs, dir, StreamData::Bytes(payload)));
        }
        v
    }

    /// One stream chunk.
    pub fn chunk(&mut self, rs: &RuleSet, dir: Direction, data: StreamData<'_>) -> Vec<u32> {
        self.chunk_with(rs, dir, data, None)
    }

    /// One stream chunk of bytes that may be a slice of `capture` (the window
    /// then refers to them there).
    pub fn chunk_in(
        &mut self,
        rs: &RuleSet,
        dir: Direction,
        data: &[u8],
        capture: &Backing,
    ) -> Vec<u32> {
        self.chunk_with(rs, dir, StreamData::Bytes(data), Some(capture))
    }

    fn chunk_with(
        &mut self,
        rs: &RuleSet,
        dir: Direction,
        data: StreamData<'_>,
        backing: Option<&Backing>,
    ) -> Vec<u32> {
        let before = self.alerts.len();
        let input = self.next_input(dir, data, backing, false);
        rs.match_stream(&input, &mut self.fs, &mut self.alerts);
        sids(&self.alerts[before..])
    }

    /// One chunk handed to the application layer (before its parser sees
    /// it, as the engine does; the raw stream gets it with [`Flow::chunk`]).
    pub fn app_chunk(&mut self, rs: &RuleSet, dir: Direction, data: StreamData<'_>) {
        let input = self.next_input(dir, data, None, true);
        rs.note_app_stream(&input, &mut self.fs);
    }

    /// `a` then `b` handed to the application layer, the raw stream getting
    /// only `a` (a chunk behind, as with Suricata's on-ack timing).
    pub fn raw_behind(&mut self, rs: &RuleSet, dir: Direction, a: &[u8], b: &[u8]) {
        self.app_chunk(rs, dir, StreamData::Bytes(a));
        self.chunk(rs, dir, StreamData::Bytes(a));
        self.app_chunk(rs, dir, StreamData::Bytes(b));
    }

    /// A chunk of direction `dir` at the next stream offset of the
    /// application layer (`app`) or of the raw stream.
    fn next_input<'a>(
        &mut self,
        dir: Direction,
        data: StreamData<'a>,
        backing: Option<&'a Backing>,
        app: bool,
    ) -> StreamInput<'a> {
        let mut flow = self.info;
        flow.dir = dir;
        let ts = self.ts();
        let offs = if app {
            &mut self.app_off
        } else {
            &mut self.raw_off
        };
        let offset = offs[dir.index()];
        offs[dir.index()] += data.len() as u64;
        StreamInput {
            ts,
            flow,
            data,
            offset,
            frame: &[],
            backing,
        }
    }

    /// One transaction update.
    pub fn tx(&mut self, rs: &RuleSet, dir: Direction, tx: &MockTx) -> Vec<u32> {
        let mut info = self.info;
        info.dir = dir;
        let ts = self.ts();
        let before = self.alerts.len();
        rs.match_tx(
            &TxInput {
                ts,
                flow: info,
                frame: &[],
                payload: &[],
            },
            tx,
            &mut self.fs,
            &mut self.alerts,
        );
        sids(&self.alerts[before..])
    }
}

/// A transaction made of named buffers and fields.
#[derive(Default)]
pub struct MockTx {
    /// Protocol.
    pub proto: AppProto,
    /// Id.
    pub id: u64,
    /// Buffers (several instances possible).
    pub bufs: BTreeMap<BufferId, Vec<Vec<u8>>>,
    /// Fields.
    pub fields: Vec<(TxField, u64)>,
}

impl MockTx {
    /// An empty transaction of `proto`.
    pub fn new(proto: AppProto, id: u64) -> MockTx {
        MockTx {
            proto,
            id,
            ..MockTx::default()
        }
    }

    /// Adds a buffer instance.
    pub fn buf(mut self, b: BufferId, v: &[u8]) -> MockTx {
        self.bufs.entry(b).or_default().push(v.to_vec());
        self
    }

    /// Sets a field.
    pub fn field(mut self, f: TxField, v: u64) -> MockTx {
        self.fields.push((f, v));
        self
    }
}

impl TxView for MockTx {
    fn app_proto(&self) -> AppProto {
        self.proto
    }
    fn tx_id(&self) -> u64 {
        self.id
    }
    fn buffer_count(&self, id: BufferId) -> usize {
        self.bufs.get(&id).map_or(0, Vec::len)
    }
    fn buffer(&self, id: BufferId, idx: usize) -> Option<&[u8]> {
        self.bufs
            .get(&id)
            .and_then(|v| v.get(idx))
            .map(Vec::as_slice)
    }
    fn field(&self, f: TxField) -> Option<u64> {
        self.fields.iter().find(|x| x.0 == f).map(|x| x.1)
    }
    /// Every value set for `f`, in the order set.
    fn field_values(&self, f: TxField, out: &mut Vec<u64>) {
        out.extend(self.fields.iter().filter(|x| x.0 == f).map(|x| x.1));
    }
    fn complete(&self, _dir: Direction) -> bool {
        true
    }
}
