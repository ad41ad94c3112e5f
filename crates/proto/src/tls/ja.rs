//! JA3 / JA3S (MD5 of the decimal field string, GREASE removed) and JA4 (client).

use super::parser::is_grease;
use md5::{Digest, Md5};
use sha2::Sha256;

fn push_dec(s: &mut String, mut x: u16) {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    loop {
        i -= 1;
        // x % 10 < 10 fits a byte.
        buf[i] = b"0123456789"[usize::from(x % 10)];
        x /= 10;
        if x == 0 {
            break;
        }
    }
    for &c in &buf[i..] {
        s.push(char::from(c));
    }
}

fn join_dec(v: &[u16]) -> String {
    let mut s = String::with_capacity(v.len() * 6);
    for (i, x) in v.iter().filter(|x| !is_grease(**x)).enumerate() {
        if i > 0 {
            s.push('-');
        }
        push_dec(&mut s, *x);
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(HEX[usize::from(x >> 4)]));
        s.push(char::from(HEX[usize::from(x & 15)]));
    }
    s
}

fn push_hex4(s: &mut String, v: u16) {
    for sh in [12u16, 8, 4, 0] {
        s.push(char::from(HEX[usize::from((v >> sh) & 15)]));
    }
}

fn hex4_list(v: &[u16]) -> String {
    let mut s = String::with_capacity(v.len() * 5);
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_hex4(&mut s, *x);
    }
    s
}

/// JA3 string and hash of a ClientHello.
pub fn ja3(
    version: u16,
    ciphers: &[u16],
    exts: &[u16],
    groups: &[u16],
    point_formats: &[u8],
) -> (String, String) {
    let pf: Vec<u16> = point_formats.iter().map(|&x| u16::from(x)).collect();
    let mut s = String::with_capacity(128);
    push_dec(&mut s, version);
    for part in [ciphers, exts, groups, &pf] {
        s.push(',');
        s.push_str(&join_dec(part));
    }
    let h = hex(&Md5::digest(s.as_bytes()));
    (s, h)
}

/// JA3S string and hash of a ServerHello.
pub fn ja3s(version: u16, cipher: u16, exts: &[u16]) -> (String, String) {
    let mut s = String::with_capacity(64);
    push_dec(&mut s, version);
    s.push(',');
    push_dec(&mut s, cipher);
    s.push(',');
    s.push_str(&join_dec(exts));
    let h = hex(&Md5::digest(s.as_bytes()));
    (s, h)
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

fn sha12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_string();
    }
    let mut h = hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

/// Plain JA4 of a ClientHello over TCP.
pub fn ja4(
    hello_version: u16,
    supported_versions: &[u16],
    ciphers: &[u16],
    exts: &[u16],
    has_sni: bool,
    alpn: Option<&[u8]>,
    sig_algs: &[u16],
) -> String {
    let version = supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(hello_version);
    let mut cs: Vec<u16> = ciphers.iter().copied().filter(|c| !is_grease(*c)).collect();
    let mut es: Vec<u16> = exts.iter().copied().filter(|e| !is_grease(*e)).collect();
    let alpn_s = match alpn.filter(|a| !a.is_empty()) {
        None => "00".to_string(),
        Some(a) => {
            let (f, l) = (a[0], a[a.len() - 1]);
            if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() {
                format!("{}{}", char::from(f), char::from(l))
            } else {
                let hf = format!("{f:02x}");
                let hl = format!("{l:02x}");
                format!("{}{}", &hf[..1], &hl[1..])
            }
        }
    };
    let a = format!(
        "t{}{}{:02}{:02}{}",
        ja4_version(version),
        if has_sni { 'd' } else { 'i' },
        cs.len().min(99),
        es.len().min(99),
        alpn_s
    );
    cs.sort_unstable();
    let b = hex4_list(&cs);
    es.retain(|e| *e != 0x0000 && *e != 0x0010);
    es.sort_unstable();
    let mut c = hex4_list(&es);
    let sa: Vec<u16> = sig_algs
        .iter()
        .copied()
        .filter(|s| !is_grease(*s))
        .collect();
    if !sa.is_empty() {
        c.push('_');
        c.push_str(&hex4_list(&sa));
    }
    format!("{a}_{}_{}", sha12(&b), sha12(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ja3_known_value() {
        // The JA3 README example string and hash.
        let (s, h) = ja3(
            769,
            &[47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
            &[0, 10, 11],
            &[23, 24, 25],
            &[0],
        );
        assert_eq!(
            s,
            "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
        );
        assert_eq!(h, "ada70206e40642a3e4461f35503241d5");
        // GREASE is dropped.
        let (s2, _) = ja3(771, &[0x0a0a, 4865], &[0x1a1a, 0], &[0x2a2a, 29], &[0]);
        assert_eq!(s2, "771,4865,0,29,0");
    }

    #[test]
    fn ja4_shape() {
        let j = ja4(
            0x0303,
            &[0x0304, 0x0303],
            &[0x1301, 0x1302],
            &[0x0000, 0x0010, 0x002b],
            true,
            Some(b"h2"),
            &[0x0403],
        );
        assert!(j.starts_with("t13d0203h2_"), "{j}");
        assert_eq!(j.len(), "t13d0203h2_".len() + 12 + 1 + 12);
    }
}
