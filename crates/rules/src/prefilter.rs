//! Rule groups and the multi-pattern prefilter over the rules' fast patterns.
//!
//! The prefilter answers "which patterns occur in this buffer" (not where):
//! each pattern gets a 2-byte anchor (its rarest byte pair, case-folded); one
//! 64 Ki-bit table over byte pairs is probed at every position (8 KiB, stays
//! in L1), and only on a hit are the patterns of that anchor verified. One
//! table lookup per byte keeps the scan at memory speed even with a thousand
//! patterns, where an Aho-Corasick automaton of that size walks cache-missing
//! states. Matching is case-insensitive; the full rule evaluation checks case.

use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Rules with their fast pattern.
pub(crate) type Members<'a> = Vec<(u32, Option<&'a [u8]>)>;

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

/// How common a byte is in traffic (higher = more common): used to pick a
/// pattern's rarest byte pair as its anchor.
fn commonness(b: u8) -> u32 {
    match b {
        0x00 | 0xff | b' ' => 12,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'h' | b'l' => 8,
        b'\r' | b'\n' | b'/' | b'.' | b'=' | b':' | b'-' | b'_' | b'0'..=b'9' => 7,
        b'a'..=b'z' => 6,
        0x01..=0x1f => 4,
        0x80..=0xfe => 2,
        _ => 5,
    }
}

/// A pattern with its anchor.
#[derive(Debug)]
struct Pat {
    bytes: Vec<u8>,
    /// Offset of the anchor within the pattern.
    anchor: usize,
}

/// Bits of the second-level table (hash of four folded bytes).
const QUAD_BITS: u32 = 18;

fn quad_hash(q: u32) -> usize {
    (q.wrapping_mul(0x9E37_79B1) >> (32 - QUAD_BITS)) as usize
}

/// The multi-pattern presence filter.
#[derive(Debug)]
struct Filter {
    /// Bit per case-folded byte pair that starts some anchor.
    pairs: Box<[u64; 1024]>,
    /// Bit per pair that anchors a 2- or 3-byte pattern.
    short_pairs: Box<[u64; 1024]>,
    /// Patterns of 2 or 3 bytes by their anchor pair.
    short: FxHashMap<u16, Vec<u32>>,
    /// Bit per hash of a 4-byte anchor.
    quads: Vec<u64>,
    /// Patterns of 4 bytes or more by their 4-byte anchor.
    long: FxHashMap<u32, Vec<u32>>,
    pats: Vec<Pat>,
}

