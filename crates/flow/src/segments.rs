//! A sorted set of non-overlapping byte pieces with target-based overlap resolution,
//! shared by TCP out-of-order queues and IP fragment trackers.

use std::collections::VecDeque;

/// Bytes at `[start, start + data.len())`, taken from a segment whose original extent
/// was `[orig_start, orig_end)` (the extent overlap policies decide against).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub start: u64,
    pub data: Vec<u8>,
    pub orig_start: u64,
    pub orig_end: u64,
}

impl Piece {
    pub fn end(&self) -> u64 {
        self.start.saturating_add(len64(&self.data))
    }
}

/// What an insertion found.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct InsertOutcome {
    /// The new bytes overlapped held bytes.
    pub overlapped: bool,
    /// Some overlapped byte differed.
    pub different: bool,
    /// Every new byte was already held with the same value.
    pub duplicate: bool,
}

/// Sorted, non-overlapping pieces.
#[derive(Clone, Debug, Default)]
pub(crate) struct PieceStore {
    pieces: VecDeque<Piece>,
    bytes: usize,
}

pub(crate) fn len64(b: &[u8]) -> u64 {
    u64::try_from(b.len()).unwrap_or(u64::MAX)
}

/// Converts a difference of two in-range offsets to an index.
fn idx(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl PieceStore {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Pieces held.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn front(&self) -> Option<&Piece> {
        self.pieces.front()
    }

    pub fn pop_front(&mut self) -> Option<Piece> {
        let p = self.pieces.pop_front()?;
        self.bytes = self.bytes.saturating_sub(p.data.len());
        Some(p)
    }

    /// Puts `p` back at the front (it must end at or before the first piece).
    pub fn push_front(&mut self, p: Piece) {
        self.bytes += p.data.len();
        self.pieces.push_front(p);
    }

    /// Some piece ends exactly at `at`.
    pub fn ends_at(&self, at: u64) -> bool {
        let i = self.pieces.partition_point(|p| p.end() < at);
        self.pieces.get(i).is_some_and(|p| p.end() == at)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Piece> {
        self.pieces.iter()
    }

    /// Drops everything; returns the bytes freed.
    pub fn clear(&mut self) -> usize {
        let b = self.bytes;
        self.pieces.clear();
        self.bytes = 0;
        b
    }

    /// Drops the bytes at or beyond `end` (pieces are cut); returns the bytes freed.
    pub fn truncate_from(&mut self, end: u64) -> usize {
        let before = self.bytes;
        while let Some(last) = self.pieces.back_mut() {
            if last.start >= end {
                self.bytes = self.bytes.saturating_sub(last.data.len());
                self.pieces.pop_back();
            } else {
                if last.end() > end {
                    let keep = idx(end - last.start);
                    self.bytes = self.bytes.saturating_sub(last.data.len() - keep);
                    last.data.truncate(keep);
                }
                break;
            }
        }
        before - self.bytes
    }

    /// Inserts `data` at `ns`, whose original segment spanned `[orig_s, orig_e)`.
    /// Where it overlaps held bytes, `new_wins(ns, ne, old_orig_s, old_orig_e)` decides
    /// per held piece which bytes stay.
    pub fn insert(
        &mut self,
        ns: u64,
        data: &[u8],
        orig_s: u64,
        orig_e: u64,
        new_wins: impl Fn(u64, u64, u64, u64) -> bool,
    ) -> InsertOutcome {
        let mut out = InsertOutcome::default();
        if data.is_empty() {
            out.duplicate = true;
            return out;
        }
        let ne = ns.saturating_add(len64(data));
        let lo = self.pieces.partition_point(|p| p.end() <= ns);
        let hi = self.pieces.partition_point(|p| p.start < ne);
        if lo >= hi {
            self.bytes += data.len();
            self.pieces.insert(
                lo,
                Piece {
                    start: ns,
                    data: data.to_vec(),
                    orig_start: orig_s,
                    orig_end: orig_e,
                },
            );
            return out;
        }
        out.overlapped = true;
        let old: Vec<Piece> = self.pieces.drain(lo..hi).collect();
        let mut rebuilt: Vec<Piece> = Vec::with_capacity(old.len() + 2);
        let new_slice = |a: u64, b: u64| &data[idx(a - ns)..idx(b - ns)];
        let mut cursor = ns;
        let mut covered: u64 = 0;
        let mut all_same = true;
        for p in &old {
            let pe = p.end();
            let old_slice = |a: u64, b: u64| &p.data[idx(a - p.start)..idx(b - p.start)];
            if p.start < ns {
                push(
                    &mut rebuilt,
                    p.start,
                    old_slice(p.start, ns),
                    p.orig_start,
                    p.orig_end,
                );
            }
            let ovs = p.start.max(ns);
            let ove = pe.min(ne);
            if cursor < ovs {
                push(&mut rebuilt, cursor, new_slice(cursor, ovs), orig_s, orig_e);
            }
            if ovs < ove {
                covered += ove - ovs;
                let same = old_slice(ovs, ove) == new_slice(ovs, ove);
                if !same {
                    out.different = true;
                    all_same = false;
                }
                if new_wins(orig_s, orig_e, p.orig_start, p.orig_end) {
                    push(&mut rebuilt, ovs, new_slice(ovs, ove), orig_s, orig_e);
                } else {
                    push(
                        &mut rebuilt,
                        ovs,
                        old_slice(ovs, ove),
                        p.orig_start,
                        p.orig_end,
                    );
                }
                cursor = ove;
            }
            if pe > ne {
                push(
                    &mut rebuilt,
                    ne,
                    old_slice(ne, pe),
                    p.orig_start,
                    p.orig_end,
                );
            }
        }
        if cursor < ne {
            push(&mut rebuilt, cursor, new_slice(cursor, ne), orig_s, orig_e);
        }
        out.duplicate = all_same && covered == ne - ns;
        let old_bytes: usize = old.iter().map(|p| p.data.len()).sum();
        let new_bytes: usize = rebuilt.iter().map(|p| p.data.len()).sum();
        self.bytes = self.bytes - old_bytes + new_bytes;
        for (i, p) in rebuilt.into_iter().enumerate() {
            self.pieces.insert(lo + i, p);
        }
        out
    }
}

/// Appends `[start, start+bytes)` from a segment with original extent `[os, oe)`,
/// merging with the previous piece when it is contiguous and from the same extent.
fn push(out: &mut Vec<Piece>, start: u64, bytes: &[u8], os: u64, oe: u64) {
    if bytes.is_empty() {
        return;
    }
    if let Some(last) = out.last_mut()
        && last.end() == start
        && last.orig_start == os
        && last.orig_end == oe
    {
        last.data.extend_from_slice(bytes);
        return;
    }
    out.push(Piece {
        start,
        data: bytes.to_vec(),
        orig_start: os,
        orig_end: oe,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OverlapPolicy;

    fn flat(s: &PieceStore) -> Vec<(u64, Vec<u8>)> {
        s.iter().map(|p| (p.start, p.data.clone())).collect()
    }

    fn ins(s: &mut PieceStore, at: u64, d: &[u8], pol: OverlapPolicy) -> InsertOutcome {
        let e = at + d.len() as u64;
        s.insert(at, d, at, e, |a, b, c, d| pol.tcp_new_wins(a, b, c, d))
    }

    #[test]
    fn disjoint_pieces_stay_sorted() {
        let mut s = PieceStore::default();
        ins(&mut s, 10, b"cc", OverlapPolicy::Bsd);
        ins(&mut s, 0, b"aa", OverlapPolicy::Bsd);
        ins(&mut s, 5, b"bb", OverlapPolicy::Bsd);
        assert_eq!(
            flat(&s),
            vec![
                (0, b"aa".to_vec()),
                (5, b"bb".to_vec()),
                (10, b"cc".to_vec())
            ]
        );
        assert_eq!(s.bytes(), 6);
    }

    #[test]
    fn bsd_new_wins_only_when_starting_before() {
        let mut s = PieceStore::default();
        ins(&mut s, 2, b"XXXX", OverlapPolicy::Bsd);
        // Starts after the old piece: old wins in the overlap, new fills beyond.
        let o = ins(&mut s, 4, b"yyyy", OverlapPolicy::Bsd);
        assert!(o.overlapped && o.different && !o.duplicate);
        let all: Vec<u8> = s.iter().flat_map(|p| p.data.clone()).collect();
        assert_eq!(all, b"XXXXyy");
        // Starts before everything: new wins over all of it.
        ins(&mut s, 0, b"zzzzzzzzz", OverlapPolicy::Bsd);
        let all: Vec<u8> = s.iter().flat_map(|p| p.data.clone()).collect();
        assert_eq!(all, b"zzzzzzzzz");
        assert_eq!(s.bytes(), 9);
    }

    #[test]
    fn exact_duplicate_is_reported() {
        let mut s = PieceStore::default();
        ins(&mut s, 0, b"abc", OverlapPolicy::Last);
        let o = ins(&mut s, 0, b"abc", OverlapPolicy::Last);
        assert!(o.duplicate && !o.different);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn truncate_cuts_pieces() {
        let mut s = PieceStore::default();
        ins(&mut s, 0, b"abcd", OverlapPolicy::Bsd);
        ins(&mut s, 10, b"efgh", OverlapPolicy::Bsd);
        assert_eq!(s.truncate_from(2), 6);
        assert_eq!(flat(&s), vec![(0, b"ab".to_vec())]);
    }
}
