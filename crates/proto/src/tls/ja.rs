//! JA3 / JA3S (MD5 of the decimal field string, GREASE removed) and JA4 (client).

use super::parser::is_grease;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::fmt::Write;

fn join_dec(v: &[u16]) -> String {
    let mut s = String::new();
    for (i, x) in v.iter().filter(|x| !is_grease(**x)).enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{x}");
    }
    s
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
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
    let s = format!(
        "{},{},{},{},{}",
        version,
        join_dec(ciphers),
        join_dec(exts),
        join_dec(groups),
        join_dec(&pf)
    );
    let h = hex(&Md5::digest(s.as_bytes()));
    (s, h)
}

/// JA3S string and hash of a ServerHello.
pub fn ja3s(version: u16, cipher: u16, exts: &[u16]) -> (String, String) {
    let s = format!("{},{},{}", version, cipher, join_dec(exts));
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
    let b: Vec<String> = cs.iter().map(|c| format!("{c:04x}")).collect();
    es.retain(|e| *e != 0x0000 && *e != 0x0010);
    es.sort_unstable();
    let mut c: String = es
        .iter()
        .map(|e| format!("{e:04x}"))
        .collect::<Vec<_>>()
        .join(",");
    let sa: Vec<String> = sig_algs
        .iter()
        .filter(|s| !is_grease(**s))
        .map(|s| format!("{s:04x}"))
        .collect();
    if !sa.is_empty() {
        c.push('_');
        c.push_str(&sa.join(","));
    }
    format!("{a}_{}_{}", sha12(&b.join(",")), sha12(&c))
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
