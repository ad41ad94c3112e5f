//! # Overview
//!
//! SIMD kernels for the rule prefilter (`stormwatch-rules`), kept apart so
//! that crate can stay free of `unsafe`. One kernel: [`CaselessTeddy`], a
//! case-insensitive search for up to [`MAX_WINDOWS`] short byte strings
//! ("windows" of the prefilter's short keys) in the style of the Teddy
//! algorithm (Hyperscan; also aho-corasick's packed searcher): sixteen
//! buckets of windows, nibble tables of their first three bytes, 64
//! positions per step with AVX-512BW, then an exact check of the windows of
//! each bucket a position may start.
//!
//! Unlike a searcher over exact bytes, the tables hold both cases of every
//! letter, so the buffer needs no lower-cased copy. With all ET rules on the
//! benchmark capture, aho-corasick's AVX2 searcher (16 positions a step)
//! over lower-cased blocks cost ≈ 0.74 cycles per byte of the HTTP response
//! stream; this kernel took that search from ≈ 0.25 to ≈ 0.15 s per GB of
//! traffic (perf samples; `docs/rules.md`).
//!
//! ```
//! use stormwatch_simd::CaselessTeddy;
//! let t = CaselessTeddy::new(&[b"evil", b".exe", b"mz"]).unwrap();
//! let mut got = Vec::new();
//! t.find(b"GET /EVIL.EXE HTTP/1.0", &mut |w, p| {
//!     got.push((w, p));
//!     true
//! });
//! got.sort();
//! assert_eq!(got, vec![(0, 5), (1, 9)]);
//! ```
//!
//! **Dispatch.** [`CaselessTeddy::find`] runs the AVX-512BW kernel when the
//! CPU has it (checked once, when the searcher is built) and otherwise a
//! scalar loop over the same tables, with the same answers. The scalar loop
//! tests every position and is slow: callers ask [`CaselessTeddy::is_fast`]
//! and keep their own portable search where it says no.
//!
//! **Soundness.** `unsafe` is confined to the AVX-512 kernel
//! (`find_avx512`). It is called only when `is_x86_feature_detected!`
//! reported `avx512f` and `avx512bw` (the `fast` field, set in `new`). It
//! loads each 16-byte nibble table from its `[u8; 16]`; its three unaligned
//! 64-byte loads per step read `base + 0 .. base + 66`, where `base` is
//! either the haystack at `i` with `len − i ≥ 66` (checked by the branch
//! that takes it) or a 128-byte stack buffer; its stores write two 64-byte
//! stack arrays.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

/// Most windows one searcher holds (four per bucket).
pub const MAX_WINDOWS: usize = 64;

/// Buckets of windows (two sets of eight, one bit each in a table byte).
const BUCKETS: usize = 16;

/// Bytes of a window the nibble tables look at.
const FINGERPRINT: usize = 3;

/// Nibble tables: `[set][position][lo, hi][nibble]`, bit `b` set when a
/// window of bucket `set × 8 + b` may have that nibble at that position.
type Masks = [[[[u8; 16]; 2]; FINGERPRINT]; 2];

/// A case-insensitive multi-string searcher for short windows (see the crate
/// docs).
#[derive(Clone, Debug)]
pub struct CaselessTeddy {
    masks: Masks,
    /// Window indices of each bucket.
    buckets: [Vec<u16>; BUCKETS],
    /// The windows, lower-cased.
    windows: Vec<Box<[u8]>>,
    /// The CPU runs the AVX-512BW kernel.
    fast: bool,
}

/// The byte and, for an ASCII letter, its other case.
fn cases(b: u8) -> [u8; 2] {
    if b.is_ascii_alphabetic() {
        [b.to_ascii_lowercase(), b.to_ascii_uppercase()]
    } else {
        [b, b]
    }
}

/// The nibbles a bucket accepts at each fingerprint position (bit `n`: nibble
/// `n`).
#[derive(Clone, Copy, Debug, Default)]
struct Nibbles {
    lo: [u16; FINGERPRINT],
    hi: [u16; FINGERPRINT],
}

