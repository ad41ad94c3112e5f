//! Pure TFTP packet parsing.

/// A TFTP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// RRQ (`write == false`) or WRQ.
    Request {
        /// Write request.
        write: bool,
        /// File name.
        file: &'a [u8],
        /// Transfer mode (`netascii`, `octet`, `mail`).
        mode: &'a [u8],
        /// Option name/value pairs (RFC 2347).
        options: Vec<(&'a [u8], &'a [u8])>,
    },
    /// DATA.
    Data {
        /// Block number.
        block: u16,
        /// Payload.
        data: &'a [u8],
    },
    /// ACK.
    Ack {
        /// Block number.
        block: u16,
    },
    /// ERROR.
    Error {
        /// Error code.
        code: u16,
        /// Message.
        msg: &'a [u8],
    },
    /// OACK (option acknowledgement).
    OptionAck {
        /// Option name/value pairs.
        options: Vec<(&'a [u8], &'a [u8])>,
    },
}

/// Splits NUL-terminated strings; `None` when the last one is not terminated.
fn strings(mut s: &[u8]) -> Option<Vec<&[u8]>> {
    let mut v = Vec::new();
    while !s.is_empty() {
        let i = memchr::memchr(0, s)?;
        v.push(&s[..i]);
        s = &s[i + 1..];
    }
    Some(v)
}

fn pairs<'a>(v: &[&'a [u8]]) -> Vec<(&'a [u8], &'a [u8])> {
    v.chunks(2)
        .filter_map(|p| match p {
            [a, b] => Some((*a, *b)),
            _ => None,
        })
        .collect()
}

/// Parses one datagram; `None` when it is not a well-formed TFTP packet.
pub fn parse_packet(d: &[u8]) -> Option<Packet<'_>> {
    let op = u16::from_be_bytes([*d.first()?, *d.get(1)?]);
    let rest = d.get(2..)?;
    match op {
        1 | 2 => {
            let s = strings(rest)?;
            let (file, mode) = (*s.first()?, *s.get(1)?);
            let known = [&b"netascii"[..], b"octet", b"mail"]
                .iter()
                .any(|m| m.eq_ignore_ascii_case(mode));
            if file.is_empty() || !known || file.iter().any(|c| c.is_ascii_control()) {
                return None;
            }
            Some(Packet::Request {
                write: op == 2,
                file,
                mode,
                options: pairs(s.get(2..).unwrap_or(&[])),
            })
        }
        3 => Some(Packet::Data {
            block: u16::from_be_bytes([*rest.first()?, *rest.get(1)?]),
            data: rest.get(2..)?,
        }),
        4 if rest.len() == 2 => Some(Packet::Ack {
            block: u16::from_be_bytes([rest[0], rest[1]]),
        }),
        5 => {
            let code = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
            let m = rest.get(2..)?;
            let end = memchr::memchr(0, m).unwrap_or(m.len());
            Some(Packet::Error {
                code,
                msg: &m[..end],
            })
        }
        6 => {
            let s = strings(rest)?;
            Some(Packet::OptionAck { options: pairs(&s) })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets() {
        assert_eq!(
            parse_packet(b"\x00\x01rfc1350.txt\x00octet\x00blksize\x001428\x00"),
            Some(Packet::Request {
                write: false,
                file: b"rfc1350.txt",
                mode: b"octet",
                options: vec![(&b"blksize"[..], &b"1428"[..])]
            })
        );
        assert_eq!(
            parse_packet(b"\x00\x03\x00\x07abc"),
            Some(Packet::Data {
                block: 7,
                data: b"abc"
            })
        );
        assert_eq!(
            parse_packet(b"\x00\x04\x00\x07"),
            Some(Packet::Ack { block: 7 })
        );
        assert_eq!(
            parse_packet(b"\x00\x05\x00\x01File not found\x00"),
            Some(Packet::Error {
                code: 1,
                msg: b"File not found"
            })
        );
        assert_eq!(
            parse_packet(b"\x00\x01f\x00octet"),
            None,
            "mode not terminated"
        );
        assert_eq!(parse_packet(b"\x00\x09"), None);
        assert_eq!(parse_packet(b"\x00"), None);
        assert_eq!(parse_packet(b"\x00\x04\x00"), None);
    }
}
