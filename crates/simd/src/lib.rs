//! # Overview
//!
//! SIMD kernels for the rule prefilter (`stormwatch-rules`), kept apart so
//! that crate can stay free of `unsafe`. One kernel so far:
//! [`probe_grams`], which tests a hashed bit table ([`GramTable`]) at grams
//! sampled every `stride` bytes of a buffer — the per-byte filter of the big
//! rule groups (hundreds of keys of 8+ bytes in the HTTP response stream).
//!
//! Each kernel picks its implementation at run time: AVX2 (eight probes per
//! step: one gather loads the eight grams, one gathers their table words)
//! where the CPU has it, else a scalar loop giving the same answers. Both
//! use [`gram_hash`], so a caller's own scalar probes agree with them.
//!
//! ```
//! use stormwatch_simd::{GramTable, gram_hash, probe_grams, TABLE_WORDS};
//! let (gram_mask, hash_mask) = (u32::MAX, u32::MAX); // 4-byte grams, whole table
//! let mut bits = Box::new([0u64; TABLE_WORDS]);
//! let h = gram_hash(u32::from_le_bytes(*b"evil"), gram_mask, hash_mask) as usize;
//! bits[h / 64] |= 1 << (h % 64);
//! let t = GramTable { bits: &bits, gram_mask, hash_mask };
//! let hay = b"0123456789.....EVIL.....................................";
//! let mut hits = Vec::new();
//! // Probes 0, 5, 10, … 35 (eight fit in 56 bytes, sixteen do not).
//! let end = probe_grams(hay, 5, &t, &mut |p| hits.push(p));
//! assert_eq!((hits, end), (vec![15], 40));
//! ```
//!
//! **Soundness.** `unsafe` is confined to the AVX2 kernel. It is entered only
//! after `is_x86_feature_detected!("avx2")` said yes; its gathers read the
//! buffer only at `i + j × stride .. + 4` for `j < 8` with
//! `i + 7 × stride + 4 ≤ len` checked by the loop condition, and the table
//! only at word `hash >> 5 < 2^13` (a hash has [`TABLE_BITS`] bits, the table
//! holds `2^TABLE_BITS` bits), which the type `[u64; TABLE_WORDS]` makes in
//! bounds. Unaligned gathers of 4 bytes are allowed (scale 1).
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

/// Bits of a gram hash (and of a [`GramTable`]).
pub const TABLE_BITS: u32 = 18;

/// 64-bit words of a [`GramTable`]'s bits (32 KiB).
pub const TABLE_WORDS: usize = (1 << TABLE_BITS) / 64;

/// Multiplier of the gram hash (Fibonacci hashing).
pub const HASH_MUL: u32 = 0x9E37_79B1;

/// A bit table indexed by [`gram_hash`].
#[derive(Clone, Copy, Debug)]
pub struct GramTable<'a> {
    /// The bits (bit `h` is bit `h % 64` of word `h / 64`).
    pub bits: &'a [u64; TABLE_WORDS],
    /// Keeps the gram's bytes of a little-endian 4-byte load
    /// (`0x00ff_ffff` for 3-byte grams).
    pub gram_mask: u32,
    /// Keeps the low bits of the hash a smaller table uses (`u32::MAX`: all).
    pub hash_mask: u32,
}

/// Table bit of the four bytes `x` (little-endian load): loosely case-folded
/// (bit 5 of every byte set), masked to the gram, multiplied, top
/// [`TABLE_BITS`] bits, masked to the table.
#[inline(always)]
pub fn gram_hash(x: u32, gram_mask: u32, hash_mask: u32) -> u32 {
    (((x | 0x2020_2020) & gram_mask).wrapping_mul(HASH_MUL) >> (32 - TABLE_BITS)) & hash_mask
}

/// True when bit `gram_hash(x)` of the table is set.
#[inline(always)]
pub fn test_gram(t: &GramTable<'_>, x: u32) -> bool {
    let h = gram_hash(x, t.gram_mask, t.hash_mask) as usize;
    (t.bits[(h >> 6) & (TABLE_WORDS - 1)] >> (h & 63)) & 1 != 0
}

/// Probes the table at positions `0, stride, 2 × stride, …` of `hay` (the
/// four bytes there) while eight probes fit (`p + 7 × stride + 4 ≤ len`),
/// calling `hit(p)` in increasing order for each position whose bit is set;
/// returns the first position not probed (the caller probes the rest).
/// `stride` 0 is taken as 1.
pub fn probe_grams(
    hay: &[u8],
    stride: usize,
    t: &GramTable<'_>,
    hit: &mut dyn FnMut(usize),
) -> usize {
    let stride = stride.max(1);
    #[cfg(target_arch = "x86_64")]
    {
        if stride <= MAX_SIMD_STRIDE && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only
            // requirement of this `target_feature` function beyond what its
            // safe signature guarantees (see the crate's "Soundness").
            return unsafe { avx2::probe_grams(hay, stride, t, hit) };
        }
    }
    probe_grams_scalar(hay, stride, t, hit)
}

