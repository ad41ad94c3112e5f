//! Pure DNS message parsing (RFC 1035 and the record types Suricata logs):
//! header, questions, resource records with name compression, and typed rdata.
//! Record type and class values stay open (plain `u16`), unknown types keep
//! their raw rdata.

use nom::IResult;
use nom::bytes::complete::take;
use nom::error::{Error, ErrorKind};
use nom::number::complete::{be_u8, be_u16, be_u32};

/// Longest name kept (bytes of the dotted text); longer names are cut and
/// flagged `truncated` (Suricata's limit).
pub const MAX_NAME_LEN: usize = 1025;
/// Most compression pointers followed in one name before it is called a loop.
pub const MAX_POINTERS: usize = 255;

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type NS.
pub const TYPE_NS: u16 = 2;
/// Record type CNAME.
pub const TYPE_CNAME: u16 = 5;
/// Record type SOA.
pub const TYPE_SOA: u16 = 6;
/// Record type NULL.
pub const TYPE_NULL: u16 = 10;
/// Record type PTR.
pub const TYPE_PTR: u16 = 12;
/// Record type MX.
pub const TYPE_MX: u16 = 15;
/// Record type TXT.
pub const TYPE_TXT: u16 = 16;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Record type SRV.
pub const TYPE_SRV: u16 = 33;
/// Record type OPT (EDNS).
pub const TYPE_OPT: u16 = 41;
/// Record type SSHFP.
pub const TYPE_SSHFP: u16 = 44;

/// A decoded name: the dotted text (label bytes as sent) and whether it was
/// cut at [`MAX_NAME_LEN`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Name {
    /// Dotted labels (`www.example.com`), empty for the root.
    pub value: Vec<u8>,
    /// Cut at [`MAX_NAME_LEN`].
    pub truncated: bool,
}

/// The fixed 12-byte header.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Transaction id.
    pub id: u16,
    /// Flags word (QR, opcode, AA, TC, RD, RA, Z, rcode).
    pub flags: u16,
    /// Question count.
    pub qdcount: u16,
    /// Answer count.
    pub ancount: u16,
    /// Authority count.
    pub nscount: u16,
    /// Additional count.
    pub arcount: u16,
}

impl Header {
    /// QR bit: a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Opcode (4 bits).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    /// Response code (low 4 bits).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
    /// Z bit set.
    pub fn z(&self) -> bool {
        self.flags & 0x0040 != 0
    }
}

/// One question.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Name asked for.
    pub name: Name,
    /// Type asked for.
    pub rrtype: u16,
    /// Class.
    pub rrclass: u16,
}

/// SOA rdata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Soa {
    /// Primary name server.
    pub mname: Name,
    /// Responsible mailbox.
    pub rname: Name,
    /// Serial.
    pub serial: u32,
    /// Refresh.
    pub refresh: u32,
    /// Retry.
    pub retry: u32,
    /// Expire.
    pub expire: u32,
    /// Minimum TTL.
    pub minimum: u32,
}

/// SRV rdata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Srv {
    /// Priority.
    pub priority: u16,
    /// Weight.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target.
    pub target: Name,
}

/// SSHFP rdata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sshfp {
    /// Algorithm.
    pub algo: u8,
    /// Fingerprint type.
    pub fp_type: u8,
    /// Fingerprint.
    pub fingerprint: Vec<u8>,
}

/// One EDNS option.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptOption {
    /// Option code.
    pub code: u16,
    /// Option data.
    pub data: Vec<u8>,
}

/// Typed rdata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    /// A or AAAA address bytes.
    Addr(Vec<u8>),
    /// CNAME, NS, PTR or MX target name.
    Name(Name),
    /// TXT strings.
    Txt(Vec<Vec<u8>>),
    /// NULL record bytes.
    Null(Vec<u8>),
    /// SOA.
    Soa(Soa),
    /// SRV.
    Srv(Srv),
    /// SSHFP.
    Sshfp(Sshfp),
    /// OPT options.
    Opt(Vec<OptOption>),
    /// Anything else (or rdata that did not parse as its type).
    Unknown(Vec<u8>),
}

