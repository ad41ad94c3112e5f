//! SSH-2 transport (RFC 4253): banners, binary packets, KEXINIT, the
//! diffie-hellman-group1 exchange and NEWKEYS, then encrypted packets.

use super::{SimRng, put_u32, random_bytes};
use rand::Rng;

/// Message numbers.
pub mod msg {
    /// SSH_MSG_KEXINIT
    pub const KEXINIT: u8 = 20;
    /// SSH_MSG_NEWKEYS
    pub const NEWKEYS: u8 = 21;
    /// SSH_MSG_KEXDH_INIT
    pub const KEXDH_INIT: u8 = 30;
    /// SSH_MSG_KEXDH_REPLY
    pub const KEXDH_REPLY: u8 = 31;
}

/// The identification line, e.g. `SSH-2.0-OpenSSH_3.8p1\r\n`.
pub fn banner(software: &str) -> Vec<u8> {
    format!("SSH-2.0-{software}\r\n").into_bytes()
}

/// Appends an SSH `string`.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_u32(out, s.len());
    out.extend_from_slice(s);
}

/// Appends an SSH `mpint` from big-endian magnitude bytes.
pub fn put_mpint(out: &mut Vec<u8>, mag: &[u8]) {
    let mut m: &[u8] = mag;
    while m.first() == Some(&0) {
        m = &m[1..];
    }
    if m.first().is_some_and(|b| b & 0x80 != 0) {
        put_u32(out, m.len() + 1);
        out.push(0);
    } else {
        put_u32(out, m.len());
    }
    out.extend_from_slice(m);
}

/// An unencrypted binary packet: length, padding length, payload, random
/// padding (at least 4 bytes, total a multiple of 8).
pub fn packet(payload: &[u8], rng: &mut SimRng) -> Vec<u8> {
    let mut pad = 8 - ((payload.len() + 5) % 8);
    if pad < 4 {
        pad += 8;
    }
    let mut out = Vec::with_capacity(payload.len() + pad + 5);
    put_u32(&mut out, payload.len() + pad + 1);
    out.push(pad as u8);
    out.extend_from_slice(payload);
    out.extend_from_slice(&random_bytes(rng, pad));
    out
}

/// KEXINIT payload with OpenSSH-3.x-era algorithm lists.
pub fn kexinit(rng: &mut SimRng) -> Vec<u8> {
    let mut p = vec![msg::KEXINIT];
    p.extend_from_slice(&random_bytes(rng, 16));
    let lists: [&str; 10] = [
        "diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1",
        "ssh-rsa,ssh-dss",
        "aes128-cbc,3des-cbc,blowfish-cbc,aes256-cbc",
        "aes128-cbc,3des-cbc,blowfish-cbc,aes256-cbc",
        "hmac-md5,hmac-sha1,hmac-ripemd160",
        "hmac-md5,hmac-sha1,hmac-ripemd160",
        "none,zlib",
        "none,zlib",
        "",
        "",
    ];
    for l in lists {
        put_string(&mut p, l.as_bytes());
    }
    p.push(0); // first_kex_packet_follows
    put_u32(&mut p, 0);
    p
}

/// KEXDH_INIT payload with a random 1024-bit `e`.
pub fn kexdh_init(rng: &mut SimRng) -> Vec<u8> {
    let mut p = vec![msg::KEXDH_INIT];
    let mut e = random_bytes(rng, 128);
    e[0] &= 0x7f;
    e[0] |= 0x40;
    put_mpint(&mut p, &e);
    p
}

/// KEXDH_REPLY payload: an ssh-rsa host key, `f`, and a signature blob.
pub fn kexdh_reply(rng: &mut SimRng) -> Vec<u8> {
    let mut key = Vec::new();
    put_string(&mut key, b"ssh-rsa");
    put_mpint(&mut key, &[0x23]);
    let mut n = random_bytes(rng, 128);
    n[0] |= 0x80;
    put_mpint(&mut key, &n);
    let mut f = random_bytes(rng, 128);
    f[0] &= 0x7f;
    f[0] |= 0x40;
    let mut sig = Vec::new();
    put_string(&mut sig, b"ssh-rsa");
    put_string(&mut sig, &random_bytes(rng, 128));
    let mut p = vec![msg::KEXDH_REPLY];
    put_string(&mut p, &key);
    put_mpint(&mut p, &f);
    put_string(&mut p, &sig);
    p
}

/// NEWKEYS payload.
pub fn newkeys() -> Vec<u8> {
    vec![msg::NEWKEYS]
}

/// An encrypted packet (aes128-cbc + hmac-md5) carrying about `plain` bytes:
/// a multiple of 16 bytes of ciphertext plus a 16-byte MAC.
pub fn encrypted_packet(plain: usize, rng: &mut SimRng) -> Vec<u8> {
    let n = (plain + 5 + 4).div_ceil(16) * 16;
    let extra = rng.gen_range(0..2) * 16;
    random_bytes(rng, n + extra + 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn packets_are_block_aligned_with_enough_padding() {
        let mut rng = SimRng::seed_from_u64(2);
        for n in 0..40 {
            let payload = vec![7u8; n];
            let p = packet(&payload, &mut rng);
            let len = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
            assert_eq!(len + 4, p.len());
            assert_eq!(p.len() % 8, 0);
            assert!(p[4] >= 4);
            assert_eq!(usize::from(p[4]) + n + 1, len);
        }
    }

    #[test]
    fn kexinit_has_ten_name_lists() {
        let mut rng = SimRng::seed_from_u64(2);
        let k = kexinit(&mut rng);
        assert_eq!(k[0], msg::KEXINIT);
        let mut p = 17;
        for _ in 0..10 {
            let l = u32::from_be_bytes([k[p], k[p + 1], k[p + 2], k[p + 3]]) as usize;
            p += 4 + l;
        }
        assert_eq!(k.len(), p + 5);
    }

    #[test]
    fn mpint_sign_byte() {
        let mut v = Vec::new();
        put_mpint(&mut v, &[0x80, 1]);
        assert_eq!(v, vec![0, 0, 0, 3, 0, 0x80, 1]);
        let mut v = Vec::new();
        put_mpint(&mut v, &[0, 0x23]);
        assert_eq!(v, vec![0, 0, 0, 1, 0x23]);
    }
}
