//! Pure SSH parsers on borrowed input.

use nom::IResult;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u32};

/// A parsed `SSH-protoversion-softwareversion [comments]` banner line (without
/// the line ending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshBanner<'a> {
    /// `2.0`, `1.99`.
    pub proto_version: &'a [u8],
    /// `OpenSSH_5.2`.
    pub software_version: &'a [u8],
    /// Text after the first space, if any.
    pub comments: Option<&'a [u8]>,
}

/// Parses a banner line (`line` excludes CR/LF). `None` when it is not one.
pub fn parse_ssh_banner(line: &[u8]) -> Option<SshBanner<'_>> {
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = memchr::memchr(b'-', rest)?;
    let proto_version = &rest[..dash];
    let after = &rest[dash + 1..];
    let (software_version, comments) = match memchr::memchr(b' ', after) {
        Some(sp) => (&after[..sp], Some(&after[sp + 1..])),
        None => (after, None),
    };
    if proto_version.is_empty() {
        return None;
    }
    Some(SshBanner {
        proto_version,
        software_version,
        comments,
    })
}

/// SSH message numbers the parser cares about.
pub mod msg {
    /// SSH_MSG_KEXINIT.
    pub const KEXINIT: u8 = 20;
    /// SSH_MSG_NEWKEYS.
    pub const NEWKEYS: u8 = 21;
}

/// Header of a binary packet (RFC 4253 §6): total length on the wire and the
/// message code.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SshPacketHeader {
    /// `packet_length` field (excludes itself and the MAC).
    pub packet_length: u32,
    /// `padding_length`.
    pub padding_length: u8,
    /// First payload byte.
    pub msg_code: u8,
}

/// Parses the first 6 bytes of a binary packet.
pub fn parse_ssh_packet_header(i: &[u8]) -> IResult<&[u8], SshPacketHeader> {
    let (i, packet_length) = be_u32(i)?;
    let (i, padding_length) = be_u8(i)?;
    let (i, msg_code) = be_u8(i)?;
    Ok((
        i,
        SshPacketHeader {
            packet_length,
            padding_length,
            msg_code,
        },
    ))
}

/// Algorithm lists of a KEXINIT message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshKexInit {
    /// kex_algorithms.
    pub kex: String,
    /// server_host_key_algorithms.
    pub host_key: String,
    /// encryption client → server.
    pub enc_c2s: String,
    /// encryption server → client.
    pub enc_s2c: String,
    /// MAC client → server.
    pub mac_c2s: String,
    /// MAC server → client.
    pub mac_s2c: String,
    /// compression client → server.
    pub comp_c2s: String,
    /// compression server → client.
    pub comp_s2c: String,
}

fn name_list(i: &[u8]) -> IResult<&[u8], String> {
    let (i, len) = be_u32(i)?;
    let (i, s) = take(len)(i)?;
    Ok((i, String::from_utf8_lossy(s).into_owned()))
}

/// Parses a KEXINIT payload starting at the message code byte.
pub fn parse_ssh_kexinit(i: &[u8]) -> IResult<&[u8], SshKexInit> {
    let (i, _code) = be_u8(i)?;
    let (i, _cookie) = take(16usize)(i)?;
    let (i, kex) = name_list(i)?;
    let (i, host_key) = name_list(i)?;
    let (i, enc_c2s) = name_list(i)?;
    let (i, enc_s2c) = name_list(i)?;
    let (i, mac_c2s) = name_list(i)?;
    let (i, mac_s2c) = name_list(i)?;
    let (i, comp_c2s) = name_list(i)?;
    let (i, comp_s2c) = name_list(i)?;
    Ok((
        i,
        SshKexInit {
            kex,
            host_key,
            enc_c2s,
            enc_s2c,
            mac_c2s,
            mac_s2c,
            comp_c2s,
            comp_s2c,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners() {
        let b = parse_ssh_banner(b"SSH-2.0-OpenSSH_5.8p1 Debian-1ubuntu3").unwrap();
        assert_eq!(b.proto_version, b"2.0");
        assert_eq!(b.software_version, b"OpenSSH_5.8p1");
        assert_eq!(b.comments, Some(&b"Debian-1ubuntu3"[..]));
        let b = parse_ssh_banner(b"SSH-1.99-Cisco_server-1.24").unwrap();
        assert_eq!(b.proto_version, b"1.99");
        assert_eq!(b.software_version, b"Cisco_server-1.24");
        assert!(parse_ssh_banner(b"SSH-").is_none());
        assert!(parse_ssh_banner(b"HTTP/1.1 200 OK").is_none());
    }

    #[test]
    fn kexinit_truncated_never_panics() {
        let mut p = vec![20u8];
        p.extend_from_slice(&[0u8; 16]);
        for _ in 0..8 {
            p.extend_from_slice(&3u32.to_be_bytes());
            p.extend_from_slice(b"abc");
        }
        let k = parse_ssh_kexinit(&p).unwrap().1;
        assert_eq!(k.kex, "abc");
        assert_eq!(k.comp_s2c, "abc");
        for n in 0..p.len() {
            assert!(parse_ssh_kexinit(&p[..n]).is_err());
        }
    }
}
