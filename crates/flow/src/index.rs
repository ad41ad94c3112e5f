//! The flow index: open addressing with linear probing over 8-byte entries
//! `(hash << 32) | (slot + 1)` (0 = empty). A lookup touches one cache line of the
//! index and then the flow entry it names; deletion shifts followers back, so there
//! are no tombstones and probe chains stay short. The load factor stays at or below
//! one half.

/// Slot numbers are stored plus one, so the largest slot is `u32::MAX - 1`.
pub(crate) const MAX_SLOTS: usize = (u32::MAX - 1) as usize;

#[derive(Debug)]
pub(crate) struct FlowIndex {
    table: Vec<u64>,
    mask: usize,
    len: usize,
}

fn pack(hash: u32, slot: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(slot.wrapping_add(1))
}

fn hash_of(e: u64) -> u32 {
    let b = (e >> 32).to_le_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn slot_of(e: u64) -> u32 {
    let b = e.to_le_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]).wrapping_sub(1)
}

fn usize_of(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl Default for FlowIndex {
    fn default() -> Self {
        FlowIndex {
            table: vec![0; 1024],
            mask: 1023,
            len: 0,
        }
    }
}

impl FlowIndex {
    fn home(&self, hash: u32) -> usize {
        usize_of(hash) & self.mask
    }

    /// The slot whose entry has `hash` and for which `is_it(slot)` holds.
    pub fn find(&self, hash: u32, mut is_it: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut i = self.home(hash);
        loop {
            let e = *self.table.get(i)?;
            if e == 0 {
                return None;
            }
            if hash_of(e) == hash && is_it(slot_of(e)) {
                return Some(slot_of(e));
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Adds `slot` under `hash` (the caller knows it is not present).
    pub fn insert(&mut self, hash: u32, slot: u32) {
        if (self.len + 1) * 2 > self.table.len() {
            self.grow();
        }
        self.place(pack(hash, slot));
        self.len += 1;
    }

    fn place(&mut self, e: u64) {
        let mut i = self.home(hash_of(e));
        while let Some(cur) = self.table.get_mut(i) {
            if *cur == 0 {
                *cur = e;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.table);
        let n = old.len().max(512) * 2;
        self.table = vec![0; n];
        self.mask = n - 1;
        for e in old.into_iter().filter(|&e| e != 0) {
            self.place(e);
        }
    }

    /// Removes the entry of `slot` stored under `hash`.
    pub fn remove(&mut self, hash: u32, slot: u32) {
        let want = pack(hash, slot);
        let mut i = self.home(hash);
        loop {
            match self.table.get(i) {
                Some(&e) if e == want => break,
                Some(&0) | None => return,
                Some(_) => i = (i + 1) & self.mask,
            }
        }
        // Backward-shift deletion: move later members of the run into the hole when
        // their home position allows it.
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        loop {
            let e = match self.table.get(j) {
                Some(&e) if e != 0 => e,
                _ => break,
            };
            let home = self.home(hash_of(e));
            // Distance from home to j and from home to the hole, cyclically.
            let dist_j = j.wrapping_sub(home) & self.mask;
            let dist_hole = hole.wrapping_sub(home) & self.mask;
            if dist_hole < dist_j {
                if let Some(h) = self.table.get_mut(hole) {
                    *h = e;
                }
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        if let Some(h) = self.table.get_mut(hole) {
            *h = 0;
        }
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random inserts and removals checked against a plain list; `hash_bits` small
    /// makes long runs of equal hashes.
    fn model_check(steps: u32, hash_bits: u32) {
        let mut idx = FlowIndex::default();
        let mut live: Vec<(u32, u32)> = Vec::new(); // (slot, hash)
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next_slot = 0u32;
        for step in 0..steps {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let hash = ((x >> 11) as u32) & ((1u32 << hash_bits) - 1);
            if !x.is_multiple_of(3) || live.is_empty() {
                idx.insert(hash, next_slot);
                live.push((next_slot, hash));
                next_slot += 1;
            } else {
                let k = (x >> 40) as usize % live.len();
                let (s, h) = live.swap_remove(k);
                idx.remove(h, s);
                assert_eq!(idx.find(h, |c| c == s), None);
            }
            if step % 997 == 0 {
                for &(s, h) in &live {
                    assert_eq!(idx.find(h, |c| c == s), Some(s));
                }
                assert_eq!(idx.len, live.len());
            }
        }
        for &(s, h) in &live {
            assert_eq!(idx.find(h, |c| c == s), Some(s));
        }
    }

    #[test]
    fn insert_find_remove_against_a_model() {
        model_check(60_000, 24);
    }

    #[test]
    fn equal_hashes_and_long_runs() {
        model_check(4_000, 3);
    }
}