/// One resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Owner name.
    pub name: Name,
    /// Type.
    pub rrtype: u16,
    /// Class.
    pub rrclass: u16,
    /// TTL.
    pub ttl: u32,
    /// Data.
    pub data: RData,
}

/// A whole message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// Header.
    pub header: Header,
    /// Questions.
    pub queries: Vec<Query>,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section.
    pub authorities: Vec<Record>,
    /// Additional section.
    pub additionals: Vec<Record>,
}

fn fail(i: &[u8]) -> nom::Err<Error<&[u8]>> {
    nom::Err::Error(Error::new(i, ErrorKind::Verify))
}

/// Parses the 12-byte header.
pub fn parse_header(i: &[u8]) -> IResult<&[u8], Header> {
    let (i, id) = be_u16(i)?;
    let (i, flags) = be_u16(i)?;
    let (i, qdcount) = be_u16(i)?;
    let (i, ancount) = be_u16(i)?;
    let (i, nscount) = be_u16(i)?;
    let (i, arcount) = be_u16(i)?;
    Ok((
        i,
        Header {
            id,
            flags,
            qdcount,
            ancount,
            nscount,
            arcount,
        },
    ))
}

/// Parses a (possibly compressed) name starting at `input`; `msg` is the whole
/// message that pointers refer into. Returns the input after the name as it
/// appears in place (a pointer ends the in-place name).
pub fn parse_name<'a>(input: &'a [u8], msg: &'a [u8]) -> IResult<&'a [u8], Name> {
    let mut out = Name::default();
    let mut pos = input;
    let mut after: Option<&'a [u8]> = None;
    let mut hops = 0usize;
    loop {
        let (&len, rest) = pos.split_first().ok_or_else(|| fail(pos))?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    let remaining = after.unwrap_or(rest);
                    return Ok((remaining, out));
                }
                let n = usize::from(len);
                let label = rest.get(..n).ok_or_else(|| fail(rest))?;
                if !out.truncated {
                    let extra = usize::from(!out.value.is_empty());
                    if out.value.len() + extra + n > MAX_NAME_LEN {
                        out.truncated = true;
                    } else {
                        if extra == 1 {
                            out.value.push(b'.');
                        } else {
                            // Room for most names at once (growing label by
                            // label reallocated two or three times per name).
                            out.value.reserve(n.max(32));
                        }
                        out.value.extend_from_slice(label);
                    }
                }
                pos = &rest[n..];
            }
            0xc0 => {
                let (&lo, rest2) = rest.split_first().ok_or_else(|| fail(rest))?;
                let off = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                hops += 1;
                if hops > MAX_POINTERS {
                    return Err(fail(pos));
                }
                if after.is_none() {
                    after = Some(rest2);
                }
                pos = msg.get(off..).ok_or_else(|| fail(pos))?;
            }
            _ => return Err(fail(pos)),
        }
    }
}

fn parse_query<'a>(i: &'a [u8], msg: &'a [u8]) -> IResult<&'a [u8], Query> {
    let (i, name) = parse_name(i, msg)?;
    let (i, rrtype) = be_u16(i)?;
    let (i, rrclass) = be_u16(i)?;
    Ok((
        i,
        Query {
            name,
            rrtype,
            rrclass,
        },
    ))
}

