//! SSLv2 and PCT 1.0 hellos, and the malformed "PCT Client_Hello overflow"
//! shape (MS04-011, CVE-2003-0719) that the classic Snort/ET rules detect.
//!
//! Both protocols use the SSLv2 record header: two bytes, high bit set, 15-bit
//! length of what follows. Layout of an SSLv2 CLIENT-HELLO after that header:
//!
//! | offset | field |
//! |---|---|
//! | 2 | msg type (1 = CLIENT-HELLO) |
//! | 3–4 | version |
//! | 5–6 | cipher-specs length |
//! | 7–8 | session-id length |
//! | 9–10 | challenge length |
//! | 11… | cipher specs, session id, challenge |
//!
//! The **overflow shape** ([`pct_overflow_hello`]) is an SSLv2-framed
//! CLIENT-HELLO whose length fields are out of range: cipher-specs length 1
//! (not a multiple of 3), session-id length 1 (must be 0 or 16), challenge
//! length 22, and a first "cipher spec" `8F` followed by the 16-bit value
//! `0x8601` (34 305 > 32 768) — the oversized length the PCT code copies
//! without a bound. Everything after the header is filler. No working code is
//! ever written.
//!
//! The Snort 2.2 rules (sids 2515–2518, 2528) test, relative to the start of
//! the stream: byte 2 = `01`; u16 at 6 above 0; u16 at 8 neither 0 nor 16;
//! u16 at 10 above 20; byte 11 = `8F`; the u16 after that byte above 32768.
//! The Emerging Threats copies use offsets 5, 7, 9 for the three middle tests. The overflow shape
//! satisfies both variants; see [`RuleConditions`].

use super::put_u16;

/// SSLv2 record header for a body of `len` bytes (2-byte form, no padding).
pub fn sslv2_header(len: usize) -> [u8; 2] {
    let len = len.min(0x7fff);
    [0x80 | ((len >> 8) as u8 & 0x7f), (len & 0xff) as u8]
}

/// SSLv2 message type CLIENT-HELLO (also PCT's `CH_MSG_CLIENT_HELLO`).
pub const MSG_CLIENT_HELLO: u8 = 1;
/// PCT message types.
pub mod pct_msg {
    /// CLIENT_HELLO
    pub const CLIENT_HELLO: u8 = 1;
    /// SERVER_HELLO
    pub const SERVER_HELLO: u8 = 2;
    /// ERROR
    pub const ERROR: u8 = 5;
}
/// PCT version 1 (`0x8001`).
pub const PCT_VERSION_1: u16 = 0x8001;
/// PCT 1 `CH_OFFSET` value.
pub const PCT_CH_OFFSET_V1: u16 = 10;
/// PCT error `SPECS_MISMATCH`.
pub const PCT_ERR_SPECS_MISMATCH: u16 = 6;

/// A well-formed SSLv2 CLIENT-HELLO record. `version` is 0x0002 for SSL 2.0,
/// or 0x0300/0x0301 for the SSLv2-compatible hello of SSLv3/TLS clients.
/// `session_id` must be empty or 16 bytes, `challenge` 16–32 bytes.
pub fn sslv2_client_hello(
    version: u16,
    specs: &[[u8; 3]],
    session_id: &[u8],
    challenge: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(9 + specs.len() * 3 + session_id.len() + challenge.len());
    b.push(MSG_CLIENT_HELLO);
    b.extend_from_slice(&version.to_be_bytes());
    put_u16(&mut b, specs.len() * 3);
    put_u16(&mut b, session_id.len());
    put_u16(&mut b, challenge.len());
    for s in specs {
        b.extend_from_slice(s);
    }
    b.extend_from_slice(session_id);
    b.extend_from_slice(challenge);
    let mut r = sslv2_header(b.len()).to_vec();
    r.extend_from_slice(&b);
    r
}

/// Cipher specs of a 2004 browser's SSLv2-compatible hello: TLS suites as
/// `00 xx yy`, then the SSLv2 kinds.
pub const SSLV2_COMPAT_SPECS: &[[u8; 3]] = &[
    [0x00, 0x00, 0x04],
    [0x00, 0x00, 0x05],
    [0x00, 0x00, 0x0a],
    [0x01, 0x00, 0x80],
    [0x07, 0x00, 0xc0],
    [0x03, 0x00, 0x80],
    [0x00, 0x00, 0x09],
    [0x06, 0x00, 0x40],
    [0x00, 0x00, 0x64],
    [0x00, 0x00, 0x62],
    [0x00, 0x00, 0x03],
    [0x00, 0x00, 0x06],
    [0x02, 0x00, 0x80],
    [0x04, 0x00, 0x80],
];

