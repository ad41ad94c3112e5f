//! Pure parsers for SSLv2 and PCT 1.0 records (tls-parser has neither).

/// What an SSLv2-framed record holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum V2Kind {
    /// SSLv2 (or the SSLv2-compatible hello of an SSL3/TLS client).
    Sslv2,
    /// PCT 1.0 (or something claiming to be a hello with a non-SSL version).
    Pct,
}

/// Classifies the first record of a connection when it uses the SSLv2 2-byte
/// header (`0x80 | len_hi, len_lo`). `None` when it cannot tell (too short) or
/// the bytes are not such a record.
pub fn sslv2_kind(data: &[u8]) -> Option<V2Kind> {
    let b0 = *data.first()?;
    if b0 & 0x80 == 0 {
        return None;
    }
    let len = usize::from(b0 & 0x7f) << 8 | usize::from(*data.get(1)?);
    let msg = *data.get(2)?;
    let ver = u16::from_be_bytes([*data.get(3)?, *data.get(4)?]);
    match msg {
        // CLIENT-HELLO.
        1 => {
            if len < 9 {
                return None;
            }
            if ver == 0x0002 || (0x0300..=0x0304).contains(&ver) {
                Some(V2Kind::Sslv2)
            } else {
                Some(V2Kind::Pct)
            }
        }
        // PCT SERVER-HELLO: pad, then version 0x8001.
        2 => {
            let v = u16::from_be_bytes([*data.get(4)?, *data.get(5)?]);
            if ver == 0x8001 || v == 0x8001 {
                Some(V2Kind::Pct)
            } else {
                None
            }
        }
        // SSLv2 SERVER-HELLO: session-id-hit, certificate type, version.
        4 => {
            let v = u16::from_be_bytes([*data.get(5)?, *data.get(6)?]);
            if v == 0x0002 && *data.get(4)? <= 1 {
                Some(V2Kind::Sslv2)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// SSL3/TLS record header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TlsRecordHeader {
    /// Content type (20 CCS, 21 alert, 22 handshake, 23 application data).
    pub content_type: u8,
    /// Record version.
    pub version: u16,
    /// Payload length.
    pub len: u16,
}

/// Content types.
pub mod content {
    /// change_cipher_spec.
    pub const CCS: u8 = 20;
    /// alert.
    pub const ALERT: u8 = 21;
    /// handshake.
    pub const HANDSHAKE: u8 = 22;
    /// application_data.
    pub const APPLICATION: u8 = 23;
    /// heartbeat.
    pub const HEARTBEAT: u8 = 24;
}

/// Parses a 5-byte SSL3/TLS record header.
pub fn parse_tls_record_header(i: &[u8]) -> Option<TlsRecordHeader> {
    let h = i.get(..5)?;
    Some(TlsRecordHeader {
        content_type: h[0],
        version: u16::from_be_bytes([h[1], h[2]]),
        len: u16::from_be_bytes([h[3], h[4]]),
    })
}

/// An SSLv2-style record header: 2 bytes (`0x80 | len_hi, len_lo`) or 3 bytes
/// (`len_hi & 0x3f, len_lo, padding`). Returns (header length, record length).
pub fn parse_sslv2_record_header(i: &[u8]) -> Option<(usize, usize)> {
    let b0 = *i.first()?;
    let b1 = *i.get(1)?;
    if b0 & 0x80 != 0 {
        Some((2, usize::from(b0 & 0x7f) << 8 | usize::from(b1)))
    } else {
        let _pad = *i.get(2)?;
        Some((3, usize::from(b0 & 0x3f) << 8 | usize::from(b1)))
    }
}

fn be16(i: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*i.get(at)?, *i.get(at + 1)?]))
}

/// Bytes of an SSLv2 CLIENT-HELLO header (after the record header).
pub const SSLV2_CLIENT_HELLO_HDR: usize = 9;

/// SSLv2 CLIENT-HELLO header fields (the message starts at the type byte).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Sslv2ClientHello {
    /// Version (0x0002, or 0x0300+ for an SSL3/TLS client's compatible hello).
    pub version: u16,
    /// Cipher-specs length (3 bytes per spec).
    pub cipher_specs_len: u16,
    /// Session-id length (0 or 16).
    pub session_id_len: u16,
    /// Challenge length (16..=32).
    pub challenge_len: u16,
}