impl Nibbles {
    /// The nibbles of one window (both cases of letters; any byte past a
    /// 2-byte window's end).
    fn of(w: &[u8]) -> Nibbles {
        let mut n = Nibbles::default();
        for pos in 0..FINGERPRINT {
            match w.get(pos) {
                Some(&b) => {
                    for c in cases(b) {
                        n.lo[pos] |= 1 << (c & 15);
                        n.hi[pos] |= 1 << (c >> 4);
                    }
                }
                None => {
                    n.lo[pos] = u16::MAX;
                    n.hi[pos] = u16::MAX;
                }
            }
        }
        n
    }

    fn union(&self, o: &Nibbles) -> Nibbles {
        let mut n = *self;
        for pos in 0..FINGERPRINT {
            n.lo[pos] |= o.lo[pos];
            n.hi[pos] |= o.hi[pos];
        }
        n
    }

    /// Estimated share of buffer positions this bucket reports, for bytes
    /// drawn from `freq` (0 for an empty bucket).
    fn rate(&self, freq: &[f64; 256]) -> f64 {
        let mut r = 1.0;
        for pos in 0..FINGERPRINT {
            // Only the accepted nibbles (a window's letter has one low and two
            // high ones: a few terms, not 256).
            let mut mass = 0.0;
            let mut his = self.hi[pos];
            while his != 0 {
                let hi = his.trailing_zeros() as usize;
                his &= his - 1;
                let mut los = self.lo[pos];
                while los != 0 {
                    let lo = los.trailing_zeros() as usize;
                    los &= los - 1;
                    mass += freq[hi << 4 | lo];
                }
            }
            r *= mass;
        }
        r
    }
}

/// A rough distribution of bytes in inspected traffic (text and markup
/// dominate: lower-case letters and spaces most, then other printable
/// bytes, then control and high bytes), summing to 1.
fn byte_freq() -> [f64; 256] {
    let mut f = [0.0; 256];
    for (b, w) in f.iter_mut().enumerate() {
        let b = b as u8;
        *w = match b {
            b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'h' | b'l' | b' ' => 16.0,
            b'a'..=b'z' => 6.0,
            b'A'..=b'Z' | b'0'..=b'9' | b'\r' | b'\n' | b'.' | b'/' | b'<' | b'>' | b'"' | b'=' => {
                3.0
            }
            0x21..=0x7e => 1.5,
            0 | 0xff => 2.0,
            _ => 0.3,
        };
    }
    let sum: f64 = f.iter().sum();
    f.map(|w| w / sum)
}