fn parse_rdata<'a>(rdata: &'a [u8], rrtype: u16, msg: &'a [u8]) -> IResult<&'a [u8], RData> {
    match rrtype {
        TYPE_A if rdata.len() == 4 => Ok((&[], RData::Addr(rdata.to_vec()))),
        TYPE_AAAA if rdata.len() == 16 => Ok((&[], RData::Addr(rdata.to_vec()))),
        TYPE_CNAME | TYPE_NS | TYPE_PTR => {
            let (i, n) = parse_name(rdata, msg)?;
            Ok((i, RData::Name(n)))
        }
        TYPE_MX => {
            let (i, _pref) = be_u16(rdata)?;
            let (i, n) = parse_name(i, msg)?;
            Ok((i, RData::Name(n)))
        }
        TYPE_TXT => {
            let mut i = rdata;
            let mut v = Vec::new();
            while !i.is_empty() {
                let (r, len) = be_u8(i)?;
                let (r, s) = take(len)(r)?;
                v.push(s.to_vec());
                i = r;
            }
            Ok((i, RData::Txt(v)))
        }
        TYPE_NULL => Ok((&[], RData::Null(rdata.to_vec()))),
        TYPE_SOA => {
            let (i, mname) = parse_name(rdata, msg)?;
            let (i, rname) = parse_name(i, msg)?;
            let (i, serial) = be_u32(i)?;
            let (i, refresh) = be_u32(i)?;
            let (i, retry) = be_u32(i)?;
            let (i, expire) = be_u32(i)?;
            let (i, minimum) = be_u32(i)?;
            Ok((
                i,
                RData::Soa(Soa {
                    mname,
                    rname,
                    serial,
                    refresh,
                    retry,
                    expire,
                    minimum,
                }),
            ))
        }
        TYPE_SRV => {
            let (i, priority) = be_u16(rdata)?;
            let (i, weight) = be_u16(i)?;
            let (i, port) = be_u16(i)?;
            let (i, target) = parse_name(i, msg)?;
            Ok((
                i,
                RData::Srv(Srv {
                    priority,
                    weight,
                    port,
                    target,
                }),
            ))
        }
        TYPE_SSHFP => {
            let (i, algo) = be_u8(rdata)?;
            let (i, fp_type) = be_u8(i)?;
            Ok((
                &[],
                RData::Sshfp(Sshfp {
                    algo,
                    fp_type,
                    fingerprint: i.to_vec(),
                }),
            ))
        }
        TYPE_OPT => {
            let mut i = rdata;
            let mut v = Vec::new();
            while !i.is_empty() {
                let (r, code) = be_u16(i)?;
                let (r, len) = be_u16(r)?;
                let (r, data) = take(len)(r)?;
                v.push(OptOption {
                    code,
                    data: data.to_vec(),
                });
                i = r;
            }
            Ok((i, RData::Opt(v)))
        }
        _ => Ok((&[], RData::Unknown(rdata.to_vec()))),
    }
}

/// Parses one resource record.
pub fn parse_record<'a>(i: &'a [u8], msg: &'a [u8]) -> IResult<&'a [u8], Record> {
    let (i, name) = parse_name(i, msg)?;
    let (i, rrtype) = be_u16(i)?;
    let (i, rrclass) = be_u16(i)?;
    let (i, ttl) = be_u32(i)?;
    let (i, rdlen) = be_u16(i)?;
    let (i, rdata) = take(rdlen)(i)?;
    // rdata that does not parse as its type is kept raw.
    let data = match parse_rdata(rdata, rrtype, msg) {
        Ok((_, d)) => d,
        Err(_) => RData::Unknown(rdata.to_vec()),
    };
    Ok((
        i,
        Record {
            name,
            rrtype,
            rrclass,
            ttl,
            data,
        },
    ))
}

fn parse_records<'a>(mut i: &'a [u8], msg: &'a [u8], count: u16) -> IResult<&'a [u8], Vec<Record>> {
    // Every record takes at least 11 bytes: a count beyond what the message
    // can hold is malformed (and must not reserve memory).
    if usize::from(count) * 11 > i.len() {
        return Err(fail(i));
    }
    let mut v = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (r, rec) = parse_record(i, msg)?;
        v.push(rec);
        i = r;
    }
    Ok((i, v))
}

