//! Sixteen probes of a sampled-gram bit table at a time (the rule
//! prefilter's gram pass; see `stormwatch-rules`' `prefilter` module).
//!
//! The pass tests, at every `stride`-th position of a buffer, a bit of a
//! table: the bit of the hash of the 4 bytes there (3 for 3-byte grams),
//! folded loosely (`| 0x20` per byte). The scalar loop costs about ten
//! instructions per probe. The AVX-512 VBMI kernel here takes sixteen
//! positions per step: one `vpermi2b` moves each probe's four bytes out of
//! 128 loaded ones, then a fold, a multiply, a shift, and one `vpgatherdd`
//! read the sixteen table words (the table's `u64` words seen as twice as
//! many little-endian `u32` words: bit `h` lives in word `h >> 5` at bit
//! `h & 31`); variable shifts test two bits of each word (the second from
//! a second multiply, [`GramProbe::new`]), and a `vpcompressd` keeps the
//! positions of the probes with both set.
//!
//! **Soundness.** As for the crate's other kernels: the `unsafe` step runs
//! only when [`GramProbe::new`] found the CPU features, each step reads
//! `hay[i .. i + 128]` with `i + 128 ≤ hay.len()` checked by its loop, and
//! the gather's word indices are below `2^(bits − 5)` where the table holds
//! at least `2^bits` bits (checked by [`GramProbe::scan`]).
#![allow(unsafe_code)]

/// Bytes one step loads (two 64-byte registers for `vpermi2b`).
const STEP_BYTES: usize = 128;

/// Probes of a bit table at every `stride`-th position, sixteen at a time.
#[derive(Clone, Debug)]
pub struct GramProbe {
    /// `vpermi2b` indices: probe `k`'s bytes `k × stride .. + 4`.
    idx: [u8; 64],
    /// Probe `k`'s offset in a step, `k × stride`.
    offs: [u32; 16],
    /// Probes per step (16, fewer for strides whose sixteen probes would
    /// need more than [`STEP_BYTES`] bytes).
    lanes: usize,
    stride: usize,
    /// Kept bits of a probe's four bytes (`0x00ff_ffff` for 3-byte grams).
    gram_mask: u32,
    mul: u32,
    mul2: u32,
    shift: u32,
    /// Kept bits of the shifted product (the table's `bits`).
    hmask: u32,
}

impl GramProbe {
    /// A prober for grams of `gram` (3 or 4) bytes every `stride` (1 to 31)
    /// positions. With `y = (x | 0x2020_2020) & gram_mask` for the four
    /// bytes `x` there (little-endian), a position is reported when the
    /// table has both bit `h = y × mul >> shift & hmask` and bit `(h & !31)
    /// | (y × mul2 >> 27)` set (two bits of one 32-bit block). None when the
    /// CPU lacks AVX-512 VBMI, or for other shapes.
    pub fn new(
        stride: usize,
        gram: usize,
        mul: u32,
        mul2: u32,
        shift: u32,
        hmask: u32,
    ) -> Option<GramProbe> {
        if !(1..=31).contains(&stride) || !(3..=4).contains(&gram) || shift >= 32 {
            return None;
        }
        if !crate::Kernel::Avx512Vbmi.available() {
            return None;
        }
        let lanes = ((STEP_BYTES - 4) / stride + 1).min(16);
        let mut idx = [0u8; 64];
        let mut offs = [0u32; 16];
        for k in 0..lanes {
            offs[k] = u32::try_from(k * stride).ok()?;
            for j in 0..4 {
                // At most (lanes − 1) × stride + 3 ≤ 127: a 7-bit index.
                idx[4 * k + j] = u8::try_from(k * stride + j).ok()?;
            }
        }
        Some(GramProbe {
            idx,
            offs,
            lanes,
            stride,
            gram_mask: if gram == 4 { u32::MAX } else { 0x00ff_ffff },
            mul,
            mul2,
            shift,
            hmask,
        })
    }

    /// Probes positions 0, `stride`, 2 × `stride`, … of `hay` while a
    /// step's [`STEP_BYTES`] fit, calling `hit` with each position whose
    /// bit of `table` is set, in order; returns the first position not
    /// probed (a multiple of `stride`). Probes nothing (returns 0) when
    /// `table` holds fewer than `hmask + 1` bits, or for a buffer of 4 GiB
    /// or more. The kernel collects the positions (a `vpcompressd` per
    /// step) and calls `hit` after every batch of them, so its loop has no
    /// call and no branch per position.
    pub fn scan(&self, table: &[u64], hay: &[u8], hit: &mut dyn FnMut(usize)) -> usize {
        if (table.len() as u64) * 64 <= u64::from(self.hmask) || u32::try_from(hay.len()).is_err() {
            return 0;
        }
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: a `GramProbe` exists only where `Kernel::available` said the CPU
            // has the features; the table holds every bit a probe reads.
            unsafe { scan_vbmi(self, table, hay, hit) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (table, hay, hit);
            0
        }
    }

