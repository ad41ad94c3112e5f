//! Small helpers shared by the detectors: address keys, formatting, the
//! bounded suppression memory and bounded FIFO tables.

use crate::sketch::mix64;
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use stormwatch_model::NetSet;

/// The most records a table reserves room for up front (its configured
/// limit, up to this many). Reserved address space costs nothing until
/// written; a table that grows by doubling instead copies itself and frees
/// pages the kernel must zero again when they are reused.
pub(crate) const RESERVE_MAX: usize = 65_536;

/// A 64-bit key for an address: the IPv4 value itself (exact), an IPv6
/// address folded (collisions negligible at 64 bits).
pub(crate) fn ip_key(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v) => u64::from(u32::from(v)),
        IpAddr::V6(v) => {
            let x = u128::from(v);
            // Keep IPv6 keys apart from IPv4 ones (bit 63 set).
            (mix64((x >> 64) as u64) ^ (x as u64)) | (1 << 63)
        }
    }
}

/// The address as an integer, for target-order arithmetic (IPv6: the low 64
/// bits, where neighbouring addresses differ).
pub(crate) fn ip_int(ip: IpAddr) -> i64 {
    match ip {
        IpAddr::V4(v) => i64::from(u32::from(v)),
        // Only differences are used; wrapping keeps them meaningful for
        // neighbouring addresses.
        IpAddr::V6(v) => u128::from(v) as u64 as i64,
    }
}

/// 64-bit hash of any hashable value (deterministic).
pub(crate) fn hash64<T: Hash + ?Sized>(v: &T) -> u64 {
    let mut h = FxHasher::default();
    v.hash(&mut h);
    mix64(h.finish())
}

/// `addr:port`, bracketing IPv6 (`[2001:db8::1]:443`).
pub(crate) fn ep(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v) => format!("{v}:{port}"),
        IpAddr::V6(v) => format!("[{v}]:{port}"),
    }
}

/// Integer with thousands separators: `16,777,216`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate or ratio for people: `98`, `9.8`, `0.03`.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return "0".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        thousands(x.round().max(0.0) as u64)
    } else if a >= 10.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Seconds for people: `0.4 s`, `10.2 s`, `3m10s`.
pub(crate) fn secs(x: f64) -> String {
    if x < 60.0 {
        format!("{} s", num(x.max(0.0)))
    } else {
        stormwatch_model::human_duration(x)
    }
}

/// Multicast or limited broadcast: traffic that expects no single answer.
pub(crate) fn is_group_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast() || v.is_unspecified(),
        IpAddr::V6(v) => v.is_multicast() || v.is_unspecified(),
    }
}

/// `home_net` with its masks precomputed (membership is asked for on every
/// event). An empty set means every address is home.
pub(crate) struct HomeNet {
    all: bool,
    v4: Vec<(u32, u32, bool)>,
    v6: Vec<(u128, u128, bool)>,
}

impl HomeNet {
    pub(crate) fn new(set: &NetSet) -> HomeNet {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let tagged = set
            .include
            .iter()
            .map(|c| (c, true))
            .chain(set.exclude.iter().map(|c| (c, false)));
        for (c, inc) in tagged {
            match c.addr {
                IpAddr::V4(a) => {
                    let p = u32::from(c.prefix.min(32));
                    let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                    v4.push((u32::from(a) & mask, mask, inc));
                }
                IpAddr::V6(a) => {
                    let p = u32::from(c.prefix.min(128));
                    let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                    v6.push((u128::from(a) & mask, mask, inc));
                }
            }
        }
        HomeNet {
            all: set.include.is_empty(),
            v4,
            v6,
        }
    }

    /// Same answer as `NetSet::contains` (exclusions win), or true when empty.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        if self.all {
            return true;
        }
        let mut inc = false;
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                for &(net, mask, is_inc) in &self.v4 {
                    if a & mask == net {
                        if !is_inc {
                            return false;
                        }
                        inc = true;
                    }
                }
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                for &(net, mask, is_inc) in &self.v6 {
                    if a & mask == net {
                        if !is_inc {
                            return false;
                        }
                        inc = true;
                    }
                }
            }
        }
        inc
    }
}

/// Remembers which notice identifiers were emitted, forgetting the oldest
/// beyond a limit: one finding, one notice.
pub(crate) struct Suppressor {
    set: FxHashSet<u64>,
    order: VecDeque<u64>,
    max: usize,
    /// Identifiers forgotten to stay within the limit.
    pub forgotten: u64,
    /// Notices not emitted because their identifier was known.
    pub suppressed: u64,
}

impl Suppressor {
    pub(crate) fn new(max: usize) -> Suppressor {
        Suppressor {
            set: FxHashSet::default(),
            order: VecDeque::new(),
            max: max.max(1),
            forgotten: 0,
            suppressed: 0,
        }
    }

    /// True the first time `id` is offered (and remembers it).
    pub(crate) fn first(&mut self, id: &str) -> bool {
        let h = hash64(id);
        if self.set.contains(&h) {
            self.suppressed += 1;
            return false;
        }
        while self.set.len() >= self.max {
            match self.order.pop_front() {
                Some(old) => {
                    self.set.remove(&old);
                    self.forgotten += 1;
                }
                None => break,
            }
        }
        self.set.insert(h);
        self.order.push_back(h);
        true
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.set.capacity() * 9 + self.order.capacity() * 8
    }
}

