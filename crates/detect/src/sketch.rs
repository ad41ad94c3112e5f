//! Bounded distinct counting: an exact set while it is small, a HyperLogLog
//! sketch beyond, under a memory budget shared by every counter.

use rustc_hash::FxHashSet;

/// Register-index bits of the HyperLogLog sketch: 2^12 = 4096 one-byte
/// registers (4 KiB), standard error 1.04 / sqrt(4096) ≈ 1.6 %.
const P: u32 = 12;
/// Registers.
const M: usize = 1 << P;

/// The murmur3 64-bit finaliser: spreads the bits of `x` over the whole word
/// (HyperLogLog needs uniform hashes; the plain value of an address is not).
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

/// A HyperLogLog sketch (Flajolet et al. 2007) with linear counting for small
/// cardinalities. The harmonic sum and the count of empty registers are kept
/// up to date on every change, so an estimate costs O(1).
#[derive(Clone)]
pub(crate) struct Hll {
    regs: Box<[u8; M]>,
    /// Σ 2^-reg scaled by 2^64 (exact: registers are at most 64 − P + 1).
    sum: u128,
    zeros: u32,
}

impl Hll {
    pub(crate) fn new() -> Hll {
        Hll {
            regs: Box::new([0u8; M]),
            sum: (M as u128) << 64,
            zeros: M as u32,
        }
    }

    /// Adds an item given by its 64-bit key (hashed here).
    pub(crate) fn add(&mut self, key: u64) {
        let h = mix64(key);
        let idx = (h >> (64 - P)) as usize; // top P bits: < M
        let w = (h << P) | (1u64 << (P - 1));
        let rho = (w.leading_zeros() + 1) as u8; // ≤ 64 - P + 1
        if let Some(r) = self.regs.get_mut(idx)
            && rho > *r
        {
            self.sum -= 1u128 << (64 - u32::from(*r));
            self.sum += 1u128 << (64 - u32::from(rho));
            if *r == 0 {
                self.zeros -= 1;
            }
            *r = rho;
        }
    }

    /// Estimated number of distinct items.
    pub(crate) fn estimate(&self) -> u64 {
        let m = M as f64;
        let sum = self.sum as f64 / 18_446_744_073_709_551_616.0; // 2^64
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let est = if raw <= 2.5 * m && self.zeros > 0 {
            m * (m / f64::from(self.zeros)).ln()
        } else {
            raw
        };
        // Finite and non-negative by construction.
        est.round().max(0.0) as u64
    }
}

/// Shared limits of all distinct counters, and what hitting them cost.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Exact entries allowed in all sets together.
    pub exact_max: usize,
    /// Exact entries held.
    pub exact_used: usize,
    /// Sketches allowed.
    pub sketches_max: usize,
    /// Sketches held.
    pub sketches_used: usize,
    /// Sets that turned into sketches.
    pub promotions: u64,
    /// Sets that could get no sketch and count approximately from then on.
    pub saturated: u64,
}

impl Budget {
    pub(crate) fn new(exact_max: usize, sketches_max: usize) -> Budget {
        Budget {
            exact_max,
            sketches_max,
            ..Budget::default()
        }
    }
}

/// Whether an inserted item was known.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not in the set before.
    New,
    /// Already in the set.
    Again,
    /// The set is a sketch now: membership unknown (the count was updated).
    Unknown,
}

/// A distinct counter: exact up to a per-set limit and the shared budget, then a
/// sketch; if no sketch can be had, the exact part is frozen and items not in it
/// are counted as new (an upper bound).
pub(crate) enum Distinct {
    /// Up to `INLINE` values without a heap allocation (most sources touch few).
    Small([u64; INLINE], u8),
    Exact(FxHashSet<u64>),
    Sketch(Hll),
    Frozen(FxHashSet<u64>, u64),
}

/// Values a counter holds inline before it allocates.
const INLINE: usize = 4;

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Small([0; INLINE], 0)
    }
}