/// What a PCT 1.0 client offers.
#[derive(Clone, Debug)]
pub struct PctClientHello<'a> {
    /// `CH_SESSION_ID_DATA` (32 bytes; all zero when there is no session to resume).
    pub session_id: [u8; 32],
    /// `CH_CHALLENGE_DATA`.
    pub challenge: [u8; 32],
    /// Cipher specs (4 bytes each: cipher, key length, MAC length).
    pub cipher_specs: &'a [u32],
    /// Hash specs.
    pub hash_specs: &'a [u16],
    /// Certificate specs.
    pub cert_specs: &'a [u16],
    /// Key-exchange specs.
    pub exch_specs: &'a [u16],
}

/// A well-formed PCT 1.0 CLIENT_HELLO record.
pub fn pct_client_hello(ch: &PctClientHello<'_>) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.push(pct_msg::CLIENT_HELLO);
    b.extend_from_slice(&PCT_VERSION_1.to_be_bytes());
    b.push(0); // pad
    b.extend_from_slice(&ch.session_id);
    b.extend_from_slice(&ch.challenge);
    b.extend_from_slice(&PCT_CH_OFFSET_V1.to_be_bytes());
    put_u16(&mut b, ch.cipher_specs.len() * 4);
    put_u16(&mut b, ch.hash_specs.len() * 2);
    put_u16(&mut b, ch.cert_specs.len() * 2);
    put_u16(&mut b, ch.exch_specs.len() * 2);
    put_u16(&mut b, 0); // key arg (IV) length
    for c in ch.cipher_specs {
        b.extend_from_slice(&c.to_be_bytes());
    }
    for list in [ch.hash_specs, ch.cert_specs, ch.exch_specs] {
        for h in list {
            b.extend_from_slice(&h.to_be_bytes());
        }
    }
    let mut r = sslv2_header(b.len()).to_vec();
    r.extend_from_slice(&b);
    r
}

/// PCT cipher specs of IIS-era clients (RC4 128/40 with MAC 128 bits).
pub const PCT_CIPHER_SPECS: &[u32] = &[0x0004_8040, 0x0004_2840];
/// PCT hash specs: MD5, SHA.
pub const PCT_HASH_SPECS: &[u16] = &[0x0001, 0x0003];
/// PCT certificate specs: X.509.
pub const PCT_CERT_SPECS: &[u16] = &[0x0001];
/// PCT key-exchange specs: RSA.
pub const PCT_EXCH_SPECS: &[u16] = &[0x0001];

/// A PCT ERROR record (`SPECS_MISMATCH` with the six mismatch flags set): a
/// server that does not speak PCT any more refuses the hello with this.
pub fn pct_error_specs_mismatch() -> Vec<u8> {
    let mut b = vec![pct_msg::ERROR];
    b.extend_from_slice(&PCT_ERR_SPECS_MISMATCH.to_be_bytes());
    put_u16(&mut b, 6);
    b.extend_from_slice(&[1, 1, 0, 0, 0, 0]);
    let mut r = sslv2_header(b.len()).to_vec();
    r.extend_from_slice(&b);
    r
}

/// Default body length of the overflow hello (the record-length field).
pub const PCT_OVERFLOW_BODY_LEN: usize = 0x62;

/// The PCT Client_Hello overflow shape: an SSLv2-framed record of `body_len`
/// bytes (at least 15) with the out-of-range fields described in the module
/// docs, padded with `filler`.
pub fn pct_overflow_hello(body_len: usize, filler: u8) -> Vec<u8> {
    let body_len = body_len.clamp(15, 0x7fff);
    let mut r = sslv2_header(body_len).to_vec();
    r.push(MSG_CLIENT_HELLO); // 2
    r.extend_from_slice(&[0x02, 0xbd]); // 3-4 version (not a known version)
    r.extend_from_slice(&[0x00, 0x01]); // 5-6 cipher-specs length 1
    r.extend_from_slice(&[0x00, 0x01]); // 7-8 session-id length 1
    r.extend_from_slice(&[0x00, 0x16]); // 9-10 challenge length 22
    r.push(0x8f); // 11
    r.extend_from_slice(&[0x86, 0x01]); // 12-13 oversized length 34305
    r.extend_from_slice(&[0x00, 0x00, 0x00]); // 14-16
    r.resize(2 + body_len, filler);
    r
}

