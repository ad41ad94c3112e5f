//! # Overview
//!
//! SIMD kernels for the rule prefilter (`stormwatch-rules`), kept apart so
//! that crate can stay free of `unsafe`. One searcher: [`CaselessTeddy`], a
//! case-insensitive search for up to [`MAX_WINDOWS`] short byte strings
//! ("windows" of the prefilter's short keys) in the style of the Teddy
//! algorithm (Hyperscan; also aho-corasick's packed searcher): buckets of
//! windows, tables of what their first three bytes may be, 64 positions per
//! step, then an exact check of the windows of each bucket a position may
//! start.
//!
//! Unlike a searcher over exact bytes, the tables hold both cases of every
//! letter, so the buffer needs no lower-cased copy. Two kernels ([`Kernel`]):
//!
//! - **AVX-512 VBMI** (`vpermi2b`): tables of 128 entries indexed by a byte's
//!   low seven bits, so a position is a candidate only when its bytes (up to
//!   the high bit) are ones some window of the bucket has; sixteen buckets,
//!   or 32 for more than [`NIBBLE_WINDOWS`] windows (up to 128).
//! - **AVX-512BW** (`vpshufb`): the classic nibble tables (a low and a high
//!   nibble looked up apart, so e.g. `a`/`T` also admit `d`/`Q`); sixteen
//!   buckets, up to 64 windows.
//!
//! With all ET rules on the benchmark capture, aho-corasick's AVX2 searcher
//! (16 positions a step) over lower-cased blocks cost ≈ 0.74 cycles per byte
//! of the HTTP response stream; the nibble kernel took that search from
//! ≈ 0.25 to ≈ 0.15 s per GB of traffic, the VBMI kernel (whose steps keep
//! their tables in registers) to ≈ 0.05 s (perf samples; `docs/rules.md`).
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
//! A second kernel, [`GramProbe`], runs the prefilter's sampled-gram probes
//! sixteen positions at a time (AVX-512 VBMI and a gather; see its module).
//!
//! **Dispatch.** [`CaselessTeddy::new`] picks the fastest kernel the CPU
//! runs ([`Kernel::best`], checked when the searcher is built) that holds
//! the windows, else a scalar loop over the byte tables, with the same
//! answers. The scalar loop tests every position and is slow: callers ask
//! [`CaselessTeddy::is_fast`] (or [`Kernel::fast_capacity`] before building)
//! and keep their own portable search where it says no.
//!
//! **Soundness.** `unsafe` is confined to the kernels. Their functions carry
//! `#[target_feature]` and are reached only through a value of a kernel's
//! table type (`Vbmi`, `Bw`), whose `unsafe` constructor is called only
//! when [`Kernel::available`] said the CPU has the features
//! (`is_x86_feature_detected!`: `avx512f` and `avx512bw`, plus `avx512vbmi`
//! for VBMI). The constructors load each table from its array (64 of a
//! 128-byte table per load, or the 16 bytes of a nibble table). A step's
//! three unaligned 64-byte loads read `base + 0 .. base + 66`, where `base`
//! is either the haystack at `i` with `len − i ≥ 66` (checked by the loop
//! that takes it) or a 128-byte stack buffer holding the last bytes.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

mod gram;
pub use gram::GramProbe;

/// Most windows one searcher holds (four per bucket, 32 buckets); the
/// nibble kernel takes at most [`NIBBLE_WINDOWS`] (see [`Kernel::capacity`]).
pub const MAX_WINDOWS: usize = 128;

/// Most windows of the nibble kernel (sixteen buckets).
pub const NIBBLE_WINDOWS: usize = 64;

/// Most buckets (four sets of eight, one bit each in a table byte).
const BUCKETS: usize = 32;

/// Most sets of eight buckets.
const SETS: usize = BUCKETS / 8;

/// Steps with candidates a kernel collects before verifying them.
const STEPS: usize = 16;

/// Bytes of a window the tables look at.
const FINGERPRINT: usize = 3;

/// Nibble tables: `[set][position][lo, hi][nibble]`, bit `b` set when a
/// window of bucket `set × 8 + b` may have that nibble at that position.
type Masks = [[[[u8; 16]; 2]; FINGERPRINT]; 2];

