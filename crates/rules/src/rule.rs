//! The validated, compiled form of one rule.

use crate::header::{AddrSet, PortSet};
use memchr::memmem;
use std::sync::Arc;
use stormwatch_model::{AppProto, BufferId, SignatureInfo, TxField};

/// A number that is either written in the rule or read by `byte_extract` /
/// `byte_math` into a variable slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Num {
    Lit(i64),
    Var(usize),
}

/// Maximum `byte_extract`/`byte_math` variables per rule.
pub(crate) const MAX_VARS: usize = 8;

/// Comparison of one integer (`dsize`, `ttl`, `urilen`, `bsize`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq(u64),
    Ne(u64),
    Lt(u64),
    Le(u64),
    Gt(u64),
    Ge(u64),
    /// Exclusive range `a<>b`: a < x < b.
    Between(u64, u64),
    /// Inclusive range `a-b` (ttl).
    Within(u64, u64),
}

impl Cmp {
    pub(crate) fn test(self, x: u64) -> bool {
        match self {
            Cmp::Eq(a) => x == a,
            Cmp::Ne(a) => x != a,
            Cmp::Lt(a) => x < a,
            Cmp::Le(a) => x <= a,
            Cmp::Gt(a) => x > a,
            Cmp::Ge(a) => x >= a,
            Cmp::Between(a, b) => x > a && x < b,
            Cmp::Within(a, b) => x >= a && x <= b,
        }
    }
}

/// `fast_pattern` choice on a content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FastPat {
    No,
    Yes,
    Only,
    Chop(u16, u16),
}

/// A `content` with its modifiers.
#[derive(Clone, Debug)]
pub(crate) struct Content {
    pub(crate) pat: Vec<u8>,
    pub(crate) nocase: bool,
    pub(crate) negated: bool,
    pub(crate) offset: Option<Num>,
    pub(crate) depth: Option<Num>,
    pub(crate) distance: Option<Num>,
    pub(crate) within: Option<Num>,
    pub(crate) startswith: bool,
    pub(crate) endswith: bool,
    pub(crate) fast: FastPat,
    /// Case-sensitive finder, built when the content is first searched
    /// (most rules are never evaluated in a run: building every finder
    /// took ≈ 18 M instructions of loading all ET rules). Boxed: a finder
    /// has ≈ 300 bytes, which every content (≈ 30,000 of all ET rules)
    /// carried unbuilt.
    pub(crate) finder: std::sync::OnceLock<Box<memmem::Finder<'static>>>,
    /// Lower-cased pattern for `nocase`.
    pub(crate) lower: Vec<u8>,
}

impl Content {
    pub(crate) fn new(pat: Vec<u8>, negated: bool) -> Content {
        Content {
            pat,
            nocase: false,
            negated,
            offset: None,
            depth: None,
            distance: None,
            within: None,
            startswith: false,
            endswith: false,
            fast: FastPat::No,
            finder: std::sync::OnceLock::new(),
            lower: Vec::new(),
        }
    }
    pub(crate) fn is_relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
    pub(crate) fn finish(&mut self) {
        self.lower = self.pat.to_ascii_lowercase();
    }

    /// The case-sensitive finder of the pattern (see `finder`).
    pub(crate) fn finder(&self) -> &memmem::Finder<'static> {
        self.finder
            .get_or_init(|| Box::new(memmem::Finder::new(&self.pat).into_owned()))
    }
}

/// A compiled `pcre`: checked (interpreted form) at load time, JIT-compiled
/// on first use so loading stays fast.
#[derive(Debug)]
pub(crate) struct Pcre {
    pub(crate) re: pcre2::bytes::Regex,
    pub(crate) jit: std::sync::OnceLock<Option<pcre2::bytes::Regex>>,
    pub(crate) source: String,
    pub(crate) flags: PcreFlags,
    pub(crate) relative: bool,
    pub(crate) negated: bool,
    pub(crate) anchored: bool,
}

/// Compile flags of a `pcre`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PcreFlags {
    pub(crate) caseless: bool,
    pub(crate) dotall: bool,
    pub(crate) multi_line: bool,
    pub(crate) extended: bool,
}

impl PcreFlags {
    pub(crate) fn builder(&self, jit: bool) -> pcre2::bytes::RegexBuilder {
        let mut b = pcre2::bytes::RegexBuilder::new();
        b.caseless(self.caseless)
            .dotall(self.dotall)
            .multi_line(self.multi_line)
            .extended(self.extended)
            .jit_if_available(jit);
        b
    }
}

impl Pcre {
    /// The regex to match with (JIT when available).
    pub(crate) fn regex(&self) -> &pcre2::bytes::Regex {
        self.jit
            .get_or_init(|| self.flags.builder(true).build(&self.source).ok())
            .as_ref()
            .unwrap_or(&self.re)
    }
}

