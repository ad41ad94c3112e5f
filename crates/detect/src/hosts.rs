//! One table of IPv4 hosts shared by the scan and listener detectors.
//!
//! Both look up a host for most packets they see (the scan detector the
//! source that probes or is answered, the listener the host that sends), and
//! in ordinary traffic both look up the same host: a client opening a flow.
//! One entry per address holds what each keeps, so the second lookup finds
//! the cache line the first one loaded. Tables are open-addressed with
//! linear probing and their entries hold their keys (a hit reads one line,
//! not a control byte and then a bucket elsewhere); removals shift later
//! entries back (no tombstones, so churn does not lengthen probes).
//!
//! A new host is the costly case: its absence from a table of tens of
//! thousands of hosts is a cache miss (hundreds of nanoseconds while a
//! capture streams through the cache), and a capture whose flows keep
//! bringing new clients pays it on almost every flow. So hosts go first to a
//! small table of recent ones (which the detectors' lookups keep in cache)
//! and move to the main table in batches, in the order of their slots there;
//! a small filter of the main table's addresses (two bits of one word per
//! address) says when a host cannot be there, without reading it.

use crate::fingerprint::Class;
use stormwatch_model::Timestamp;

/// What the detectors keep for one IPv4 address. Empty entries are free
/// slots; an entry stays while either detector keeps something in it.
#[derive(Copy, Clone, Default)]
#[repr(C, align(32))]
pub(crate) struct HostEntry {
    key: u32,
    /// Scan sources of the address by [`Class`]: slab slot + 1 (0 = none).
    src: [u32; 3],
    /// When the listener detector first saw the host send (with `W_WATCHED`).
    first_seen: i64,
    /// `E_*` bits.
    flags: u8,
}

/// The entry is in use.
const E_LIVE: u8 = 1;
/// The listener detector watches the host (`first_seen` is set).
const E_WATCHED: u8 = 2;

fn class_index(c: Class) -> usize {
    match c {
        Class::Tcp => 0,
        Class::Udp => 1,
        Class::Icmp => 2,
    }
}

impl HostEntry {
    fn live(&self) -> bool {
        self.flags & E_LIVE != 0
    }

    /// Holds nothing for either detector (to be removed).
    fn is_empty(&self) -> bool {
        self.flags & E_WATCHED == 0 && self.src == [0; 3]
    }

    /// The scan source slot of class `c`.
    pub(crate) fn source(&self, c: Class) -> Option<u32> {
        let s = self.src.get(class_index(c)).copied().unwrap_or(0);
        s.checked_sub(1)
    }

    /// A scan source of any class.
    pub(crate) fn sources(&self) -> impl Iterator<Item = (Class, u32)> + '_ {
        [Class::Tcp, Class::Udp, Class::Icmp]
            .into_iter()
            .filter_map(|c| self.source(c).map(|s| (c, s)))
    }

    /// When the listener detector first saw the host (if it watches it).
    pub(crate) fn first_seen(&self) -> Option<Timestamp> {
        (self.flags & E_WATCHED != 0).then_some(Timestamp(self.first_seen))
    }
}

/// One open-addressed table of entries.
struct Table {
    /// A power of two long (or empty).
    slots: Vec<HostEntry>,
    /// 64 - log2(slots.len()): see [`home`].
    shift: u32,
    len: usize,
}

/// Slot of `key` in a table of 2^(64 - `shift`) slots: Fibonacci hashing,
/// the top bits of a multiplication by 2^64/φ, so neighbouring addresses
/// spread.
#[inline]
fn home(key: u32, shift: u32) -> usize {
    let h = u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h.checked_shr(shift).map_or(0, |x| x as usize)
}

impl Default for Table {
    fn default() -> Table {
        Table {
            slots: Vec::new(),
            shift: 64,
            len: 0,
        }
    }
}