/// Byte tables: `[set][position][byte & 0x7f]`, bit `b` set when a window
/// of bucket `set × 8 + b` may have a byte with those low seven bits at that
/// position.
type Tables = [[[u8; 128]; FINGERPRINT]; SETS];

/// How a searcher tells candidate positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// One position at a time, with the byte tables (any CPU).
    Scalar,
    /// AVX-512BW: nibble tables looked up with `vpshufb`, sixteen buckets,
    /// at most [`NIBBLE_WINDOWS`] windows.
    Avx512Bw,
    /// AVX-512 VBMI: byte tables (a byte's low seven bits) looked up with
    /// `vpermi2b`, sixteen or 32 buckets.
    Avx512Vbmi,
}

impl Kernel {
    /// The fastest kernel this CPU runs (checked once per call; the
    /// standard library caches the CPU's answer).
    pub fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
            {
                if std::arch::is_x86_feature_detected!("avx512vbmi") {
                    return Kernel::Avx512Vbmi;
                }
                return Kernel::Avx512Bw;
            }
        }
        Kernel::Scalar
    }

    /// True when this CPU runs the kernel.
    pub fn available(self) -> bool {
        match (self, Kernel::best()) {
            (Kernel::Scalar, _) | (_, Kernel::Avx512Vbmi) => true,
            (Kernel::Avx512Bw, best) => best == Kernel::Avx512Bw,
            (Kernel::Avx512Vbmi, _) => false,
        }
    }

    /// Most windows a searcher with this kernel holds.
    pub fn capacity(self) -> usize {
        match self {
            Kernel::Avx512Bw => NIBBLE_WINDOWS,
            Kernel::Scalar | Kernel::Avx512Vbmi => MAX_WINDOWS,
        }
    }

    /// Most windows a SIMD kernel of this CPU holds (0 without one): what
    /// callers that keep their own portable search may give [`CaselessTeddy`].
    pub fn fast_capacity() -> usize {
        match Kernel::best() {
            Kernel::Scalar => 0,
            k => k.capacity(),
        }
    }
}

/// A case-insensitive multi-string searcher for short windows (see the crate
/// docs).
#[derive(Clone, Debug)]
pub struct CaselessTeddy {
    /// Nibble tables (the AVX-512BW kernel; sixteen buckets).
    masks: Masks,
    /// Byte tables (the VBMI kernel and the scalar loop).
    tables: Box<Tables>,
    /// Sets of eight buckets in use (2 or 4).
    sets: usize,
    /// Window indices of each bucket.
    buckets: [Vec<u16>; BUCKETS],
    /// The windows, lower-cased.
    windows: Vec<Box<[u8]>>,
    kernel: Kernel,
}

/// The byte and, for an ASCII letter, its other case.
fn cases(b: u8) -> [u8; 2] {
    if b.is_ascii_alphabetic() {
        [b.to_ascii_lowercase(), b.to_ascii_uppercase()]
    } else {
        [b, b]
    }
}

/// What a bucket accepts at each fingerprint position, in the form its
/// kernel looks it up; estimates the share of positions it reports.
trait Accepts: Copy + Default {
    /// What one window accepts (both cases of letters; anything past a
    /// 2-byte window's end).
    fn of(w: &[u8]) -> Self;
    fn union(&self, o: &Self) -> Self;
    /// Estimated share of buffer positions a bucket accepting this
    /// reports, for bytes drawn from `freq` (0 for an empty bucket).
    fn rate(&self, freq: &[f64; 256]) -> f64;
}

/// The nibbles a bucket accepts at each fingerprint position (bit `n`: nibble
/// `n`).
#[derive(Clone, Copy, Debug, Default)]
struct Nibbles {
    lo: [u16; FINGERPRINT],
    hi: [u16; FINGERPRINT],
}

impl Accepts for Nibbles {
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

/// The low seven bits of the bytes a bucket accepts at each fingerprint
/// position (bit `v`: bytes `v` and `v | 0x80`).
#[derive(Clone, Copy, Debug, Default)]
struct Low7 {
    bits: [u128; FINGERPRINT],
}

impl Accepts for Low7 {
    fn of(w: &[u8]) -> Low7 {
        let mut n = Low7::default();
        for pos in 0..FINGERPRINT {
            n.bits[pos] = match w.get(pos) {
                Some(&b) => cases(b).iter().fold(0, |m, &c| m | 1 << (c & 0x7f)),
                None => u128::MAX,
            };
        }
        n
    }