/// Where and how `byte_*` read their number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteRead {
    /// Bytes to read (the upper bound when `nbytes_var` is set).
    pub(crate) nbytes: u8,
    /// The byte count is a `byte_extract` / `byte_math` variable, read at
    /// match time (Suricata 7); above `nbytes` it does not match, 0 reads
    /// nothing (value 0, position unchanged) as in Suricata.
    pub(crate) nbytes_var: Option<usize>,
    pub(crate) offset: Num,
    pub(crate) relative: bool,
    pub(crate) little: bool,
    /// `string` with base 8, 10 or 16.
    pub(crate) string: Option<u32>,
    pub(crate) bitmask: Option<u64>,
}

/// `byte_test` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ByteOp {
    Lt,
    Gt,
    Eq,
    Le,
    Ge,
    And,
    Xor,
}

/// `byte_math` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Shl,
    Shr,
}

/// One inspection step on a buffer, in rule order.
#[derive(Debug)]
pub(crate) enum Op {
    Content(Box<Content>),
    Pcre(Box<Pcre>),
    ByteTest {
        rd: ByteRead,
        op: ByteOp,
        negate: bool,
        value: Num,
    },
    ByteJump {
        rd: ByteRead,
        multiplier: i64,
        align: bool,
        from_beginning: bool,
        from_end: bool,
        post_offset: i64,
    },
    ByteExtract {
        rd: ByteRead,
        multiplier: i64,
        align: u8,
        var: usize,
    },
    ByteMath {
        rd: ByteRead,
        op: MathOp,
        rvalue: Num,
        var: usize,
    },
    IsDataAt {
        n: Num,
        relative: bool,
        negated: bool,
    },
    Base64Decode {
        bytes: u32,
        offset: u32,
        relative: bool,
    },
    /// Following steps inspect the `base64_decode` output.
    Base64Data,
    /// `bsize` / `urilen`: the whole buffer's length.
    Len(Cmp),
    /// `asn1` checks from an offset.
    Asn1(Asn1),
}

impl Op {
    /// True when this step starts from the previous step's end.
    pub(crate) fn is_relative(&self) -> bool {
        match self {
            Op::Content(c) => c.is_relative(),
            Op::Pcre(p) => p.relative,
            Op::ByteTest { rd, .. }
            | Op::ByteJump { rd, .. }
            | Op::ByteExtract { rd, .. }
            | Op::ByteMath { rd, .. } => rd.relative,
            Op::IsDataAt { relative, .. } => *relative,
            Op::Base64Decode { relative, .. } => *relative,
            Op::Asn1(a) => a.relative_offset.is_some(),
            Op::Base64Data | Op::Len(_) => false,
        }
    }
}

/// `asn1` options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Asn1 {
    pub(crate) bitstring_overflow: bool,
    pub(crate) double_overflow: bool,
    pub(crate) oversize_length: Option<u32>,
    pub(crate) absolute_offset: Option<u32>,
    pub(crate) relative_offset: Option<i32>,
}

/// Packet header checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PktCheck {
    Dsize(Cmp),
    /// TCP flags: (modifier, flags, ignore mask).
    Flags(FlagMod, u8, u8),
    Ttl(Cmp),
    Tos(bool, u8),
    IpId(u16),
    IpProto(Cmp),
    Itype(Cmp),
    Icode(Cmp),
    IcmpId(u16),
    IcmpSeq(u16),
    Seq(u32),
    Ack(u32),
    Window(bool, u16),
    /// IPv4 option type (`any` = None).
    Ipopts(Option<u8>),
    /// fragbits: (modifier, bits M=1 D=2 R=4).
    Fragbits(FlagMod, u8),
    Fragoffset(Cmp),
    SameIp,
}

/// Flag-set modifier (`flags`, `fragbits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlagMod {
    Exact,
    Plus,
    Any,
    Not,
}

/// `flow` options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FlowOpts {
    pub(crate) present: bool,
    pub(crate) to_server: bool,
    pub(crate) to_client: bool,
    pub(crate) established: bool,
    pub(crate) not_established: bool,
    pub(crate) stateless: bool,
    pub(crate) only_stream: bool,
    pub(crate) no_stream: bool,
}

/// A `flowbits` operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Flowbit {
    Set(u32),
    Unset(u32),
    Toggle(u32),
    /// isset over names: `all` (a&b) or any (a|b).
    IsSet(Vec<u32>, bool),
    IsNotSet(Vec<u32>, bool),
}

/// `app-layer-protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AlpCheck {
    pub(crate) proto: AppProto,
    pub(crate) negated: bool,
    /// Restrict to one direction's protocol.
    pub(crate) dir: Option<stormwatch_model::Direction>,
}

/// Which values of a multi-integer field must pass its comparison
/// (Suricata's `value,index[,start:end]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MultiIndex {
    /// Any value (the default).
    Any,
    /// Every value, and there is at least one.
    All,
    /// Every value, or there is none.
    AllOrAbsent,
    /// Any value, or there is none.
    OrAbsent,
    /// The value at this index (negative: from the end); `oob_or`: also
    /// when there is no such index.
    At { at: i32, oob_or: bool },
    /// The number of values that pass is compared.
    Nb(Cmp),
    /// The number of values is compared (`count <cmp>`; no value compared).
    Count(Cmp),
}