/// A map bounded by insertion order: beyond `max` entries the oldest inserted
/// is evicted (and counted).
pub(crate) struct FifoMap<K, V> {
    map: FxHashMap<K, V>,
    order: VecDeque<K>,
    max: usize,
    /// Entries evicted to stay within the limit.
    pub evicted: u64,
}

impl<K: Hash + Eq + Copy, V> FifoMap<K, V> {
    pub(crate) fn new(max: usize) -> Self {
        FifoMap {
            map: FxHashMap::default(),
            order: VecDeque::new(),
            max: max.max(1),
            evicted: 0,
        }
    }

    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }

    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k)
    }

    pub(crate) fn contains(&self, k: &K) -> bool {
        self.map.contains_key(k)
    }

    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        // The order queue keeps a stale key; it is skipped when it comes up.
        self.map.remove(k)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entry for `k`, inserting `make()` first (evicting the oldest when full).
    /// Returns the evicted entry, if any, alongside.
    pub(crate) fn entry_or_insert_with(
        &mut self,
        k: K,
        make: impl FnOnce() -> V,
    ) -> (&mut V, Option<(K, V)>) {
        let mut evicted = None;
        if !self.map.contains_key(&k) {
            while self.map.len() >= self.max {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if let Some(v) = self.map.remove(&old) {
                    self.evicted += 1;
                    evicted = Some((old, v));
                }
            }
            // Stale keys (removed earlier) would otherwise pile up.
            if self.order.len() > self.max.saturating_mul(2) {
                let map = &self.map;
                self.order.retain(|q| map.contains_key(q));
            }
            self.order.push_back(k);
        }
        (self.map.entry(k).or_insert_with(make), evicted)
    }

    pub(crate) fn capacity_bytes(&self, per_entry: usize) -> usize {
        self.map.capacity() * (per_entry + 1) + self.order.len() * std::mem::size_of::<K>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_001), "1,001");
        assert_eq!(thousands(16_777_216), "16,777,216");
        assert_eq!(num(98.4), "98");
        assert_eq!(num(9.84), "9.8");
        assert_eq!(num(0.034), "0.03");
        assert_eq!(num(1234.0), "1,234");
        assert_eq!(secs(10.04), "10 s");
        assert_eq!(secs(190.0), "3m10s");
        assert_eq!(ep("10.0.0.1".parse().unwrap(), 80), "10.0.0.1:80");
        assert_eq!(ep("2001:db8::1".parse().unwrap(), 80), "[2001:db8::1]:80");
    }

    #[test]
    fn suppressor_remembers_within_its_limit() {
        let mut s = Suppressor::new(2);
        assert!(s.first("a"));
        assert!(!s.first("a"));
        assert!(s.first("b"));
        assert!(s.first("c"));
        assert_eq!(s.forgotten, 1);
        assert!(s.first("a"), "oldest forgotten");
        assert_eq!(s.suppressed, 1);
    }

    #[test]
    fn fifo_map_evicts_oldest() {
        let mut m: FifoMap<u32, u32> = FifoMap::new(2);
        m.entry_or_insert_with(1, || 10);
        m.entry_or_insert_with(2, || 20);
        let (_, ev) = m.entry_or_insert_with(3, || 30);
        assert_eq!(ev, Some((1, 10)));
        assert_eq!(m.evicted, 1);
        assert!(!m.contains(&1));
        assert_eq!(m.len(), 2);
        m.remove(&2);
        let (_, ev) = m.entry_or_insert_with(4, || 40);
        assert_eq!(ev, None);
        m.entry_or_insert_with(5, || 50);
        assert_eq!(m.evicted, 2);
        assert!(!m.contains(&3));
        assert_eq!(m.get(&4), Some(&40));
        assert_eq!(m.get(&5), Some(&50));
    }

    #[test]
    fn home_net_matches_netset() {
        let set = NetSet::parse("[10.0.0.0/8,!10.9.0.0/16,2001:db8::/32,192.168.1.7]").unwrap();
        let h = HomeNet::new(&set);
        for a in [
            "10.1.2.3",
            "10.9.2.3",
            "11.0.0.1",
            "2001:db8::1",
            "2001:db9::1",
            "192.168.1.7",
            "192.168.1.8",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert_eq!(h.contains(ip), set.contains(ip), "{a}");
        }
        assert!(HomeNet::new(&NetSet::default()).contains("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn group_addresses() {
        assert!(is_group_address("224.0.0.251".parse().unwrap()));
        assert!(is_group_address("255.255.255.255".parse().unwrap()));
        assert!(is_group_address("ff02::1".parse().unwrap()));
        assert!(!is_group_address("192.168.1.255".parse().unwrap()));
    }

    #[test]
    fn ip_keys_are_distinct_across_families() {
        let a = ip_key("0.0.0.1".parse().unwrap());
        let b = ip_key("::1".parse().unwrap());
        assert_ne!(a, b);
        assert_eq!(a, 1);
    }
}