/// Parses the header of an SSLv2 CLIENT-HELLO message (`msg` starts at the type
/// byte, which must be 1). `None` when fewer than 9 bytes are present.
pub fn parse_sslv2_client_hello(msg: &[u8]) -> Option<Sslv2ClientHello> {
    if *msg.first()? != 1 {
        return None;
    }
    Some(Sslv2ClientHello {
        version: be16(msg, 1)?,
        cipher_specs_len: be16(msg, 3)?,
        session_id_len: be16(msg, 5)?,
        challenge_len: be16(msg, 7)?,
    })
}

/// SSLv2 CLIENT-HELLO cipher specs (3 bytes each), given the whole message.
pub fn sslv2_cipher_specs(msg: &[u8], h: &Sslv2ClientHello) -> Vec<u32> {
    let start = SSLV2_CLIENT_HELLO_HDR;
    let end = start + usize::from(h.cipher_specs_len);
    msg.get(start..end.min(msg.len()))
        .unwrap_or(&[])
        .chunks_exact(3)
        .map(|c| u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]))
        .collect()
}

/// An SSLv2 SERVER-HELLO header (message starts at the type byte, 4).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Sslv2ServerHello {
    /// Session-id hit.
    pub session_id_hit: u8,
    /// Certificate type (1 = X.509).
    pub certificate_type: u8,
    /// Version.
    pub version: u16,
    /// Certificate length.
    pub certificate_len: u16,
    /// Cipher-specs length.
    pub cipher_specs_len: u16,
    /// Connection-id length.
    pub connection_id_len: u16,
}

/// Bytes of an SSLv2 SERVER-HELLO header.
pub const SSLV2_SERVER_HELLO_HDR: usize = 11;

/// Parses an SSLv2 SERVER-HELLO header.
pub fn parse_sslv2_server_hello(msg: &[u8]) -> Option<Sslv2ServerHello> {
    if *msg.first()? != 4 {
        return None;
    }
    Some(Sslv2ServerHello {
        session_id_hit: *msg.get(1)?,
        certificate_type: *msg.get(2)?,
        version: be16(msg, 3)?,
        certificate_len: be16(msg, 5)?,
        cipher_specs_len: be16(msg, 7)?,
        connection_id_len: be16(msg, 9)?,
    })
}

/// Bytes of a PCT CLIENT-HELLO that the overflow checks read (from the type
/// byte).
pub const PCT_CLIENT_HELLO_HDR: usize = 12;

/// PCT 1.0 CLIENT-HELLO header fields, as the MS04-011 signatures (Snort sids
/// 2515–2518, 2528) and schannel read them. Offsets are from the start of the
/// record (the 2-byte header is bytes 0–1):
///
/// | bytes | field |
/// |---|---|
/// | 2 | message type, 1 = CLIENT-HELLO |
/// | 3–4 | client version (`0x8001` for PCT 1.0) |
/// | 5 | pad |
/// | 6–7 | offset to the variable part |
/// | 8–9 | challenge length (16, at most 32) |
/// | 10–11 | cipher-specs length |
/// | 12–13 | key-exchange specs / key-argument length |
///
/// The draft's long form (32-byte session id and challenge inline, then
/// `CH_OFFSET = 10` and the spec lengths) is recognised separately
/// ([`PctClientHello::draft_layout`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PctClientHello {
    /// Client version.
    pub version: u16,
    /// Offset field.
    pub offset: u16,
    /// Challenge length.
    pub challenge_len: u16,
    /// Cipher-specs length.
    pub cipher_specs_len: u16,
    /// Key(-exchange) length.
    pub key_len: u16,
    /// The hello uses the draft's long layout (version 0x8001, 32-byte session
    /// id and challenge, `CH_OFFSET` 10) and its declared lengths fit the record.
    pub draft_layout: bool,
}

/// Parses a PCT CLIENT-HELLO header from the message (`msg` starts at the type
/// byte; `record_len` is the declared record length).
pub fn parse_pct_client_hello(msg: &[u8], record_len: usize) -> Option<PctClientHello> {
    if *msg.first()? != 1 {
        return None;
    }
    // Record offsets 3..=13 are message offsets 1..=11.
    let h = PctClientHello {
        version: be16(msg, 1)?,
        offset: be16(msg, 4)?,
        challenge_len: be16(msg, 6)?,
        cipher_specs_len: be16(msg, 8)?,
        key_len: be16(msg, 10)?,
        draft_layout: false,
    };
    Some(PctClientHello {
        draft_layout: pct_draft_layout(msg, record_len),
        ..h
    })
}