/// True when [`probe_grams`] runs a SIMD kernel on this CPU (else it runs
/// [`probe_grams_scalar`], and a caller may prefer its own scalar loop).
pub fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Largest stride the AVX2 kernel takes (its offsets `j × stride` are i32).
const MAX_SIMD_STRIDE: usize = 1 << 20;

/// The scalar version of [`probe_grams`] (same answers, same return value).
pub fn probe_grams_scalar(
    hay: &[u8],
    stride: usize,
    t: &GramTable<'_>,
    hit: &mut dyn FnMut(usize),
) -> usize {
    let stride = stride.max(1);
    let mut i = 0usize;
    while let Some(end) = i.checked_add(7 * stride + 4)
        && end <= hay.len()
    {
        for j in 0..8 {
            let p = i + j * stride;
            if let Some(w) = hay.get(p..p + 4).and_then(|w| <[u8; 4]>::try_from(w).ok())
                && test_gram(t, u32::from_le_bytes(w))
            {
                hit(p);
            }
        }
        i += 8 * stride;
    }
    i
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{GramTable, HASH_MUL, TABLE_BITS};
    use std::arch::x86_64::*;

    /// See [`super::probe_grams`].
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2. `stride` must be in `1..=MAX_SIMD_STRIDE`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn probe_grams(
        hay: &[u8],
        stride: usize,
        t: &GramTable<'_>,
        hit: &mut dyn FnMut(usize),
    ) -> usize {
        let s = i32::try_from(stride).unwrap_or(i32::MAX);
        let offs = _mm256_setr_epi32(0, s, 2 * s, 3 * s, 4 * s, 5 * s, 6 * s, 7 * s);
        let fold = _mm256_set1_epi32(0x2020_2020);
        let gram = _mm256_set1_epi32(t.gram_mask as i32);
        let mul = _mm256_set1_epi32(HASH_MUL as i32);
        let hmask = _mm256_set1_epi32(t.hash_mask as i32);
        let low5 = _mm256_set1_epi32(31);
        let one = _mm256_set1_epi32(1);
        let words = t.bits.as_ptr().cast::<i32>();
        let base = hay.as_ptr();
        let span = 7 * stride + 4;
        let mut i = 0usize;
        while let Some(end) = i.checked_add(span)
            && end <= hay.len()
        {
            // SAFETY: `i + j × stride + 4 ≤ i + span ≤ hay.len()` for every
            // lane j < 8, so each 4-byte read lies in `hay`; `base + i` is in
            // (or one past) the same allocation. Unaligned reads are allowed.
            let g = unsafe { _mm256_i32gather_epi32::<1>(base.add(i).cast::<i32>(), offs) };
            let x = _mm256_and_si256(_mm256_or_si256(g, fold), gram);
            let h = _mm256_and_si256(
                _mm256_srli_epi32::<{ 32 - TABLE_BITS as i32 }>(_mm256_mullo_epi32(x, mul)),
                hmask,
            );
            // SAFETY: every lane of `h` is below 2^TABLE_BITS (a logical
            // shift right by 32 − TABLE_BITS, then a mask), so `h >> 5` is
            // below 2^(TABLE_BITS − 5): the index of a 4-byte word inside
            // `t.bits`, which holds 2^TABLE_BITS bits (a `[u64; TABLE_WORDS]`,
            // 8-byte aligned, so its 4-byte words are aligned too).
            let w = unsafe { _mm256_i32gather_epi32::<4>(words, _mm256_srli_epi32::<5>(h)) };
            let b = _mm256_and_si256(_mm256_srlv_epi32(w, _mm256_and_si256(h, low5)), one);
            if _mm256_testz_si256(b, b) == 0 {
                let m = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32::<31>(b)));
                report(m as u32, i, stride, hit);
            }
            i += 8 * stride;
        }
        i
    }

    /// Calls `hit` for each set lane of `m` (bit j: position `i + j × stride`).
    #[cold]
    #[inline(never)]
    fn report(m: u32, i: usize, stride: usize, hit: &mut dyn FnMut(usize)) {
        for j in 0..8 {
            if (m >> j) & 1 != 0 {
                hit(i + j * stride);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    /// Every probe position of `probe_grams` (while eight fit), tested one
    /// by one.
    fn naive(hay: &[u8], stride: usize, t: &GramTable<'_>) -> (Vec<usize>, usize) {
        let stride = stride.max(1);
        let mut out = Vec::new();
        let mut i = 0;
        while i + 7 * stride + 4 <= hay.len() {
            for j in 0..8 {
                let p = i + j * stride;
                let x = u32::from_le_bytes(hay[p..p + 4].try_into().unwrap());
                if test_gram(t, x) {
                    out.push(p);
                }
            }
            i += 8 * stride;
        }
        (out, i)
    }

    fn table(rnd: &mut impl FnMut() -> u64, density: u64, hay: &[u8]) -> Box<[u64; TABLE_WORDS]> {
        let mut bits = Box::new([0u64; TABLE_WORDS]);
        for w in bits.iter_mut() {
            for _ in 0..density {
                *w |= rnd() & rnd();
            }
        }
        // Some grams of the buffer itself, so hits are not only chance.
        for _ in 0..8 {
            if hay.len() >= 4 {
                let p = (rnd() as usize) % (hay.len() - 3);
                let x = u32::from_le_bytes(hay[p..p + 4].try_into().unwrap());
                for gm in [u32::MAX, 0x00ff_ffff] {
                    let h = gram_hash(x, gm, u32::MAX) as usize;
                    bits[h / 64] |= 1 << (h % 64);
                }
            }
        }
        bits
    }

    #[test]
    fn simd_and_scalar_agree_with_one_by_one_probes() {
        let mut rnd = rng(0x5eed_1234_abcd_ef01);
        for round in 0..400 {
            let len = (rnd() % 700) as usize;
            // Text-like bytes (letters of both cases, blanks) or any bytes.
            let hay: Vec<u8> = (0..len)
                .map(|_| {
                    let r = rnd();
                    if round % 2 == 0 {
                        b"aAbBeEtT <>/=\"\r\n"[(r % 16) as usize]
                    } else {
                        r as u8
                    }
                })
                .collect();
            let bits = table(&mut rnd, 1 + round % 3, &hay);
            for stride in [0usize, 1, 2, 3, 4, 5, 7, 13] {
                for (gram_mask, hash_mask) in [
                    (u32::MAX, u32::MAX),
                    (0x00ff_ffff, u32::MAX),
                    (u32::MAX, (1 << 15) - 1),
                    (0x00ff_ffff, (1 << 12) - 1),
                ] {
                    let t = GramTable {
                        bits: &bits,
                        gram_mask,
                        hash_mask,
                    };
                    // Every alignment of the buffer's start.
                    let skip = (rnd() % 8) as usize;
                    let h = hay.get(skip..).unwrap_or(&[]);
                    let want = naive(h, stride, &t);
                    let mut got = Vec::new();
                    let end = probe_grams(h, stride, &t, &mut |p| got.push(p));
                    assert_eq!((got, end), want, "len {len} stride {stride} skip {skip}");
                    let mut got = Vec::new();
                    let end = probe_grams_scalar(h, stride, &t, &mut |p| got.push(p));
                    assert_eq!((got, end), want, "scalar len {len} stride {stride}");
                }
            }
        }
    }

    #[test]
    fn every_set_bit_is_found_at_every_lane_and_length() {
        // One key gram placed at each probe position of buffers of every
        // length around the eight-probe span: it is reported exactly when
        // its position was probed (never missed).
        let key = *b"KeY!";
        let mut bits = Box::new([0u64; TABLE_WORDS]);
        let h = gram_hash(u32::from_le_bytes(key), u32::MAX, u32::MAX) as usize;
        bits[h / 64] |= 1 << (h % 64);
        let t = GramTable {
            bits: &bits,
            gram_mask: u32::MAX,
            hash_mask: u32::MAX,
        };
        for stride in 1usize..=6 {
            for len in 0..(16 * stride + 12) {
                for at in (0..len.saturating_sub(3)).step_by(stride) {
                    let mut hay = vec![0u8; len];
                    hay[at..at + 4].copy_from_slice(&key);
                    let mut got = Vec::new();
                    let end = probe_grams(&hay, stride, &t, &mut |p| got.push(p));
                    let want: Vec<usize> = if at < end { vec![at] } else { vec![] };
                    assert_eq!(got, want, "stride {stride} len {len} at {at}");
                    assert!(end.is_multiple_of(8 * stride) && end + 7 * stride + 4 > len);
                }
            }
        }
    }

    #[test]
    fn case_folds_loosely() {
        let mut bits = Box::new([0u64; TABLE_WORDS]);
        let h = gram_hash(u32::from_le_bytes(*b"abcd"), u32::MAX, u32::MAX) as usize;
        bits[h / 64] |= 1 << (h % 64);
        let t = GramTable {
            bits: &bits,
            gram_mask: u32::MAX,
            hash_mask: u32::MAX,
        };
        let mut hay = b"ABCD".repeat(16);
        hay.extend_from_slice(&[0; 40]);
        let mut got = Vec::new();
        probe_grams(&hay, 4, &t, &mut |p| got.push(p));
        assert_eq!(got, (0..16).map(|k| 4 * k).collect::<Vec<_>>());
    }
}
