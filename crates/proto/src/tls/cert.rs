//! X.509 certificate facts in Suricata's formats (via `x509-parser`, the same
//! library Suricata uses, so DN strings match).

use sha1::{Digest, Sha1};

/// What the logger and the rule buffers need from one certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject DN (`C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS`).
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial as upper-case colon-separated hex of the DER integer bytes.
    pub serial: String,
    /// SHA-1 of the DER certificate, lower-case colon-separated hex.
    pub fingerprint: String,
    /// notBefore, seconds since the epoch.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
    /// DNS names of the subjectAltName extension.
    pub san: Vec<String>,
}

/// Colon-separated hex.
pub fn colon_hex(b: &[u8], upper: bool) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let hex = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        s.push(char::from(hex[usize::from(x >> 4)]));
        s.push(char::from(hex[usize::from(x & 15)]));
    }
    s
}

/// Decodes one DER certificate; `None` when it does not parse.
pub fn parse_cert(der: &[u8]) -> Option<CertInfo> {
    use x509_parser::extensions::SubjectAlternativeName;
    use x509_parser::nom::Parser;
    use x509_parser::oid_registry;
    use x509_parser::prelude::*;
    let fingerprint = colon_hex(&Sha1::digest(der), false);
    // Extensions are not deep-parsed (that is most of the decoding cost);
    // the one we report, subjectAltName, is decoded on its own.
    let (_, x) = X509CertificateParser::new()
        .with_deep_parse_extensions(false)
        .parse(der)
        .ok()?;
    let mut san = Vec::new();
    for ext in x.extensions() {
        if ext.oid == oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME
            && let Ok((_, alt)) = SubjectAlternativeName::from_der(ext.value)
        {
            for n in &alt.general_names {
                if let GeneralName::DNSName(d) = n {
                    san.push((*d).to_string());
                }
            }
        }
    }
    Some(CertInfo {
        subject: x.subject().to_string(),
        issuer: x.issuer().to_string(),
        serial: colon_hex(x.raw_serial(), true),
        fingerprint,
        not_before: x.validity().not_before.timestamp(),
        not_after: x.validity().not_after.timestamp(),
        san,
    })
}

/// One DER element: (tag, contents, what follows); definite lengths only.
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let (digits, rest) = rest.split_at_checked(n)?;
        (
            digits
                .iter()
                .fold(0usize, |a, &d| (a << 8) | usize::from(d)),
            rest,
        )
    };
    let (content, after) = rest.split_at_checked(len)?;
    Some((tag, content, after))
}

/// The outer shape of a certificate without decoding it: `SEQUENCE {
/// SEQUENCE tbsCertificate, SEQUENCE signatureAlgorithm, BIT STRING signature }`
/// filling `der` exactly. Used when nobody consumes the certificate's facts.
pub fn der_shape_ok(der: &[u8]) -> bool {
    let Some((0x30, body, [])) = der_tlv(der) else {
        return false;
    };
    let Some((0x30, _, rest)) = der_tlv(body) else {
        return false;
    };
    let Some((0x30, _, rest)) = der_tlv(rest) else {
        return false;
    };
    matches!(der_tlv(rest), Some((0x03, _, [])))
}

/// `2017-05-11T20:44:49` (UTC), as Suricata writes certificate dates.
pub fn eve_date(secs: i64) -> String {
    stormwatch_model::Timestamp::from_secs_nanos(secs, 0)
        .to_human()
        .replacen(' ', "T", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(colon_hex(&[0x08, 0x3a, 0xff], true), "08:3A:FF");
        assert_eq!(colon_hex(&[0xcc, 0xaa], false), "cc:aa");
        assert_eq!(colon_hex(&[0x55], true), "55");
        assert_eq!(eve_date(0), "1970-01-01T00:00:00");
        assert_eq!(eve_date(-86400), "1969-12-31T00:00:00");
        assert!(parse_cert(b"not a certificate").is_none());
        assert!(!der_shape_ok(b"not a certificate"));
        // SEQUENCE { SEQUENCE {}, SEQUENCE {}, BIT STRING 00 }
        let shape = [0x30, 0x07, 0x30, 0x00, 0x30, 0x00, 0x03, 0x01, 0x00];
        assert!(der_shape_ok(&shape));
        assert!(!der_shape_ok(&shape[..8]), "cut");
        let mut long = shape.to_vec();
        long.push(0);
        assert!(!der_shape_ok(&long), "trailing byte");
        // Long-form length.
        let mut lf = vec![0x30, 0x81, 0x07];
        lf.extend_from_slice(&shape[2..]);
        assert!(der_shape_ok(&lf));
    }
}