impl Filter {
    fn build(keys: &[Vec<u8>]) -> Filter {
        let mut f = Filter {
            pairs: Box::new([0u64; 1024]),
            short_pairs: Box::new([0u64; 1024]),
            short: FxHashMap::default(),
            quads: vec![0u64; (1usize << QUAD_BITS) / 64],
            long: FxHashMap::default(),
            pats: Vec::with_capacity(keys.len()),
        };
        let mut used: FxHashMap<u16, u32> = FxHashMap::default();
        for (id, k) in keys.iter().enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            let folded: Vec<u8> = k.iter().map(|b| LOWER[usize::from(*b)]).collect();
            if folded.len() < MIN_PATTERN {
                // Never reported (groups keep such rules in `always`).
                f.pats.push(Pat {
                    bytes: folded,
                    anchor: 0,
                });
                continue;
            }
            let width = if folded.len() >= 4 { 4 } else { 2 };
            // Rarest window start, preferring pairs few other patterns use.
            let mut best = (u32::MAX, 0usize);
            for a in 0..=folded.len().saturating_sub(width) {
                let v = u16::from(folded[a]) << 8 | u16::from(folded[a + 1]);
                let score = commonness(folded[a])
                    + commonness(folded[a + 1])
                    + if width == 4 {
                        (commonness(folded[a + 2]) + commonness(folded[a + 3])) / 2
                    } else {
                        0
                    }
                    + 2 * used.get(&v).copied().unwrap_or(0).min(8);
                if score < best.0 {
                    best = (score, a);
                }
            }
            let a = best.1;
            let v = u16::from(folded[a]) << 8 | u16::from(folded[a + 1]);
            *used.entry(v).or_default() += 1;
            let vi = usize::from(v);
            f.pairs[vi >> 6] |= 1 << (vi & 63);
            if width == 4 {
                let q =
                    u32::from_be_bytes([folded[a], folded[a + 1], folded[a + 2], folded[a + 3]]);
                let h = quad_hash(q);
                f.quads[h >> 6] |= 1 << (h & 63);
                f.long.entry(q).or_default().push(id);
            } else {
                f.short_pairs[vi >> 6] |= 1 << (vi & 63);
                f.short.entry(v).or_default().push(id);
            }
            f.pats.push(Pat {
                bytes: folded,
                anchor: a,
            });
        }
        f
    }

    /// Calls `found` once for each pattern present in `hay`.
    fn scan(&self, hay: &[u8], found: &mut dyn FnMut(usize)) {
        if self.pats.len() <= FEW {
            // A handful of patterns: one SIMD byte search per pattern beats
            // a table probe per byte.
            for (id, p) in self.pats.iter().enumerate() {
                if p.bytes.len() >= MIN_PATTERN && find_folded(hay, &p.bytes, p.anchor) {
                    found(id);
                }
            }
            return;
        }
        let Some((&first, rest)) = hay.split_first() else {
            return;
        };
        let mut seen: Vec<u64> = Vec::new();
        let pairs: &[u64; 1024] = &self.pairs;
        let mut prev = LOWER[usize::from(first)];
        for (i, &c) in rest.iter().enumerate() {
            let cur = LOWER[usize::from(c)];
            let v = (usize::from(prev) << 8) | usize::from(cur);
            if (pairs[v >> 6] >> (v & 63)) & 1 != 0 {
                self.hit(hay, i, v, &mut seen, found);
            }
            prev = cur;
        }
    }

    fn mark(&self, id: u32, seen: &mut Vec<u64>, found: &mut dyn FnMut(usize)) {
        if seen.is_empty() {
            seen.resize(self.pats.len().div_ceil(64), 0);
        }
        let id = id as usize;
        if let Some(w) = seen.get_mut(id / 64)
            && *w & (1 << (id % 64)) == 0
        {
            *w |= 1 << (id % 64);
            found(id);
        }
    }

    fn verify(
        &self,
        hay: &[u8],
        i: usize,
        ids: &[u32],
        seen: &mut Vec<u64>,
        found: &mut dyn FnMut(usize),
    ) {
        for &id in ids {
            let Some(p) = self.pats.get(id as usize) else {
                continue;
            };
            let Some(start) = i.checked_sub(p.anchor) else {
                continue;
            };
            let Some(win) = hay.get(start..start + p.bytes.len()) else {
                continue;
            };
            if win
                .iter()
                .zip(&p.bytes)
                .all(|(h, b)| LOWER[usize::from(*h)] == *b)
            {
                self.mark(id, seen, found);
            }
        }
    }

    /// Checks the anchors starting at `i` (pair value `v`).
    #[cold]
    #[inline(never)]
    fn hit(
        &self,
        hay: &[u8],
        i: usize,
        v: usize,
        seen: &mut Vec<u64>,
        found: &mut dyn FnMut(usize),
    ) {
        if (self.short_pairs[(v >> 6) & 1023] >> (v & 63)) & 1 != 0
            && let Some(ids) = u16::try_from(v).ok().and_then(|v| self.short.get(&v))
        {
            self.verify(hay, i, ids, seen, found);
        }
        if let Some(q) = hay.get(i..i + 4) {
            let q = u32::from_be_bytes([
                LOWER[usize::from(q[0])],
                LOWER[usize::from(q[1])],
                LOWER[usize::from(q[2])],
                LOWER[usize::from(q[3])],
            ]);
            let h = quad_hash(q);
            if self
                .quads
                .get(h >> 6)
                .is_some_and(|w| (w >> (h & 63)) & 1 != 0)
                && let Some(ids) = self.long.get(&q)
            {
                self.verify(hay, i, ids, seen, found);
            }
        }
    }
}

/// Up to this many patterns a group searches each one with `memchr`.
const FEW: usize = 8;