impl Distinct {
    /// Inserts `key`, respecting `per_set_max` exact entries and the budget.
    pub(crate) fn insert(&mut self, key: u64, per_set_max: usize, budget: &mut Budget) -> Seen {
        if let Distinct::Small(vals, n) = self {
            let len = usize::from(*n).min(INLINE);
            if vals[..len].contains(&key) {
                return Seen::Again;
            }
            if len < INLINE && len < per_set_max && budget.exact_used < budget.exact_max {
                vals[len] = key;
                *n += 1;
                budget.exact_used += 1;
                return Seen::New;
            }
            let mut set = FxHashSet::default();
            set.extend(vals[..len].iter().copied());
            *self = Distinct::Exact(set);
        }
        match self {
            Distinct::Small(..) => Seen::Unknown,
            Distinct::Exact(set) => {
                if set.contains(&key) {
                    return Seen::Again;
                }
                if set.len() < per_set_max && budget.exact_used < budget.exact_max {
                    set.insert(key);
                    budget.exact_used += 1;
                    return Seen::New;
                }
                if budget.sketches_used < budget.sketches_max {
                    let mut h = Hll::new();
                    for &k in set.iter() {
                        h.add(k);
                    }
                    h.add(key);
                    budget.exact_used = budget.exact_used.saturating_sub(set.len());
                    budget.sketches_used += 1;
                    budget.promotions += 1;
                    *self = Distinct::Sketch(h);
                } else {
                    budget.saturated += 1;
                    let set = std::mem::take(set);
                    *self = Distinct::Frozen(set, 1);
                }
                Seen::New
            }
            Distinct::Sketch(h) => {
                h.add(key);
                Seen::Unknown
            }
            Distinct::Frozen(set, extra) => {
                if set.contains(&key) {
                    Seen::Again
                } else {
                    *extra = extra.saturating_add(1);
                    Seen::Unknown
                }
            }
        }
    }

    /// Distinct items (exact, estimated, or an upper bound when frozen).
    pub(crate) fn count(&self) -> u64 {
        match self {
            Distinct::Small(_, n) => u64::from(*n),
            Distinct::Exact(s) => s.len() as u64,
            Distinct::Sketch(h) => h.estimate(),
            Distinct::Frozen(s, extra) => s.len() as u64 + extra,
        }
    }

    /// The count is exact.
    pub(crate) fn is_exact(&self) -> bool {
        matches!(self, Distinct::Exact(_) | Distinct::Small(..))
    }

    /// Returns this set's share of the budget (call before dropping it).
    pub(crate) fn release(&mut self, budget: &mut Budget) {
        match self {
            Distinct::Small(_, n) => {
                budget.exact_used = budget.exact_used.saturating_sub(usize::from(*n));
            }
            Distinct::Exact(s) | Distinct::Frozen(s, _) => {
                budget.exact_used = budget.exact_used.saturating_sub(s.len());
            }
            Distinct::Sketch(_) => {
                budget.sketches_used = budget.sketches_used.saturating_sub(1);
            }
        }
        *self = Distinct::default();
    }

    /// Approximate heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Distinct::Small(..) => 0,
            Distinct::Exact(s) | Distinct::Frozen(s, _) => s.capacity() * 9,
            Distinct::Sketch(_) => M,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hll_is_accurate_across_ranges() {
        for &n in &[10u64, 1_000, 50_000, 1_000_000] {
            let mut h = Hll::new();
            for i in 0..n {
                // Addresses of a sweep: consecutive integers, the worst case for a weak hash.
                h.add(0x0a00_0000 + i);
            }
            let est = h.estimate() as f64;
            let err = (est - n as f64).abs() / n as f64;
            assert!(err < 0.05, "n={n} est={est} err={err}");
        }
    }

    #[test]
    fn exact_until_the_limit_then_sketch() {
        let mut b = Budget::new(1_000, 10);
        let mut d = Distinct::default();
        assert_eq!(d.insert(7, 100, &mut b), Seen::New);
        assert_eq!(d.insert(7, 100, &mut b), Seen::Again);
        for k in 0..=100 {
            d.insert(k, 100, &mut b);
        }
        assert!(!d.is_exact());
        assert_eq!(b.promotions, 1);
        assert_eq!(b.exact_used, 0, "exact entries returned on promotion");
        assert_eq!(b.sketches_used, 1);
        assert_eq!(d.insert(5, 100, &mut b), Seen::Unknown);
        let c = d.count();
        assert!((99..=104).contains(&c), "{c}");
        d.release(&mut b);
        assert_eq!(b.sketches_used, 0);
    }

    #[test]
    fn budget_exhaustion_freezes_with_an_upper_bound() {
        let mut b = Budget::new(3, 0);
        let mut d = Distinct::default();
        for k in 0..3 {
            assert_eq!(d.insert(k, 100, &mut b), Seen::New);
        }
        assert_eq!(d.insert(3, 100, &mut b), Seen::New);
        assert_eq!(b.saturated, 1);
        assert_eq!(d.insert(1, 100, &mut b), Seen::Again);
        assert_eq!(d.insert(4, 100, &mut b), Seen::Unknown);
        assert_eq!(d.count(), 5);
        d.release(&mut b);
        assert_eq!(b.exact_used, 0);
    }
}
