//! TLS / SSLv3 records and handshake messages (RFC 2246, RFC 5246): ClientHello
//! with SNI, ServerHello, Certificate, ServerHelloDone, ClientKeyExchange,
//! ChangeCipherSpec, encrypted Finished, application data and alerts.

use super::{SimRng, put_u16, put_u24, random_bytes};

/// SSL 3.0.
pub const SSL3: u16 = 0x0300;
/// TLS 1.0.
pub const TLS10: u16 = 0x0301;
/// TLS 1.2.
pub const TLS12: u16 = 0x0303;

/// Record content types.
pub mod content {
    /// change_cipher_spec
    pub const CCS: u8 = 20;
    /// alert
    pub const ALERT: u8 = 21;
    /// handshake
    pub const HANDSHAKE: u8 = 22;
    /// application_data
    pub const APP_DATA: u8 = 23;
}

/// Handshake message types.
pub mod hs {
    /// client_hello
    pub const CLIENT_HELLO: u8 = 1;
    /// server_hello
    pub const SERVER_HELLO: u8 = 2;
    /// certificate
    pub const CERTIFICATE: u8 = 11;
    /// server_hello_done
    pub const SERVER_HELLO_DONE: u8 = 14;
    /// client_key_exchange
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
}

/// Largest plaintext fragment of one record.
pub const MAX_FRAGMENT: usize = 16384;

/// One record.
pub fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 5);
    v.push(content_type);
    v.extend_from_slice(&version.to_be_bytes());
    put_u16(&mut v, body.len());
    v.extend_from_slice(body);
    v
}

/// One handshake message (type, 24-bit length, body).
pub fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.push(msg_type);
    put_u24(&mut v, body.len());
    v.extend_from_slice(body);
    v
}

/// What a client offers.
#[derive(Clone, Debug)]
pub struct ClientHello<'a> {
    /// `client_version`.
    pub version: u16,
    /// Record-layer version of the record carrying the hello.
    pub record_version: u16,
    /// 32 random bytes.
    pub random: [u8; 32],
    /// Session id to resume (empty for a new session).
    pub session_id: &'a [u8],
    /// Offered cipher suites.
    pub ciphers: &'a [u16],
    /// Server name for the SNI extension.
    pub sni: Option<&'a str>,
    /// Add the extensions a 2010s browser sends (groups, point formats,
    /// signature algorithms, renegotiation info) besides SNI.
    pub modern_extensions: bool,
}

fn ext(out: &mut Vec<u8>, typ: u16, body: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    put_u16(out, body.len());
    out.extend_from_slice(body);
}

/// The ClientHello handshake message (without the record header).
pub fn client_hello(ch: &ClientHello<'_>) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(&ch.version.to_be_bytes());
    b.extend_from_slice(&ch.random);
    b.push(ch.session_id.len().min(32) as u8);
    b.extend_from_slice(&ch.session_id[..ch.session_id.len().min(32)]);
    put_u16(&mut b, ch.ciphers.len() * 2);
    for c in ch.ciphers {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]); // compression: null
    let mut exts = Vec::new();
    if let Some(name) = ch.sni {
        let mut sn = Vec::new();
        put_u16(&mut sn, name.len() + 3);
        sn.push(0); // host_name
        put_u16(&mut sn, name.len());
        sn.extend_from_slice(name.as_bytes());
        ext(&mut exts, 0, &sn);
    }
    if ch.modern_extensions {
        ext(&mut exts, 0xff01, &[0]); // renegotiation_info
        ext(&mut exts, 10, &[0, 6, 0, 0x17, 0, 0x18, 0, 0x19]); // supported_groups
        ext(&mut exts, 11, &[1, 0]); // ec_point_formats
        ext(&mut exts, 35, &[]); // session_ticket
        if ch.version >= TLS12 {
            ext(
                &mut exts,
                13,
                &[0, 8, 0x04, 0x01, 0x05, 0x01, 0x02, 0x01, 0x04, 0x03],
            ); // signature_algorithms
        }
    }
    if !exts.is_empty() {
        put_u16(&mut b, exts.len());
        b.extend_from_slice(&exts);
    }
    handshake(hs::CLIENT_HELLO, &b)
}

/// The ServerHello handshake message.
pub fn server_hello(
    version: u16,
    random: &[u8; 32],
    session_id: &[u8],
    cipher: u16,
    renegotiation_info: bool,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(80);
    b.extend_from_slice(&version.to_be_bytes());
    b.extend_from_slice(random);
    b.push(session_id.len().min(32) as u8);
    b.extend_from_slice(&session_id[..session_id.len().min(32)]);
    b.extend_from_slice(&cipher.to_be_bytes());
    b.push(0);
    if renegotiation_info {
        let mut exts = Vec::new();
        ext(&mut exts, 0xff01, &[0]);
        put_u16(&mut b, exts.len());
        b.extend_from_slice(&exts);
    }
    handshake(hs::SERVER_HELLO, &b)
}

/// The Certificate handshake message carrying a DER chain.
pub fn certificate(chain: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = chain.iter().map(|c| c.len() + 3).sum();
    let mut b = Vec::with_capacity(total + 3);
    put_u24(&mut b, total);
    for c in chain {
        put_u24(&mut b, c.len());
        b.extend_from_slice(c);
    }
    handshake(hs::CERTIFICATE, &b)
}