/// True when folded `pat` occurs in `hay` (case-insensitively), searching
/// for its anchor byte.
fn find_folded(hay: &[u8], pat: &[u8], anchor: usize) -> bool {
    let Some(&a) = pat.get(anchor) else {
        return false;
    };
    let up = a.to_ascii_uppercase();
    let mut from = anchor;
    while from < hay.len() {
        let Some(rel) = memchr::memchr2(a, up, &hay[from..]) else {
            return false;
        };
        let at = from + rel;
        if let Some(start) = at.checked_sub(anchor)
            && let Some(win) = hay.get(start..start + pat.len())
            && win
                .iter()
                .zip(pat)
                .all(|(h, b)| LOWER[usize::from(*h)] == *b)
        {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Shortest fast pattern put into the filter.
const MIN_PATTERN: usize = 2;

/// A set of rules inspected together.
#[derive(Debug, Default)]
pub(crate) struct Group {
    /// Filter over distinct fast patterns.
    filter: Option<Filter>,
    /// Pattern id → rule indices (sorted).
    pat_rules: Vec<Vec<u32>>,
    /// Rules without a fast pattern: evaluated on every input.
    pub(crate) always: Vec<u32>,
    /// TCP groups: `always` split by the TCP flags byte each rule accepts.
    always_by_flags: Option<Box<[Vec<u32>]>>,
    /// Number of rules in the group.
    pub(crate) len: usize,
    /// Length of the shortest pattern.
    short: usize,
}

/// For a rule index, the TCP flag bytes (256-bit set) its flags check accepts.
pub(crate) type FlagsOf<'a> = &'a dyn Fn(u32) -> [u64; 4];

impl Group {
    /// Builds a group from (rule index, fast pattern) pairs.
    pub(crate) fn build(members: &[(u32, Option<&[u8]>)]) -> Group {
        let mut pats: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        let mut always = Vec::new();
        for &(r, p) in members {
            match p {
                // A one-byte pattern would flag most buffers: such rules are
                // cheaper to evaluate directly (their header check is first).
                Some(p) if p.len() >= MIN_PATTERN => {
                    pats.entry(p.to_ascii_lowercase()).or_default().push(r)
                }
                _ => always.push(r),
            }
        }
        always.sort_unstable();
        always.dedup();
        let (keys, mut pat_rules): (Vec<Vec<u8>>, Vec<Vec<u32>>) = pats.into_iter().unzip();
        for v in pat_rules.iter_mut() {
            v.sort_unstable();
            v.dedup();
        }
        let filter = if keys.is_empty() {
            None
        } else {
            Some(Filter::build(&keys))
        };
        Group {
            short: keys.iter().map(Vec::len).min().unwrap_or(0),
            filter,
            pat_rules,
            always,
            always_by_flags: None,
            len: members.len(),
        }
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

    /// (rules, distinct patterns, shortest pattern length, rules without pattern).
    pub(crate) fn stats(&self) -> (usize, usize, usize, usize) {
        (
            self.len,
            self.pat_rules.len(),
            self.short,
            self.always.len(),
        )
    }

    /// True when the group holds no rule.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the rules whose fast pattern occurs in `hay` to `out`
    /// (unsorted, may hold duplicates).
    pub(crate) fn scan(&self, hay: &[u8], out: &mut Vec<u32>) {
        let Some(f) = &self.filter else { return };
        f.scan(hay, &mut |id| {
            if let Some(rules) = self.pat_rules.get(id) {
                out.extend_from_slice(rules);
            }
        });
    }
}

/// Groups keyed by port, for one transport protocol. All rules with a fast
/// pattern are in `any` (one filter scan per buffer); rules without one are
/// placed by destination or source port, so a packet evaluates only those of
/// its ports (ports with the same rules share one list).
#[derive(Debug, Default)]
pub(crate) struct PortGroups {
    /// Rules whose ports do not narrow them.
    pub(crate) any: Arc<Group>,
    /// Destination port → rules placed by destination port.
    pub(crate) by_dst: FxHashMap<u16, Arc<Group>>,
    /// Source port → rules placed by source port.
    pub(crate) by_src: FxHashMap<u16, Arc<Group>>,
}

/// How a rule is placed in port groups.
#[derive(Clone, Debug)]
pub(crate) enum PortKey {
    Any,
    Dst(Vec<u16>),
    Src(Vec<u16>),
}

/// Most ports a rule may list and still be placed in per-port groups.
pub(crate) const MAX_GROUP_PORTS: u128 = 64;

impl PortGroups {
    /// Builds the groups from (rule, fast pattern, placement).
    pub(crate) fn build(
        members: &[(u32, Option<&[u8]>, PortKey)],
        flags_of: Option<FlagsOf<'_>>,
    ) -> PortGroups {
        let mut any: Members<'_> = Vec::new();
        let mut dst: BTreeMap<u16, Members<'_>> = BTreeMap::new();
        let mut src: BTreeMap<u16, Members<'_>> = BTreeMap::new();
        for (r, p, k) in members {
            // Rules with a fast pattern share one filter (one scan per buffer);
            // rules evaluated on every input are split by port.
            if p.is_some_and(|p| p.len() >= MIN_PATTERN) {
                any.push((*r, *p));
                continue;
            }
            match k {
                PortKey::Any => any.push((*r, *p)),
                PortKey::Dst(ports) => {
                    for port in ports {
                        dst.entry(*port).or_default().push((*r, *p));
                    }
                }
                PortKey::Src(ports) => {
                    for port in ports {
                        src.entry(*port).or_default().push((*r, *p));
                    }
                }
            }
        }
        // Ports with the same rules share one automaton.
        let mut cache: BTreeMap<Vec<u32>, Arc<Group>> = BTreeMap::new();
        let mut make = |v: Members<'_>| -> Arc<Group> {
            let mut key: Vec<u32> = v.iter().map(|x| x.0).collect();
            key.sort_unstable();
            key.dedup();
            cache
                .entry(key)
                .or_insert_with(|| {
                    let mut g = Group::build(&v);
                    if let Some(f) = flags_of {
                        g.split_by_flags(f);
                    }
                    Arc::new(g)
                })
                .clone()
        };
        let any_g = make(any);
        let by_dst = dst.into_iter().map(|(p, v)| (p, make(v))).collect();
        let by_src = src.into_iter().map(|(p, v)| (p, make(v))).collect();
        PortGroups {
            any: any_g,
            by_dst,
            by_src,
        }
    }

    /// The groups that apply to a packet from `sp` to `dp`.
    pub(crate) fn lookup(&self, sp: u16, dp: u16) -> [Option<&Group>; 3] {
        [
            Some(self.any.as_ref()).filter(|g| !g.is_empty()),
            self.by_dst.get(&dp).map(Arc::as_ref),
            self.by_src.get(&sp).map(Arc::as_ref),
        ]
    }

    /// True when no rule is in any group.
    pub(crate) fn is_empty(&self) -> bool {
        self.any.is_empty() && self.by_dst.is_empty() && self.by_src.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(keys: &[Vec<u8>], hay: &[u8]) -> Vec<usize> {
        let h = hay.to_ascii_lowercase();
        keys.iter()
            .enumerate()
            .filter(|(_, k)| {
                let k = k.to_ascii_lowercase();
                h.windows(k.len()).any(|w| w == k.as_slice())
            })
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn filter_finds_exactly_the_present_patterns() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..200 {
            let nk = 1 + (rnd() % 40) as usize;
            let keys: Vec<Vec<u8>> = (0..nk)
                .map(|_| {
                    let l = 2 + (rnd() % 6) as usize;
                    (0..l)
                        .map(|_| b"aAbB\x00\x01xyz"[(rnd() % 9) as usize])
                        .collect()
                })
                .collect();
            let mut keys: Vec<Vec<u8>> = keys.into_iter().map(|k| k.to_ascii_lowercase()).collect();
            keys.sort();
            keys.dedup();
            let hay: Vec<u8> = (0..(rnd() % 64) as usize)
                .map(|_| b"aAbB\x00\x01xyz"[(rnd() % 9) as usize])
                .collect();
            let f = Filter::build(&keys);
            let mut got = Vec::new();
            f.scan(&hay, &mut |i| got.push(i));
            got.sort_unstable();
            assert_eq!(
                got,
                naive(&keys, &hay),
                "round {round} keys {keys:?} hay {hay:?}"
            );
        }
    }

    #[test]
    fn group_maps_patterns_to_rules() {
        let g = Group::build(&[
            (0, Some(b"GET ")),
            (1, Some(b"get ")),
            (2, None),
            (3, Some(b"\x8f")),
            (4, Some(b"/ h")),
        ]);
        let mut out = Vec::new();
        g.scan(b"xx get / HTTP", &mut out);
        out.sort_unstable();
        assert_eq!(out, [0, 1, 4]);
        assert_eq!(g.always, [2, 3], "one-byte patterns are evaluated directly");
    }
}
