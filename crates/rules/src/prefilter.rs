//! The multi-pattern prefilter over the rules' prefilter keys, and the rule
//! groups built on it.
//!
//! The prefilter answers "which keys occur in this buffer" (not where). Each
//! rule contributes one key: a positive content of the inspected buffer (any
//! such content must occur for the rule to match; see [`choose_key`]).
//! Matching is ASCII case-insensitive; the full rule evaluation checks case.
//!
//! **Sampled grams.** With `s` = the group's stride and `g` its gram length,
//! every key of `n ≥ s+g−1` bytes puts `s` of its `g`-byte grams into a
//! hashed bit table: for each residue `r` modulo `s`, its rarest gram at an
//! offset `≡ r`. Probing every `s`-th position of the buffer probes, in an
//! occurrence of the key, all its gram offsets of one residue (which one
//! depends on where the key starts), so one of them is in the table and
//! every key is found. When all keys have 8 bytes or more the grams have 4 bytes and the
//! stride is 5 (one probe per five bytes); otherwise the grams have 3 bytes
//! and the stride is `shortest key − 2` (a group with a 4-byte key probes
//! every second byte instead of every byte). A probe loads four bytes, keeps
//! the gram's, folds case loosely (`| 0x20`), hashes and tests one bit; four
//! probes share one branch. A set bit is confirmed by an exact gram table and
//! a comparison of the whole key. Where the CPU has AVX-512 VBMI, the probes
//! run sixteen at a time ([`stormwatch_simd::GramProbe`]: one byte permute
//! picks the sixteen grams, one gather reads their table words) while 128
//! bytes remain, and the scalar blocks take the rest.
//!
//! Keys of 2 or 3 bytes are searched one by one with `memchr` on their rarest
//! byte when there are few, else with an exact byte-pair table probed at every
//! position. Groups of at most [`FEW`] keys search each key with `memchr`.
//!
//! **SIMD for the short keys of big groups.** In a group of more than
//! [`PACKED_MAX`] keys, up to that many of its shortest keys of 3 bytes or
//! more (all of 3–7 bytes in the HTTP response stream group: ~520 long keys
//! and 48 short ones; those of 3–5 bytes in the `file_data` group) go to
//! aho-corasick's packed (Teddy) searcher over a lower-cased copy of the
//! buffer, folded in stack blocks, so the gram pass over the longer keys
//! probes every 5th (or 3rd, 4th) byte instead of every 2nd. When the keys
//! left to that pass have 6 bytes or more, it probes 4-byte grams (every
//! `shortest − 3` bytes): 3-byte grams of HTML text hit `file_data`'s keys
//! at one probe in six. Up to [`FEW_PAIRS`] keys of 2 bytes of such a group
//! are searched with `memchr::memmem` in the same lower-cased blocks (both
//! bytes at once, instead of `memchr` on one of them).

use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use stormwatch_simd::{CaselessTeddy, GramProbe, Kernel};

/// ASCII case folding table.
const LOWER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

/// How common a byte is in traffic (higher = more common): used to pick the
/// rarest window of a key.
pub(crate) const fn commonness(b: u8) -> u32 {
    match b {
        0x00 | 0xff | b' ' => 12,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'h' | b'l' => 8,
        b'\r' | b'\n' | b'/' | b'.' | b'=' | b':' | b'-' | b'_' | b'0'..=b'9' => 7,
        b'a'..=b'z' | b'A'..=b'Z' => 6,
        b'<' | b'>' | b'"' | b'\'' | b',' | b';' | b'&' | b'?' | b'%' => 6,
        0x01..=0x1f => 4,
        0x80..=0xfe => 2,
        _ => 5,
    }
}

/// [`commonness`] of each byte's lower case, for the loops over every
/// window of every key at load time.
const FOLDED_COMMONNESS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        // Every commonness is below 256.
        t[i] = commonness(LOWER[i]) as u8;
        i += 1;
    }
    t
};

/// Cost of a key window (sum of byte commonness; lower is rarer).
fn window_cost(w: &[u8]) -> u32 {
    w.iter()
        .map(|&b| u32::from(FOLDED_COMMONNESS[usize::from(b)]))
        .sum()
}

/// Keys at least this long give the widest stride of the scalar filters.
const LONG_KEY: usize = 8;
/// Widest stride of the scalar filters (a window of `MAX_STRIDE + 3` bytes).
const MAX_STRIDE: usize = LONG_KEY - 3;
/// With the case-insensitive SIMD searcher holding a group's short keys, the
/// gram pass may start at keys of up to this many bytes (stride 9): the
/// HTTP response stream group of all ET rules puts its 64 keys of 3 to 8
/// bytes there and probes every 6th byte instead of every 5th (its
/// `match_stream` per byte of random bytes −11 %, of HTML −3 %; see
/// `docs/rules.md` for a periodic text, whose cost depends on alignment).
const SIMD_CUT_MAX: usize = 12;
/// Widest gram stride of all filters.
const WIDEST_STRIDE: usize = SIMD_CUT_MAX - 3;
/// Shortest key put into a filter (shorter: the rule is evaluated directly).
pub(crate) const MIN_KEY: usize = 2;
/// Up to this many keys a group searches each one with `memchr`.
const FEW: usize = 8;
const _: () = assert!(FEW <= 8, "a `u8` holds one bit per key searched on its own");
/// Up to this many 2–3 byte keys are searched one by one with `memchr`.
const FEW_SHORT: usize = 16;
/// Largest gram table (bits): 32 KiB.
const MAX_TABLE_BITS: u32 = 18;

/// Words of a gram bit table. Every table has the largest size (its
/// hashes use only the first `2^bits` bits), so a probe's masked index is
/// in range by type and needs no bounds check (≈ 2 of a probe's ~10
/// instructions); the unused words are never touched.
const TABLE_WORDS: usize = (1 << MAX_TABLE_BITS) / 64;

/// Bytes read per block of four probes (covers `3 × WIDEST_STRIDE + 4`).
const BLOCK: usize = 32;
const _: () = assert!(3 * WIDEST_STRIDE + 4 <= BLOCK);

/// What another key holding one of a window's grams adds to the window's
/// cost (about one common byte; see [`shared_window_cost`]).
const SHARED_GRAM_COST: u32 = 8;

/// Cost of a key window (or gram) whose grams `others` other keys of the
/// group hold (counted once per gram and key): [`window_cost`] plus
/// [`SHARED_GRAM_COST`] each. Keys that share text, such as ET's many
/// `User-Agent` strings with the same start, then take their grams (and long
/// keys their searched windows) from where they differ, so a probe in the
/// shared text does not confirm, or make candidates of, each of them.
fn shared_window_cost(w: &[u8], others: u32) -> u32 {
    window_cost(w).saturating_add(others.saturating_mul(SHARED_GRAM_COST))
}

/// Multiplier of the gram hash (Fibonacci hashing).
const HASH_MUL: u32 = 0x9E37_79B1;

/// Multiplier of a gram's second bit, set where the SIMD prober runs: in the
/// same 32-bit block of the table as its first, at the product's top five
/// bits. The prober tests both for ≈ 4 instructions per sixteen probes;
/// with all ET rules, a quarter fewer probes reach a confirm (≈ 130
/// instructions each). The scalar blocks test the first bit only (a
/// superset: every key's grams have both), as a second multiply per probe
/// cost them more than the confirms it saved.
const HASH_MUL2: u32 = 0x85EB_CA77;

/// Loose case fold of four bytes: sets bit 5 of every byte. Letters fold
/// exactly; a few other bytes collide (a superset filter, confirmed exactly).
#[inline(always)]
fn loose(x: u32) -> u32 {
    x | 0x2020_2020
}

/// Exact ASCII lower-casing of four bytes (SWAR).
#[inline(always)]
fn fold4(x: u32) -> u32 {
    let h = x & 0x7f7f_7f7f;
    let ge_a = h.wrapping_add(0x3f3f_3f3f);
    let gt_z = h.wrapping_add(0x2525_2525);
    let upper = (ge_a ^ gt_z) & !x & 0x8080_8080;
    x | (upper >> 2)
}

/// Four bytes at `i` (little-endian), 0 when out of range.
#[inline(always)]
fn load4(h: &[u8], i: usize) -> u32 {
    h.get(i..i + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_le_bytes)
}

/// Gram of `g` (3 or 4) bytes at `i` (little-endian, high bytes zero), 0 when
/// out of range.
#[inline(always)]
fn load_gram(h: &[u8], i: usize, g: usize) -> u32 {
    if g == 4 {
        return load4(h, i);
    }
    match h.get(i..i + 3) {
        Some(&[a, b, c]) => u32::from_le_bytes([a, b, c, 0]),
        _ => 0,
    }
}

/// The sampled gram filter over keys of at least `stride + gram - 1` bytes.
#[derive(Debug)]
struct GramFilter {
    stride: usize,
    /// Gram length: 4, or 3 when the group has keys shorter than
    /// [`LONG_KEY`] (a 4-byte key then still allows stride 2).
    gram: usize,
    /// Keeps the gram's bytes of a little-endian 4-byte load.
    mask: u32,
    /// Keeps the table's `bits` low bits of the hash (see [`GramFilter::hash`]).
    hmask: usize,
    /// Bit per hash of a loosely folded gram.
    bits: Box<[u64; TABLE_WORDS]>,
    /// Exactly folded gram → the keys holding it there (see [`GramIndex`]).
    grams: GramIndex,
    /// The same probes sixteen at a time, where the CPU has AVX-512 VBMI
    /// (see [`stormwatch_simd::GramProbe`]).
    probe: Option<GramProbe>,
}

/// The entries of a [`GramFilter`] by gram: one flat array sorted by a hash
/// bucket of the gram, and each bucket's start. A confirm reads two bucket
/// starts and the bucket's entries, which hold their gram (a hash map of
/// `Vec`s read its control bytes, then followed a pointer to the `Vec`'s
/// own allocation).
#[derive(Debug, Default)]
struct GramIndex {
    /// `2^bits + 1` starts into `entries`.
    starts: Vec<u32>,
    entries: Vec<GramEntry>,
    bits: u32,
}