impl CaselessTeddy {
    /// A searcher for `windows` (each at least 2 bytes; at most
    /// [`MAX_WINDOWS`]). None when a window is shorter or there are none or
    /// too many. Window `k` is reported as index `k`.
    pub fn new(windows: &[&[u8]]) -> Option<CaselessTeddy> {
        if windows.is_empty() || windows.len() > MAX_WINDOWS || windows.iter().any(|w| w.len() < 2)
        {
            return None;
        }
        let lower: Vec<Box<[u8]>> = windows
            .iter()
            .map(|w| w.to_ascii_lowercase().into())
            .collect();
        let mut t = CaselessTeddy {
            masks: [[[[0; 16]; 2]; FINGERPRINT]; 2],
            buckets: Default::default(),
            windows: lower,
            fast: fast_cpu(),
        };
        // Each window goes to the bucket whose estimated false-positive
        // rate grows least by taking it (see `Nibbles::rate`): windows whose
        // nibbles overlap share a bucket, and a window of common bytes, or a
        // 2-byte one (any third byte), does not spoil a selective bucket.
        // Most common windows first, so they get buckets of their own.
        let freq = byte_freq();
        let own: Vec<Nibbles> = t.windows.iter().map(|w| Nibbles::of(w)).collect();
        let mut order: Vec<usize> = (0..t.windows.len()).collect();
        order.sort_by(|&a, &b| {
            own[b]
                .rate(&freq)
                .total_cmp(&own[a].rate(&freq))
                .then(a.cmp(&b))
        });
        let mut sets = [Nibbles::default(); BUCKETS];
        for wi in order {
            let mut best = (f64::INFINITY, 0usize);
            for (b, set) in sets.iter().enumerate() {
                let grow = set.union(&own[wi]).rate(&freq) - set.rate(&freq);
                let size = t.buckets[b].len();
                if grow < best.0 || (grow == best.0 && size < t.buckets[best.1].len()) {
                    best = (grow, b);
                }
            }
            let b = best.1;
            sets[b] = sets[b].union(&own[wi]);
            t.buckets[b].push(u16::try_from(wi).ok()?);
        }
        for (b, set) in sets.iter().enumerate() {
            let (half, bit) = (b / 8, 1u8 << (b % 8));
            for pos in 0..FINGERPRINT {
                for nib in 0..16 {
                    if set.lo[pos] & (1 << nib) != 0 {
                        t.masks[half][pos][0][nib] |= bit;
                    }
                    if set.hi[pos] & (1 << nib) != 0 {
                        t.masks[half][pos][1][nib] |= bit;
                    }
                }
            }
        }
        Some(t)
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Always false (a searcher holds at least one window).
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// True when [`CaselessTeddy::find`] runs the SIMD kernel on this CPU.
    pub fn is_fast(&self) -> bool {
        self.fast
    }

    /// Calls `f(window, position)` for each occurrence of a window in `hay`
    /// (ASCII case ignored), in increasing position (windows starting at the
    /// same position in bucket order); stops when `f` returns false.
    pub fn find(&self, hay: &[u8], f: &mut dyn FnMut(usize, usize) -> bool) {
        #[cfg(target_arch = "x86_64")]
        if self.fast {
            // SAFETY: `fast` is true only when the CPU reported avx512f and
            // avx512bw (`fast_cpu`, called in `new`).
            unsafe { self.find_avx512(hay, f) };
            return;
        }
        self.find_scalar(hay, f);
    }

    /// The portable path: the same tables and checks, one position at a
    /// time (public for tests that compare the two).
    pub fn find_scalar(&self, hay: &[u8], f: &mut dyn FnMut(usize, usize) -> bool) {
        for p in 0..hay.len() {
            let mut bits = [0xffu8; 2];
            for (set, b) in bits.iter_mut().enumerate() {
                for pos in 0..FINGERPRINT {
                    let c = hay.get(p + pos).copied().unwrap_or(0);
                    let t = &self.masks[set][pos];
                    *b &= t[0][usize::from(c & 15)] & t[1][usize::from(c >> 4)];
                }
            }
            let bits = u16::from(bits[0]) | u16::from(bits[1]) << 8;
            if bits != 0 && !self.verify(hay, p, bits, f) {
                return;
            }
        }
    }

    /// Checks the windows of the buckets in `bits` at `p`; false when `f`
    /// asked to stop.
    #[inline]
    fn verify(
        &self,
        hay: &[u8],
        p: usize,
        mut bits: u16,
        f: &mut dyn FnMut(usize, usize) -> bool,
    ) -> bool {
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            for &wi in &self.buckets[b] {
                let wi = usize::from(wi);
                let w = &self.windows[wi];
                if hay
                    .get(p..p + w.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(w))
                    && !f(wi, p)
                {
                    return false;
                }
            }
        }
        true
    }

