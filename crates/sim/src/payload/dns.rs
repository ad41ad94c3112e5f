//! DNS messages (RFC 1035): queries and responses with A and CNAME answers.

use super::put_u16;
use std::net::Ipv4Addr;

/// Query type A.
pub const TYPE_A: u16 = 1;
/// Query type CNAME.
pub const TYPE_CNAME: u16 = 5;
/// Query type MX.
pub const TYPE_MX: u16 = 15;
/// Query type AAAA.
pub const TYPE_AAAA: u16 = 28;

/// Appends `name` in label form (no compression).
pub fn put_name(out: &mut Vec<u8>, name: &str) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

fn header(out: &mut Vec<u8>, id: u16, flags: u16, qd: usize, an: usize) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    put_u16(out, qd);
    put_u16(out, an);
    put_u16(out, 0);
    put_u16(out, 0);
}

/// A recursive query for `name`/`qtype`.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + name.len());
    header(&mut out, id, 0x0100, 1, 0);
    put_name(&mut out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}

/// One answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// An A record for the name (or the last CNAME target).
    A(Ipv4Addr),
    /// A CNAME to another name.
    Cname(String),
}

/// The response to [`query`]: same id and question, `answers` in order
/// (each owned by the query name via a compression pointer, or by the
/// previous CNAME target), `rcode` in the flags.
pub fn response(
    id: u16,
    name: &str,
    qtype: u16,
    answers: &[Answer],
    rcode: u8,
    ttl: u32,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + name.len());
    let flags = 0x8180 | u16::from(rcode & 0x0f);
    header(&mut out, id, flags, 1, answers.len());
    put_name(&mut out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    // Owner of the next record: offset of the question name (12) at first.
    let mut owner: usize = 12;
    for a in answers {
        out.extend_from_slice(&(0xc000u16 | (owner as u16 & 0x3fff)).to_be_bytes());
        match a {
            Answer::A(ip) => {
                out.extend_from_slice(&TYPE_A.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&ttl.to_be_bytes());
                put_u16(&mut out, 4);
                out.extend_from_slice(&ip.octets());
            }
            Answer::Cname(target) => {
                out.extend_from_slice(&TYPE_CNAME.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&ttl.to_be_bytes());
                let mut rd = Vec::new();
                put_name(&mut rd, target);
                put_u16(&mut out, rd.len());
                owner = out.len();
                out.extend_from_slice(&rd);
            }
        }
    }
    out
}

/// Prefixes a DNS message with its 2-byte length (DNS over TCP).
pub fn tcp_framed(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 2);
    put_u16(&mut out, msg.len());
    out.extend_from_slice(msg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bytes() {
        let q = query(0x1234, "www.example.com", TYPE_A);
        assert_eq!(&q[..12], &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..29], b"\x03www\x07example\x03com\x00");
        assert_eq!(&q[29..], &[0, 1, 0, 1]);
    }

    #[test]
    fn response_with_cname_chain_points_at_the_right_owners() {
        let r = response(
            7,
            "www.example.com",
            TYPE_A,
            &[
                Answer::Cname("cdn.example.net".into()),
                Answer::A(Ipv4Addr::new(192, 0, 2, 80)),
            ],
            0,
            300,
        );
        assert_eq!(&r[2..4], &[0x81, 0x80]);
        assert_eq!(&r[6..8], &[0, 2]);
        let q_end = 12 + 17 + 4;
        // First answer owned by the question name.
        assert_eq!(&r[q_end..q_end + 2], &[0xc0, 12]);
        // Second answer owned by the CNAME target (rdata of the first).
        let cname_rdata = q_end + 12;
        let second = cname_rdata + 17;
        assert_eq!(
            u16::from_be_bytes([r[second], r[second + 1]]),
            0xc000 | cname_rdata as u16
        );
        assert_eq!(&r[r.len() - 4..], &[192, 0, 2, 80]);
    }
}