/// A scalar transaction check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxCheck {
    /// Field compared to a number.
    Field(TxField, Cmp),
    /// A multi-integer field: its values in `slice` (start, end: negative
    /// from the end, an end of 0 the end) tested by `index`.
    Multi {
        field: TxField,
        cmp: Cmp,
        index: MultiIndex,
        slice: (i32, i32),
    },
    /// Bitmask field: any of `mask` set (xor negated), `all` for AND.
    Mask {
        field: TxField,
        mask: u64,
        negated: bool,
    },
    /// ssl_version: match when any listed version (positive) is present, and
    /// none of the negated ones.
    Versions { any_of: u64, none_of: u64 },
}

/// `threshold` / `detection_filter` tracking.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Track {
    BySrc,
    ByDst,
    ByRule,
    ByBoth,
    ByFlow,
}

/// Threshold kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThKind {
    Limit,
    Threshold,
    Both,
    Backoff {
        multiplier: u32,
    },
    /// detection_filter: alert on every match after `count` in `seconds`.
    DetectionFilter,
}

/// What `unique_on` counts distinct values of (detection_filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UniqueOn {
    SrcPort,
    DstPort,
}

/// A threshold or detection filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Threshold {
    pub(crate) kind: ThKind,
    pub(crate) track: Track,
    pub(crate) count: u32,
    pub(crate) seconds: u32,
    pub(crate) unique_on: Option<UniqueOn>,
}

/// Header protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HdrProto {
    /// `ip` / `pkthdr`: any IP packet.
    Ip,
    Tcp,
    Udp,
    Icmp,
    /// `tcp-pkt`: TCP, packet payload only.
    TcpPkt,
    /// `tcp-stream`: TCP, stream only.
    TcpStream,
    /// An application protocol over TCP and/or UDP.
    App {
        app: AppProto,
        tcp: bool,
        udp: bool,
    },
}

impl HdrProto {
    /// True when packets of IP protocol `p` may match.
    pub(crate) fn allows(self, p: u8) -> bool {
        match self {
            HdrProto::Ip => true,
            HdrProto::Tcp | HdrProto::TcpPkt | HdrProto::TcpStream => p == 6,
            HdrProto::Udp => p == 17,
            HdrProto::Icmp => p == 1 || p == 58,
            HdrProto::App { tcp, udp, .. } => (tcp && p == 6) || (udp && p == 17),
        }
    }
}

/// How a rule is inspected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Header only: once per flow and direction (every packet without a flow).
    IpOnly,
    /// Every packet (header checks, packet payload).
    Packet,
    /// Payload rules: reassembled stream on tracked TCP flows, packet payload otherwise.
    Stream,
    /// Application-layer transaction buffers / fields.
    Tx,
}

/// Rule action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Action {
    Pass,
    Alert,
}

/// Which list a fast pattern belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ListId {
    Payload,
    Buffer(BufferId),
}

/// The prefilter pattern of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FastSel {
    pub(crate) list: ListId,
    pub(crate) pat: Vec<u8>,
    pub(crate) nocase: bool,
}

/// An address side of a rule compared with `$HOME_NET` (for grouping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// `any`.
    Any,
    /// Exactly `$HOME_NET`.
    Home,
    /// Exactly the complement of `$HOME_NET` (`$EXTERNAL_NET` by default).
    NotHome,
    /// Anything else (specific hosts, other networks).
    Other,
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) sig: Arc<SignatureInfo>,
    pub(crate) file: u32,
    pub(crate) line: u32,
    pub(crate) action: Action,
    pub(crate) proto: HdrProto,
    pub(crate) src: AddrSet,
    pub(crate) sp: PortSet,
    pub(crate) dst: AddrSet,
    pub(crate) dp: PortSet,
    pub(crate) bidir: bool,
    /// `src` compared with `$HOME_NET` (set when the rule set is compiled).
    pub(crate) src_class: Side,
    /// `dst` compared with `$HOME_NET`.
    pub(crate) dst_class: Side,
    pub(crate) flow: FlowOpts,
    pub(crate) pkt: Vec<PktCheck>,
    pub(crate) payload: Vec<Op>,
    pub(crate) bufs: Vec<(BufferId, Vec<Op>)>,
    pub(crate) tx: Vec<TxCheck>,
    pub(crate) flowbits: Vec<Flowbit>,
    pub(crate) alp: Vec<AlpCheck>,
    pub(crate) threshold: Option<Threshold>,
    pub(crate) noalert: bool,
    pub(crate) kind: Kind,
    /// Application protocol the rule needs (header or buffers).
    pub(crate) app: Option<AppProto>,
    pub(crate) fast: Option<FastSel>,
    /// Evaluation order key: pass first, flowbit setters before checkers.
    pub(crate) order: (u8, u8, u8, u32),
    /// Keywords accepted but not acting (`tag`).
    pub(crate) inert: Vec<&'static str>,
}