    /// Probes per step.
    pub fn lanes(&self) -> usize {
        self.lanes
    }
}

/// Positions [`scan_vbmi`] collects before handing them on (a step adds at
/// most sixteen).
const BATCH: usize = 256;

/// [`GramProbe::scan`] with AVX-512 VBMI.
///
/// # Safety
/// The CPU must support `avx512f`, `avx512bw` and `avx512vbmi`; `table`
/// must hold more than `p.hmask` bits; `hay` must be shorter than 4 GiB.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline(never)]
unsafe fn scan_vbmi(p: &GramProbe, table: &[u64], hay: &[u8], hit: &mut dyn FnMut(usize)) -> usize {
    use core::arch::x86_64::{
        _mm_cvtsi32_si128, _mm512_add_epi32, _mm512_and_si512, _mm512_loadu_si512,
        _mm512_mask_i32gather_epi32, _mm512_mask_test_epi32_mask, _mm512_maskz_compress_epi32,
        _mm512_mullo_epi32, _mm512_or_si512, _mm512_permutex2var_epi8, _mm512_set1_epi32,
        _mm512_setzero_si512, _mm512_srl_epi32, _mm512_srli_epi32, _mm512_srlv_epi32,
        _mm512_storeu_si512,
    };
    // SAFETY: reads the 64 index bytes and the sixteen offsets.
    let (idx, offs) = unsafe {
        (
            _mm512_loadu_si512(p.idx.as_ptr().cast()),
            _mm512_loadu_si512(p.offs.as_ptr().cast()),
        )
    };
    let fold = _mm512_set1_epi32(0x2020_2020);
    let gmask = _mm512_set1_epi32(p.gram_mask as i32);
    let mul = _mm512_set1_epi32(p.mul as i32);
    let mul2 = _mm512_set1_epi32(p.mul2 as i32);
    let shift = _mm_cvtsi32_si128(p.shift as i32);
    let hmask = _mm512_set1_epi32(p.hmask as i32);
    let low5 = _mm512_set1_epi32(31);
    let one = _mm512_set1_epi32(1);
    let lanes: u16 = if p.lanes >= 16 {
        u16::MAX
    } else {
        (1u16 << p.lanes) - 1
    };
    let words = table.as_ptr().cast::<i32>();
    let advance = p.lanes * p.stride;
    // Positions found (each step stores sixteen, keeps those of its hits).
    // Not zeroed first (a 1 KiB memset per call, ≈ 0.4 % of a run with all
    // ET rules): every word below `n` was written by a step's store.
    let mut found = [core::mem::MaybeUninit::<u32>::uninit(); BATCH + 16];
    let mut n = 0;
    let mut i = 0;
    while hay.len().saturating_sub(i) >= STEP_BYTES {
        let base = hay.as_ptr().wrapping_add(i);
        // SAFETY: `hay[i .. i + 128]` exists (checked above).
        let (a, b) = unsafe {
            (
                _mm512_loadu_si512(base.cast()),
                _mm512_loadu_si512(base.wrapping_add(64).cast()),
            )
        };
        let x = _mm512_and_si512(
            _mm512_or_si512(_mm512_permutex2var_epi8(a, idx, b), fold),
            gmask,
        );
        let h = _mm512_and_si512(_mm512_srl_epi32(_mm512_mullo_epi32(x, mul), shift), hmask);
        let w = _mm512_srli_epi32::<5>(h);
        // SAFETY: every index is at most `hmask >> 5`, a `u32` word of
        // `table` (which holds more than `hmask` bits); lanes past `lanes`
        // are not read.
        let got =
            unsafe { _mm512_mask_i32gather_epi32::<4>(_mm512_setzero_si512(), lanes, w, words) };
        let b2 = _mm512_srli_epi32::<27>(_mm512_mullo_epi32(x, mul2));
        let m = _mm512_mask_test_epi32_mask(
            lanes,
            _mm512_and_si512(
                _mm512_srlv_epi32(got, _mm512_and_si512(h, low5)),
                _mm512_srlv_epi32(got, b2),
            ),
            one,
        );
        // `i` < 4 GiB (the caller checked the length).
        let at = _mm512_add_epi32(offs, _mm512_set1_epi32(i as i32));
        // SAFETY: `n ≤ BATCH − 16` here, so the sixteen words fit.
        unsafe {
            _mm512_storeu_si512(
                found.as_mut_ptr().wrapping_add(n).cast(),
                _mm512_maskz_compress_epi32(m, at),
            );
        }
        n += m.count_ones() as usize;
        if n > BATCH - 16 {
            // SAFETY: `found[..n]` is written (see above) and `n ≤ BATCH`.
            flush(unsafe { written(&found, n) }, hit);
            n = 0;
        }
        i += advance;
    }
    // SAFETY: as above.
    flush(unsafe { written(&found, n) }, hit);
    i
}

