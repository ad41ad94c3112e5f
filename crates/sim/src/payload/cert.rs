//! A minimal DER encoder and a deterministic X.509 v3 certificate
//! (RSA key, sha1WithRSAEncryption; the signature is filler — nothing verifies it).

use super::{SimRng, random_bytes};

/// DER tag numbers used here.
mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const UTC_TIME: u8 = 0x17;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    pub const BOOLEAN: u8 = 0x01;
}

/// A DER TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(content.len() + 4);
    v.push(tag);
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else if n < 0x1_0000 {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, (n & 0xff) as u8]);
    } else {
        v.extend_from_slice(&[
            0x83,
            ((n >> 16) & 0xff) as u8,
            ((n >> 8) & 0xff) as u8,
            (n & 0xff) as u8,
        ]);
    }
    v.extend_from_slice(content);
    v
}

/// A SEQUENCE of already-encoded elements.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// An OBJECT IDENTIFIER from its arcs.
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut c = Vec::new();
    if arcs.len() >= 2 {
        base128(arcs[0] * 40 + arcs[1], &mut c);
        for &a in &arcs[2..] {
            base128(a, &mut c);
        }
    }
    tlv(tag::OID, &c)
}

fn base128(mut v: u64, out: &mut Vec<u8>) {
    let mut tmp = vec![(v & 0x7f) as u8];
    v >>= 7;
    while v > 0 {
        tmp.push(0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    tmp.reverse();
    out.extend_from_slice(&tmp);
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub fn uint(bytes: &[u8]) -> Vec<u8> {
    let mut b: &[u8] = bytes;
    while b.len() > 1 && b[0] == 0 {
        b = &b[1..];
    }
    let mut c = Vec::with_capacity(b.len() + 1);
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        c.push(0);
    }
    c.extend_from_slice(b);
    if c.is_empty() {
        c.push(0);
    }
    tlv(tag::INTEGER, &c)
}

fn name(country: &str, org: &str, cn: &str) -> Vec<u8> {
    let rdn =
        |arcs: &[u64], t: u8, v: &str| tlv(tag::SET, &seq(&[&oid(arcs), &tlv(t, v.as_bytes())]));
    seq(&[
        &rdn(&[2, 5, 4, 6], tag::PRINTABLE_STRING, country),
        &rdn(&[2, 5, 4, 10], tag::UTF8_STRING, org),
        &rdn(&[2, 5, 4, 3], tag::UTF8_STRING, cn),
    ])
}

/// Parameters of a generated certificate.
#[derive(Clone, Debug)]
pub struct CertSpec<'a> {
    /// Subject common name (also the DNS subjectAltName).
    pub cn: &'a str,
    /// Subject organisation.
    pub org: &'a str,
    /// Issuer common name (equal to `cn` for a self-signed certificate).
    pub issuer_cn: &'a str,
    /// Issuer organisation.
    pub issuer_org: &'a str,
    /// `notBefore` as UTCTime text `YYMMDDHHMMSSZ`.
    pub not_before: &'a str,
    /// `notAfter` as UTCTime text.
    pub not_after: &'a str,
}

/// A DER-encoded X.509 v3 certificate with a 1024-bit RSA public key, a
/// serial, basicConstraints and a subjectAltName, deterministic for `rng`.
pub fn certificate(spec: &CertSpec<'_>, rng: &mut SimRng) -> Vec<u8> {
    let mut serial = random_bytes(rng, 8);
    serial[0] &= 0x7f;
    serial[0] |= 0x10;
    let sha1_rsa = seq(&[&oid(&[1, 2, 840, 113_549, 1, 1, 5]), &tlv(tag::NULL, &[])]);
    let mut modulus = random_bytes(rng, 128);
    modulus[0] |= 0x80;
    modulus[127] |= 1;
    let rsa_key = seq(&[&uint(&modulus), &uint(&[0x01, 0x00, 0x01])]);
    let mut bits = vec![0u8];
    bits.extend_from_slice(&rsa_key);
    let spki = seq(&[
        &seq(&[&oid(&[1, 2, 840, 113_549, 1, 1, 1]), &tlv(tag::NULL, &[])]),
        &tlv(tag::BIT_STRING, &bits),
    ]);
    let validity = seq(&[
        &tlv(tag::UTC_TIME, spec.not_before.as_bytes()),
        &tlv(tag::UTC_TIME, spec.not_after.as_bytes()),
    ]);
    let basic = seq(&[&oid(&[2, 5, 29, 19]), &tlv(tag::OCTET_STRING, &seq(&[]))]);
    let san_names = tlv(0x82, spec.cn.as_bytes()); // [2] dNSName
    let san = seq(&[
        &oid(&[2, 5, 29, 17]),
        &tlv(tag::OCTET_STRING, &seq(&[&san_names])),
    ]);
    let _ = tag::BOOLEAN;
    let exts = tlv(0xa3, &seq(&[&basic, &san]));
    let version = tlv(0xa0, &tlv(tag::INTEGER, &[2]));
    let tbs = seq(&[
        &version,
        &uint(&serial),
        &sha1_rsa,
        &name("US", spec.issuer_org, spec.issuer_cn),
        &validity,
        &name("US", spec.org, spec.cn),
        &spki,
        &exts,
    ]);
    let mut sig = vec![0u8];
    sig.extend_from_slice(&random_bytes(rng, 128));
    seq(&[&tbs, &sha1_rsa, &tlv(tag::BIT_STRING, &sig)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lengths_use_the_long_form_when_needed() {
        assert_eq!(tlv(4, &[0; 3]), vec![4, 3, 0, 0, 0]);
        assert_eq!(&tlv(4, &[0; 200])[..3], &[4, 0x81, 200]);
        assert_eq!(&tlv(4, &[0; 300])[..4], &[4, 0x82, 1, 44]);
    }

    #[test]
    fn oids_and_integers_encode_like_openssl() {
        // sha1WithRSAEncryption
        assert_eq!(
            oid(&[1, 2, 840, 113_549, 1, 1, 5]),
            vec![6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 5]
        );
        assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
    }

    #[test]
    fn certificate_is_a_well_formed_der_sequence_with_the_names() {
        let mut rng = SimRng::seed_from_u64(1);
        let c = certificate(
            &CertSpec {
                cn: "www.example.com",
                org: "Example",
                issuer_cn: "Example CA",
                issuer_org: "Example",
                not_before: "040101000000Z",
                not_after: "060101000000Z",
            },
            &mut rng,
        );
        assert_eq!(c[0], 0x30);
        assert_eq!(c[1], 0x82);
        let len = usize::from(c[2]) << 8 | usize::from(c[3]);
        assert_eq!(len + 4, c.len());
        let hay = |n: &[u8]| c.windows(n.len()).any(|w| w == n);
        assert!(hay(b"www.example.com"));
        assert!(hay(b"Example CA"));
        // Deterministic for a seed.
        let mut rng2 = SimRng::seed_from_u64(1);
        let c2 = certificate(
            &CertSpec {
                cn: "www.example.com",
                org: "Example",
                issuer_cn: "Example CA",
                issuer_org: "Example",
                not_before: "040101000000Z",
                not_after: "060101000000Z",
            },
            &mut rng2,
        );
        assert_eq!(c, c2);
    }
}