impl GramIndex {
    fn build(mut entries: Vec<GramEntry>) -> GramIndex {
        let bits = entries
            .len()
            .next_power_of_two()
            .trailing_zeros()
            .clamp(4, 16);
        let bucket = |g: u32| (g.wrapping_mul(HASH_MUL) >> (32 - bits)) as usize;
        entries.sort_by_key(|e| (bucket(e.gram), e.gram));
        let mut starts = vec![0u32; (1 << bits) + 1];
        for e in &entries {
            starts[bucket(e.gram) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        GramIndex {
            starts,
            entries,
            bits,
        }
    }

    /// The entries of exactly folded gram `g` (with others of its bucket:
    /// callers compare [`GramEntry::gram`]).
    #[inline(always)]
    fn bucket(&self, g: u32) -> &[GramEntry] {
        let b = (g.wrapping_mul(HASH_MUL) >> (32 - self.bits)) as usize;
        match (self.starts.get(b), self.starts.get(b + 1)) {
            (Some(&a), Some(&z)) => self.entries.get(a as usize..z as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// A key holding a gram of the filter.
#[derive(Debug)]
struct GramEntry {
    /// The exactly folded gram.
    gram: u32,
    /// Key id.
    id: u32,
    /// Offset of the gram in the key.
    off: u16,
    /// Length of the key (0: longer than a `u16` says; no tail test).
    len: u16,
    /// The key's first (up to) eight bytes, loosely folded (`| 0x20`), and
    /// the mask of those bytes: a cheap necessary test before comparing the
    /// whole key.
    head: u64,
    head_mask: u64,
    /// A key of more than eight bytes: its last eight, loosely folded (keys
    /// that share a long start, such as ET's many `User-Agent` strings, share
    /// their grams and first bytes too, and differ at the end).
    tail: u64,
}

/// Loose case fold of eight bytes (see [`loose`]).
const LOOSE8: u64 = 0x2020_2020_2020_2020;

/// Eight bytes of `b` at `at` as a little-endian number; None past the end.
#[inline(always)]
fn le8(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map(u64::from_le_bytes)
}

/// Eight bytes of `hay` at `at`, loosely folded; None past the end.
#[inline(always)]
fn loose8(hay: &[u8], at: usize) -> Option<u64> {
    le8(hay, at).map(|w| w | LOOSE8)
}

/// A key's first (up to) eight bytes as a little-endian number, and the mask
/// of those bytes.
fn head_word(key: &[u8]) -> (u64, u64) {
    let n = key.len().min(8);
    let mask = if n == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    };
    (word(key), mask)
}

/// Where `lower` (a byte as folded keys hold it) or its upper case first
/// occurs in `hay`. A byte without case (`/`, `<`, `|00|`: most of the
/// rarest bytes keys are searched by) is one `memchr` needle, not two.
#[inline]
pub(crate) fn memchr_either_case(lower: u8, hay: &[u8]) -> Option<usize> {
    let up = lower.to_ascii_uppercase();
    if up == lower {
        memchr::memchr(lower, hay)
    } else {
        memchr::memchr2(lower, up, hay)
    }
}

impl GramEntry {
    fn new(gram: u32, id: u32, off: u16, key: &[u8]) -> GramEntry {
        let (head, head_mask) = head_word(key);
        GramEntry {
            gram,
            id,
            off,
            // 0 (no tail test) for a key too long to say.
            len: u16::try_from(key.len()).unwrap_or(0),
            head: (head | LOOSE8) & head_mask,
            head_mask,
            tail: key
                .len()
                .checked_sub(8)
                .map_or(0, |t| loose8(key, t).unwrap_or(0)),
        }
    }

    /// False when the key cannot start at `start` of `hay` (its first or,
    /// for a key of more than eight bytes, last eight bytes differ beyond
    /// case, or a long key does not fit); true when it may (or `hay` ends too
    /// soon to tell for a short key).
    #[inline(always)]
    fn may_start_at(&self, hay: &[u8], start: usize) -> bool {
        if let Some(h) = loose8(hay, start)
            && h & self.head_mask != self.head
        {
            return false;
        }
        let len = usize::from(self.len);
        len <= 8 || loose8(hay, start + len - 8) == Some(self.tail)
    }
}

impl GramFilter {
    fn build(keys: &[Vec<u8>], ids: &[u32], stride: usize, gram: usize) -> GramFilter {
        Self::build_with(keys, ids, stride, gram, true)
    }

    /// [`GramFilter::build`]; `simd` false: without the SIMD prober (one
    /// bit per gram), as on CPUs without AVX-512 VBMI (tests of that path on
    /// any CPU).
    fn build_with(
        keys: &[Vec<u8>],
        ids: &[u32],
        stride: usize,
        gram: usize,
        simd: bool,
    ) -> GramFilter {
        // The widest strides the scalar probes have (a table built for a
        // narrower stride than asked for is still complete: its keys need
        // fewer bytes). They must probe at the table's stride exactly: each
        // key has one gram per residue of it.
        let stride = stride.clamp(1, if gram == 4 { WIDEST_STRIDE } else { MAX_STRIDE });
        let entries = ids.len().saturating_mul(stride).max(1);
        // About 64 bits per entry (≈ 1.5 % of the bits set, so few false
        // confirms), between 4 Ki and 256 Ki bits.
        let want = (entries * 64).next_power_of_two();
        let tbits = want.trailing_zeros().clamp(12, MAX_TABLE_BITS);
        let mut f = GramFilter {
            stride,
            gram,
            mask: if gram == 4 { u32::MAX } else { 0x00ff_ffff },
            hmask: (1usize << tbits) - 1,
            bits: Box::new([0u64; TABLE_WORDS]),
            grams: GramIndex::default(),
            probe: GramProbe::new(
                stride,
                gram,
                HASH_MUL,
                HASH_MUL2,
                32 - MAX_TABLE_BITS,
                u32::try_from((1usize << tbits) - 1).unwrap_or(u32::MAX),
            )
            .filter(|_| simd),
        };
        let mut entries = Vec::new();
        let w = stride + gram - 1;
        // Keys already holding each gram: a window whose grams other keys
        // hold costs more (see `shared_window_cost`).
        let mut held: FxHashMap<u32, u32> = FxHashMap::default();
        let folded = |k: &[u8], o: usize| fold4(load_gram(k, o, gram)) & f.mask;
        for &id in ids {
            let Some(k) = keys.get(id as usize) else {
                continue;
            };
            if k.len() < w {
                continue;
            }
            // One gram per residue of the stride: a probe lands on every
            // `stride`-th offset of an occurrence, all of one residue, so
            // each residue needs one gram of the table; each takes its
            // rarest offset (see `shared_window_cost`).
            for r in 0..stride {
                let Some(o) = (r..=k.len() - gram).step_by(stride).min_by_key(|&o| {
                    let shared = held.get(&folded(k, o)).copied().unwrap_or(0);
                    shared_window_cost(&k[o..o + gram], shared)
                }) else {
                    continue;
                };
                let g = load_gram(k, o, gram);
                let (h, h2) = f.hash(g);
                let second = if f.probe.is_some() { 1 << (h2 & 63) } else { 0 };
                f.bits[(h >> 6) & (TABLE_WORDS - 1)] |= (1 << (h & 63)) | second;
                let off = u16::try_from(o).unwrap_or(u16::MAX);
                let e = GramEntry::new(fold4(g) & f.mask, id, off, k);
                *held.entry(e.gram).or_default() += 1;
                entries.push(e);
            }
        }
        f.grams = GramIndex::build(entries);
        f
    }

    /// Table bits of a gram: the first is the top [`MAX_TABLE_BITS`] bits
    /// of the product, of which a smaller table keeps the low `bits` (a
    /// fixed shift and a mask: no shift by a loaded count per probe); the
    /// second (set and tested only with the SIMD prober) is in the first's
    /// 32-bit block, at the top five bits of the product with [`HASH_MUL2`].
    #[inline(always)]
    fn hash(&self, x: u32) -> (usize, usize) {
        let x = loose(x) & self.mask;
        let h = (x.wrapping_mul(HASH_MUL) >> (32 - MAX_TABLE_BITS)) as usize & self.hmask;
        (h, (h & !31) | (x.wrapping_mul(HASH_MUL2) >> 27) as usize)
    }

    /// The probe of the scalar tail: both bits where the table has them
    /// (as the SIMD prober), else the first.
    #[inline(always)]
    fn test(&self, x: u32) -> u64 {
        let (h, h2) = self.hash(x);
        let h2 = if self.probe.is_some() { h2 } else { h };
        let w = self.bits[(h >> 6) & (TABLE_WORDS - 1)];
        (w >> (h & 63)) & (w >> (h2 & 63)) & 1
    }

    /// [`GramFilter::test`] for a gram of `G` bytes (the mask folded in).
    /// `FULL`: the table uses all [`MAX_TABLE_BITS`] bits (the big groups),
    /// so the hash needs no mask and the word index no bound (the shift
    /// alone keeps it in range): two instructions of a probe's ~10.
    #[inline(always)]
    fn test_g<const G: usize, const FULL: bool>(&self, x: u32) -> u64 {
        let x = if G == 4 {
            loose(x)
        } else {
            loose(x) & 0x00ff_ffff
        };
        let h = (x.wrapping_mul(HASH_MUL) >> (32 - MAX_TABLE_BITS)) as usize;
        let h = if FULL { h } else { h & self.hmask };
        (self.bits[(h >> 6) & (TABLE_WORDS - 1)] >> (h & 63)) & 1
    }

    /// True when the table uses all its bits (see [`GramFilter::test_g`]).
    fn full(&self) -> bool {
        self.hmask == (1usize << MAX_TABLE_BITS) - 1
    }

    fn scan(&self, keys: &[Vec<u8>], hay: &[u8], found: &mut Found<'_>) {
        // Sixteen probes a step while 128 bytes remain, then blocks of four.
        let from = match &self.probe {
            Some(p) => p.scan(&self.bits[..], hay, &mut |at| {
                self.confirm(keys, hay, at, load4(hay, at), found);
            }),
            None => 0,
        };
        self.scan_rest(keys, hay, from, found);
    }

    /// [`GramFilter::scan`] from `from` (a multiple of the stride) on,
    /// without the SIMD prober.
    fn scan_rest(&self, keys: &[Vec<u8>], hay: &[u8], from: usize, found: &mut Found<'_>) {
        let mut i = match (self.stride, self.gram, self.full()) {
            (1, 4, _) => self.scan_blocks_from::<1, 4, false>(keys, hay, from, found),
            (2, 4, _) => self.scan_blocks_from::<2, 4, false>(keys, hay, from, found),
            (3, 4, true) => self.scan_blocks_from::<3, 4, true>(keys, hay, from, found),
            (3, 4, false) => self.scan_blocks_from::<3, 4, false>(keys, hay, from, found),
            (4, 4, true) => self.scan_blocks_from::<4, 4, true>(keys, hay, from, found),
            (4, 4, false) => self.scan_blocks_from::<4, 4, false>(keys, hay, from, found),
            (5, 4, true) => self.scan_blocks_from::<5, 4, true>(keys, hay, from, found),
            (5, 4, false) => self.scan_blocks_from::<5, 4, false>(keys, hay, from, found),
            (6, 4, true) => self.scan_blocks_from::<6, 4, true>(keys, hay, from, found),
            (6, 4, false) => self.scan_blocks_from::<6, 4, false>(keys, hay, from, found),
            (7, 4, true) => self.scan_blocks_from::<7, 4, true>(keys, hay, from, found),
            (7, 4, false) => self.scan_blocks_from::<7, 4, false>(keys, hay, from, found),
            (8, 4, true) => self.scan_blocks_from::<8, 4, true>(keys, hay, from, found),
            (8, 4, false) => self.scan_blocks_from::<8, 4, false>(keys, hay, from, found),
            (_, 4, true) => self.scan_blocks_from::<WIDEST_STRIDE, 4, true>(keys, hay, from, found),
            (_, 4, false) => {
                self.scan_blocks_from::<WIDEST_STRIDE, 4, false>(keys, hay, from, found)
            }
            (1, _, _) => self.scan_blocks_from::<1, 3, false>(keys, hay, from, found),
            (2, _, _) => self.scan_blocks_from::<2, 3, false>(keys, hay, from, found),
            (3, _, true) => self.scan_blocks_from::<3, 3, true>(keys, hay, from, found),
            (3, _, false) => self.scan_blocks_from::<3, 3, false>(keys, hay, from, found),
            (4, _, _) => self.scan_blocks_from::<4, 3, false>(keys, hay, from, found),
            (_, _, _) => self.scan_blocks_from::<MAX_STRIDE, 3, false>(keys, hay, from, found),
        };
        let g = self.gram;
        let s = self.stride.max(1);
        while i + g <= hay.len() {
            let x = load_gram(hay, i, g);
            if self.test(x) != 0 {
                self.confirm(keys, hay, i, x, found);
            }
            i += s;
        }
    }

    /// Probes positions `from`, `from + S`, … (grams of `G` bytes; `from` a
    /// multiple of `S`) in blocks of four (one 32-byte window per block, so
    /// the loads need no bounds checks);
    /// returns the first position not probed. A block with a set bit is
    /// re-tested apart ([`GramFilter::block_hit`]), so the loop keeps no
    /// gram or word alive past its test.
    #[inline(always)]
    fn scan_blocks_from<const S: usize, const G: usize, const FULL: bool>(
        &self,
        keys: &[Vec<u8>],
        hay: &[u8],
        from: usize,
        found: &mut Found<'_>,
    ) -> usize {
        const { assert!(S >= 1 && 3 * S + 4 <= BLOCK) };
        let mut i = from;
        while let Some(w) = hay
            .get(i..i + BLOCK)
            .and_then(|w| <&[u8; BLOCK]>::try_from(w).ok())
        {
            let at = |o: usize| u32::from_le_bytes([w[o], w[o + 1], w[o + 2], w[o + 3]]);
            let hits = self.test_g::<G, FULL>(at(0))
                | self.test_g::<G, FULL>(at(S)) << 1
                | self.test_g::<G, FULL>(at(2 * S)) << 2
                | self.test_g::<G, FULL>(at(3 * S)) << 3;
            if hits != 0 {
                self.block_hit::<S>(keys, hay, i, w, hits, found);
            }
            i += 4 * S;
        }
        i
    }

    /// Confirms the probes of the block `w` at `i` whose bit is set in
    /// `hits` (bit `j`: the probe at `j × S`).
    #[cold]
    #[inline(never)]
    fn block_hit<const S: usize>(
        &self,
        keys: &[Vec<u8>],
        hay: &[u8],
        i: usize,
        w: &[u8; BLOCK],
        hits: u64,
        found: &mut Found<'_>,
    ) {
        for j in 0..4 {
            let o = j * S;
            if (hits >> j) & 1 != 0 {
                let x = u32::from_le_bytes([w[o], w[o + 1], w[o + 2], w[o + 3]]);
                self.confirm(keys, hay, i + o, x, found);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn confirm(&self, keys: &[Vec<u8>], hay: &[u8], i: usize, x: u32, found: &mut Found<'_>) {
        let g = fold4(x) & self.mask;
        for e in self.grams.bucket(g) {
            if e.gram != g {
                continue;
            }
            let id = e.id;
            let Some(start) = i.checked_sub(usize::from(e.off)) else {
                continue;
            };
            if !e.may_start_at(hay, start) || found.seen(id) {
                continue;
            }
            let Some(k) = keys.get(id as usize) else {
                continue;
            };
            if hay
                .get(start..start + k.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(k))
            {
                found.report(id);
            }
        }
    }
}

/// Keys of 2 or 3 bytes: an exact table of case-folded byte pairs probed at
/// every position, or one `memchr` search per key when there are few.
#[derive(Debug)]
enum ShortFilter {
    /// (key, offset of its rarest byte).
    Each(Vec<(u32, usize)>),
    Pairs {
        bits: Box<[u64; 1024]>,
        /// Folded pair → (key, offset of the pair in the key).
        pairs: FxHashMap<u16, Vec<(u32, u16)>>,
    },
}

impl ShortFilter {
    fn build(keys: &[Vec<u8>], ids: &[u32]) -> ShortFilter {
        if ids.len() <= FEW_SHORT {
            return ShortFilter::Each(
                ids.iter()
                    .filter_map(|&id| keys.get(id as usize).map(|k| (id, rarest_byte(k))))
                    .collect(),
            );
        }
        let mut bits = Box::new([0u64; 1024]);
        let mut pairs: FxHashMap<u16, Vec<(u32, u16)>> = FxHashMap::default();
        for &id in ids {
            let Some(k) = keys.get(id as usize) else {
                continue;
            };
            let mut best = (u32::MAX, 0usize);
            for a in 0..k.len().saturating_sub(1) {
                let c = window_cost(&k[a..a + 2]);
                if c < best.0 {
                    best = (c, a);
                }
            }
            let a = best.1;
            let (Some(&b0), Some(&b1)) = (k.get(a), k.get(a + 1)) else {
                continue;
            };
            let v = u16::from_le_bytes([b0, b1]);
            bits[usize::from(v) >> 6] |= 1 << (v & 63);
            pairs
                .entry(v)
                .or_default()
                .push((id, u16::try_from(a).unwrap_or(0)));
        }
        ShortFilter::Pairs { bits, pairs }
    }

    fn scan(&self, keys: &[Vec<u8>], hay: &[u8], found: &mut Found<'_>) {
        match self {
            ShortFilter::Each(v) => {
                for &(id, anchor) in v {
                    if let Some(k) = keys.get(id as usize)
                        && find_folded(hay, k, anchor)
                    {
                        found.report(id);
                    }
                }
            }
            ShortFilter::Pairs { bits, pairs } => {
                let Some((&first, rest)) = hay.split_first() else {
                    return;
                };
                let mut prev = LOWER[usize::from(first)];
                for (i, &c) in rest.iter().enumerate() {
                    let cur = LOWER[usize::from(c)];
                    let v = u16::from_le_bytes([prev, cur]);
                    if (bits[usize::from(v) >> 6] >> (v & 63)) & 1 != 0 {
                        Self::confirm(keys, pairs, hay, i, v, found);
                    }
                    prev = cur;
                }
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn confirm(
        keys: &[Vec<u8>],
        pairs: &FxHashMap<u16, Vec<(u32, u16)>>,
        hay: &[u8],
        i: usize,
        v: u16,
        found: &mut Found<'_>,
    ) {
        let Some(entries) = pairs.get(&v) else { return };
        for &(id, off) in entries {
            if found.seen(id) {
                continue;
            }
            let Some(k) = keys.get(id as usize) else {
                continue;
            };
            let Some(start) = i.checked_sub(usize::from(off)) else {
                continue;
            };
            if hay
                .get(start..start + k.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(k))
            {
                found.report(id);
            }
        }
    }
}

fn rarest_byte(k: &[u8]) -> usize {
    (0..k.len()).min_by_key(|&i| commonness(k[i])).unwrap_or(0)
}

/// Most keys one SIMD searcher takes (the packed searcher's Teddy buckets
/// crowd beyond this).
const PACKED_MAX: usize = 64;
/// Keys this long or longer are searched by a window of this many bytes.
const PACKED_WINDOW: usize = 8;

/// Cost of a 3-byte window a SIMD searcher looks for: [`window_cost`], plus
/// [`MARKUP_COST`] for one made only of markup's layout bytes (`>\n<`
/// between two tags, `="` in attributes): such windows occur every line of
/// HTML whatever their bytes' single counts say (ET's `-->\n<` was searched
/// by `>\n<`, and each `</p>\n<p>` of a page was a candidate).
fn teddy_window_cost(w: &[u8]) -> u32 {
    let layout = |b: &u8| b"<>\r\n\t \"'=/".contains(b);
    window_cost(w) + if w.iter().all(layout) { MARKUP_COST } else { 0 }
}

/// See [`teddy_window_cost`]: about a common byte's worth.
const MARKUP_COST: u32 = 8;

/// The window of a short key a SIMD searcher looks for, and its offset in
/// the key: up to [`PACKED_WINDOW`] bytes from the key's rarest three (both
/// searchers tell candidates by a window's first three bytes; see
/// [`teddy_window_cost`]); a key of 2 bytes whole.
fn search_window(k: &[u8]) -> (&[u8], usize) {
    if k.len() < 3 {
        return (k, 0);
    }
    let a = (0..=k.len() - 3)
        .min_by_key(|&a| teddy_window_cost(&k[a..a + 3]))
        .unwrap_or(0);
    (&k[a..k.len().min(a + PACKED_WINDOW)], a)
}

/// Keys searched with a SIMD multi-literal searcher (aho-corasick's packed
/// Teddy) over a lower-cased copy of the buffer: each key is searched by a
/// window of up to [`PACKED_WINDOW`] bytes starting at its rarest three
/// bytes (Teddy tells candidates by a window's first three bytes).
#[derive(Debug)]
struct Packed {
    searcher: aho_corasick::packed::Searcher,
    /// Window first byte → (window, key id, offset of the window in the
    /// key). Every window starting at a reported position is checked, so
    /// windows sharing a start are not lost to leftmost-first reporting.
    by_first: Vec<Vec<Window>>,
    /// Keys of this searcher, `pairs` included (stop early once all were
    /// found).
    n: usize,
    /// Keys of 2 bytes searched with `memchr::memmem` in the same
    /// lower-cased blocks (one SIMD pass for both bytes, instead of
    /// `memchr` on one byte that is common in bodies, e.g. `q"`).
    pairs: Vec<(u32, memchr::memmem::Finder<'static>)>,
}

/// A key's window in a [`Packed`] searcher: (window bytes, key id, offset
/// of the window in the key).
type Window = (Box<[u8]>, u32, u16);

impl Packed {
    /// None when the CPU has no SIMD searcher for these keys (the caller
    /// then uses the scalar filters).
    fn build(keys: &[Vec<u8>], ids: &[u32]) -> Option<Packed> {
        let mut by_first: Vec<Vec<Window>> = vec![Vec::new(); 256];
        let mut windows: Vec<&[u8]> = Vec::new();
        for &id in ids {
            let k = keys.get(id as usize)?;
            if k.len() < 3 {
                return None;
            }
            let (w, a) = search_window(k);
            let off = u16::try_from(a).ok()?;
            by_first
                .get_mut(usize::from(w[0]))?
                .push((w.into(), id, off));
            if !windows.contains(&w) {
                windows.push(w);
            }
        }
        let searcher = aho_corasick::packed::Config::new()
            .only_teddy(true)
            .builder()
            .extend(windows)
            .build()?;
        Some(Packed {
            searcher,
            by_first,
            n: ids.len(),
            pairs: Vec::new(),
        })
    }

    /// Reports the keys occurring in `hay`. The buffer is lower-cased in
    /// blocks of [`FOLD_BLOCK`] bytes (plus the longest window − 1, so a
    /// window starting in a block lies in it) on the stack.
    fn scan(&self, keys: &[Vec<u8>], hay: &[u8], found: &mut Found<'_>) {
        let mut buf = [0u8; FOLD_BLOCK + PACKED_WINDOW];
        let mut got = 0;
        let mut base = 0;
        while base < hay.len() {
            let end = hay.len().min(base + FOLD_BLOCK + PACKED_WINDOW - 1);
            let (Some(src), Some(dst)) = (hay.get(base..end), buf.get_mut(..end - base)) else {
                return;
            };
            fold_into(src, dst);
            let folded = &*dst;
            let starts = FOLD_BLOCK.min(folded.len());
            for (id, finder) in &self.pairs {
                if !found.seen(*id) && finder.find(folded).is_some_and(|p| p < starts) {
                    found.report(*id);
                    got += 1;
                }
            }
            let mut at = 0;
            while at < starts {
                let Some(m) = self
                    .searcher
                    .find_in(folded, aho_corasick::Span::from(at..folded.len()))
                else {
                    break;
                };
                let p = m.start();
                if p >= starts {
                    break;
                }
                let first = folded.get(p).map_or(0, |&b| usize::from(b));
                for (w, id, off) in self.by_first.get(first).map_or(&[][..], Vec::as_slice) {
                    if found.seen(*id) || folded.get(p..p + w.len()) != Some(&w[..]) {
                        continue;
                    }
                    let Some(start) = (base + p).checked_sub(usize::from(*off)) else {
                        continue;
                    };
                    if let Some(k) = keys.get(*id as usize)
                        && hay
                            .get(start..start + k.len())
                            .is_some_and(|h| h.eq_ignore_ascii_case(k))
                    {
                        found.report(*id);
                        got += 1;
                    }
                }
                if got >= self.n {
                    return;
                }
                at = p + 1;
            }
            base += FOLD_BLOCK;
        }
    }
}

/// Keys searched with the case-insensitive SIMD kernel of
/// `stormwatch-simd` (no lower-cased copy of the buffer, 64 positions per
/// step): one window per key (as [`Packed`] chooses it; 2-byte keys whole).
/// Used where the CPU runs that kernel; [`Packed`] otherwise.
#[derive(Debug)]
struct Caseless {
    teddy: CaselessTeddy,
    /// Window index → (key id, offset of the window in the key).
    owners: Vec<Vec<(u32, u16)>>,
    /// Keys of this searcher (stop early once all were found).
    n: usize,
}

impl Caseless {
    /// None when the kernel does not run on this CPU (or the keys do not
    /// fit one searcher).
    fn build(keys: &[Vec<u8>], ids: &[u32]) -> Option<Caseless> {
        let mut windows: Vec<&[u8]> = Vec::new();
        let mut owners: Vec<Vec<(u32, u16)>> = Vec::new();
        for &id in ids {
            let k = keys.get(id as usize)?;
            let (w, off) = search_window(k);
            let off = u16::try_from(off).ok()?;
            match windows.iter().position(|x| *x == w) {
                Some(i) => owners.get_mut(i)?.push((id, off)),
                None => {
                    windows.push(w);
                    owners.push(vec![(id, off)]);
                }
            }
        }
        let teddy = CaselessTeddy::new(&windows)?;
        teddy.is_fast().then_some(Caseless {
            teddy,
            owners,
            n: ids.len(),
        })
    }

    /// Reports the keys occurring in `hay`.
    fn scan(&self, keys: &[Vec<u8>], hay: &[u8], found: &mut Found<'_>) {
        let mut got = 0;
        self.teddy.find(hay, &mut |w, p| {
            for &(id, off) in self.owners.get(w).map_or(&[][..], Vec::as_slice) {
                if found.seen(id) {
                    continue;
                }
                let Some(start) = p.checked_sub(usize::from(off)) else {
                    continue;
                };
                if let Some(k) = keys.get(id as usize)
                    && hay
                        .get(start..start + k.len())
                        .is_some_and(|h| h.eq_ignore_ascii_case(k))
                {
                    found.report(id);
                    got += 1;
                }
            }
            got < self.n
        });
    }
}

/// Bytes lower-cased per block of the SIMD search.
const FOLD_BLOCK: usize = 512;

/// Up to this many 2-byte keys of a group with a SIMD searcher are searched
/// with `memchr::memmem` in its lower-cased blocks.
const FEW_PAIRS: usize = 8;

/// Exact ASCII lower-casing of eight bytes (SWAR, as [`fold4`]).
#[inline(always)]
fn fold8(x: u64) -> u64 {
    let h = x & 0x7f7f_7f7f_7f7f_7f7f;
    let ge_a = h.wrapping_add(0x3f3f_3f3f_3f3f_3f3f);
    let gt_z = h.wrapping_add(0x2525_2525_2525_2525);
    let upper = (ge_a ^ gt_z) & !x & 0x8080_8080_8080_8080;
    x | (upper >> 2)
}

/// `src` lower-cased (ASCII) into `dst` (of the same length).
fn fold_into(src: &[u8], dst: &mut [u8]) {
    let mut s = src.chunks_exact(8);
    let mut d = dst.chunks_exact_mut(8);
    for (a, b) in (&mut s).zip(&mut d) {
        let x = le8(a, 0).unwrap_or(0);
        b.copy_from_slice(&fold8(x).to_le_bytes());
    }
    for (a, b) in s.remainder().iter().zip(d.into_remainder()) {
        *b = a.to_ascii_lowercase();
    }
}

/// Words of the bit set [`Found`] keeps on the stack (keys 0 to 2047).
const FOUND_WORDS: usize = 32;

/// Reports each key once per scan.
struct Found<'a> {
    /// One bit per key reported so far, for ids below `64 × FOUND_WORDS`
    /// (on the stack: a scan allocated this set whenever it found a key,
    /// for each stream chunk with a hit); set up at the first report, so
    /// a scan that finds nothing (most packets) does not clear it.
    seen: Option<[u64; FOUND_WORDS]>,
    /// The bits of higher ids (groups of more than 2,048 keys).
    more: Vec<u64>,
    n: usize,
    report: &'a mut dyn FnMut(u32),
}

impl<'a> Found<'a> {
    fn new(n: usize, report: &'a mut dyn FnMut(u32)) -> Self {
        Found {
            seen: None,
            more: Vec::new(),
            n,
            report,
        }
    }

    fn seen(&self, id: u32) -> bool {
        let i = id as usize;
        let Some(seen) = &self.seen else {
            return false;
        };
        let w = match seen.get(i / 64) {
            Some(w) => Some(w),
            None => self.more.get(i / 64 - FOUND_WORDS),
        };
        w.is_some_and(|w| (w >> (i % 64)) & 1 != 0)
    }

    fn report(&mut self, id: u32) {
        let i = id as usize;
        if i / 64 >= FOUND_WORDS && self.more.is_empty() {
            self.more
                .resize(self.n.div_ceil(64).saturating_sub(FOUND_WORDS), 0);
        }
        let seen = self.seen.get_or_insert([0; FOUND_WORDS]);
        let w = match seen.get_mut(i / 64) {
            Some(w) => Some(w),
            None => self.more.get_mut(i / 64 - FOUND_WORDS),
        };
        if let Some(w) = w
            && *w & (1 << (i % 64)) == 0
        {
            *w |= 1 << (i % 64);
            (self.report)(id);
        }
    }
}

/// A key of a small group, searched on its own.
#[derive(Clone, Copy, Debug)]
struct Few {
    /// Key id.
    id: u32,
    /// Offset of its rarest byte (what `memchr` looks for).
    anchor: usize,
    /// The buffer position it must end by (a head part's keys: their rules'
    /// `depth`; `u64::MAX`: anywhere). A key anchored at the start is
    /// compared there instead of at every position up to the part's limit
    /// (ET's head keys of up to 16 bytes were searched this way in every
    /// TCP packet).
    reach: u64,
    /// The key's first (up to) eight bytes as a little-endian word, and the
    /// mask of those bytes: a key that can only start at the first byte of
    /// what is searched is compared there as one word.
    head: u64,
    head_mask: u64,
}

impl Few {
    fn new(id: u32, key: &[u8]) -> Few {
        let (head, head_mask) = head_word(key);
        Few {
            id,
            anchor: rarest_byte(key),
            reach: u64::MAX,
            head,
            head_mask,
        }
    }
}

/// The presence filter over a group's distinct keys (case-folded).
#[derive(Debug)]
struct Filter {
    keys: Vec<Vec<u8>>,
    grams: Option<GramFilter>,
    short: Option<ShortFilter>,
    /// Few keys, searched one by one with `memchr`.
    few: Vec<Few>,
    /// Keys searched with SIMD over a lower-cased copy of the buffer.
    packed: Vec<Packed>,
    /// Keys searched with the case-insensitive SIMD kernel (instead of
    /// `packed`, where the CPU runs it).
    caseless: Option<Caseless>,
}

impl Filter {
    fn build(keys: Vec<Vec<u8>>) -> Filter {
        Self::build_with(keys, true)
    }

    /// [`Filter::build`]; `caseless` as in [`Filter::build_packed`].
    fn build_with(keys: Vec<Vec<u8>>, caseless: bool) -> Filter {
        let all: Vec<u32> = (0..keys.len())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        if let Some(f) = Self::build_packed(&keys, &all, caseless) {
            return Filter { keys, ..f };
        }
        Self::build_scalar(keys, all)
    }

    /// In a group of more than [`PACKED_MAX`] keys, the keys of 3 to
    /// `cut − 1` bytes go to one SIMD searcher, `cut` being the largest
    /// length (5 to [`LONG_KEY`], or to [`SIMD_CUT_MAX`] for the
    /// case-insensitive kernel) that leaves at most [`PACKED_MAX`] of them;
    /// the gram pass over the longer keys then probes 4-byte grams every
    /// `cut − 3`-th byte (3-byte grams every 3rd when `cut` is 5) instead of
    /// every 2nd for a single 4-byte key. Keys of 2 bytes keep their scalar filter.
    /// None when no such cut exists, or without SIMD. Smaller groups, and a
    /// second searcher for more short keys (common short keys then stop the
    /// SIMD search at most positions), measured slower.
    ///
    /// `caseless`: the short keys go to the case-insensitive kernel where
    /// the CPU runs it (2-byte keys too, up to `Kernel::fast_capacity()` keys in all),
    /// else to aho-corasick's searcher over lower-cased blocks (false: tests
    /// of that path on any CPU).
    fn build_packed(keys: &[Vec<u8>], all: &[u32], caseless: bool) -> Option<Filter> {
        if all.len() <= PACKED_MAX {
            return None;
        }
        let len = |id: u32| keys.get(id as usize).map_or(0, Vec::len);
        let mut two: Vec<u32> = all.iter().copied().filter(|&id| len(id) < 3).collect();
        // Keys of 3 to `cut − 1` bytes go to SIMD; `cut` is the largest (at
        // most LONG_KEY, or SIMD_CUT_MAX for the case-insensitive kernel)
        // that leaves at most PACKED_MAX of them. At least 5, so the gram
        // pass probes every 3rd byte or fewer.
        let count = |cut: usize| {
            all.iter()
                .filter(|&&id| (3..cut).contains(&len(id)))
                .count()
        };
        let cut_max = if caseless && Kernel::fast_capacity() > 0 {
            SIMD_CUT_MAX
        } else {
            LONG_KEY
        };
        let cut = (5..=cut_max).rev().find(|&c| count(c) <= PACKED_MAX)?;
        let short: Vec<u32> = all
            .iter()
            .copied()
            .filter(|&id| (3..cut).contains(&len(id)))
            .collect();
        let long: Vec<u32> = all.iter().copied().filter(|&id| len(id) >= cut).collect();
        if short.is_empty() {
            return None;
        }
        let (stride, gram) = if cut >= 6 { (cut - 3, 4) } else { (cut - 2, 3) };
        let grams = (!long.is_empty()).then(|| GramFilter::build(keys, &long, stride, gram));
        if caseless {
            let mut with_two = short.clone();
            with_two.extend(&two);
            if with_two.len() <= Kernel::fast_capacity()
                && let Some(c) = Caseless::build(keys, &with_two)
            {
                return Some(Filter {
                    keys: Vec::new(),
                    grams,
                    short: None,
                    few: Vec::new(),
                    packed: Vec::new(),
                    caseless: Some(c),
                });
            }
        }
        let mut packed = Packed::build(keys, &short)?;
        // Up to FEW_PAIRS keys of 2 bytes are searched in the SIMD pass's
        // lower-cased blocks.
        if two.len() <= FEW_PAIRS {
            packed.pairs = two
                .iter()
                .filter_map(|&id| {
                    let k = keys.get(id as usize)?;
                    (k.len() == 2).then(|| (id, memchr::memmem::Finder::new(k).into_owned()))
                })
                .collect();
            two.retain(|id| !packed.pairs.iter().any(|(p, _)| p == id));
            packed.n += packed.pairs.len();
        }
        Some(Filter {
            keys: Vec::new(),
            grams,
            short: (!two.is_empty()).then(|| ShortFilter::build(keys, &two)),
            few: Vec::new(),
            packed: vec![packed],
            caseless: None,
        })
    }

    /// The scalar filters: `memchr` per key for few keys, else sampled grams
    /// (stride set by the shortest key of 4 bytes or more) and a short-key
    /// filter.
    fn build_scalar(keys: Vec<Vec<u8>>, all: Vec<u32>) -> Filter {
        if keys.len() <= FEW {
            let few = all
                .iter()
                .filter_map(|&id| keys.get(id as usize).map(|k| Few::new(id, k)))
                .collect();
            return Filter {
                keys,
                grams: None,
                short: None,
                few,
                packed: Vec::new(),
                caseless: None,
            };
        }
        let (long, short): (Vec<u32>, Vec<u32>) = all
            .iter()
            .partition(|&&id| keys.get(id as usize).is_some_and(|k| k.len() >= 4));
        let shortest = long
            .iter()
            .filter_map(|&id| keys.get(id as usize).map(Vec::len))
            .min()
            .unwrap_or(LONG_KEY);
        // Keys of LONG_KEY bytes or more: 4-grams at the widest stride.
        // Shorter ones: 3-grams, so a 4-byte key still allows stride 2.
        let (stride, gram) = if shortest >= LONG_KEY {
            (MAX_STRIDE, 4)
        } else {
            (shortest.saturating_sub(2).clamp(1, MAX_STRIDE), 3)
        };
        let grams = (!long.is_empty()).then(|| GramFilter::build(&keys, &long, stride, gram));
        let short = (!short.is_empty()).then(|| ShortFilter::build(&keys, &short));
        Filter {
            keys,
            grams,
            short,
            few: Vec::new(),
            packed: Vec::new(),
            caseless: None,
        }
    }

    /// Calls `report` once for each key present in `hay`.
    #[cfg(test)]
    fn scan(&self, hay: &[u8], report: &mut dyn FnMut(u32)) {
        self.scan_unless(hay, 0, report, ALL_FEW);
    }

    /// Like [`Filter::scan`]; of the keys searched one by one (a group of few
    /// keys), only those whose bit is set in `few_on` (bit `i`: `few[i]`) are
    /// searched (the others' rules cannot match).
    fn scan_unless(&self, hay: &[u8], at: u64, report: &mut dyn FnMut(u32), few_on: u8) {
        let mut found = Found::new(self.keys.len(), report);
        // The first eight bytes of `hay`, folded (read once, when a key can
        // only start there: ET's head keys anchored at a packet's start).
        let mut first = None;
        for (i, f) in self.few.iter().enumerate() {
            // The part of `hay` (at buffer position `at`) the key must end in.
            let room =
                usize::try_from(f.reach.saturating_sub(at)).map_or(hay.len(), |n| n.min(hay.len()));
            let Some(k) = self.keys.get(f.id as usize) else {
                continue;
            };
            if (few_on >> i) & 1 == 0 {
                continue;
            }
            let Some(h) = hay.get(..room) else { continue };
            let hit = if h.len() == k.len() && !k.is_empty() {
                let w = *first.get_or_insert_with(|| fold8(word(hay)));
                w & f.head_mask == f.head
                    && k.get(8..)
                        .is_none_or(|rest| h.get(8..).is_some_and(|t| t.eq_ignore_ascii_case(rest)))
            } else {
                find_folded(h, k, f.anchor)
            };
            if hit {
                found.report(f.id);
            }
        }
        if let Some(c) = &self.caseless {
            c.scan(&self.keys, hay, &mut found);
        }
        for p in &self.packed {
            p.scan(&self.keys, hay, &mut found);
        }
        if let Some(g) = &self.grams {
            g.scan(&self.keys, hay, &mut found);
        }
        if let Some(s) = &self.short {
            s.scan(&self.keys, hay, &mut found);
        }
    }

    /// True when a SIMD searcher holds the group's short keys.
    #[cfg(test)]
    fn simd(&self) -> bool {
        !self.packed.is_empty() || self.caseless.is_some()
    }

    /// Stride of the gram pass (0: none).
    fn stride(&self) -> usize {
        self.grams.as_ref().map_or(0, |g| g.stride)
    }
}

/// Every key searched on its own (see [`Filter::scan_unless`]).
const ALL_FEW: u8 = u8::MAX;

/// Below this many possible start positions a key searched on its own is
/// compared at each of them rather than searched with `memchr`.
const FEW_DIRECT: usize = 16;

/// True when `pat`, folded (ASCII lower case, as every group key is), occurs
/// in `hay` case-insensitively, searching for its anchor byte.
fn find_folded(hay: &[u8], pat: &[u8], anchor: usize) -> bool {
    let Some(&a) = pat.get(anchor) else {
        return false;
    };
    // Last position where the key fits.
    let Some(last) = hay.len().checked_sub(pat.len()) else {
        return false;
    };
    let up = a.to_ascii_uppercase();
    // The anchor byte can only lie where the whole key fits around it.
    let Some(region) = hay.get(..last + anchor + 1) else {
        return false;
    };
    if last < FEW_DIRECT {
        // Few places to try (head keys searched in a buffer's first bytes):
        // test the anchor byte there instead of setting up a `memchr` search.
        return region
            .get(anchor..)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .any(|(s, &b)| {
                (b == a || b == up)
                    && hay
                        .get(s..s + pat.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(pat))
            });
    }
    let mut from = anchor;
    while let Some(rest) = region.get(from..) {
        let Some(rel) = memchr_either_case(a, rest) else {
            return false;
        };
        let at = from + rel;
        if let Some(start) = at.checked_sub(anchor)
            && let Some(win) = hay.get(start..start + pat.len())
            && win.eq_ignore_ascii_case(pat)
        {
            return true;
        }
        from = at + 1;
    }
    false
}

/// A rule's prefilter key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    /// Bytes that must occur in the buffer for the rule to match.
    pub(crate) bytes: Vec<u8>,
    /// When known, the key must end by this buffer position (`depth`,
    /// `startswith`, `within` from the start): it is searched only there.
    pub(crate) reach: Option<u32>,
    /// For a head key the author did not mark `fast_pattern`: the rule's
    /// best key searched everywhere, if any, used instead when the group's
    /// rules share the head key (see [`COMMON_HEAD`]).
    pub(crate) alt: Option<Vec<u8>>,
}

impl Key {
    /// True for a key searched only near the buffer start (see [`HEAD_REACH`]).
    fn is_head(&self) -> bool {
        self.bytes.len() >= MIN_KEY && self.reach.is_some_and(|r| r <= HEAD_REACH)
    }
}

/// A head key shared by this many rules of a group is taken for protocol
/// framing every buffer of the protocol starts with (ET's TLS rules anchor
/// `|16 03|` at the start, its DNS rules the query header `|01 00 00 01 00 00
/// 00 00 00 00|` at offset 2): each of those rules that has another key of
/// at least [`ALT_MIN`] bytes is searched by that key instead (a TLS
/// handshake made every such rule a candidate).
const COMMON_HEAD: usize = 4;

/// Shortest alternative key worth a head key's place (see [`COMMON_HEAD`]).
const ALT_MIN: usize = 4;

/// Keys that must end within this many bytes of the buffer start are searched
/// only there ("head" keys); the others everywhere.
const HEAD_REACH: u32 = 4096;

/// One filter and the rules of each of its keys.
#[derive(Debug)]
struct Part {
    filter: Filter,
    /// Key id → rule indices (sorted).
    key_rules: Vec<Vec<u32>>,
    /// Buffer positions past which no key of this part can end.
    limit: usize,
}

impl Part {
    /// `reach`: for a head part, the position each key must end by (the
    /// largest of its rules').
    fn build(
        by_key: BTreeMap<Vec<u8>, Vec<u32>>,
        limit: usize,
        reach: Option<&BTreeMap<Vec<u8>, u32>>,
    ) -> Option<Part> {
        if by_key.is_empty() {
            return None;
        }
        let (keys, mut key_rules): (Vec<Vec<u8>>, Vec<Vec<u32>>) = by_key.into_iter().unzip();
        for v in key_rules.iter_mut() {
            v.sort_unstable();
            v.dedup();
        }
        let mut filter = Filter::build(keys);
        if let Some(reach) = reach {
            let Filter { keys, few, .. } = &mut filter;
            for f in few.iter_mut() {
                if let Some(&r) = keys.get(f.id as usize).and_then(|k| reach.get(k)) {
                    f.reach = u64::from(r);
                }
            }
        }
        Some(Part {
            filter,
            key_rules,
            limit,
        })
    }

    /// Bit `i` set when a rule of the `i`-th key searched on its own passes
    /// `gate` (see [`Filter::scan_unless`]).
    fn few_on(&self, gate: Gate<'_>) -> u8 {
        let mut m = 0;
        for (i, f) in self.filter.few.iter().enumerate() {
            if self
                .key_rules
                .get(f.id as usize)
                .is_some_and(|rules| rules.iter().any(|&r| gate(r)))
            {
                m |= 1 << i;
            }
        }
        m
    }

    /// Scans `hay`, which starts at buffer position `at`. Of the keys
    /// searched one by one, only those in `few_on` are searched.
    fn scan(&self, hay: &[u8], at: u64, out: &mut Vec<u32>, few_on: u8) {
        let room = u64::try_from(self.limit)
            .unwrap_or(u64::MAX)
            .saturating_sub(at);
        let end = usize::try_from(room).unwrap_or(usize::MAX).min(hay.len());
        let Some(hay) = hay.get(..end) else { return };
        if hay.len() < MIN_KEY {
            return;
        }
        self.filter.scan_unless(
            hay,
            at,
            &mut |id| {
                if let Some(rules) = self.key_rules.get(id as usize) {
                    out.extend_from_slice(rules);
                }
            },
            few_on,
        );
    }
}

/// A set of rules inspected together: filters over their keys (head keys
/// apart), plus the rules without a key (evaluated on every input).
#[derive(Debug, Default)]
pub(crate) struct Group {
    /// Keys that can only occur near the buffer start.
    head: Option<Part>,
    /// The other keys.
    body: Option<Part>,
    /// Rules without a key: evaluated on every input.
    pub(crate) always: Vec<u32>,
    /// TCP groups: `always` split by the TCP flags byte each rule accepts.
    always_by_flags: Option<Box<[Vec<u32>]>>,
    /// Number of rules in the group.
    pub(crate) len: usize,
    /// Longest key (bytes), for rescanning chunk boundaries.
    pub(crate) max_key: usize,
    /// Which byte windows across a chunk boundary a key can lie on (built
    /// when first asked: only stream groups ask).
    crossing: std::sync::OnceLock<Crossing>,
}

/// The byte windows (ASCII case folded) a key of a group can cover across
/// a boundary between two stream chunks. A key that covers the boundary
/// holds the pair of bytes around it if it has 2 bytes; one of the two
/// 3-byte windows across it if it has 3; one of the three 4-byte windows
/// across it if it has 4 to 7 (the one starting at its first byte or 3
/// bytes before the boundary, whichever is later); one of the seven 8-byte
/// windows across it if longer. So the tables hold the 2- and 3-byte keys,
/// the 4-byte grams of the keys of 4–7 bytes and the 8-byte grams of the
/// longer ones; when none of the windows across a boundary is there, no key
/// covers it and the bytes around it need no search of their own (on the
/// benchmark capture's text and HTML most boundaries).
#[derive(Debug)]
struct Crossing {
    /// Folded 2-byte keys (bit `a·256 + b`).
    pairs: Box<[u64; 1024]>,
    /// The hashed windows of the longer keys ([`CROSS_BITS`] bits).
    grams: Vec<u64>,
}

/// Bits of [`Crossing::grams`]: 2^20 (128 KiB, built only for the groups
/// stream chunks use). With all ET rules, 1,555 of the 495,146 chunk
/// boundaries of the benchmark capture were searched; with 2^18 bits,
/// 188,566 (a boundary checks up to twelve windows).
const CROSS_BITS: u32 = 20;

impl Crossing {
    fn build<'k>(keys: impl Iterator<Item = &'k [u8]>) -> Crossing {
        let mut c = Crossing {
            pairs: Box::new([0; 1024]),
            grams: vec![0; 1 << (CROSS_BITS - 6)],
        };
        for k in keys {
            let k = k.to_ascii_lowercase();
            let mut set = |w: &[u8]| {
                let h = Crossing::hash(word(w), w.len());
                if let Some(x) = c.grams.get_mut(h / 64) {
                    *x |= 1 << (h % 64);
                }
            };
            match k.len() {
                0 | 1 => {}
                2 => {
                    let i = usize::from(k[0]) << 8 | usize::from(k[1]);
                    c.pairs[i / 64] |= 1 << (i % 64);
                }
                3 => set(&k),
                4..=7 => k.windows(4).for_each(set),
                _ => k.windows(8).for_each(set),
            }
        }
        c
    }

    /// Bit of a folded window of `len` (3, 4 or 8) bytes, `x` its bytes as
    /// a little-endian number.
    #[inline(always)]
    fn hash(x: u64, len: usize) -> usize {
        (x.wrapping_add(len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> (64 - CROSS_BITS)) as usize
    }

    #[inline(always)]
    fn has(&self, x: u64, len: usize) -> bool {
        let h = Crossing::hash(x, len);
        self.grams
            .get(h / 64)
            .is_some_and(|w| (w >> (h % 64)) & 1 != 0)
    }

    /// True when a key can cover the boundary between `before` (the bytes
    /// just before it) and `after` (just after it).
    fn may_cross(&self, before: &[u8], after: &[u8]) -> bool {
        let n = before.len().min(7);
        let m = after.len().min(7);
        if n == 0 || m == 0 {
            return false;
        }
        // The bytes around the boundary as two little-endian words (byte `i`
        // of the 16 at bits `8i`), folded; the boundary at byte `n`. Read
        // with fixed 8-byte loads (a copy of `n` and `m` bytes was two
        // `memcpy` calls, slower than the byte loop it replaced); bytes past
        // `n + m` (more of `after`) are read, but no window covers them.
        // `before`'s last eight bytes (fewer: at the top, zeros below).
        let b = match before.len().checked_sub(8) {
            Some(from) => le8(before, from).unwrap_or(0),
            None => word(before) << (8 * (8 - before.len())),
        };
        let a = le8(after, 0).unwrap_or_else(|| word(after));
        let lo = fold8((b >> (8 * (8 - n))) | (a << (8 * n)));
        let hi = fold8(a >> (8 * (8 - n)));
        // The 8 bytes from byte `s < 8`.
        let at = |s: usize| {
            if s == 0 {
                lo
            } else {
                (lo >> (8 * s)) | (hi << (64 - 8 * s))
            }
        };
        let len = n + m;
        let pair = (at(n - 1) & 0xff) << 8 | (at(n - 1) >> 8 & 0xff);
        let i = pair as usize;
        if (self.pairs[i / 64] >> (i % 64)) & 1 != 0 {
            return true;
        }
        // The windows of 3, 4 and 8 bytes that hold the boundary and fit.
        for (l, mask) in [(3, 0xff_ffff), (4, 0xffff_ffff), (8, u64::MAX)] {
            for s in n.saturating_sub(l - 1)..n {
                if s + l <= len && self.has(at(s) & mask, l) {
                    return true;
                }
            }
        }
        false
    }
}

/// Up to the first 8 bytes of `b` as a little-endian number.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u64::from_le_bytes(a)
}

/// Longest key searched: a longer key is searched by its rarest window of
/// this many bytes (any part of a content must occur too). Bounds the bytes a
/// stream chunk rescans before its start (`Group::max_key − 1`).
const MAX_KEY: usize = 32;

/// The part of `b` searched as its key: all of it, or its window of
/// [`MAX_KEY`] bytes that is rarest and least shared with the group's other
/// keys (`held`: how many keys hold each folded 4-byte gram; see
/// [`grams_held`]). ET's User-Agent keys of 40–200 bytes share their first
/// 32 (`User-Agent: Mozilla/4.0 (compatible; MSIE …`): searched by that
/// start, every request with such a header made all of them candidates.
fn key_window<'k>(b: &'k [u8], held: &FxHashMap<u32, u32>) -> &'k [u8] {
    if b.len() <= MAX_KEY {
        return b;
    }
    // Other keys holding each gram of `b` (this key holds each once).
    let shared: Vec<u32> = (0..=b.len() - 4)
        .map(|i| {
            let g = fold4(load4(b, i));
            held.get(&g).copied().unwrap_or(1).saturating_sub(1)
        })
        .collect();
    let start = (0..=b.len() - MAX_KEY)
        .min_by_key(|&a| {
            let others: u32 = shared[a..=a + MAX_KEY - 4].iter().sum();
            shared_window_cost(&b[a..a + MAX_KEY], others)
        })
        .unwrap_or(0);
    &b[start..start + MAX_KEY]
}

/// How many of `keys` hold each folded 4-byte gram (a key counted once per
/// gram).
fn grams_held<'k>(keys: impl Iterator<Item = &'k [u8]>) -> FxHashMap<u32, u32> {
    let mut held: FxHashMap<u32, u32> = FxHashMap::default();
    let mut mine: Vec<u32> = Vec::new();
    for k in keys {
        mine.clear();
        mine.extend((0..k.len().saturating_sub(3)).map(|i| fold4(load4(k, i))));
        mine.sort_unstable();
        mine.dedup();
        for &g in &mine {
            *held.entry(g).or_default() += 1;
        }
    }
    held
}

/// A key as a group searches it: its bytes and reach (see [`Key`]).
type Searched<'k> = (&'k [u8], Option<u32>);

/// For a rule index: false when the rule cannot match the input at hand.
pub(crate) type Gate<'a> = &'a dyn Fn(u32) -> bool;

/// For a rule index, the TCP flag bytes (256-bit set) its flags check accepts.
pub(crate) type FlagsOf<'a> = &'a dyn Fn(u32) -> [u64; 4];

impl Group {
    /// Builds a group from (rule index, prefilter key) pairs.
    pub(crate) fn build(members: &[(u32, Option<&Key>)], flags_of: Option<FlagsOf<'_>>) -> Group {
        let mut head: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        let mut body: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        let mut head_limit = 0usize;
        let mut head_reach: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        let mut always = Vec::new();
        let mut max_key = 0;
        // Rules per head key, to find the common ones.
        let mut head_count: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
        for k in members.iter().filter_map(|(_, k)| *k) {
            if k.is_head() {
                *head_count.entry(k.bytes.to_ascii_lowercase()).or_default() += 1;
            }
        }
        // Each rule's key as searched: (rule, bytes, reach); None: no key.
        let chosen: Vec<(u32, Option<Searched<'_>>)> = members
            .iter()
            .map(|&(r, k)| {
                let k = k
                    .filter(|k| k.bytes.len() >= MIN_KEY)
                    .map(|k| match &k.alt {
                        Some(alt)
                            if k.is_head()
                                && head_count
                                    .get(&k.bytes.to_ascii_lowercase())
                                    .is_some_and(|&n| n >= COMMON_HEAD) =>
                        {
                            (alt.as_slice(), None)
                        }
                        _ => (k.bytes.as_slice(), k.reach),
                    });
                (r, k)
            })
            .collect();
        let held = grams_held(
            chosen
                .iter()
                .filter_map(|(_, k)| k.map(|k| k.0))
                .filter(|b| b.len() > MAX_KEY),
        );
        for &(r, k) in &chosen {
            match k {
                Some((bytes, reach)) => {
                    let bytes = key_window(bytes, &held);
                    max_key = max_key.max(bytes.len());
                    let folded = bytes.to_ascii_lowercase();
                    match reach {
                        Some(reach) if reach <= HEAD_REACH => {
                            head_limit = head_limit.max(reach as usize);
                            let most = head_reach.entry(folded.clone()).or_insert(reach);
                            *most = (*most).max(reach);
                            head.entry(folded).or_default().push(r);
                        }
                        _ => body.entry(folded).or_default().push(r),
                    }
                }
                None => always.push(r),
            }
        }
        always.sort_unstable();
        always.dedup();
        let mut g = Group {
            head: Part::build(head, head_limit, Some(&head_reach)),
            body: Part::build(body, usize::MAX, None),
            always,
            always_by_flags: None,
            len: members.len(),
            max_key,
            crossing: std::sync::OnceLock::new(),
        };
        if let Some(f) = flags_of {
            g.split_by_flags(f);
        }
        g
    }

    /// Splits `always` by accepted TCP flags.
    fn split_by_flags(&mut self, flags_of: FlagsOf<'_>) {
        if self.always.is_empty() {
            return;
        }
        let masks: Vec<(u32, [u64; 4])> = self.always.iter().map(|&r| (r, flags_of(r))).collect();
        let v: Vec<Vec<u32>> = (0..256usize)
            .map(|f| {
                masks
                    .iter()
                    .filter(|(_, m)| (m[f / 64] >> (f % 64)) & 1 != 0)
                    .map(|(r, _)| *r)
                    .collect()
            })
            .collect();
        self.always_by_flags = Some(v.into_boxed_slice());
    }

    /// The always-evaluated rules for a packet with these TCP flags (None:
    /// not TCP or no split).
    pub(crate) fn always_for(&self, tcp_flags: Option<u8>) -> &[u32] {
        match (tcp_flags, &self.always_by_flags) {
            (Some(f), Some(v)) => v.get(usize::from(f)).map_or(&[], Vec::as_slice),
            _ => &self.always,
        }
    }

    /// (rules, distinct head keys, head limit, distinct other keys, their
    /// gram stride, rules without key).
    pub(crate) fn stats(&self) -> (usize, usize, usize, usize, usize, usize) {
        (
            self.len,
            self.head.as_ref().map_or(0, |p| p.key_rules.len()),
            self.head.as_ref().map_or(0, |p| p.limit),
            self.body.as_ref().map_or(0, |p| p.key_rules.len()),
            self.body.as_ref().map_or(0, |p| p.filter.stride()),
            self.always.len(),
        )
    }

    /// True when the group holds no rule.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// False when no key of the group can lie across the boundary between
    /// `before` (the bytes before it) and `after` (see [`Crossing`]).
    pub(crate) fn may_cross(&self, before: &[u8], after: &[u8]) -> bool {
        self.crossing
            .get_or_init(|| {
                let parts = self.head.iter().chain(&self.body);
                Crossing::build(parts.flat_map(|p| p.filter.keys.iter().map(Vec::as_slice)))
            })
            .may_cross(before, after)
    }

    /// True when the group has keys to search for.
    pub(crate) fn has_keys(&self) -> bool {
        self.head.is_some() || self.body.is_some()
    }

    /// Adds the rules whose key occurs in `hay` (a whole buffer) to `out`
    /// (unsorted, may repeat).
    pub(crate) fn scan(&self, hay: &[u8], out: &mut Vec<u32>) {
        self.scan_at(hay, 0, out);
    }

    /// Like [`Group::scan`] for a part of a buffer starting at position `at`.
    pub(crate) fn scan_at(&self, hay: &[u8], at: u64, out: &mut Vec<u32>) {
        if let Some(p) = &self.head {
            p.scan(hay, at, out, ALL_FEW);
        }
        if let Some(p) = &self.body {
            p.scan(hay, at, out, ALL_FEW);
        }
    }

    /// Which keys searched on their own (groups of few keys) have a rule
    /// passing `gate` — a cheap header test (protocol, ports) that full
    /// evaluation would fail anyway — as a mask for [`Group::scan_masked`]
    /// (the head part's keys in the low byte, the body part's in the high
    /// byte). A rule `-> $SMTP_SERVERS 25` without a flow direction sits in
    /// every server-port group of the to-client direction (its port is the
    /// client's there), so its key was searched in every HTTP response. The
    /// mask depends only on the protocol and ports, which a flow direction
    /// fixes: callers keep it (testing the gate per packet was ≈ 200 cycles
    /// for a six-key group).
    pub(crate) fn gate_mask(&self, gate: Gate<'_>) -> u16 {
        let head = self.head.as_ref().map_or(0, |p| p.few_on(gate));
        let body = self.body.as_ref().map_or(0, |p| p.few_on(gate));
        u16::from(head) | u16::from(body) << 8
    }

    /// Like [`Group::scan`], but of the keys searched on their own only those
    /// in `mask` (from [`Group::gate_mask`]).
    pub(crate) fn scan_masked(&self, hay: &[u8], out: &mut Vec<u32>, mask: u16) {
        let [head, body] = mask.to_le_bytes();
        if let Some(p) = &self.head {
            p.scan(hay, 0, out, head);
        }
        if let Some(p) = &self.body {
            p.scan(hay, 0, out, body);
        }
    }
}

/// Picks a rule's prefilter key from the positive contents of one inspection
/// list: every such content must occur in the buffer for the rule to match,
/// so any of them (or a run of contents that must be adjacent, merged into one
/// string) is a valid key. Prefers keys anchored near the buffer start (searched
/// only there), then keys of [`LONG_KEY`] bytes or more (the filter's widest
/// stride), then the rarest window. Contents after `base64_data` inspect
/// decoded bytes and are not used.
pub(crate) fn choose_key(ops: &[crate::rule::Op]) -> Option<Key> {
    use crate::rule::{Num, Op};
    let lit = |n: Option<Num>| match n {
        None => Some(0i64),
        Some(Num::Lit(v)) => Some(v),
        Some(Num::Var(_)) => None,
    };
    // (key, holds the rule's explicit `fast_pattern` content).
    let mut cands: Vec<(Key, bool)> = Vec::new();
    // The run of adjacent contents being merged.
    let mut run: Option<(Key, bool)> = None;
    // Upper bound of the inspection position after the previous step.
    let mut pos_bound: Option<i64> = Some(0);
    for op in ops {
        if matches!(op, Op::Base64Data) {
            break;
        }
        let Op::Content(c) = op else {
            // Anything else between two contents breaks adjacency and may
            // move the position anywhere.
            if let Some(r) = run.take() {
                cands.push(r);
            }
            pos_bound = None;
            continue;
        };
        if c.negated {
            if let Some(r) = run.take() {
                cands.push(r);
            }
            continue;
        }
        let plen = i64::try_from(c.pat.len()).unwrap_or(i64::MAX);
        // Where this content's match must end, when bounded.
        let reach: Option<i64> = if c.endswith {
            None
        } else if c.startswith {
            Some(plen)
        } else if c.is_relative() {
            match (pos_bound, lit(c.distance), c.within) {
                (Some(p), Some(d), Some(Num::Lit(w))) => {
                    Some(p.saturating_add(d).saturating_add(w))
                }
                _ => None,
            }
        } else {
            match (lit(c.offset), c.depth) {
                (Some(o), Some(Num::Lit(dp))) => Some(o.max(0).saturating_add(dp)),
                _ => None,
            }
        };
        pos_bound = reach;
        let reach = reach.and_then(|r| u32::try_from(r.max(0)).ok());
        let adjacent = c.distance == Some(Num::Lit(0)) && c.within == Some(Num::Lit(plen));
        let fast = c.fast != crate::rule::FastPat::No;
        match (&mut run, adjacent) {
            (Some((r, f)), true) => {
                r.bytes.extend_from_slice(&c.pat);
                r.reach = reach;
                *f |= fast;
            }
            _ => {
                if let Some(r) = run.take() {
                    cands.push(r);
                }
                run = Some((
                    Key {
                        bytes: c.pat.clone(),
                        reach,
                        alt: None,
                    },
                    fast,
                ));
            }
        }
    }
    if let Some(r) = run.take() {
        cands.push(r);
    }
    // The author's `fast_pattern` wins (as in Suricata): ET marks the rare
    // part (`|08|torpacho|03|com`) while the common one (a DNS header at
    // offset 2) would be a head key that every query carries.
    let explicit = cands.iter().any(|(k, f)| *f && k.bytes.len() >= MIN_KEY);
    let pool: Vec<Key> = cands
        .into_iter()
        .filter(|(k, f)| !k.bytes.is_empty() && (*f || !explicit))
        .map(|(k, _)| k)
        .collect();
    let mut best = pool.iter().max_by_key(|k| key_score(k))?.clone();
    if !explicit && best.is_head() {
        best.alt = pool
            .iter()
            .filter(|k| !k.is_head() && k.bytes.len() >= ALT_MIN)
            .max_by_key(|k| key_score(k))
            .map(|k| k.bytes.clone());
    }
    Some(best)
}

/// Higher is better: anchored near the start (and long enough to be a key),
/// then long enough for the widest stride, then rarity of the best window,
/// then length.
fn key_score(k: &Key) -> (bool, usize, i64, usize) {
    let b = &k.bytes;
    let w = b.len().min(LONG_KEY);
    // The windows' costs slid along the key (a window of 8 bytes per byte
    // of a long key was ≈ 5 % of loading all ET rules).
    let cost = |i: usize| u32::from(FOLDED_COMMONNESS[usize::from(b[i])]);
    let mut sum = window_cost(&b[..w]);
    let mut best = sum;
    for a in 1..=b.len() - w {
        sum = sum + cost(a + w - 1) - cost(a - 1);
        best = best.min(sum);
    }
    let head = k.is_head();
    (head, w, -i64::from(best), b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The members of a group whose rule `i` has key `keys[i]`.
    fn members_of(keys: &[Key]) -> Vec<(u32, Option<&Key>)> {
        keys.iter().zip(0u32..).map(|(k, r)| (r, Some(k))).collect()
    }

    /// The rules `g` makes candidates of in `hay` (at buffer position `at`),
    /// sorted, once each.
    fn candidates(g: &Group, hay: &[u8], at: u64) -> Vec<u32> {
        let mut v = Vec::new();
        g.scan_at(hay, at, &mut v);
        v.sort_unstable();
        v.dedup();
        v
    }

    fn naive(keys: &[Vec<u8>], hay: &[u8]) -> Vec<u32> {
        keys.iter()
            .enumerate()
            .filter(|(_, k)| hay.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k)))
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// The keys a gram filter finds in `hay` (sorted): by its full pass,
    /// or (`scalar_only`) by the scalar loop alone, what CPUs without
    /// AVX-512 VBMI run.
    fn gram_found(f: &GramFilter, keys: &[Vec<u8>], hay: &[u8], scalar_only: bool) -> Vec<u32> {
        let mut got = Vec::new();
        let mut report = |i| got.push(i);
        let mut found = Found::new(keys.len(), &mut report);
        if scalar_only {
            f.scan_rest(keys, hay, 0, &mut found);
        } else {
            f.scan(keys, hay, &mut found);
        }
        got.sort_unstable();
        got
    }

    /// `k` with each letter upper-cased at random.
    fn random_case(k: &[u8], rnd: &mut impl FnMut() -> u64) -> Vec<u8> {
        k.iter()
            .map(|b| {
                if rnd().is_multiple_of(2) {
                    b.to_ascii_uppercase()
                } else {
                    *b
                }
            })
            .collect()
    }

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn single_key_search_at_every_length_and_anchor() {
        // Short buffers (compared in place) and long ones (memchr on the
        // anchor byte, limited to where the key fits) around the cut.
        // Keys of up to 20 bytes, some planted whole (letters in either
        // case) or but for one byte; bytes next to the letters (`@`, `[`,
        // `` ` ``, `{`, 0xc1) must not fold into them.
        let mut rnd = rng(0x0bad_cafe_f00d_d00d);
        for i in 0..40_000 {
            let n = (rnd() % 48) as usize;
            let (hb, kb): (&[u8], &[u8]) = if i % 2 == 0 {
                (b"abAB:", b"ab:")
            } else {
                (b"aA@`[{\xc1", b"a@`[{\xc1")
            };
            let hay: Vec<u8> = (0..n)
                .map(|_| hb[(rnd() % hb.len() as u64) as usize])
                .collect();
            let klen = 1 + (rnd() % if i % 4 < 2 { 5 } else { 20 }) as usize;
            let key: Vec<u8> = (0..klen)
                .map(|_| kb[(rnd() % kb.len() as u64) as usize])
                .collect();
            let mut hay = hay;
            // A quarter of the time the key is in the buffer, its letters'
            // case flipped at random; a quarter, all of it but one byte.
            let plant = rnd() % 4;
            if plant < 2 && klen <= n {
                let at = (rnd() % (n - klen + 1) as u64) as usize;
                for (j, &c) in key.iter().enumerate() {
                    hay[at + j] = if rnd().is_multiple_of(2) {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    };
                }
                if plant == 1 {
                    let j = (rnd() % klen as u64) as usize;
                    hay[at + j] = b'#';
                }
            }
            let anchor = (rnd() % klen as u64) as usize;
            let want = hay.windows(klen).any(|w| w.eq_ignore_ascii_case(&key));
            assert_eq!(
                find_folded(&hay, &key, anchor),
                want,
                "{hay:?} {key:?} {anchor}"
            );
        }
    }

    #[test]
    fn simd_keys_sharing_a_start_are_all_found() {
        // The SIMD searcher reports one pattern per position: a key whose
        // window is a prefix of another's (or the reverse) must still be
        // found where both start.
        let mut keys: Vec<Vec<u8>> = vec![b"abcd".to_vec(), b"abc".to_vec(), b"abcdef".to_vec()];
        keys.extend((0..58).map(|i| format!("k{i:02}qq").into_bytes()));
        keys.extend((0..10).map(|i| format!("longkey{i:02}xyz").into_bytes()));
        for caseless in [true, false] {
            let f = Filter::build_with(keys.clone(), caseless);
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                assert!(f.simd(), "the short keys go to SIMD");
            }
            for hay in [
            &b"xxABCdxx"[..],
            b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzabcdefzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzabcdzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzabczzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ] {
            let mut got = Vec::new();
            f.scan(hay, &mut |i| got.push(i));
            got.sort_unstable();
            assert_eq!(got, naive(&keys, hay), "{caseless} {}", String::from_utf8_lossy(hay));
        }
        }
    }

    /// Two-byte keys of a group with a SIMD searcher are searched in its
    /// lower-cased blocks: found in any case, across a block boundary, and
    /// after every SIMD key was found (the search must not stop early).
    #[test]
    fn simd_group_two_byte_keys_are_found_in_every_block() {
        let mut keys: Vec<Vec<u8>> = vec![b"q\"".to_vec(), b"mz".to_vec()];
        keys.extend((0..60).map(|i| format!("k{i:02}qq").into_bytes()));
        keys.extend((0..10).map(|i| format!("longkey{i:02}xyz").into_bytes()));
        for caseless in [true, false] {
            let f = Filter::build_with(keys.clone(), caseless);
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                assert!(f.simd(), "the short keys go to SIMD");
                assert!(f.short.is_none(), "2-byte keys in the SIMD pass");
                if let Some(p) = f.packed.first() {
                    assert_eq!(p.pairs.len(), 2);
                }
            }
            // Every SIMD key first, then the 2-byte keys in later blocks.
            let mut all_short = Vec::new();
            for i in 0..60 {
                all_short.extend(format!("K{i:02}QQ ").bytes());
            }
            for (at, tail) in [
                (FOLD_BLOCK * 2 + 100, &b"Q\"...Mz"[..]),
                (FOLD_BLOCK * 2 - 1, b"q\""),
                (FOLD_BLOCK - 1, b"mZ"),
                (FOLD_BLOCK * 3 + 7, b"zz"),
            ] {
                let mut hay = all_short.clone();
                hay.resize(at.max(hay.len()), b'.');
                hay.extend_from_slice(tail);
                hay.extend_from_slice(&[b'.'; 30]);
                let mut got = Vec::new();
                f.scan(&hay, &mut |i| got.push(i));
                got.sort_unstable();
                let want = naive(&keys, &hay);
                assert_eq!(
                    got,
                    want,
                    "{caseless} at {at} {}",
                    String::from_utf8_lossy(tail)
                );
            }
        }
    }

    #[test]
    fn filter_finds_exactly_the_present_keys() {
        let mut rnd = rng(0x1234_5678_9abc_def1);
        let alphabet = b"aAbB\x00\x01xyz@`[{";
        for round in 0..600 {
            let nk = 1 + (rnd() % 60) as usize;
            let min_len = 2 + (rnd() % 8) as usize;
            let mut keys: Vec<Vec<u8>> = (0..nk)
                .map(|_| {
                    let l = min_len + (rnd() % 9) as usize;
                    (0..l)
                        .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                        .collect::<Vec<u8>>()
                        .to_ascii_lowercase()
                })
                .collect();
            keys.sort();
            keys.dedup();
            let mut hay: Vec<u8> = (0..(rnd() % 300) as usize)
                .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                .collect();
            // Plant some keys, upper-cased at random.
            for _ in 0..(rnd() % 4) {
                let k = &keys[(rnd() % keys.len() as u64) as usize];
                let at = (rnd() % (hay.len() as u64 + 1)) as usize;
                let k = random_case(k, &mut rnd);
                hay.splice(at..at, k);
            }
            let f = Filter::build(keys.clone());
            let mut got = Vec::new();
            f.scan(&hay, &mut |i| got.push(i));
            got.sort_unstable();
            assert_eq!(
                got,
                naive(&keys, &hay),
                "round {round} stride {} keys {keys:?} hay {hay:?}",
                f.stride()
            );
        }
    }

    /// Keys that share a long start and differ at the end, as ET's many
    /// `User-Agent` strings do: exactly the present ones are found (also
    /// at the buffer's end, in any case), the shared text alone finds none,
    /// and the keys take their grams from where they differ, so a probe in
    /// the shared text confirms few of them.
    #[test]
    fn keys_sharing_a_long_start_are_told_apart() {
        let keys: Vec<Vec<u8>> = (0..40)
            .map(|i| format!("(compatible; msie 6.0; windows nt 5.1; tb{i:02}x)").into_bytes())
            .collect();
        let f = Filter::build(keys.clone());
        let g = f.grams.as_ref().expect("a gram pass");
        let mut per_gram: BTreeMap<u32, usize> = BTreeMap::new();
        for e in &g.grams.entries {
            *per_gram.entry(e.gram).or_default() += 1;
        }
        let most = per_gram.values().max().copied().unwrap_or(0);
        assert!(most <= 16, "{most} of 40 entries share a gram");
        let shared = b"GET / HTTP/1.1\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)\r\n";
        let mut cases: Vec<(Vec<u8>, Vec<u32>)> = vec![(shared.to_vec(), vec![])];
        let mut end = shared.to_vec();
        end.extend(b"Mozilla/4.0 (Compatible; MSIE 6.0; Windows NT 5.1; TB07X)");
        cases.push((end, vec![7]));
        let mut two = shared.to_vec();
        two.extend(b"(compatible; msie 6.0; windows nt 5.1; tb30x) and ");
        two.extend(b"(COMPATIBLE; MSIE 6.0; WINDOWS NT 5.1; TB03X)\r\n");
        cases.push((two, vec![3, 30]));
        // One byte short of a key at the very end.
        let mut cut = shared.to_vec();
        cut.extend(b"(compatible; msie 6.0; windows nt 5.1; tb11");
        cases.push((cut, vec![]));
        for (hay, want) in cases {
            let mut got = Vec::new();
            f.scan(&hay, &mut |i| got.push(i));
            got.sort_unstable();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(&hay));
            assert_eq!(naive(&keys, &hay), want);
        }
    }

    /// Big groups: the shortest keys of 3 bytes or more in the SIMD searcher,
    /// longer ones in the gram pass, 2-byte ones in the short filter; buffers
    /// longer than a fold block, keys planted across block boundaries.
    #[test]
    fn big_groups_find_exactly_the_present_keys() {
        let mut rnd = rng(0x0bad_cafe_f00d_1234);
        let alphabet = b"aAbBcC\x00\x01\xffxyz@`[{<>=\"";
        let mut packed_rounds = 0;
        let mut wide_rounds = 0;
        for round in 0..100 {
            // Sometimes more than one searcher holds: a shorter cut.
            let n_short = (rnd() % 130) as usize;
            let n_long = 65 + (rnd() % 200) as usize;
            let n_two = (rnd() % 3) as usize;
            let word = |l: usize, rnd: &mut dyn FnMut() -> u64| -> Vec<u8> {
                (0..l)
                    .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                    .collect::<Vec<u8>>()
                    .to_ascii_lowercase()
            };
            let mut keys: Vec<Vec<u8>> = Vec::new();
            for _ in 0..n_short {
                let l = 3 + (rnd() % 5) as usize;
                keys.push(word(l, &mut rnd));
            }
            for _ in 0..n_long {
                let l = 8 + (rnd() % 20) as usize;
                keys.push(word(l, &mut rnd));
            }
            for _ in 0..n_two {
                keys.push(word(2, &mut rnd));
            }
            keys.sort();
            keys.dedup();
            let hay_len = (rnd() % 3000) as usize;
            let mut hay: Vec<u8> = (0..hay_len)
                .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                .collect();
            for _ in 0..(rnd() % 12) {
                let k = &keys[(rnd() % keys.len() as u64) as usize];
                // Near a fold block boundary, or anywhere.
                let at = if rnd().is_multiple_of(2) && hay.len() > FOLD_BLOCK {
                    let b = FOLD_BLOCK * (1 + (rnd() % (hay.len() / FOLD_BLOCK) as u64) as usize);
                    b.saturating_sub((rnd() % 8) as usize).min(hay.len())
                } else {
                    (rnd() % (hay.len() as u64 + 1)) as usize
                };
                let k = random_case(k, &mut rnd);
                hay.splice(at..at, k);
            }
            let want = naive(&keys, &hay);
            let f = Filter::build(keys.clone());
            packed_rounds += usize::from(f.simd());
            wide_rounds += usize::from(f.stride() > MAX_STRIDE);
            let aho = Filter::build_with(keys.clone(), false);
            let scalar =
                Filter::build_scalar(keys.clone(), (0..keys.len()).map(|i| i as u32).collect());
            for (name, f) in [("chosen", &f), ("aho-corasick", &aho), ("scalar", &scalar)] {
                let mut got = Vec::new();
                f.scan(&hay, &mut |i| got.push(i));
                got.sort_unstable();
                assert_eq!(got, want, "round {round} {name} keys {keys:?}");
            }
        }
        // Where SIMD exists (x86_64, aarch64), most rounds used it.
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert!(packed_rounds > 50, "{packed_rounds}");
        }
        // With the case-insensitive kernel, groups with few keys of 8 to 11
        // bytes probe wider than the scalar filters.
        if Kernel::fast_capacity() > 0 {
            assert!(wide_rounds > 10, "{wide_rounds}");
        }
    }

    /// The gram pass finds every key at each stride it runs (its block loop
    /// has one variant per stride), wherever the key lies.
    #[test]
    fn gram_pass_finds_keys_at_every_stride() {
        let mut rnd = rng(0x51de_0005);
        for stride in 1..=WIDEST_STRIDE + 2 {
            for gram in [3, 4] {
                let min = stride + gram - 1;
                let keys: Vec<Vec<u8>> = (0..40)
                    .map(|i| {
                        (0..min + i % 5)
                            .map(|_| b"abcdefghij<>\x00\xff"[(rnd() % 14) as usize])
                            .collect()
                    })
                    .collect();
                let ids: Vec<u32> = (0..keys.len() as u32).collect();
                let f = GramFilter::build(&keys, &ids, stride, gram);
                let portable = GramFilter::build_with(&keys, &ids, stride, gram, false);
                assert!(portable.probe.is_none());
                for _ in 0..30 {
                    let mut hay: Vec<u8> = (0..(rnd() % 700) as usize)
                        .map(|_| b"klmnop qrs"[(rnd() % 10) as usize])
                        .collect();
                    for _ in 0..(rnd() % 4) {
                        let k = &keys[(rnd() % keys.len() as u64) as usize];
                        let at = (rnd() % (hay.len() as u64 + 1)) as usize;
                        hay.splice(at..at, random_case(k, &mut rnd));
                    }
                    let want = naive(&keys, &hay);
                    let got = gram_found(&f, &keys, &hay, false);
                    assert_eq!(got, want, "stride {stride} gram {gram}");
                    // The scalar loop alone (here over the prober's two-bit
                    // table, of which it tests the first bit) finds the same.
                    let got = gram_found(&f, &keys, &hay, true);
                    assert_eq!(got, want, "scalar: stride {stride} gram {gram}");
                    // And the filter CPUs without it build (one bit per gram).
                    let got = gram_found(&portable, &keys, &hay, false);
                    assert_eq!(got, want, "portable: stride {stride} gram {gram}");
                }
            }
        }
    }

    /// A key lying across a chunk boundary, at any split and in any case,
    /// with any bytes around it, is always reported as possible; boundaries
    /// in text that no key lies across mostly are not.
    #[test]
    fn crossing_keys_are_never_missed() {
        let mut rnd = rng(0x2545_f491_4f6c_dd1d);
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for len in [2usize, 3, 4, 5, 7, 8, 9, 16, 32] {
            for _ in 0..20 {
                keys.push(
                    (0..len)
                        .map(|_| b"abcdefghijklmnopqrstuvwxyz0123 .\x00\xff"[(rnd() % 34) as usize])
                        .collect(),
                );
            }
        }
        let c = Crossing::build(keys.iter().map(Vec::as_slice));
        let mut noise = |n: u64| -> Vec<u8> { (0..rnd() % n).map(|_| rnd() as u8).collect() };
        for k in &keys {
            for split in 1..k.len() {
                let mut before = noise(9);
                let after_ctx = noise(9);
                before.extend(k[..split].iter().map(u8::to_ascii_uppercase));
                let mut after = k[split..].to_vec();
                after.extend_from_slice(&after_ctx);
                assert!(c.may_cross(&before, &after), "{k:?} split {split}");
            }
        }
        // English text has no boundary some key of it lies across only by
        // chance: few of them are reported.
        let text = b"the quick brown fox jumps over the lazy dog; lorem ipsum dolor sit amet, consectetur adipiscing elit ";
        let c = Crossing::build(
            [
                &b"legallyjumps.com"[..],
                b"xyzzy",
                b"ab",
                b"q1w2e3r4t5y6",
                b"%u9090%u",
            ]
            .into_iter(),
        );
        let reported = (1..text.len())
            .filter(|&b| c.may_cross(&text[..b], &text[b..]))
            .count();
        assert!(reported <= 2, "{reported}");
    }

    /// The boundary check reads the bytes around it as two folded words;
    /// it answers as the byte-by-byte reading it replaced (kept here as the
    /// model) for random keys, contexts of 0–9 bytes and every byte value.
    #[test]
    fn crossing_check_answers_as_its_bytewise_model() {
        fn model(c: &Crossing, before: &[u8], after: &[u8]) -> bool {
            let n = before.len().min(7);
            let m = after.len().min(7);
            if n == 0 || m == 0 {
                return false;
            }
            let mut w = [0u8; 16];
            let around = before
                .iter()
                .skip(before.len() - n)
                .chain(after.iter().take(m));
            for (d, &s) in w.iter_mut().zip(around) {
                *d = LOWER[usize::from(s)];
            }
            let len = n + m;
            let i = usize::from(w[n - 1]) << 8 | usize::from(w[n]);
            if (c.pairs[i / 64] >> (i % 64)) & 1 != 0 {
                return true;
            }
            let at = |s: usize| word(w.get(s..s + 8).unwrap_or(&[]));
            for (l, mask) in [(3, 0xff_ffff), (4, 0xffff_ffff), (8, u64::MAX)] {
                for s in n.saturating_sub(l - 1)..n {
                    if s + l <= len && c.has(at(s) & mask, l) {
                        return true;
                    }
                }
            }
            false
        }
        let mut rnd = rng(0x51ed_270b_2f3a_9c4d);
        let alphabet = b"abcXYZ01 .\x00\xff\x80@[`{";
        for _ in 0..40 {
            let keys: Vec<Vec<u8>> = (0..rnd() % 30 + 1)
                .map(|_| {
                    (0..rnd() % 12 + 2)
                        .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                        .collect()
                })
                .collect();
            let c = Crossing::build(keys.iter().map(Vec::as_slice));
            for _ in 0..2000 {
                let mut bytes = |n: u64| -> Vec<u8> {
                    (0..rnd() % n)
                        .map(|_| match rnd() % 3 {
                            0 => rnd() as u8,
                            _ => alphabet[(rnd() % alphabet.len() as u64) as usize],
                        })
                        .collect()
                };
                let (before, after) = (bytes(10), bytes(10));
                assert_eq!(
                    c.may_cross(&before, &after),
                    model(&c, &before, &after),
                    "{before:?} | {after:?}"
                );
            }
        }
    }

    /// Keys much longer than the stride (one gram per residue, taken from
    /// anywhere in the key) are found at every alignment, by the full pass,
    /// the scalar loop alone and the portable filter.
    #[test]
    fn long_keys_are_found_at_every_alignment() {
        let mut rnd = rng(0x1e5d_0e11);
        for stride in 1..=WIDEST_STRIDE {
            for gram in [3, 4] {
                let keys: Vec<Vec<u8>> = (0..24)
                    .map(|i| {
                        (0..stride + gram + 8 + i)
                            .map(|_| b"abcdefgh<>\x00\xff"[(rnd() % 12) as usize])
                            .collect()
                    })
                    .collect();
                let ids: Vec<u32> = (0..keys.len() as u32).collect();
                let f = GramFilter::build(&keys, &ids, stride, gram);
                let portable = GramFilter::build_with(&keys, &ids, stride, gram, false);
                for (k, key) in keys.iter().enumerate() {
                    for pad in [
                        0, 1, 2, 3, 5, 8, 13, 150, 151, 152, 153, 154, 155, 156, 157, 158,
                    ] {
                        let mut hay = vec![b' '; pad];
                        hay.extend_from_slice(key);
                        hay.extend_from_slice(&[b' '; 200]);
                        let want = naive(&keys, &hay);
                        assert!(want.contains(&(k as u32)));
                        for (path, filter, rest) in [
                            ("full", &f, false),
                            ("scalar", &f, true),
                            ("portable", &portable, false),
                        ] {
                            let got = gram_found(filter, &keys, &hay, rest);
                            assert_eq!(
                                got, want,
                                "{path}: stride {stride} gram {gram} key {k} pad {pad}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The SIMD prober, where the CPU has one, probes the positions the
    /// scalar loop probes and reports those whose bit is set, in order, for
    /// 3- and 4-byte grams, every stride and small and full tables.
    #[test]
    fn simd_probes_report_the_bits_the_scalar_probe_tests() {
        let mut rnd = rng(0x6a7e_51d0);
        let (mut ran, mut reported) = (0, 0);
        for (n, len) in [(3usize, 12usize), (5000, 12)] {
            let keys: Vec<Vec<u8>> = (0..n)
                .map(|_| (0..len).map(|_| (rnd() & 0xff) as u8).collect())
                .collect();
            let ids: Vec<u32> = (0..n as u32).collect();
            for stride in 1..=WIDEST_STRIDE {
                for gram in [3, 4] {
                    let f = GramFilter::build(&keys, &ids, stride, gram);
                    let Some(p) = &f.probe else { continue };
                    ran += 1;
                    let hay: Vec<u8> = (0..2000).map(|_| (rnd() & 0xff) as u8).collect();
                    let mut got = Vec::new();
                    let end = p.scan(&f.bits[..], &hay, &mut |at| got.push(at));
                    // (A 3-byte gram's stride is at most `MAX_STRIDE`.)
                    let want: Vec<usize> = (0..end)
                        .step_by(f.stride)
                        .filter(|&i| f.test(load_gram(&hay, i, gram)) != 0)
                        .collect();
                    assert_eq!(got, want, "stride {stride} gram {gram} keys {n}");
                    assert!(end + 128 > hay.len(), "stopped at {end}");
                    reported += want.len();
                }
            }
        }
        if Kernel::best() == Kernel::Avx512Vbmi {
            assert!(ran > 0 && reported > 100, "{ran} {reported}");
        }
    }

    /// The block loop's probe (gram length a constant) tests the same bit
    /// as the general one, for 3- and 4-byte grams and every table size.
    #[test]
    fn block_probe_tests_the_same_bit_as_the_general_probe() {
        let mut rnd = rng(0x5eed_0f9a);
        for (n, len) in [(3usize, 4usize), (40, 5), (600, 9), (5000, 12)] {
            let keys: Vec<Vec<u8>> = (0..n)
                .map(|_| (0..len).map(|_| (rnd() & 0xff) as u8).collect())
                .collect();
            let ids: Vec<u32> = (0..n as u32).collect();
            for gram in [3, 4] {
                let f = GramFilter::build(&keys, &ids, 2, gram);
                let portable = GramFilter::build_with(&keys, &ids, 2, gram, false);
                let mut set = 0;
                for _ in 0..20_000 {
                    let x = rnd() as u32;
                    // The first bit: the block loop's test with or
                    // without the SIMD prober's second one.
                    let (h, _) = f.hash(x & f.mask);
                    let want = (f.bits[(h >> 6) & (TABLE_WORDS - 1)] >> (h & 63)) & 1;
                    let got = match (gram, f.full()) {
                        (4, true) => f.test_g::<4, true>(x),
                        (4, false) => f.test_g::<4, false>(x),
                        (_, true) => f.test_g::<3, true>(x),
                        (_, false) => f.test_g::<3, false>(x),
                    };
                    assert_eq!(got, want, "gram {gram} keys {n} x {x:#x}");
                    // Without the prober, the general probe tests that bit alone.
                    assert_eq!(portable.test(x & portable.mask), {
                        let (h, _) = portable.hash(x & portable.mask);
                        (portable.bits[(h >> 6) & (TABLE_WORDS - 1)] >> (h & 63)) & 1
                    });
                    set += got;
                }
                // The big tables answer "maybe" for some random grams.
                assert!(n < 600 || set > 0, "gram {gram} keys {n}");
            }
        }
    }

    #[test]
    fn groups_of_thousands_of_keys_report_each_present_key_once() {
        // Groups of more keys than ET's largest (~1,400; the found-set
        // spans many words): keys with high ids are reported too, each once.
        let mut rnd = rng(0x7777_1234_5678_9abc);
        let mut keys: Vec<Vec<u8>> = (0..3000)
            .map(|_| {
                (0..10)
                    .map(|_| b"abcdefgh<>"[(rnd() % 10) as usize])
                    .collect()
            })
            .collect();
        keys.sort();
        keys.dedup();
        let mut hay = b"0123456789".repeat(50);
        for id in [0usize, 1, 2047, 2048, 2049, keys.len() - 1] {
            for _ in 0..2 {
                let at = (rnd() as usize) % (hay.len() + 1);
                hay.splice(at..at, keys[id].clone());
            }
        }
        let want = naive(&keys, &hay);
        assert!(want.iter().any(|&id| id >= 2048));
        let f = Filter::build(keys.clone());
        let mut got = Vec::new();
        f.scan(&hay, &mut |i| got.push(i));
        got.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn stride_follows_the_shortest_key() {
        let long: Vec<Vec<u8>> = (0..20)
            .map(|i| format!("key-{i:04}-long").into_bytes())
            .collect();
        assert_eq!(Filter::build(long.clone()).stride(), 5);
        let mut with4 = long.clone();
        with4.push(b"abcd".to_vec());
        assert_eq!(Filter::build(with4).stride(), 2, "3-grams, every 2nd byte");
        let mut with6 = long;
        with6.push(b"abcdef".to_vec());
        assert_eq!(Filter::build(with6).stride(), 4);
    }

    #[test]
    fn group_maps_keys_to_rules() {
        let k = |b: &[u8], reach: Option<u32>| Key {
            bytes: b.to_vec(),
            reach,
            alt: None,
        };
        let keys = [
            k(b"GET ", Some(4)),
            k(b"get ", None),
            k(b"\x8f", None),
            k(b"/ h", None),
        ];
        let g = Group::build(
            &[
                (0, Some(&keys[0])),
                (1, Some(&keys[1])),
                (2, None),
                (3, Some(&keys[2])),
                (4, Some(&keys[3])),
            ],
            None,
        );
        let mut out = Vec::new();
        g.scan(b"xx get / HTTP", &mut out);
        out.sort_unstable();
        assert_eq!(out, [1, 4], "rule 0's key must end by position 4");
        let mut out = Vec::new();
        g.scan(b"GET / HTTP", &mut out);
        out.sort_unstable();
        assert_eq!(out, [0, 1, 4]);
        // A part of the buffer past the head: head keys are not searched.
        let mut out = Vec::new();
        g.scan_at(b"GET / HTTP", 10, &mut out);
        out.sort_unstable();
        assert_eq!(out, [1, 4]);
        assert_eq!(g.always, [2, 3], "one-byte keys are evaluated directly");
        // A key longer than MAX_KEY is searched by a window of it: found
        // where the whole key occurs, and the chunk overlap stays short.
        let long: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let g = Group::build(&[(7, Some(&k(&long, None)))], None);
        assert_eq!(g.max_key, MAX_KEY);
        let mut hay = b"xx".to_vec();
        hay.extend_from_slice(&long.to_ascii_uppercase());
        let mut out = Vec::new();
        g.scan(&hay, &mut out);
        assert_eq!(out, [7]);
    }

    /// Keys longer than a searched window that share a long start (ET's
    /// User-Agent keys): each is searched by a window holding what tells it
    /// apart, so a header with the shared start and another ending makes
    /// none of their rules candidates, and the whole key still finds its
    /// rule.
    #[test]
    fn long_keys_sharing_a_start_are_searched_where_they_differ() {
        let uas = [
            "MSIE 5.0; Windows 98)",
            "MSIE 6.0; Win32)\r\nHOST:",
            "MSIE 8.0; Windows NT 6.1)\r\nHost: ",
            "MSIE 6.0; Windows NT 5.1; FSL 7.0.6.01001)",
            "MSIE 7.0; MSIE 6.0; Windows NT 5.1; .NET CLR 2.0.50727)",
            "ICS)",
        ];
        let keys: Vec<Key> = uas
            .iter()
            .map(|t| Key {
                bytes: format!("User-Agent: Mozilla/4.0 (compatible; {t}").into_bytes(),
                reach: None,
                alt: None,
            })
            .collect();
        assert!(keys.iter().all(|k| k.bytes.len() > MAX_KEY));
        let g = Group::build(&members_of(&keys), None);
        let scan = |hay: &[u8]| candidates(&g, hay, 0);
        let header = b"Host: www.example.com\r\nAccept: */*\r\nUser-Agent: Mozilla/4.0 \
            (compatible; MSIE 6.0; Windows NT 5.1; SV1)\r\nConnection: Keep-Alive\r\n\r\n";
        assert_eq!(scan(header), Vec::<u32>::new());
        for (i, k) in keys.iter().enumerate() {
            let mut hay = b"GET / HTTP/1.1\r\n".to_vec();
            hay.extend_from_slice(&k.bytes.to_ascii_lowercase());
            hay.extend_from_slice(b"\r\n\r\n");
            assert_eq!(
                scan(&hay),
                vec![i as u32],
                "{}",
                String::from_utf8_lossy(&k.bytes)
            );
        }
    }

    /// A key searched on its own is skipped only when none of the rules
    /// holding it passes the gate; a shared key stays while one rule passes.
    #[test]
    fn gated_scan_skips_keys_of_rules_that_cannot_match() {
        let k = |b: &[u8]| Key {
            bytes: b.to_vec(),
            reach: None,
            alt: None,
        };
        let (smtp, shared) = (k(b"from:\x90\x90\x90"), k(b"shared"));
        let g = Group::build(
            &[(1, Some(&smtp)), (2, Some(&shared)), (3, Some(&shared))],
            None,
        );
        let hay = b"xx FROM:\x90\x90\x90 and SHARED";
        let run = |gate: &dyn Fn(u32) -> bool| {
            let mut out = Vec::new();
            g.scan_masked(hay, &mut out, g.gate_mask(gate));
            out.sort_unstable();
            out
        };
        assert_eq!(run(&|_| true), [1, 2, 3]);
        assert_eq!(run(&|r| r != 1), [2, 3]);
        assert_eq!(run(&|r| r == 3), [2, 3], "rule 3 keeps the shared key");
        assert_eq!(run(&|_| false), Vec::<u32>::new());
    }

    #[test]
    fn key_choice_prefers_long_rare_and_merges_adjacent_contents() {
        use crate::rule::{Content, Num, Op};
        let content = |p: &[u8], dist: Option<i64>, within: Option<i64>, neg: bool| {
            let mut c = Content::new(p.to_vec(), neg);
            c.distance = dist.map(Num::Lit);
            c.within = within.map(Num::Lit);
            c.finish();
            Op::Content(Box::new(c))
        };
        // |ff|SMB then an adjacent |72|: one 5-byte key.
        let ops = vec![
            content(b"\xffSMB", None, None, false),
            content(b"\x72", Some(0), Some(1), false),
        ];
        assert_eq!(choose_key(&ops).unwrap().bytes, b"\xffSMB\x72");
        // A negated content is never a key; the longest positive one wins.
        let ops = vec![
            content(b"this-is-long-and-negated", None, None, true),
            content(b"abc", None, None, false),
            content(b"abcdefghij", Some(2), None, false),
        ];
        assert_eq!(choose_key(&ops).unwrap().bytes, b"abcdefghij");
        // Among keys of 8+ bytes the rarer wins.
        let ops = vec![
            content(b"the the the", None, None, false),
            content(b"\x90\x90\x90\x90\xeb\x04zz", None, None, false),
        ];
        assert_eq!(
            choose_key(&ops).unwrap().bytes,
            b"\x90\x90\x90\x90\xeb\x04zz"
        );
        // Contents after base64_data are not keys.
        let ops = vec![
            content(b"ab", None, None, false),
            Op::Base64Data,
            content(b"decoded-long-content", None, None, false),
        ];
        assert_eq!(choose_key(&ops).unwrap().bytes, b"ab");
        // Anchored keys: depth, startswith, within from the start, and a
        // chain of relative contents after an anchored one.
        let mut a = Content::new(b"MZ".to_vec(), false);
        a.depth = Some(Num::Lit(2));
        a.finish();
        let ops = vec![
            Op::Content(Box::new(a)),
            content(b"This program", Some(60), Some(100), false),
            content(b"unbounded-but-long", None, None, false),
        ];
        let k = choose_key(&ops).unwrap();
        assert_eq!(
            (k.bytes.as_slice(), k.reach),
            (&b"This program"[..], Some(162))
        );
        let ops = vec![content(b"PK\x03\x04", None, Some(4), false)];
        assert_eq!(choose_key(&ops).unwrap().reach, Some(4));
        // A step between contents makes the position unknown.
        let ops = vec![
            content(b"abcd", None, Some(4), false),
            Op::Base64Decode {
                bytes: 10,
                offset: 0,
                relative: true,
            },
            content(b"efghijkl", Some(0), Some(8), false),
        ];
        let k = choose_key(&ops).unwrap();
        assert_eq!((k.bytes.as_slice(), k.reach), (&b"abcd"[..], Some(4)));
    }

    /// A SIMD searcher's window avoids markup layout (`>\n<` ends every
    /// line of a page) when the key has other bytes.
    #[test]
    fn simd_windows_avoid_markup_layout() {
        assert_eq!(search_window(b"-->\n<").0, b"-->\n<");
        assert_eq!(search_window(b"-->\n<").1, 0);
        assert_eq!(search_window(b"\">\n<x").1, 2);
        // Nothing else to choose: the layout window stays.
        assert_eq!(search_window(b">\n<").0, b">\n<");
    }

    /// A head key searched on its own is looked for only where it may end
    /// (its rules' reach), not up to the furthest reach of its part.
    #[test]
    fn few_head_keys_are_searched_within_their_own_reach() {
        let key = |b: &[u8], reach: u32| Key {
            bytes: b.to_vec(),
            reach: Some(reach),
            alt: None,
        };
        let keys = [key(b"abcd", 4), key(b"wxyz", 40)];
        let g = Group::build(&members_of(&keys), None);
        let found = |hay: &[u8], at: u64| candidates(&g, hay, at);
        assert_eq!(found(b"ABCD..wxyz", 0), vec![0, 1]);
        // "abcd" ends at 8, past its reach of 4: not a candidate.
        assert_eq!(found(b"....abcd..wxyz", 0), vec![1]);
        // A chunk at turn position 2: "abcd" at 2..6 is past 4 as well.
        assert_eq!(found(b"abcd", 2), Vec::<u32>::new());
        assert_eq!(found(b"cd", 2), Vec::<u32>::new());
        // "wxyz" must end by 40.
        let mut far = vec![b'.'; 40];
        far.extend_from_slice(b"wxyz");
        assert_eq!(found(&far, 0), Vec::<u32>::new());
        assert_eq!(found(&far[4..], 0), vec![1]);
    }

    /// A head key whose reach is its own length can only start at the
    /// buffer's first byte, where it is compared as one folded word (and
    /// the bytes past eight one by one): the group finds such keys exactly
    /// where a plain search within the reach does, for keys of 2 to 20
    /// bytes planted whole, but for one byte, one byte late or nowhere.
    #[test]
    fn head_keys_anchored_at_the_start_are_found_where_they_fit() {
        let mut rnd = rng(0x7f4a_7c15_9e37_79b9);
        let alphabet = b"aZ0@[`{\xc1.";
        for _ in 0..3000 {
            let n_keys = 1 + (rnd() % 6) as usize;
            let keys: Vec<Key> = (0..n_keys)
                .map(|_| {
                    let len = 2 + (rnd() % 19) as usize;
                    let bytes: Vec<u8> = (0..len)
                        .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                        .collect();
                    // Mostly anchored at the start; sometimes a little room.
                    let reach = len as u32
                        + if rnd().is_multiple_of(4) {
                            (rnd() % 3) as u32
                        } else {
                            0
                        };
                    Key {
                        bytes,
                        reach: Some(reach),
                        alt: None,
                    }
                })
                .collect();
            let g = Group::build(&members_of(&keys), None);
            let k = &keys[(rnd() % n_keys as u64) as usize].bytes;
            let mut hay: Vec<u8> = (0..(rnd() % 30))
                .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                .collect();
            let shift = (rnd() % 2) as usize;
            if hay.len() < k.len() + shift {
                hay.resize(k.len() + shift, b'.');
            }
            match rnd() % 4 {
                0 => {}
                plant => {
                    for (j, &c) in k.iter().enumerate() {
                        hay[shift + j] = if rnd().is_multiple_of(2) {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        };
                    }
                    if plant == 1 {
                        let j = (rnd() % k.len() as u64) as usize;
                        hay[shift + j] = b'#';
                    }
                }
            }
            let at = if rnd().is_multiple_of(4) { 1 } else { 0 };
            let want: Vec<u32> = keys
                .iter()
                .zip(0u32..)
                .filter(|(key, _)| {
                    let r = key.reach.unwrap_or(0) as usize;
                    let len = key.bytes.len();
                    (0..hay.len()).any(|s| {
                        at as usize + s + len <= r
                            && hay
                                .get(s..s + len)
                                .is_some_and(|w| w.eq_ignore_ascii_case(&key.bytes))
                    })
                })
                .map(|(_, r)| r)
                .collect();
            assert_eq!(
                candidates(&g, &hay, at),
                want,
                "{keys:?} in {hay:?} at {at}"
            );
        }
    }

    /// Rules sharing a head key (a protocol's framing) are searched by
    /// their alternative keys; a rule without one, or whose head key few
    /// rules share, keeps it.
    #[test]
    fn a_head_key_many_rules_share_gives_way_to_their_other_keys() {
        let key = |alt: Option<&[u8]>| Key {
            bytes: b"\x16\x03".to_vec(),
            reach: Some(2),
            alt: alt.map(<[u8]>::to_vec),
        };
        let alts: [&[u8]; 4] = [
            b"logmein, inc.",
            b".storage.msn.com",
            b"www.apple.com",
            b"join.me",
        ];
        let mut keys: Vec<Key> = alts.iter().map(|a| key(Some(a))).collect();
        // Rule 4 has no other key; rule 5 a rare head key of its own.
        keys.push(key(None));
        keys.push(Key {
            bytes: b"\x17\x03\x03".to_vec(),
            reach: Some(3),
            alt: Some(b"other".to_vec()),
        });
        let members = members_of(&keys);
        let g = Group::build(&members, None);
        let found = |hay: &[u8]| candidates(&g, hay, 0);
        // A TLS record start alone: only the rule without another key.
        assert_eq!(
            found(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            vec![4]
        );
        assert_eq!(found(b"\x16\x03\x01 ... CN=www.apple.com"), vec![2, 4]);
        assert_eq!(found(b"\x17\x03\x03 ... other"), vec![5]);
        // Fewer rules sharing it: the head key stays.
        let g = Group::build(&members[..3], None);
        assert_eq!(candidates(&g, b"\x16\x03\x01", 0), vec![0, 1, 2]);
    }

    #[test]
    fn explicit_fast_pattern_wins_over_a_common_head_key() {
        use crate::rule::{Content, FastPat, Num, Op};
        // ET DNS rules: a DNS header at offset 2 (a head key every query
        // carries) and the rare domain marked `fast_pattern`.
        let mut hdr = Content::new(b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00".to_vec(), false);
        hdr.offset = Some(Num::Lit(2));
        hdr.depth = Some(Num::Lit(10));
        hdr.finish();
        let mut dom = Content::new(b"\x08torpacho\x03com\x00".to_vec(), false);
        dom.distance = Some(Num::Lit(0));
        dom.fast = FastPat::Yes;
        dom.finish();
        let ops = vec![
            Op::Content(Box::new(hdr.clone())),
            Op::Content(Box::new(dom)),
        ];
        assert_eq!(choose_key(&ops).unwrap().bytes, b"\x08torpacho\x03com\x00");
        // Without `fast_pattern` the anchored header is chosen.
        let mut plain = Content::new(b"\x08torpacho\x03com\x00".to_vec(), false);
        plain.distance = Some(Num::Lit(0));
        plain.finish();
        let ops = vec![Op::Content(Box::new(hdr)), Op::Content(Box::new(plain))];
        let k = choose_key(&ops).unwrap();
        assert_eq!(k.reach, Some(12));
        // ... with the domain as the alternative a group may use instead.
        assert_eq!(k.alt.as_deref(), Some(&b"\x08torpacho\x03com\x00"[..]));
        // A one-byte fast pattern is too short to be a key: the others compete.
        let mut one = Content::new(b"x".to_vec(), false);
        one.fast = FastPat::Yes;
        one.finish();
        let ops = vec![
            Op::Content(Box::new(one)),
            Op::Content(Box::new(Content::new(b"longer".to_vec(), false))),
        ];
        assert_eq!(choose_key(&ops).unwrap().bytes, b"longer");
    }
}
