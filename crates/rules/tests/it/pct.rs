//! The PCT Client_Hello overflow rules (MS04-011, sids 2515-2518, 2528) of
//! both shared generations against hellos built here: one alert per exploit
//! attempt, whole or in 1-byte segments; none for an ordinary TLS hello.

use crate::common::*;
use stormwatch_model::Direction;
use stormwatch_rules::{RuleSet, RulesConfig};

const TS: Direction = Direction::ToServer;
const TC: Direction = Direction::ToClient;
const ATTACKER: [u8; 4] = [198, 51, 100, 9];
const VICTIM: [u8; 4] = [10, 1, 1, 20];

/// A PCT 1.0 CLIENT-HELLO shaped like the exploit: message type 1 at byte 2,
/// non-zero lengths at 5..11 (both rule generations' offsets), 0x8F at byte
/// 11 and a 2-byte length above 32768 after it.
fn pct_overflow_hello() -> Vec<u8> {
    let mut h = vec![
        0x80, 0x1e, 0x01, 0x80, 0x01, 0x00, 0x01, 0x00, 0x02, 0x01, 0x00, 0x8f, 0xff, 0xff,
    ];
    h.extend(std::iter::repeat_n(0x41, 16));
    h
}

/// An ordinary TLS 1.2 ClientHello (random starting with `first_random`).
fn tls12_hello(first_random: u8) -> Vec<u8> {
    let mut body = vec![0x03, 0x03, first_random];
    body.extend((1u8..32).map(|i| i.wrapping_mul(37)));
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2f, 0x00, 0x9c]); // ciphers
    body.extend_from_slice(&[0x01, 0x00]); // compression
    body.extend_from_slice(&[0x00, 0x00]); // no extensions
    let mut hs = vec![0x01, 0x00];
    hs.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&u16::try_from(hs.len()).unwrap().to_be_bytes());
    rec.extend(hs);
    rec
}

fn load(rel: &str) -> Option<RuleSet> {
    let sh = shared()?;
    let dir = sh.join("rules").join(rel);
    let (rs, rep) = RuleSet::load(&[dir], &RulesConfig::default()).unwrap();
    assert_eq!(rep.skipped(), 0, "{rep}");
    Some(rs)
}

fn count(f: &Flow, sid: u32) -> usize {
    f.alerts.iter().filter(|a| a.sig.sid == sid).count()
}

fn check_generation(rules_dir: &str, file: &str, sid: u32, port: u16) {
    let Some(rs) = load(&format!("{rules_dir}/{file}")) else {
        return;
    };
    assert!(
        rs.signatures().any(|s| s.sid == sid),
        "{file}: sid {sid} loads"
    );
    // One packet.
    let mut f = Flow::between(ATTACKER, VICTIM, 6, 1034, port);
    f.send(&rs, TS, &pct_overflow_hello());
    assert_eq!(
        count(&f, sid),
        1,
        "{rules_dir}/{file} whole hello: {:?}",
        sids(&f.alerts)
    );
    let a = f.alerts.iter().find(|a| a.sig.sid == sid).unwrap();
    assert_eq!(a.sig.category, "Attempted Administrator Privilege Gain");
    assert_eq!(a.sig.severity, 1);
    assert!(a.sig.references.iter().any(|r| r == "cve,2003-0719"));
    // 1-byte segments: exactly one alert.
    let mut f = Flow::between(ATTACKER, VICTIM, 6, 1035, port);
    for b in pct_overflow_hello().chunks(1) {
        f.send(&rs, TS, b);
    }
    assert_eq!(
        count(&f, sid),
        1,
        "{rules_dir}/{file} 1-byte segments: {:?}",
        sids(&f.alerts)
    );
    // Two attempts on one connection (the server answered between): two alerts.
    let mut f = Flow::between(ATTACKER, VICTIM, 6, 1036, port);
    f.send(&rs, TS, &pct_overflow_hello());
    f.send(&rs, TC, b"\x00");
    f.send(&rs, TS, &pct_overflow_hello());
    assert_eq!(count(&f, sid), 2);
    // A well-formed TLS 1.2 hello: nothing.
    let mut f = Flow::between(ATTACKER, VICTIM, 6, 1037, port);
    f.send(&rs, TS, &tls12_hello(0x11));
    assert_eq!(count(&f, sid), 0);
    // The wrong port: nothing.
    let mut f = Flow::between(ATTACKER, VICTIM, 6, 1038, 8443);
    f.send(&rs, TS, &pct_overflow_hello());
    assert_eq!(count(&f, sid), 0);
}

#[test]
fn pct_rules_2004_generation() {
    check_generation("snort-2.2.0-2004/rules", "web-misc.rules", 2515, 443);
    check_generation("snort-2.2.0-2004/rules", "misc.rules", 2516, 639);
    check_generation("snort-2.2.0-2004/rules", "imap.rules", 2517, 993);
    check_generation("snort-2.2.0-2004/rules", "pop3.rules", 2518, 995);
}

#[test]
fn pct_rules_2005_generation_from_et() {
    check_generation(
        "et-open-snort-2.9.0-2017/rules",
        "web-misc.rules",
        2515,
        443,
    );
    check_generation("et-open-snort-2.9.0-2017/rules", "misc.rules", 2516, 995);
    check_generation("et-open-snort-2.9.0-2017/rules", "imap.rules", 2517, 993);
    check_generation("et-open-snort-2.9.0-2017/rules", "pop3.rules", 2518, 995);
}

#[test]
fn smtp_pct_needs_starttls_first() {
    for dir in ["snort-2.2.0-2004/rules", "et-open-snort-2.9.0-2017/rules"] {
        let Some(rs) = load(&format!("{dir}/smtp.rules")) else {
            return;
        };
        // Without STARTTLS: no alert.
        let mut f = Flow::between(ATTACKER, VICTIM, 6, 2000, 25);
        f.send(&rs, TS, &pct_overflow_hello());
        assert_eq!(count(&f, 2528), 0, "{dir}");
        // STARTTLS, the server's go-ahead, then the hello (byte by byte).
        let mut f = Flow::between(ATTACKER, VICTIM, 6, 2001, 25);
        f.send(&rs, TS, b"STARTTLS\r\n");
        f.send(&rs, TC, b"220 Ready to start TLS\r\n");
        for b in pct_overflow_hello().chunks(1) {
            f.send(&rs, TS, b);
        }
        assert_eq!(count(&f, 2528), 1, "{dir}: {:?}", sids(&f.alerts));
    }
}

#[test]
fn tls_hello_with_8f_random_is_the_known_false_positive_of_rev_13() {
    // SOURCES.md: TLS 1.2 hellos whose random starts with 0x8F satisfy the
    // 2005 rule (offsets 5/7/9); the 2004 rule (6/8/10) does not fire.
    let Some(et) = load("et-open-snort-2.9.0-2017/rules/web-misc.rules") else {
        return;
    };
    let Some(old) = load("snort-2.2.0-2004/rules/web-misc.rules") else {
        return;
    };
    let mut hello = tls12_hello(0x8f);
    hello[12] = 0xff; // random[1]: the "length" after 0x8F
    let mut f = Flow::between(ATTACKER, VICTIM, 6, 3000, 443);
    f.send(&et, TS, &hello);
    assert_eq!(count(&f, 2515), 1);
    let mut f = Flow::between(ATTACKER, VICTIM, 6, 3001, 443);
    f.send(&old, TS, &hello);
    assert_eq!(count(&f, 2515), 0);
}