/// ServerHelloDone.
pub fn server_hello_done() -> Vec<u8> {
    handshake(hs::SERVER_HELLO_DONE, &[])
}

/// ClientKeyExchange with an RSA-encrypted premaster secret (`enc` bytes).
pub fn client_key_exchange_rsa(version: u16, enc: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(enc.len() + 2);
    if version > SSL3 {
        put_u16(&mut b, enc.len());
    }
    b.extend_from_slice(enc);
    handshake(hs::CLIENT_KEY_EXCHANGE, &b)
}

/// ChangeCipherSpec record.
pub fn change_cipher_spec(version: u16) -> Vec<u8> {
    record(content::CCS, version, &[1])
}

/// Ciphertext length for `plain` bytes under the session's cipher: RC4-SHA
/// (TLS 1.0: +20 MAC) or AES-128-GCM (TLS 1.2: +8 nonce +16 tag).
pub fn sealed_len(version: u16, plain: usize) -> usize {
    if version >= TLS12 {
        plain + 24
    } else {
        plain + 20
    }
}

/// The encrypted Finished message as one handshake record.
pub fn encrypted_finished(version: u16, rng: &mut SimRng) -> Vec<u8> {
    let body = random_bytes(rng, sealed_len(version, 16));
    record(content::HANDSHAKE, version, &body)
}

/// Application data records carrying `plain_len` bytes (split at 16 KiB).
pub fn application_data(version: u16, plain_len: usize, rng: &mut SimRng) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain_len + 64);
    let mut left = plain_len.max(1);
    while left > 0 {
        let n = left.min(MAX_FRAGMENT);
        let body = random_bytes(rng, sealed_len(version, n));
        out.extend_from_slice(&record(content::APP_DATA, version, &body));
        left -= n;
    }
    out
}

/// An encrypted close_notify alert.
pub fn encrypted_alert(version: u16, rng: &mut SimRng) -> Vec<u8> {
    let body = random_bytes(rng, sealed_len(version, 2));
    record(content::ALERT, version, &body)
}

/// Cipher suites a 2004 browser offers (RSA key exchange first).
pub const CIPHERS_2004: &[u16] = &[
    0x0004, 0x0005, 0x000a, 0x0009, 0x0064, 0x0062, 0x0003, 0x0006, 0x0013, 0x0012, 0x0063,
];
/// Cipher suites a TLS 1.2 client offers.
pub const CIPHERS_TLS12: &[u16] = &[
    0xc02b, 0xc02f, 0xc00a, 0xc009, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x000a,
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn client_hello_with_sni_has_consistent_lengths() {
        let ch = ClientHello {
            version: TLS12,
            record_version: TLS10,
            random: [7; 32],
            session_id: &[],
            ciphers: CIPHERS_TLS12,
            sni: Some("www.example.org"),
            modern_extensions: true,
        };
        let m = client_hello(&ch);
        assert_eq!(m[0], hs::CLIENT_HELLO);
        let len = usize::from(m[1]) << 16 | usize::from(m[2]) << 8 | usize::from(m[3]);
        assert_eq!(len + 4, m.len());
        // version, random, empty session id
        assert_eq!(&m[4..6], &[3, 3]);
        assert_eq!(m[38], 0);
        let cs_len = usize::from(m[39]) << 8 | usize::from(m[40]);
        assert_eq!(cs_len, CIPHERS_TLS12.len() * 2);
        let p = 41 + cs_len;
        assert_eq!(&m[p..p + 2], &[1, 0]);
        let ext_len = usize::from(m[p + 2]) << 8 | usize::from(m[p + 3]);
        assert_eq!(p + 4 + ext_len, m.len());
        // SNI extension first: type 0, list length, host_name, name.
        assert_eq!(&m[p + 4..p + 6], &[0, 0]);
        assert_eq!(&m[p + 13..p + 28], b"www.example.org");
        let r = record(content::HANDSHAKE, ch.record_version, &m);
        assert_eq!(&r[..3], &[22, 3, 1]);
        assert_eq!(usize::from(r[3]) << 8 | usize::from(r[4]), m.len());
    }

    #[test]
    fn server_flight_and_application_data() {
        let sh = server_hello(TLS10, &[1; 32], &[2; 32], 0x0005, false);
        assert_eq!(sh.len(), 4 + 2 + 32 + 1 + 32 + 2 + 1);
        let cert = certificate(&[vec![0x30, 0x00]]);
        assert_eq!(cert, vec![11, 0, 0, 8, 0, 0, 5, 0, 0, 2, 0x30, 0]);
        assert_eq!(server_hello_done(), vec![14, 0, 0, 0]);
        let mut rng = SimRng::seed_from_u64(3);
        let ad = application_data(TLS10, 20000, &mut rng);
        // Two records: 16384 + 3616 plaintext, each +20 MAC.
        assert_eq!(ad.len(), 5 + 16404 + 5 + 3636);
        assert_eq!(ad[0], content::APP_DATA);
        let cke = client_key_exchange_rsa(TLS10, &[9; 128]);
        assert_eq!(&cke[..6], &[16, 0, 0, 130, 0, 128]);
    }
}