/// Parses a whole message. Trailing bytes after the counted records are ignored.
pub fn parse_message(msg: &[u8]) -> IResult<&[u8], Message> {
    let (mut i, header) = parse_header(msg)?;
    if usize::from(header.qdcount) * 5 > i.len() {
        return Err(fail(i));
    }
    let mut queries = Vec::with_capacity(usize::from(header.qdcount));
    for _ in 0..header.qdcount {
        let (r, q) = parse_query(i, msg)?;
        queries.push(q);
        i = r;
    }
    let (i, answers) = parse_records(i, msg, header.ancount)?;
    let (i, authorities) = parse_records(i, msg, header.nscount)?;
    let (i, additionals) = parse_records(i, msg, header.arcount)?;
    Ok((
        i,
        Message {
            header,
            queries,
            answers,
            authorities,
            additionals,
        },
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::files::util::unhex;

    /// dig www.suricata-ids.org response (suricata-verify cond-log-dns-dig, packet 2).
    pub(crate) const DIG_RESPONSE: &str = "8d3281a00001000300000000037777770c73757269636174612d696473036f72670000010001c00c0005000100000dd800120c73757269636174612d696473036f726700c03200010001000000f40004c0004e18c03200010001000000f40004c0004e19";

    #[test]
    fn dig_response() {
        let bytes = unhex(DIG_RESPONSE);
        let (_, m) = parse_message(&bytes).expect("parses");
        assert_eq!(m.header.id, 36146);
        assert_eq!(m.header.flags, 0x81a0);
        assert_eq!(m.queries[0].name.value, b"www.suricata-ids.org");
        assert_eq!(m.answers.len(), 3);
        assert_eq!(
            m.answers[0].data,
            RData::Name(Name {
                value: b"suricata-ids.org".to_vec(),
                truncated: false
            })
        );
        assert_eq!(m.answers[0].ttl, 3544);
        assert_eq!(m.answers[1].name.value, b"suricata-ids.org");
        assert_eq!(m.answers[2].data, RData::Addr(vec![192, 0, 78, 25]));
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let bytes = unhex(DIG_RESPONSE);
        for n in 0..bytes.len() {
            assert!(parse_message(&bytes[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn pointer_loops_and_bad_labels() {
        // Header + name that points to itself.
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(parse_message(&m).is_err());
        // Label type 0x40 is not valid.
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0x41, b'a', 0, 0, 1, 0, 1]);
        assert!(parse_message(&m).is_err());
        // Huge counts do not allocate.
        let m = [0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(parse_message(&m).is_err());
    }

    #[test]
    fn long_names_are_cut() {
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for _ in 0..40 {
            m.push(63);
            m.extend_from_slice(&[b'a'; 63]);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        let (_, msg) = parse_message(&m).expect("parses");
        assert!(msg.queries[0].name.truncated);
        assert!(msg.queries[0].name.value.len() <= MAX_NAME_LEN);
    }

    #[test]
    fn typed_rdata() {
        let msg = [0u8; 0];
        assert_eq!(
            parse_rdata(&[3, b'a', b'b', b'c', 0], TYPE_TXT, &msg).map(|r| r.1),
            Ok(RData::Txt(vec![b"abc".to_vec(), vec![]]))
        );
        assert!(parse_rdata(&[5, b'a'], TYPE_TXT, &msg).is_err());
        assert_eq!(
            parse_rdata(&[0, 20, 0, 1, 0x13, 0xc4, 0], TYPE_SRV, &msg).map(|r| r.1),
            Ok(RData::Srv(Srv {
                priority: 20,
                weight: 1,
                port: 5060,
                target: Name::default()
            }))
        );
        assert_eq!(
            parse_rdata(&[0, 10, 0, 2, 0xab, 0xcd], TYPE_OPT, &msg).map(|r| r.1),
            Ok(RData::Opt(vec![OptOption {
                code: 10,
                data: vec![0xab, 0xcd]
            }]))
        );
        assert_eq!(
            parse_rdata(&[1, 2, 3], TYPE_A, &msg).map(|r| r.1),
            Ok(RData::Unknown(vec![1, 2, 3]))
        );
    }
}