impl Table {
    /// Bytes of the table.
    fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<HostEntry>()
    }

    #[inline]
    fn find(&self, key: u32) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = home(key, self.shift) & mask;
        loop {
            let e = self.slots.get(i)?;
            if !e.live() {
                return None;
            }
            if e.key == key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The entry of `key`, made (empty) if absent: one probe run. The caller
    /// stores something in it or calls [`Table::prune`].
    fn entry(&mut self, key: u32) -> Option<usize> {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = home(key, self.shift) & mask;
        loop {
            let e = self.slots.get_mut(i)?;
            if !e.live() {
                *e = HostEntry {
                    key,
                    flags: E_LIVE,
                    ..HostEntry::default()
                };
                self.len += 1;
                return Some(i);
            }
            if e.key == key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Puts `e` (whose key is not in the table, with room left) in the first
    /// free slot from its home.
    fn insert_new(&mut self, e: HostEntry) {
        let Some(mask) = self.slots.len().checked_sub(1) else {
            return;
        };
        let mut i = home(e.key, self.shift) & mask;
        while let Some(s) = self.slots.get_mut(i) {
            if !s.live() {
                *s = e;
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![HostEntry::default(); cap]);
        let mask = cap - 1;
        self.shift = 64 - cap.trailing_zeros();
        for e in old.into_iter().filter(HostEntry::live) {
            let mut i = home(e.key, self.shift) & mask;
            while let Some(s) = self.slots.get_mut(i) {
                if !s.live() {
                    *s = e;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }

    /// Removes the entry at `i` if it holds nothing: later entries of its
    /// probe run shift back into the gap.
    fn prune(&mut self, mut i: usize) {
        if !self.slots.get(i).is_some_and(|e| e.live() && e.is_empty()) {
            return;
        }
        let Some(mask) = self.slots.len().checked_sub(1) else {
            return;
        };
        self.len -= 1;
        loop {
            if let Some(e) = self.slots.get_mut(i) {
                *e = HostEntry::default();
            }
            let mut j = i;
            loop {
                j = (j + 1) & mask;
                let Some(&e) = self.slots.get(j) else {
                    return;
                };
                if !e.live() {
                    return;
                }
                // `e` may stay where it is when its home lies cyclically in
                // (i, j]; otherwise it moves into the gap at `i`.
                let h = home(e.key, self.shift) & mask;
                let stays = if i <= j {
                    i < h && h <= j
                } else {
                    i < h || h <= j
                };
                if !stays {
                    if let Some(s) = self.slots.get_mut(i) {
                        *s = e;
                    }
                    i = j;
                    break;
                }
            }
        }
    }

    /// Every entry in use, with its address (table order).
    fn iter(&self) -> impl Iterator<Item = (u32, &HostEntry)> {
        self.slots.iter().filter(|e| e.live()).map(|e| (e.key, e))
    }
}

/// Entries the recent-hosts table holds before they move to the main one
/// (its 4,096 slots, 128 KiB, three quarters full).
const RECENT_MAX: usize = 3_072;

/// IPv4 hosts: see the module documentation. Hosts inserted lately sit in a
/// small table (looked up for most packets, so it stays in cache); they move
/// to the main table in batches, in the order of their slots there (one
/// pass over it, not a cache miss per host). A small filter of the main
/// table's addresses answers "not there" for a new host without reading it.
#[derive(Default)]
pub(crate) struct HostIndex {
    recent: Table,
    main: Table,
    /// Two bits per address of `main` in one word (a blocked Bloom filter):
    /// a clear bit means the address is not in `main`.
    filter: Vec<u64>,
    /// log2(filter.len()).
    filter_bits: u32,
    /// Entries removed from `main` since the filter was built (their bits
    /// stay set until it is rebuilt).
    removed: usize,
    /// Batch buffer, reused.
    batch: Vec<HostEntry>,
}

/// The filter word and bits of `key`.
#[inline]
fn filter_pos(key: u32, bits: u32) -> (usize, u64) {
    let h = u64::from(key).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let w = h.checked_shr(64 - bits).map_or(0, |x| x as usize);
    (w, (1u64 << ((h >> 8) & 63)) | (1u64 << ((h >> 14) & 63)))
}

impl HostIndex {
    /// Entries in use.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.recent.len + self.main.len
    }

    /// Bytes of the tables and the filter.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.recent.heap_bytes()
            + self.main.heap_bytes()
            + self.filter.capacity() * 8
            + self.batch.capacity() * std::mem::size_of::<HostEntry>()
    }

    fn maybe_in_main(&self, key: u32) -> bool {
        if self.main.len == 0 {
            return false;
        }
        let (w, m) = filter_pos(key, self.filter_bits);
        self.filter.get(w).is_none_or(|x| x & m == m)
    }

    /// Where `key` is: in `recent` (`true`) or `main`, and its slot.
    #[inline]
    fn locate(&self, key: u32) -> Option<(bool, usize)> {
        if let Some(i) = self.recent.find(key) {
            return Some((true, i));
        }
        if self.maybe_in_main(key) {
            return self.main.find(key).map(|i| (false, i));
        }
        None
    }

    fn table(&mut self, recent: bool) -> &mut Table {
        if recent {
            &mut self.recent
        } else {
            &mut self.main
        }
    }

    /// The entry of `key`, if any.
    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<&HostEntry> {
        let (r, i) = self.locate(key)?;
        if r {
            self.recent.slots.get(i)
        } else {
            self.main.slots.get(i)
        }
    }

    /// The entry of `key`, made (empty, in `recent`) if absent.
    fn entry(&mut self, key: u32) -> Option<(bool, usize)> {
        if let Some(at) = self.locate(key) {
            return Some(at);
        }
        if self.recent.len + 1 > RECENT_MAX {
            self.flush_recent();
        }
        self.recent.entry(key).map(|i| (true, i))
    }

    /// Moves every recent entry to `main`, in the order of their slots there.
    fn flush_recent(&mut self) {
        let n = self.recent.len;
        let mut grew = self.filter.is_empty();
        // Seven eighths full at most: `main` is looked up only for hosts
        // not seen lately, so its longer probe runs cost little, and it is
        // half the memory (page faults) of a table kept three quarters full.
        while (self.main.len + n) * 8 > self.main.slots.len() * 7 {
            self.main.grow();
            grew = true;
        }
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        batch.extend(self.recent.slots.iter().filter(|e| e.live()).copied());
        let shift = self.main.shift;
        batch.sort_unstable_by_key(|e| home(e.key, shift));
        for e in &batch {
            self.main.insert_new(*e);
            if !grew {
                self.filter_add(e.key);
            }
        }
        self.batch = batch;
        self.recent
            .slots
            .iter_mut()
            .for_each(|e| *e = HostEntry::default());
        self.recent.len = 0;
        if grew {
            self.rebuild_filter();
        }
    }

    fn filter_add(&mut self, key: u32) {
        let (w, m) = filter_pos(key, self.filter_bits);
        if let Some(x) = self.filter.get_mut(w) {
            *x |= m;
        }
    }

    /// The filter again from `main`'s entries: one word per 16 slots of it
    /// (at least 4,096 words, 32 KiB).
    fn rebuild_filter(&mut self) {
        let words = (self.main.slots.len() / 16).max(4_096).next_power_of_two();
        self.filter_bits = words.trailing_zeros();
        self.filter.clear();
        self.filter.resize(words, 0);
        let bits = self.filter_bits;
        for (key, _) in self.main.iter() {
            let (w, m) = filter_pos(key, bits);
            if let Some(x) = self.filter.get_mut(w) {
                *x |= m;
            }
        }
        self.removed = 0;
    }

    /// Removes the entry at `(recent, i)` if it holds nothing.
    fn prune(&mut self, recent: bool, i: usize) {
        let t = self.table(recent);
        let before = t.len;
        t.prune(i);
        if !recent && t.len < before {
            self.removed += 1;
            if self.removed > self.main.len + 4_096 {
                self.rebuild_filter();
            }
        }
    }

    fn slot_mut(&mut self, at: (bool, usize)) -> Option<&mut HostEntry> {
        self.table(at.0).slots.get_mut(at.1)
    }

    /// The scan source slot of `(key, c)`, or the one `make` places (and
    /// `true`) when there is none; `None` when `make` fails.
    pub(crate) fn source_or_insert_with(
        &mut self,
        key: u32,
        c: Class,
        make: impl FnOnce() -> Option<u32>,
    ) -> Option<(u32, bool)> {
        let at = self.entry(key)?;
        let e = self.slot_mut(at)?;
        if let Some(s) = e.source(c) {
            return Some((s, false));
        }
        match make() {
            Some(s) => {
                if let Some(x) = e.src.get_mut(class_index(c)) {
                    *x = s.saturating_add(1);
                }
                Some((s, true))
            }
            None => {
                self.prune(at.0, at.1);
                None
            }
        }
    }

    /// Sets (or clears) the scan source slot of `(key, c)`. `false` when the
    /// table could not take the entry.
    pub(crate) fn set_source(&mut self, key: u32, c: Class, slot: Option<u32>) -> bool {
        let at = match slot {
            Some(_) => self.entry(key),
            None => self.locate(key),
        };
        let Some(at) = at else {
            return slot.is_none();
        };
        let v = slot.map_or(0, |s| s.saturating_add(1));
        if let Some(x) = self
            .slot_mut(at)
            .and_then(|e| e.src.get_mut(class_index(c)))
        {
            *x = v;
        }
        self.prune(at.0, at.1);
        true
    }

    /// Sets (or clears) when the listener detector first saw `key`.
    pub(crate) fn set_first_seen(&mut self, key: u32, t: Option<Timestamp>) {
        let at = match t {
            Some(_) => self.entry(key),
            None => self.locate(key),
        };
        let Some(at) = at else {
            return;
        };
        if let Some(e) = self.slot_mut(at) {
            match t {
                Some(t) => {
                    e.first_seen = t.0;
                    e.flags |= E_WATCHED;
                }
                None => {
                    e.first_seen = 0;
                    e.flags &= !E_WATCHED;
                }
            }
        }
        self.prune(at.0, at.1);
    }

    /// Every entry in use, with its address (table order).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &HostEntry)> {
        self.recent.iter().chain(self.main.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// splitmix64: a deterministic stream of test values.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u32) -> u32 {
            (self.next() % u64::from(n)) as u32
        }
        fn chance(&mut self, percent: u32) -> bool {
            self.below(100) < percent
        }
    }

    /// Random sets and clears against a plain map, with keys crowded into
    /// few home slots (long probe runs, shifts across the table's end).
    #[test]
    fn matches_a_plain_map_through_inserts_and_removals() {
        model_check(4_000, 200_000, 997);
    }

    /// As above over more addresses than the recent table holds many times
    /// over: batches move to the main table, which grows, and removals from
    /// it rebuild the filter.
    #[test]
    fn matches_a_plain_map_across_batches_and_filter_rebuilds() {
        model_check(60_000, 400_000, 49_999);
    }

    fn model_check(spread: u32, steps: u32, every: u32) {
        let mut rng = Rng(u64::from(spread));
        let mut t = HostIndex::default();
        let mut model: BTreeMap<u32, ([u32; 3], Option<i64>)> = BTreeMap::new();
        let classes = [Class::Tcp, Class::Udp, Class::Icmp];
        for step in 0..steps {
            let key = if step % 3 == 0 {
                rng.below(64)
            } else {
                rng.below(spread).wrapping_mul(0x0101_0101)
            };
            let m = model.entry(key).or_insert(([0; 3], None));
            if rng.chance(30) {
                let t1 = rng.chance(60).then(|| i64::from(step));
                t.set_first_seen(key, t1.map(Timestamp));
                m.1 = t1;
            } else {
                let ci = rng.below(3) as usize;
                let s = rng.chance(55).then(|| rng.below(1_000));
                assert!(t.set_source(key, classes[ci], s));
                m.0[ci] = s.map_or(0, |s| s + 1);
            }
            if m.0 == [0; 3] && m.1.is_none() {
                model.remove(&key);
            }
            if step % every == 0 || step + 1 == steps {
                assert_eq!(t.len(), model.len(), "step {step}");
                for (k, (src, seen)) in &model {
                    let e = t.get(*k).expect("present");
                    for (ci, c) in classes.iter().enumerate() {
                        assert_eq!(e.source(*c), src[ci].checked_sub(1), "{k} {c:?}");
                    }
                    assert_eq!(e.first_seen().map(|t| t.0), *seen);
                }
                let listed: Vec<u32> = {
                    let mut v: Vec<u32> = t.iter().map(|(k, _)| k).collect();
                    v.sort_unstable();
                    v
                };
                assert_eq!(listed, model.keys().copied().collect::<Vec<_>>());
            }
        }
        assert!(t.get(0xdead_beef).is_none());
    }

    #[test]
    fn source_or_insert_places_once_and_leaves_nothing_when_placing_fails() {
        let mut t = HostIndex::default();
        assert_eq!(t.source_or_insert_with(9, Class::Udp, || None), None);
        assert_eq!(t.len(), 0, "no empty entry left behind");
        assert_eq!(
            t.source_or_insert_with(9, Class::Udp, || Some(4)),
            Some((4, true))
        );
        assert_eq!(
            t.source_or_insert_with(9, Class::Udp, || Some(5)),
            Some((4, false))
        );
        t.set_first_seen(9, Some(Timestamp(1)));
        assert_eq!(t.source_or_insert_with(9, Class::Tcp, || None), None);
        let e = t.get(9).expect("kept");
        assert_eq!(
            (e.source(Class::Udp), e.source(Class::Tcp)),
            (Some(4), None)
        );
        assert_eq!(e.first_seen(), Some(Timestamp(1)));
    }

    #[test]
    fn entries_are_half_a_cache_line() {
        assert_eq!(std::mem::size_of::<HostEntry>(), 32);
        assert_eq!(std::mem::align_of::<HostEntry>(), 32);
    }
}
