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