    /// The AVX-512BW kernel: 64 positions per step (see the crate docs,
    /// "Soundness").
    ///
    /// # Safety
    /// The CPU must support `avx512f` and `avx512bw`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn find_avx512(&self, hay: &[u8], f: &mut dyn FnMut(usize, usize) -> bool) {
        use core::arch::x86_64::{
            __m512i, _mm_loadu_si128, _mm512_and_si512, _mm512_broadcast_i32x4, _mm512_loadu_si512,
            _mm512_or_si512, _mm512_set1_epi8, _mm512_shuffle_epi8, _mm512_srli_epi16,
            _mm512_storeu_si512, _mm512_test_epi8_mask,
        };
        // One 16-byte table in each 128-bit lane (`vpshufb` looks up within
        // lanes). Macros, not closures: a closure would not inherit this
        // function's target features, and its vector code would not inline.
        macro_rules! table {
            ($set:expr, $pos:expr, $half:expr) => {
                // SAFETY: reads the 16 bytes of the table.
                _mm512_broadcast_i32x4(unsafe {
                    _mm_loadu_si128(self.masks[$set][$pos][$half].as_ptr().cast())
                })
            };
        }
        let t: [[[__m512i; 2]; FINGERPRINT]; 2] = [
            [
                [table!(0, 0, 0), table!(0, 0, 1)],
                [table!(0, 1, 0), table!(0, 1, 1)],
                [table!(0, 2, 0), table!(0, 2, 1)],
            ],
            [
                [table!(1, 0, 0), table!(1, 0, 1)],
                [table!(1, 1, 0), table!(1, 1, 1)],
                [table!(1, 2, 0), table!(1, 2, 1)],
            ],
        ];
        let low = _mm512_set1_epi8(0x0f);
        let n = hay.len();
        let mut ra = [0u8; 64];
        let mut rb = [0u8; 64];
        let mut i = 0;
        while i < n {
            let mut pad = [0u8; 128];
            let (base, valid) = if n - i >= 66 {
                (hay.as_ptr().wrapping_add(i), 64)
            } else {
                let rest = &hay[i..];
                pad[..rest.len()].copy_from_slice(rest);
                (pad.as_ptr(), rest.len().min(64))
            };
            // SAFETY: `base .. base + 66` lies in `hay` (n − i ≥ 66) or in
            // `pad` (128 bytes).
            let v = unsafe {
                [
                    _mm512_loadu_si512(base.cast()),
                    _mm512_loadu_si512(base.wrapping_add(1).cast()),
                    _mm512_loadu_si512(base.wrapping_add(2).cast()),
                ]
            };
            let nibs = [
                (
                    _mm512_and_si512(v[0], low),
                    _mm512_and_si512(_mm512_srli_epi16::<4>(v[0]), low),
                ),
                (
                    _mm512_and_si512(v[1], low),
                    _mm512_and_si512(_mm512_srli_epi16::<4>(v[1]), low),
                ),
                (
                    _mm512_and_si512(v[2], low),
                    _mm512_and_si512(_mm512_srli_epi16::<4>(v[2]), low),
                ),
            ];
            macro_rules! at {
                ($set:expr, $pos:expr) => {
                    _mm512_and_si512(
                        _mm512_shuffle_epi8(t[$set][$pos][0], nibs[$pos].0),
                        _mm512_shuffle_epi8(t[$set][$pos][1], nibs[$pos].1),
                    )
                };
            }
            let a = _mm512_and_si512(_mm512_and_si512(at!(0, 0), at!(0, 1)), at!(0, 2));
            let b = _mm512_and_si512(_mm512_and_si512(at!(1, 0), at!(1, 1)), at!(1, 2));
            let any = _mm512_or_si512(a, b);
            let mut m: u64 = _mm512_test_epi8_mask(any, any);
            if valid < 64 {
                m &= (1u64 << valid) - 1;
            }
            if m != 0 {
                // SAFETY: each store writes the 64 bytes of its array.
                unsafe {
                    _mm512_storeu_si512(ra.as_mut_ptr().cast(), a);
                    _mm512_storeu_si512(rb.as_mut_ptr().cast(), b);
                }
                while m != 0 {
                    let p = m.trailing_zeros() as usize;
                    m &= m - 1;
                    let bits = u16::from(ra[p]) | u16::from(rb[p]) << 8;
                    if !self.verify(hay, i + p, bits, f) {
                        return;
                    }
                }
            }
            i += 64;
        }
    }
}