/// The first `n` words of `found`.
///
/// # Safety
/// `n ≤ found.len()`, and each of those words must have been written.
#[cfg(target_arch = "x86_64")]
unsafe fn written(found: &[core::mem::MaybeUninit<u32>], n: usize) -> &[u32] {
    debug_assert!(n <= found.len());
    // SAFETY: the caller's promise; `MaybeUninit<u32>` has `u32`'s layout.
    unsafe { core::slice::from_raw_parts(found.as_ptr().cast::<u32>(), n) }
}

/// Hands the positions of a batch on.
#[inline(never)]
fn flush(found: &[u32], hit: &mut dyn FnMut(usize)) {
    for &at in found {
        hit(at as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::rng;

    const MUL: u32 = 0x9E37_79B1;
    const MUL2: u32 = 0x85EB_CA77;

    /// The scalar probes the kernel must agree with.
    fn scalar(p: &GramProbe, table: &[u64], hay: &[u8], upto: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < upto {
            let x = u32::from_le_bytes([hay[i], hay[i + 1], hay[i + 2], hay[i + 3]]);
            let y = (x | 0x2020_2020) & p.gram_mask;
            let h = (y.wrapping_mul(p.mul) >> p.shift) & p.hmask;
            let h2 = (h & !31) | (y.wrapping_mul(p.mul2) >> 27);
            let w = table[(h >> 6) as usize];
            if (w >> (h & 63)) & (w >> (h2 & 63)) & 1 != 0 {
                out.push(i);
            }
            i += p.stride;
        }
        out
    }

    #[test]
    fn sixteen_probes_find_the_positions_one_at_a_time_finds() {
        let mut r = rng(7);
        let mut reported = 0;
        for (bits, fill) in [(18u32, 8u64), (12, 2), (15, 1)] {
            let mut table = vec![0u64; 1 << (bits - 6)];
            // `64 / fill` random bits per word: from sparse (about one in
            // nine set) to dense tables, so that both bits of some probes
            // are set.
            for w in &mut table {
                for _ in 0..(64 / fill).max(1) {
                    *w |= 1 << (r() % 64);
                }
            }
            let hay: Vec<u8> = (0..5000).map(|_| (r() % 96 + 32) as u8).collect();
            for stride in 1..=12 {
                for gram in [3, 4] {
                    let Some(p) = GramProbe::new(stride, gram, MUL, MUL2, 32 - 18, (1 << bits) - 1)
                    else {
                        eprintln!("no AVX-512 VBMI here: the kernel is not tested");
                        return;
                    };
                    for len in [0, 127, 128, 129, 300, 5000] {
                        let hay = &hay[..len];
                        let mut got = Vec::new();
                        let end = p.scan(&table, hay, &mut |at| got.push(at));
                        assert_eq!(end % stride, 0);
                        assert!(end + STEP_BYTES > len || len < STEP_BYTES, "stopped early");
                        let want = scalar(&p, &table, hay, end);
                        reported += want.len();
                        assert_eq!(got, want, "stride {stride} gram {gram} len {len}");
                    }
                }
            }
        }
        assert!(reported > 10_000, "{reported}");
    }

    #[test]
    fn a_table_too_small_for_its_hashes_is_not_read() {
        let Some(p) = GramProbe::new(5, 4, MUL, MUL2, 14, (1 << 18) - 1) else {
            return;
        };
        let table = vec![u64::MAX; 16];
        let mut n = 0;
        assert_eq!(p.scan(&table, &[b'a'; 400], &mut |_| n += 1), 0);
        assert_eq!(n, 0);
    }

    #[test]
    fn wide_strides_take_fewer_probes_per_step() {
        if let Some(p) = GramProbe::new(9, 4, MUL, MUL2, 14, (1 << 18) - 1) {
            assert_eq!(p.lanes(), 14);
            assert!((p.lanes() - 1) * 9 + 4 <= STEP_BYTES);
        }
        assert!(GramProbe::new(0, 4, MUL, MUL2, 14, 1).is_none());
        assert!(GramProbe::new(4, 5, MUL, MUL2, 14, 1).is_none());
    }
}
