//! One table of IPv4 hosts shared by the scan and listener detectors.
//!
//! Both look up a host for most packets they see (the scan detector the
//! source that probes or is answered, the listener the host that sends), and
//! in ordinary traffic both look up the same host: a client opening a flow.
//! One entry per address holds what each keeps, so the second lookup finds
//! the cache line the first one loaded. The table is open-addressed with
//! linear probing and its entries hold their keys (a hit reads one line, not
//! a control byte and then a bucket elsewhere), removals shift later entries
//! back (no tombstones, so churn does not lengthen probes), and it doubles
//! past three quarters full.

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

/// IPv4 hosts: see the module documentation.
pub(crate) struct HostIndex {
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

impl Default for HostIndex {
    fn default() -> HostIndex {
        HostIndex {
            slots: Vec::new(),
            shift: 64,
            len: 0,
        }
    }
}

impl HostIndex {
    /// Entries in use.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of the table.
    pub(crate) fn heap_bytes(&self) -> usize {
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

    /// The entry of `key`, if any.
    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<&HostEntry> {
        self.slots.get(self.find(key)?)
    }

    /// The entry of `key`, made (empty) if absent: one probe run. The caller
    /// stores something in it or calls [`HostIndex::prune`].
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

    /// The scan source slot of `(key, c)`, or the one `make` places (and
    /// `true`) when there is none; `None` when `make` fails.
    pub(crate) fn source_or_insert_with(
        &mut self,
        key: u32,
        c: Class,
        make: impl FnOnce() -> Option<u32>,
    ) -> Option<(u32, bool)> {
        let i = self.entry(key)?;
        let e = self.slots.get_mut(i)?;
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
                self.prune(i);
                None
            }
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

    /// Sets (or clears) the scan source slot of `(key, c)`. `false` when the
    /// table could not take the entry.
    pub(crate) fn set_source(&mut self, key: u32, c: Class, slot: Option<u32>) -> bool {
        let i = match slot {
            Some(_) => self.entry(key),
            None => self.find(key),
        };
        let Some(i) = i else {
            return slot.is_none();
        };
        let v = slot.map_or(0, |s| s.saturating_add(1));
        if let Some(x) = self
            .slots
            .get_mut(i)
            .and_then(|e| e.src.get_mut(class_index(c)))
        {
            *x = v;
        }
        self.prune(i);
        true
    }

    /// Sets (or clears) when the listener detector first saw `key`.
    pub(crate) fn set_first_seen(&mut self, key: u32, t: Option<Timestamp>) {
        let i = match t {
            Some(_) => self.entry(key),
            None => self.find(key),
        };
        let Some(i) = i else {
            return;
        };
        if let Some(e) = self.slots.get_mut(i) {
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
        self.prune(i);
    }

    /// Every entry in use, with its address (table order).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &HostEntry)> {
        self.slots.iter().filter(|e| e.live()).map(|e| (e.key, e))
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
        let mut rng = Rng(7);
        let mut t = HostIndex::default();
        let mut model: BTreeMap<u32, ([u32; 3], Option<i64>)> = BTreeMap::new();
        let classes = [Class::Tcp, Class::Udp, Class::Icmp];
        for step in 0..200_000u32 {
            let key = if step % 3 == 0 {
                rng.below(64)
            } else {
                rng.below(4_000).wrapping_mul(0x0101_0101)
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
            if step % 997 == 0 || step > 199_000 {
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