/// True when the CPU runs the AVX-512BW kernel.
fn fast_cpu() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Every (window, position) pair, by comparing everywhere.
    fn naive(windows: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for p in 0..hay.len() {
            for (k, w) in windows.iter().enumerate() {
                if hay
                    .get(p..p + w.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(w))
                {
                    v.push((k, p));
                }
            }
        }
        v.sort_unstable();
        v
    }

    fn run(t: &CaselessTeddy, hay: &[u8], scalar: bool) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        let mut f = |k, p| {
            v.push((k, p));
            true
        };
        if scalar {
            t.find_scalar(hay, &mut f);
        } else {
            t.find(hay, &mut f);
        }
        v.sort_unstable();
        v
    }

    /// Random windows (letters of both cases, digits, NUL, high bytes) and
    /// haystacks of every length up to 300 holding some of them: both paths
    /// report exactly what a naive search finds.
    #[test]
    fn finds_exactly_every_occurrence_of_every_window() {
        let mut r = rng(7);
        const ALPHA: &[u8] = b"aAbBzZqQ09 .:/\0\xff\x80<>\"";
        for round in 0..400 {
            let nw = 1 + (r() % 64) as usize;
            let windows: Vec<Vec<u8>> = (0..nw)
                .map(|_| {
                    let len = 2 + (r() % 7) as usize;
                    (0..len)
                        .map(|_| ALPHA[(r() % ALPHA.len() as u64) as usize])
                        .collect()
                })
                .collect();
            let refs: Vec<&[u8]> = windows.iter().map(Vec::as_slice).collect();
            let t = CaselessTeddy::new(&refs).unwrap();
            let len = round % 301;
            let mut hay: Vec<u8> = (0..len)
                .map(|_| ALPHA[(r() % ALPHA.len() as u64) as usize])
                .collect();
            // Plant windows in random case at random places.
            for _ in 0..3 {
                let w = &windows[(r() % nw as u64) as usize];
                if hay.len() >= w.len() {
                    let at = (r() % (hay.len() - w.len() + 1) as u64) as usize;
                    for (j, &b) in w.iter().enumerate() {
                        hay[at + j] = if r().is_multiple_of(2) {
                            b.to_ascii_uppercase()
                        } else {
                            b
                        };
                    }
                }
            }
            let want = naive(&windows, &hay);
            assert_eq!(run(&t, &hay, true), want, "scalar, round {round}");
            assert_eq!(run(&t, &hay, false), want, "dispatch, round {round}");
        }
    }

    /// A window ending at the last byte, at every length around the 64-byte
    /// step and the 66-byte tail, is found; a window running past the end is
    /// not (the padding is zeros, and a window of zeros must not match it).
    #[test]
    fn windows_at_the_end_and_past_it() {
        let t = CaselessTeddy::new(&[b"xyz", b"\0\0\0", b"qq"]).unwrap();
        for len in 1..200 {
            let mut hay = vec![b'.'; len];
            if len >= 3 {
                hay[len - 3..].copy_from_slice(b"XyZ");
            }
            let want: Vec<(usize, usize)> = if len >= 3 { vec![(0, len - 3)] } else { vec![] };
            assert_eq!(run(&t, &hay, false), want, "len {len}");
            // The last byte starts a 2-byte window that does not fit.
            hay[len - 1] = b'q';
            let got = run(&t, &hay, false);
            assert!(!got.iter().any(|&(k, _)| k != 0), "len {len}: {got:?}");
        }
    }

    /// Candidates in every step: every one is checked and reported, in
    /// order.
    #[test]
    fn dense_matches_in_every_step() {
        let t = CaselessTeddy::new(&[b"ab", b"ba", b"abc"]).unwrap();
        let hay = b"aBAbabcAB".repeat(700);
        let windows = [b"ab".to_vec(), b"ba".to_vec(), b"abc".to_vec()];
        let want = naive(&windows, &hay);
        assert!(want.len() > 1000);
        assert_eq!(run(&t, &hay, false), want);
        let mut last = 0;
        t.find(&hay, &mut |_, p| {
            assert!(p >= last);
            last = p;
            true
        });
    }

    #[test]
    fn stops_when_asked() {
        let t = CaselessTeddy::new(&[b"ab"]).unwrap();
        let hay = b"ab ab ab ab".repeat(40);
        let mut n = 0;
        t.find(&hay, &mut |_, _| {
            n += 1;
            n < 3
        });
        assert_eq!(n, 3);
    }

    #[test]
    fn refuses_short_missing_or_too_many_windows() {
        assert!(CaselessTeddy::new(&[]).is_none());
        assert!(CaselessTeddy::new(&[b"a"]).is_none());
        let many: Vec<&[u8]> = (0..=MAX_WINDOWS).map(|_| &b"abc"[..]).collect();
        assert!(CaselessTeddy::new(&many).is_none());
    }
}