/// Every condition of the classic PCT overflow rule, evaluated on the first
/// bytes a client sent (both the Snort 2.2 offsets and the ET offsets).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct RuleConditions {
    /// `content:"|01|"; depth:1; offset:2;` — a CLIENT-HELLO message type.
    pub msg_type_client_hello: bool,
    /// `byte_test:2,>,0,6`
    pub u16_at_6_gt_0: bool,
    /// `byte_test:2,!,0,8`
    pub u16_at_8_ne_0: bool,
    /// `byte_test:2,!,16,8`
    pub u16_at_8_ne_16: bool,
    /// `byte_test:2,>,20,10`
    pub u16_at_10_gt_20: bool,
    /// ET: `byte_test:2,>,0,5`
    pub u16_at_5_gt_0: bool,
    /// ET: `byte_test:2,!,0,7`
    pub u16_at_7_ne_0: bool,
    /// ET: `byte_test:2,!,16,7`
    pub u16_at_7_ne_16: bool,
    /// ET: `byte_test:2,>,20,9`
    pub u16_at_9_gt_20: bool,
    /// `content:"|8F|"; depth:1; offset:11;`
    pub byte_11_is_8f: bool,
    /// `byte_test:2,>,32768,0,relative` (after the `8F`).
    pub u16_after_8f_gt_32768: bool,
}