/// The draft-benaloh-pct-00 layout: type, version (2), pad, session id (32),
/// challenge (32), CH_OFFSET (2) = 10, then five 2-byte lengths whose data fits.
fn pct_draft_layout(msg: &[u8], record_len: usize) -> bool {
    if be16(msg, 1) != Some(0x8001) {
        return false;
    }
    let base = 1 + 2 + 1 + 32 + 32;
    if be16(msg, base) != Some(10) {
        return false;
    }
    let mut total = base + 2 + 10;
    for k in 0..5 {
        match be16(msg, base + 2 + 2 * k) {
            Some(l) => total += usize::from(l),
            None => return false,
        }
    }
    total <= record_len
}

/// A named overflow condition of an SSLv2/PCT hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloOverflow {
    /// Anomaly name.
    pub event: &'static str,
    /// What was found.
    pub detail: String,
}

/// The overflow conditions of a PCT CLIENT-HELLO (MS04-011 / CVE-2003-0719).
/// Empty for a well-formed hello. `record_len` is the declared record length.
pub fn pct_client_hello_overflows(h: &PctClientHello, record_len: usize) -> Vec<HelloOverflow> {
    let mut v = Vec::new();
    if h.draft_layout {
        return v;
    }
    let body = record_len.saturating_sub(PCT_CLIENT_HELLO_HDR);
    if h.challenge_len > 32 {
        v.push(HelloOverflow {
            event: "pct.client_hello_oversized_challenge",
            detail: format!("challenge length {} > 32", h.challenge_len),
        });
    }
    if usize::from(h.cipher_specs_len) > body {
        v.push(HelloOverflow {
            event: "pct.client_hello_oversized_cipher_specs",
            detail: format!(
                "cipher specs length {} > {} bytes left in the record",
                h.cipher_specs_len, body
            ),
        });
    }
    if h.key_len > 32768 || usize::from(h.key_len) > body {
        v.push(HelloOverflow {
            event: "pct.client_hello_oversized_key_length",
            detail: format!("key length {} (record holds {} bytes)", h.key_len, body),
        });
    }
    v
}

/// The overflow conditions of an SSLv2 CLIENT-HELLO.
pub fn sslv2_client_hello_overflows(h: &Sslv2ClientHello, record_len: usize) -> Vec<HelloOverflow> {
    let mut v = Vec::new();
    if !(16..=32).contains(&h.challenge_len) {
        v.push(HelloOverflow {
            event: "sslv2.client_hello_oversized_challenge",
            detail: format!("challenge length {} not in 16..32", h.challenge_len),
        });
    }
    if h.session_id_len > 32 {
        v.push(HelloOverflow {
            event: "sslv2.client_hello_oversized_session_id",
            detail: format!("session id length {} > 32", h.session_id_len),
        });
    }
    let body = record_len.saturating_sub(SSLV2_CLIENT_HELLO_HDR);
    let declared = usize::from(h.cipher_specs_len)
        + usize::from(h.session_id_len)
        + usize::from(h.challenge_len);
    if !h.cipher_specs_len.is_multiple_of(3) || declared > body {
        v.push(HelloOverflow {
            event: "sslv2.client_hello_oversized_cipher_specs",
            detail: format!(
                "cipher specs {} + session id {} + challenge {} vs {} bytes in the record",
                h.cipher_specs_len, h.session_id_len, h.challenge_len, body
            ),
        });
    }
    v
}

/// Walks a TLS extensions block (`type u16, len u16, data`), returning the
/// extensions in order. A truncated tail is ignored.
pub fn walk_extensions(mut i: &[u8]) -> Vec<(u16, &[u8])> {
    let mut v = Vec::new();
    while i.len() >= 4 {
        let t = u16::from_be_bytes([i[0], i[1]]);
        let l = usize::from(u16::from_be_bytes([i[2], i[3]]));
        let Some(d) = i.get(4..4 + l) else {
            break;
        };
        v.push((t, d));
        i = &i[4 + l..];
    }
    v
}