    fn union(&self, o: &Low7) -> Low7 {
        let mut n = *self;
        for pos in 0..FINGERPRINT {
            n.bits[pos] |= o.bits[pos];
        }
        n
    }

    fn rate(&self, freq: &[f64; 256]) -> f64 {
        let mut r = 1.0;
        for &bits in &self.bits {
            if bits == u128::MAX {
                continue;
            }
            let mut mass = 0.0;
            let mut m = bits;
            while m != 0 {
                let v = m.trailing_zeros() as usize;
                m &= m - 1;
                mass += freq[v] + freq[v | 0x80];
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

/// Places each window in the bucket (of `n`) whose estimated false-positive
/// rate grows least by taking it (see [`Accepts::rate`]): windows that
/// accept the same bytes share a bucket, and a window of common bytes, or a
/// 2-byte one (any third byte), does not spoil a selective bucket. Most
/// common windows first, so they get buckets of their own.
fn assign<A: Accepts>(windows: &[Box<[u8]>], n: usize) -> Option<[Vec<u16>; BUCKETS]> {
    let freq = byte_freq();
    let own: Vec<A> = windows.iter().map(|w| A::of(w)).collect();
    let own_rate: Vec<f64> = own.iter().map(|a| a.rate(&freq)).collect();
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by(|&a, &b| own_rate[b].total_cmp(&own_rate[a]).then(a.cmp(&b)));
    let mut sets = [A::default(); BUCKETS];
    let mut rates = [0.0f64; BUCKETS];
    let mut buckets: [Vec<u16>; BUCKETS] = Default::default();
    for wi in order {
        let mut best = (f64::INFINITY, 0usize, 0.0);
        for b in 0..n {
            let r = sets[b].union(&own[wi]).rate(&freq);
            let grow = r - rates[b];
            if grow < best.0 || (grow == best.0 && buckets[b].len() < buckets[best.1].len()) {
                best = (grow, b, r);
            }
        }
        let (_, b, r) = best;
        sets[b] = sets[b].union(&own[wi]);
        rates[b] = r;
        buckets[b].push(u16::try_from(wi).ok()?);
    }
    Some(buckets)
}

impl CaselessTeddy {
    /// A searcher for `windows` (each at least 2 bytes; at most
    /// [`MAX_WINDOWS`]) with the fastest kernel of this CPU that holds them.
    /// None when a window is shorter or there are none or too many. Window
    /// `k` is reported as index `k`.
    pub fn new(windows: &[&[u8]]) -> Option<CaselessTeddy> {
        let best = Kernel::best();
        let kernel = if windows.len() <= best.capacity() {
            best
        } else {
            Kernel::Scalar
        };
        Self::with_kernel(windows, kernel)
    }

    /// [`CaselessTeddy::new`] with the given kernel; None also when this CPU
    /// does not run it or it does not hold that many windows.
    pub fn with_kernel(windows: &[&[u8]], kernel: Kernel) -> Option<CaselessTeddy> {
        if windows.is_empty()
            || windows.len() > kernel.capacity()
            || !kernel.available()
            || windows.iter().any(|w| w.len() < 2)
        {
            return None;
        }
        let lower: Vec<Box<[u8]>> = windows
            .iter()
            .map(|w| w.to_ascii_lowercase().into())
            .collect();
        let sets = if lower.len() > NIBBLE_WINDOWS { 4 } else { 2 };
        let buckets = match kernel {
            Kernel::Avx512Bw => assign::<Nibbles>(&lower, sets * 8)?,
            Kernel::Scalar | Kernel::Avx512Vbmi => assign::<Low7>(&lower, sets * 8)?,
        };
        let mut t = CaselessTeddy {
            masks: [[[[0; 16]; 2]; FINGERPRINT]; 2],
            tables: Box::new([[[0; 128]; FINGERPRINT]; SETS]),
            sets,
            buckets,
            windows: lower,
            kernel,
        };
        for b in 0..sets * 8 {
            let (set, bit) = (b / 8, 1u8 << (b % 8));
            for &wi in &t.buckets[b] {
                let w = &t.windows[usize::from(wi)];
                let nib = Nibbles::of(w);
                let low = Low7::of(w);
                for pos in 0..FINGERPRINT {
                    for v in 0..128 {
                        if low.bits[pos] >> v & 1 != 0 {
                            t.tables[set][pos][v] |= bit;
                        }
                    }
                    if set < 2 {
                        for n in 0..16 {
                            if nib.lo[pos] & (1 << n) != 0 {
                                t.masks[set][pos][0][n] |= bit;
                            }
                            if nib.hi[pos] & (1 << n) != 0 {
                                t.masks[set][pos][1][n] |= bit;
                            }
                        }
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

    /// True when [`CaselessTeddy::find`] runs a SIMD kernel on this CPU.
    pub fn is_fast(&self) -> bool {
        self.kernel != Kernel::Scalar
    }

    /// The kernel [`CaselessTeddy::find`] runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Calls `f(window, position)` for each occurrence of a window in `hay`
    /// (ASCII case ignored), in increasing position (windows starting at the
    /// same position in bucket order); stops when `f` returns false.
    pub fn find(&self, hay: &[u8], f: &mut dyn FnMut(usize, usize) -> bool) {
        #[cfg(target_arch = "x86_64")]
        match (self.kernel, self.sets) {
            // SAFETY: `with_kernel` keeps a SIMD kernel only when
            // `Kernel::available` said the CPU runs it: avx512f and avx512bw,
            // plus avx512vbmi for the VBMI kernel (`Kernel::best`).
            (Kernel::Avx512Bw, _) => return self.drive(&unsafe { Bw::new(&self.masks) }, hay, f),
            (Kernel::Avx512Vbmi, 2) => {
                return self.drive(&unsafe { Vbmi::<2>::new(&self.tables) }, hay, f);
            }
            (Kernel::Avx512Vbmi, _) => {
                return self.drive(&unsafe { Vbmi::<4>::new(&self.tables) }, hay, f);
            }
            (Kernel::Scalar, _) => {}
        }
        self.find_scalar(hay, f);
    }

    /// The portable path: the byte tables, one position at a time (public
    /// for tests that compare the paths).
    pub fn find_scalar(&self, hay: &[u8], f: &mut dyn FnMut(usize, usize) -> bool) {
        for p in 0..hay.len() {
            let bits = self.bits_at(hay, p);
            if bits != 0 && !self.verify(hay, p, bits, f) {
                return;
            }
        }
    }

    /// The buckets (bit `b`: bucket `b`) whose tables accept the bytes at
    /// `p` (zeros past the end), as the kernel's tables say.
    #[inline]
    fn bits_at(&self, hay: &[u8], p: usize) -> u32 {
        let byte = |pos: usize| hay.get(p + pos).copied().unwrap_or(0);
        let mut bits = 0u32;
        for set in 0..self.sets {
            let mut b = 0xffu8;
            for pos in 0..FINGERPRINT {
                let c = byte(pos);
                b &= match self.kernel {
                    Kernel::Avx512Bw => {
                        let m = &self.masks[set][pos];
                        m[0][usize::from(c & 15)] & m[1][usize::from(c >> 4)]
                    }
                    Kernel::Scalar | Kernel::Avx512Vbmi => {
                        self.tables[set][pos][usize::from(c & 0x7f)]
                    }
                };
            }
            bits |= u32::from(b) << (8 * set);
        }
        bits
    }

    /// Verifies the candidate positions the kernel collected: `(i, m)` is a
    /// step at `i` and the mask of its positions some bucket accepts.
    /// False when `f` asked to stop.
    #[inline]
    fn verify_steps(
        &self,
        hay: &[u8],
        steps: &[(usize, u64)],
        f: &mut dyn FnMut(usize, usize) -> bool,
    ) -> bool {
        for &(i, mut m) in steps {
            while m != 0 {
                let p = i + m.trailing_zeros() as usize;
                m &= m - 1;
                if !self.verify(hay, p, self.bits_at(hay, p), f) {
                    return false;
                }
            }
        }
        true
    }

    /// Checks the windows of the buckets in `bits` at `p`; false when `f`
    /// asked to stop.
    #[inline]
    fn verify(
        &self,
        hay: &[u8],
        p: usize,
        mut bits: u32,
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

    /// Runs a SIMD kernel: its steps collect up to [`STEPS`] steps with
    /// candidates without making a call (so its tables stay in registers),
    /// then those are verified; the last bytes go through a zero-padded
    /// copy.
    #[cfg(target_arch = "x86_64")]
    fn drive<K: Steps>(&self, k: &K, hay: &[u8], f: &mut dyn FnMut(usize, usize) -> bool) {
        let n = hay.len();
        let mut steps = [(0usize, 0u64); STEPS];
        let mut i = 0;
        loop {
            // SAFETY: a `Steps` value exists only when the CPU runs its
            // kernel (see `Steps`).
            let (c, next) = unsafe { k.steps(hay, i, &mut steps) };
            i = next;
            if !self.verify_steps(hay, &steps[..c], f) {
                return;
            }
            if c < STEPS {
                break;
            }
        }
        while i < n {
            let mut pad = [0u8; 128];
            let rest = &hay[i..];
            pad[..rest.len()].copy_from_slice(rest);
            // SAFETY: reads `pad[..66]`; the CPU as above.
            let mut m = unsafe { k.step(pad.as_ptr()) };
            if rest.len() < 64 {
                m &= (1u64 << rest.len()) - 1;
            }
            if m != 0 && !self.verify_steps(hay, &[(i, m)], f) {
                return;
            }
            i += 64;
        }
    }
}

/// A SIMD kernel's tables, loaded into vectors. A value exists only when
/// the CPU runs the kernel (it is made by an `unsafe` constructor that
/// requires it), which is what makes calling its methods sound.
#[cfg(target_arch = "x86_64")]
trait Steps {
    /// Runs steps from `i` while 66 bytes remain, until `steps` is full;
    /// returns how many steps with candidates it holds and where to go on.
    ///
    /// # Safety
    /// The CPU must run the kernel (see the trait docs).
    unsafe fn steps(
        &self,
        hay: &[u8],
        i: usize,
        steps: &mut [(usize, u64); STEPS],
    ) -> (usize, usize);

    /// The positions of one step at `base` that some bucket accepts.
    ///
    /// # Safety
    /// As [`Steps::steps`]; `base .. base + 66` must be readable.
    unsafe fn step(&self, base: *const u8) -> u64;
}

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::__m512i;

/// The body of a kernel's [`Steps::steps`]: runs `$step` from `$i` while
/// 66 bytes remain, until `$steps` is full; evaluates to (steps with
/// candidates, where to go on). A macro, not a function: each kernel's loop
/// must be compiled with that kernel's target features, so its step inlines.
#[cfg(target_arch = "x86_64")]
macro_rules! step_loop {
    ($step:ident, $t:expr, $hay:expr, $i:expr, $steps:expr) => {{
        let (hay, steps, mut i) = ($hay, $steps, $i);
        let mut k = 0;
        while hay.len().saturating_sub(i) >= 66 && k < STEPS {
            // SAFETY: `hay[i .. i + 66]` exists (checked above); the caller's
            // target features are the step's.
            let m = unsafe { $step($t, hay.as_ptr().wrapping_add(i)) };
            if m != 0 {
                steps[k] = (i, m);
                k += 1;
            }
            i += 64;
        }
        (k, i)
    }};
}

/// The VBMI kernel's byte tables: `[set][position][low, high half]`.
#[cfg(target_arch = "x86_64")]
struct Vbmi<const S: usize>([[[__m512i; 2]; FINGERPRINT]; S]);

/// The AVX-512BW kernel's nibble tables, one 16-byte table in each 128-bit
/// lane (`vpshufb` looks up within lanes): `[set][position][lo, hi]`.
#[cfg(target_arch = "x86_64")]
struct Bw([[[__m512i; 2]; FINGERPRINT]; 2]);

#[cfg(target_arch = "x86_64")]
impl<const S: usize> Vbmi<S> {
    /// # Safety
    /// The CPU must support `avx512f`, `avx512bw` and `avx512vbmi`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn new(tables: &Tables) -> Vbmi<S> {
        use core::arch::x86_64::{_mm512_loadu_si512, _mm512_setzero_si512};
        let mut t = [[[_mm512_setzero_si512(); 2]; FINGERPRINT]; S];
        for (ts, tab) in t.iter_mut().zip(tables) {
            for (tp, tab) in ts.iter_mut().zip(tab) {
                // SAFETY: each load reads 64 of the table's 128 bytes.
                *tp = unsafe {
                    [
                        _mm512_loadu_si512(tab.as_ptr().cast()),
                        _mm512_loadu_si512(tab.as_ptr().wrapping_add(64).cast()),
                    ]
                };
            }
        }
        Vbmi(t)
    }
}

#[cfg(target_arch = "x86_64")]
impl<const S: usize> Steps for Vbmi<S> {
    unsafe fn steps(
        &self,
        hay: &[u8],
        i: usize,
        steps: &mut [(usize, u64); STEPS],
    ) -> (usize, usize) {
        // SAFETY: `Vbmi` exists only when the CPU runs the kernel.
        unsafe { vbmi_steps(self, hay, i, steps) }
    }

    unsafe fn step(&self, base: *const u8) -> u64 {
        // SAFETY: as above; the caller guarantees `base .. base + 66`.
        unsafe { vbmi_step(self, base) }
    }
}

/// [`Steps::steps`] of the VBMI kernel.
///
/// # Safety
/// The CPU must support `avx512f`, `avx512bw` and `avx512vbmi`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline(never)]
unsafe fn vbmi_steps<const S: usize>(
    t: &Vbmi<S>,
    hay: &[u8],
    i: usize,
    steps: &mut [(usize, u64); STEPS],
) -> (usize, usize) {
    step_loop!(vbmi_step, t, hay, i, steps)
}

/// [`Steps::step`] of the VBMI kernel: per set, one `vpermi2b` per
/// fingerprint position (the 128-entry table in two registers, indexed by
/// each byte's low seven bits), the three ANDed.
///
/// # Safety
/// The CPU must support `avx512f`, `avx512bw` and `avx512vbmi`; `base ..
/// base + 66` must be readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
unsafe fn vbmi_step<const S: usize>(t: &Vbmi<S>, base: *const u8) -> u64 {
    use core::arch::x86_64::{
        _mm512_and_si512, _mm512_loadu_si512, _mm512_or_si512, _mm512_permutex2var_epi8,
        _mm512_setzero_si512, _mm512_test_epi8_mask,
    };
    // SAFETY: the caller guarantees `base .. base + 66`.
    let v = unsafe {
        [
            _mm512_loadu_si512(base.cast()),
            _mm512_loadu_si512(base.wrapping_add(1).cast()),
            _mm512_loadu_si512(base.wrapping_add(2).cast()),
        ]
    };
    let mut any = _mm512_setzero_si512();
    for ts in &t.0 {
        let at = |pos: usize| _mm512_permutex2var_epi8(ts[pos][0], v[pos], ts[pos][1]);
        any = _mm512_or_si512(any, _mm512_and_si512(_mm512_and_si512(at(0), at(1)), at(2)));
    }
    _mm512_test_epi8_mask(any, any)
}

#[cfg(target_arch = "x86_64")]
impl Bw {
    /// # Safety
    /// The CPU must support `avx512f` and `avx512bw`.
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn new(masks: &Masks) -> Bw {
        use core::arch::x86_64::{_mm_loadu_si128, _mm512_broadcast_i32x4, _mm512_setzero_si512};
        let mut t = [[[_mm512_setzero_si512(); 2]; FINGERPRINT]; 2];
        for (ts, m) in t.iter_mut().zip(masks) {
            for (tp, m) in ts.iter_mut().zip(m) {
                for (v, half) in tp.iter_mut().zip(m) {
                    // SAFETY: reads the 16 bytes of the table.
                    *v = _mm512_broadcast_i32x4(unsafe { _mm_loadu_si128(half.as_ptr().cast()) });
                }
            }
        }
        Bw(t)
    }
}

#[cfg(target_arch = "x86_64")]
impl Steps for Bw {
    unsafe fn steps(
        &self,
        hay: &[u8],
        i: usize,
        steps: &mut [(usize, u64); STEPS],
    ) -> (usize, usize) {
        // SAFETY: `Bw` exists only when the CPU runs the kernel.
        unsafe { bw_steps(self, hay, i, steps) }
    }

    unsafe fn step(&self, base: *const u8) -> u64 {
        // SAFETY: as above; the caller guarantees `base .. base + 66`.
        unsafe { bw_step(self, base) }
    }
}

/// [`Steps::steps`] of the AVX-512BW kernel.
///
/// # Safety
/// The CPU must support `avx512f` and `avx512bw`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline(never)]
unsafe fn bw_steps(
    t: &Bw,
    hay: &[u8],
    i: usize,
    steps: &mut [(usize, u64); STEPS],
) -> (usize, usize) {
    step_loop!(bw_step, t, hay, i, steps)
}

/// [`Steps::step`] of the AVX-512BW kernel: per set and fingerprint
/// position, the low and high nibble tables looked up with `vpshufb` and
/// ANDed.
///
/// # Safety
/// The CPU must support `avx512f` and `avx512bw`; `base .. base + 66` must
/// be readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn bw_step(t: &Bw, base: *const u8) -> u64 {
    use core::arch::x86_64::{
        _mm512_and_si512, _mm512_loadu_si512, _mm512_or_si512, _mm512_set1_epi8,
        _mm512_setzero_si512, _mm512_shuffle_epi8, _mm512_srli_epi16, _mm512_test_epi8_mask,
    };
    let low = _mm512_set1_epi8(0x0f);
    // SAFETY: the caller guarantees `base .. base + 66`.
    let v = unsafe {
        [
            _mm512_loadu_si512(base.cast()),
            _mm512_loadu_si512(base.wrapping_add(1).cast()),
            _mm512_loadu_si512(base.wrapping_add(2).cast()),
        ]
    };
    let nibs = v.map(|x| {
        (
            _mm512_and_si512(x, low),
            _mm512_and_si512(_mm512_srli_epi16::<4>(x), low),
        )
    });
    let mut any = _mm512_setzero_si512();
    for ts in &t.0 {
        let at = |pos: usize| {
            _mm512_and_si512(
                _mm512_shuffle_epi8(ts[pos][0], nibs[pos].0),
                _mm512_shuffle_epi8(ts[pos][1], nibs[pos].1),
            )
        };
        any = _mm512_or_si512(any, _mm512_and_si512(_mm512_and_si512(at(0), at(1)), at(2)));
    }
    _mm512_test_epi8_mask(any, any)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A xorshift generator of repeatable inputs (the kernels' tests share it).
    pub(crate) fn rng(seed: u64) -> impl FnMut() -> u64 {
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

    /// The kernels this CPU runs that hold `n` windows.
    fn kernels(n: usize) -> Vec<Kernel> {
        [Kernel::Scalar, Kernel::Avx512Bw, Kernel::Avx512Vbmi]
            .into_iter()
            .filter(|k| k.available() && n <= k.capacity())
            .collect()
    }

    /// Random windows (letters of both cases, digits, NUL, high bytes) and
    /// haystacks of every length up to 300 holding some of them: every
    /// kernel this CPU runs, and the scalar loop over its searcher's
    /// tables, report exactly what a naive search finds.
    #[test]
    fn finds_exactly_every_occurrence_of_every_window() {
        let mut r = rng(7);
        const ALPHA: &[u8] = b"aAbBzZqQ09 .:/\0\xff\x80<>\"\x81\xc1";
        for round in 0..600 {
            let nw = 1 + (r() % MAX_WINDOWS as u64) as usize;
            let windows: Vec<Vec<u8>> = (0..nw)
                .map(|_| {
                    let len = 2 + (r() % 7) as usize;
                    (0..len)
                        .map(|_| ALPHA[(r() % ALPHA.len() as u64) as usize])
                        .collect()
                })
                .collect();
            let refs: Vec<&[u8]> = windows.iter().map(Vec::as_slice).collect();
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
            let t = CaselessTeddy::new(&refs).unwrap();
            assert_eq!(run(&t, &hay, false), want, "new, round {round}");
            for k in kernels(nw) {
                let t = CaselessTeddy::with_kernel(&refs, k).unwrap();
                assert_eq!(t.kernel(), k);
                assert_eq!(
                    run(&t, &hay, true),
                    want,
                    "scalar loop, {k:?}, round {round}"
                );
                assert_eq!(run(&t, &hay, false), want, "{k:?}, round {round}");
            }
        }
    }

    /// The kernel `new` picks: the CPU's best when it holds the windows, the
    /// scalar loop otherwise; `with_kernel` refuses what the CPU does not
    /// run or a kernel does not hold.
    #[test]
    fn kernel_choice_follows_the_cpu_and_the_window_count() {
        let few: Vec<&[u8]> = vec![&b"abc"[..]; 10];
        let many: Vec<&[u8]> = vec![&b"abc"[..]; NIBBLE_WINDOWS + 1];
        let best = Kernel::best();
        assert_eq!(CaselessTeddy::new(&few).unwrap().kernel(), best);
        let k = CaselessTeddy::new(&many).unwrap().kernel();
        match best {
            Kernel::Avx512Bw => assert_eq!(k, Kernel::Scalar),
            _ => assert_eq!(k, best),
        }
        assert!(CaselessTeddy::with_kernel(&many, Kernel::Avx512Bw).is_none());
        assert_eq!(
            CaselessTeddy::with_kernel(&few, Kernel::Avx512Vbmi).is_some(),
            best == Kernel::Avx512Vbmi
        );
        assert_eq!(Kernel::fast_capacity() > 0, best != Kernel::Scalar);
    }

    /// A window ending at the last byte, at every length around the 64-byte
    /// step and the 66-byte tail, is found; a window running past the end is
    /// not (the padding is zeros, and a window of zeros must not match it).
    #[test]
    fn windows_at_the_end_and_past_it() {
        for t in searchers(&[b"xyz", b"\0\0\0", b"qq"]) {
            windows_at_the_end(&t);
        }
    }

    /// Searchers for `windows` with every kernel this CPU runs, each also
    /// with 70 more windows of `#` and a digit (so 32 buckets where the
    /// kernel holds them), which the callers' haystacks do not hold.
    fn searchers(windows: &[&[u8]]) -> Vec<CaselessTeddy> {
        let extra: Vec<Vec<u8>> = (0..70).map(|i| format!("#{i:02}").into_bytes()).collect();
        let mut padded: Vec<&[u8]> = windows.to_vec();
        padded.extend(extra.iter().map(Vec::as_slice));
        let mut v = Vec::new();
        for w in [windows, &padded[..]] {
            for k in kernels(w.len()) {
                v.push(CaselessTeddy::with_kernel(w, k).unwrap());
            }
        }
        assert!(v.len() >= 2);
        v
    }

    fn windows_at_the_end(t: &CaselessTeddy) {
        for len in 1..200 {
            let mut hay = vec![b'.'; len];
            if len >= 3 {
                hay[len - 3..].copy_from_slice(b"XyZ");
            }
            let want: Vec<(usize, usize)> = if len >= 3 { vec![(0, len - 3)] } else { vec![] };
            assert_eq!(run(t, &hay, false), want, "len {len}, {:?}", t.kernel());
            // The last byte starts a 2-byte window that does not fit.
            hay[len - 1] = b'q';
            let got = run(t, &hay, false);
            assert!(!got.iter().any(|&(k, _)| k != 0), "len {len}: {got:?}");
        }
    }

    /// Candidates in every step: every one is checked and reported, in
    /// order.
    #[test]
    fn dense_matches_in_every_step() {
        let hay = b"aBAbabcAB".repeat(700);
        let windows = [b"ab".to_vec(), b"ba".to_vec(), b"abc".to_vec()];
        let want = naive(&windows, &hay);
        assert!(want.len() > 1000);
        for t in searchers(&[b"ab", b"ba", b"abc"]) {
            assert_eq!(run(&t, &hay, false), want, "{:?}", t.kernel());
            let mut last = 0;
            t.find(&hay, &mut |_, p| {
                assert!(p >= last);
                last = p;
                true
            });
        }
    }

    #[test]
    fn stops_when_asked() {
        let hay = b"ab ab ab ab".repeat(40);
        for t in searchers(&[b"ab"]) {
            let mut n = 0;
            t.find(&hay, &mut |_, _| {
                n += 1;
                n < 3
            });
            assert_eq!(n, 3, "{:?}", t.kernel());
        }
    }

    #[test]
    fn refuses_short_missing_or_too_many_windows() {
        assert!(CaselessTeddy::new(&[]).is_none());
        assert!(CaselessTeddy::new(&[b"a"]).is_none());
        let many: Vec<&[u8]> = (0..=MAX_WINDOWS).map(|_| &b"abc"[..]).collect();
        assert!(CaselessTeddy::new(&many).is_none());
    }
}