impl RuleConditions {
    /// Evaluates the conditions on `b`.
    pub fn eval(b: &[u8]) -> RuleConditions {
        let u16_at =
            |o: usize| -> Option<u16> { Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?])) };
        let t = |o: usize, f: &dyn Fn(u16) -> bool| u16_at(o).is_some_and(f);
        let byte_11_is_8f = b.get(11) == Some(&0x8f);
        RuleConditions {
            msg_type_client_hello: b.get(2) == Some(&0x01),
            u16_at_6_gt_0: t(6, &|v| v > 0),
            u16_at_8_ne_0: t(8, &|v| v != 0),
            u16_at_8_ne_16: t(8, &|v| v != 16),
            u16_at_10_gt_20: t(10, &|v| v > 20),
            u16_at_5_gt_0: t(5, &|v| v > 0),
            u16_at_7_ne_0: t(7, &|v| v != 0),
            u16_at_7_ne_16: t(7, &|v| v != 16),
            u16_at_9_gt_20: t(9, &|v| v > 20),
            byte_11_is_8f,
            u16_after_8f_gt_32768: byte_11_is_8f && t(12, &|v| v > 32768),
        }
    }

    /// The Snort 2.2 rule (offsets 6/8/10) matches.
    pub fn snort_rule_matches(&self) -> bool {
        self.msg_type_client_hello
            && self.u16_at_6_gt_0
            && self.u16_at_8_ne_0
            && self.u16_at_8_ne_16
            && self.u16_at_10_gt_20
            && self.byte_11_is_8f
            && self.u16_after_8f_gt_32768
    }

    /// The Emerging Threats rule (offsets 5/7/9) matches.
    pub fn et_rule_matches(&self) -> bool {
        self.msg_type_client_hello
            && self.u16_at_5_gt_0
            && self.u16_at_7_ne_0
            && self.u16_at_7_ne_16
            && self.u16_at_9_gt_20
            && self.byte_11_is_8f
            && self.u16_after_8f_gt_32768
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_shape_meets_every_condition_of_both_rule_variants() {
        let b = pct_overflow_hello(PCT_OVERFLOW_BODY_LEN, 0x41);
        assert_eq!(b.len(), 2 + 0x62);
        let c = RuleConditions::eval(&b);
        // content:"|01|"; depth:1; offset:2;
        assert!(c.msg_type_client_hello);
        assert_eq!(b[2], 0x01);
        // byte_test:2,>,0,6
        assert!(c.u16_at_6_gt_0);
        assert_eq!(u16::from_be_bytes([b[6], b[7]]), 0x0100);
        // byte_test:2,!,0,8 and byte_test:2,!,16,8
        assert!(c.u16_at_8_ne_0 && c.u16_at_8_ne_16);
        assert_eq!(u16::from_be_bytes([b[8], b[9]]), 0x0100);
        // byte_test:2,>,20,10
        assert!(c.u16_at_10_gt_20);
        assert!(u16::from_be_bytes([b[10], b[11]]) > 20);
        // ET offsets 5/7/9
        assert!(c.u16_at_5_gt_0);
        assert!(c.u16_at_7_ne_0 && c.u16_at_7_ne_16);
        assert!(c.u16_at_9_gt_20);
        assert_eq!(u16::from_be_bytes([b[9], b[10]]), 22);
        // content:"|8F|"; depth:1; offset:11;
        assert!(c.byte_11_is_8f);
        // byte_test:2,>,32768,0,relative
        assert!(c.u16_after_8f_gt_32768);
        assert_eq!(u16::from_be_bytes([b[12], b[13]]), 34305);
        assert!(c.snort_rule_matches());
        assert!(c.et_rule_matches());
        // Filler only after the 17-byte header.
        assert!(b[17..].iter().all(|&x| x == 0x41));
    }

    #[test]
    fn well_formed_pct_hello_meets_none_of_the_overflow_conditions() {
        let b = pct_client_hello(&PctClientHello {
            session_id: [0; 32],
            challenge: [0x5a; 32],
            cipher_specs: PCT_CIPHER_SPECS,
            hash_specs: PCT_HASH_SPECS,
            cert_specs: PCT_CERT_SPECS,
            exch_specs: PCT_EXCH_SPECS,
        });
        assert_eq!(&b[2..5], &[0x01, 0x80, 0x01]);
        let c = RuleConditions::eval(&b);
        // The message type is CLIENT_HELLO by definition; it is what the rule
        // anchors on, not one of the overflow conditions.
        assert!(c.msg_type_client_hello);
        // A new session: the session-id data are zero, so every length test
        // over bytes 5..12 fails.
        assert!(!c.u16_at_6_gt_0);
        assert!(!c.u16_at_8_ne_0);
        assert!(!c.u16_at_10_gt_20);
        assert!(!c.u16_at_5_gt_0);
        assert!(!c.u16_at_7_ne_0);
        assert!(!c.u16_at_9_gt_20);
        assert!(!c.byte_11_is_8f);
        assert!(!c.u16_after_8f_gt_32768);
        assert!(!c.snort_rule_matches() && !c.et_rule_matches());
        // Consistent lengths: header says what follows.
        let len = usize::from(b[0] & 0x7f) << 8 | usize::from(b[1]);
        assert_eq!(len + 2, b.len());
        assert_eq!(u16::from_be_bytes([b[70], b[71]]), PCT_CH_OFFSET_V1);
    }

    #[test]
    fn well_formed_sslv2_hello_meets_none_of_the_overflow_conditions() {
        for version in [0x0002u16, 0x0301] {
            let b = sslv2_client_hello(version, SSLV2_COMPAT_SPECS, &[], &[0x33; 16]);
            let c = RuleConditions::eval(&b);
            assert!(c.msg_type_client_hello);
            // Session-id length 0 and challenge length 16: the tests that single
            // out malformed lengths fail in both variants.
            assert!(
                !c.u16_at_8_ne_0,
                "u16 at 8 = session-id low byte, challenge high byte = 0"
            );
            assert!(!c.u16_at_7_ne_0, "session-id length is 0");
            assert!(!c.u16_at_9_gt_20, "challenge length is 16");
            assert!(
                !c.byte_11_is_8f,
                "first cipher spec byte is a kind, never 8F"
            );
            assert!(!c.u16_after_8f_gt_32768);
            // Bytes 6-7 (cipher-specs low byte, session-id high byte) and 10-11
            // are non-zero in every SSLv2 hello that offers ciphers; they state
            // "cipher specs present", not an overflow.
            assert!(c.u16_at_6_gt_0 && c.u16_at_5_gt_0);
            assert!(!c.snort_rule_matches() && !c.et_rule_matches());
            assert_eq!(u16::from_be_bytes([b[5], b[6]]), 42);
            let len = usize::from(b[0] & 0x7f) << 8 | usize::from(b[1]);
            assert_eq!(len + 2, b.len());
        }
    }

    #[test]
    fn pct_error_record_layout() {
        let e = pct_error_specs_mismatch();
        assert_eq!(e, vec![0x80, 11, 5, 0, 6, 0, 6, 1, 1, 0, 0, 0, 0]);
    }
}
