//! Payload writers: real protocol bytes for every protocol the scenarios speak.
//!
//! Each writer is a pure function of its arguments (randomness comes from the
//! caller's seeded generator), unit-tested against the protocol's grammar.

pub mod cert;
pub mod dns;
pub mod exe;
pub mod ftp;
pub mod http;
pub mod irc;
pub mod legacy;
pub mod ssh;
pub mod tftp;
pub mod tls;

use rand::RngCore;

/// The simulator's random generator: ChaCha8, a stable byte stream for a seed
/// on every platform.
pub type SimRng = rand_chacha::ChaCha8Rng;

/// `n` random bytes.
pub fn random_bytes(rng: &mut SimRng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

/// A fixed-size random array.
pub fn random_array<const N: usize>(rng: &mut SimRng) -> [u8; N] {
    let mut v = [0u8; N];
    rng.fill_bytes(&mut v);
    v
}

/// Appends `v` as a big-endian u16 (values above 65535 saturate; writers only
/// pass lengths they bounded).
pub(crate) fn put_u16(out: &mut Vec<u8>, v: usize) {
    let v = u16::try_from(v).unwrap_or(u16::MAX);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `v` as a big-endian 24-bit integer.
pub(crate) fn put_u24(out: &mut Vec<u8>, v: usize) {
    let v = u32::try_from(v).unwrap_or(u32::MAX).min(0xff_ffff);
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// Appends `v` as a big-endian u32.
pub(crate) fn put_u32(out: &mut Vec<u8>, v: usize) {
    let v = u32::try_from(v).unwrap_or(u32::MAX);
    out.extend_from_slice(&v.to_be_bytes());
}