/// True for a GREASE value (RFC 8701): `0x?a?a` with equal bytes.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// u16 list with a 2-byte length prefix (supported_groups, signature_algorithms).
pub fn u16_list(d: &[u8]) -> Vec<u16> {
    let Some(n) = be16(d, 0) else {
        return Vec::new();
    };
    d.get(2..2 + usize::from(n))
        .unwrap_or(&[])
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// The host name of a server_name extension.
pub fn sni_of(d: &[u8]) -> Option<&[u8]> {
    let list = d.get(2..)?;
    let mut i = list;
    while i.len() >= 3 {
        let t = i[0];
        let l = usize::from(u16::from_be_bytes([i[1], i[2]]));
        let name = i.get(3..3 + l)?;
        if t == 0 {
            return Some(name);
        }
        i = &i[3 + l..];
    }
    None
}

/// ALPN protocol names.
pub fn alpn_of(d: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    let mut i = d.get(2..).unwrap_or(&[]);
    while let Some(&l) = i.first() {
        let Some(p) = i.get(1..1 + usize::from(l)) else {
            break;
        };
        v.push(p);
        i = &i[1 + usize::from(l)..];
    }
    v
}

/// Client supported_versions (1-byte length) or server (one u16).
pub fn supported_versions(d: &[u8], client: bool) -> Vec<u16> {
    if client {
        let n = usize::from(*d.first().unwrap_or(&0));
        d.get(1..1 + n)
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect()
    } else {
        be16(d, 0).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record sid 2515 describes: byte 2 = 1, bytes 6-7 > 0, bytes 8-9 not 0
    /// or 16, bytes 10-11 > 20 with byte 11 = 0x8F, bytes 12-13 > 32768.
    pub(crate) fn pct_overflow_record() -> Vec<u8> {
        let mut r = vec![0x80, 0x62, 0x01, 0x80, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00];
        r.extend_from_slice(&[0x16, 0x8f, 0x86, 0x01]);
        r.resize(2 + 0x62, 0x41);
        r
    }

    #[test]
    fn pct_overflow_shape() {
        let r = pct_overflow_record();
        assert_eq!(sslv2_kind(&r), Some(V2Kind::Pct));
        let (hl, len) = parse_sslv2_record_header(&r).unwrap();
        let h = parse_pct_client_hello(&r[hl..], len).unwrap();
        assert_eq!(h.version, 0x8001);
        assert_eq!(h.challenge_len, 0x0100);
        assert_eq!(h.cipher_specs_len, 0x168f);
        assert_eq!(h.key_len, 0x8601);
        let o = pct_client_hello_overflows(&h, len);
        let names: Vec<_> = o.iter().map(|x| x.event).collect();
        assert_eq!(
            names,
            [
                "pct.client_hello_oversized_challenge",
                "pct.client_hello_oversized_cipher_specs",
                "pct.client_hello_oversized_key_length"
            ]
        );
    }

    #[test]
    fn pct_draft_layout_hello_is_clean() {
        let mut m = vec![0x01, 0x80, 0x01, 0x00];
        m.extend_from_slice(&[0x11; 32]);
        m.extend_from_slice(&[0x22; 32]);
        m.extend_from_slice(&10u16.to_be_bytes());
        for l in [4u16, 2, 2, 2, 0] {
            m.extend_from_slice(&l.to_be_bytes());
        }
        m.extend_from_slice(&[0u8; 10]);
        let h = parse_pct_client_hello(&m, m.len()).unwrap();
        assert!(h.draft_layout);
        assert!(pct_client_hello_overflows(&h, m.len()).is_empty());
    }

    #[test]
    fn sslv2_hello_checks() {
        // SSLv2-compatible hello of a TLS 1.0 client: 3 cipher specs, no session
        // id, 16-byte challenge.
        let mut m = vec![0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10];
        m.extend_from_slice(&[0, 0, 4, 0, 0, 5, 0, 0, 0x0a]);
        m.extend_from_slice(&[0x33; 16]);
        let h = parse_sslv2_client_hello(&m).unwrap();
        assert_eq!(h.version, 0x0301);
        assert!(sslv2_client_hello_overflows(&h, m.len()).is_empty());
        assert_eq!(sslv2_cipher_specs(&m, &h), vec![4, 5, 10]);
        let mut bad = m.clone();
        bad[7] = 0xff;
        bad[8] = 0xff;
        let h = parse_sslv2_client_hello(&bad).unwrap();
        let o = sslv2_client_hello_overflows(&h, bad.len());
        assert!(
            o.iter()
                .any(|x| x.event == "sslv2.client_hello_oversized_challenge")
        );
        for n in 0..m.len().min(9) {
            assert!(parse_sslv2_client_hello(&m[..n]).is_none());
        }
    }

    #[test]
    fn grease_and_extensions() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x0017));
        let mut ext = Vec::new();
        ext.extend_from_slice(&[0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09]);
        ext.extend_from_slice(b"localhost");
        ext.extend_from_slice(&[0xff, 0x01, 0x00, 0x01, 0x00]);
        ext.extend_from_slice(&[0x00, 0x17, 0x00]); // truncated
        let w = walk_extensions(&ext);
        assert_eq!(w.len(), 2);
        assert_eq!(sni_of(w[0].1), Some(&b"localhost"[..]));
        assert_eq!(w[1].0, 0xff01);
    }
}
