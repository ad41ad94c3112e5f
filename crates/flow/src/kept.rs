//! Delivered, not yet acknowledged bytes of one direction, kept so that a
//! retransmission can be compared with what was handed on.
//!
//! Copying every delivered byte cost about a tenth of a run without application
//! layer, for a check that almost never finds anything. Where the delivered bytes
//! lie in a capture the table was given as a [`Backing`] (the memory map of the
//! file being read), a piece refers to them by offset instead; the bytes are read
//! again only when a retransmission overlaps them. Bytes from elsewhere (a
//! reassembled IP datagram, out-of-order data the table held), and short pieces
//! (cheaper to copy than to describe, and a stream of 1-byte segments must not
//! grow the list), are copied into a ring as before.

use std::collections::VecDeque;

/// Bytes that outlive the packets handed to the table — in practice the whole
/// capture file frames are read from. Only slices of the newest backing are
/// referred to (frames come from the file being read).
pub use stormwatch_model::Backing;

/// Pieces shorter than this are copied rather than referred to.
const MIN_REF: usize = 64;

#[derive(Debug, Clone, Copy)]
enum Src {
    /// `len` bytes at `off` in backing number `backing`.
    Mapped { backing: u32, off: usize },
    /// The next `len` bytes of the ring.
    Ring,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    len: usize,
    src: Src,
}

/// The kept window: `[start, start + len)` of the stream, as pieces in order.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    pieces: VecDeque<Piece>,
    ring: VecDeque<u8>,
    start: u64,
    len: usize,
}

/// The backings a table was given, with the newest one's place in memory noted
/// when it is added (no call through the `dyn AsRef` per delivered segment).
#[derive(Default)]
pub(crate) struct Backings {
    list: Vec<Backing>,
    /// The newest backing: its number, start address and length.
    newest: Option<(u32, usize, usize)>,
}

impl Backings {
    /// Adds `b`; slices of it are referred to from now on.
    pub(crate) fn add(&mut self, b: Backing) {
        let base: &[u8] = b.as_ref().as_ref();
        let (addr, len) = (base.as_ptr().addr(), base.len());
        self.newest = u32::try_from(self.list.len()).ok().map(|i| (i, addr, len));
        self.list.push(b);
    }

    fn get(&self, i: u32) -> Option<&[u8]> {
        let b = self.list.get(usize::try_from(i).ok()?)?;
        Some(b.as_ref().as_ref())
    }

    /// Where `data` lies in the newest backing: its number and offset.
    #[inline]
    fn locate(&self, data: &[u8]) -> Option<(u32, usize)> {
        let (i, b, len) = self.newest?;
        let off = data.as_ptr().addr().checked_sub(b)?;
        if off.checked_add(data.len())? > len {
            return None;
        }
        Some((i, off))
    }
}

impl Kept {
    /// Stream offset just past the last kept byte.
    pub(crate) fn end(&self) -> u64 {
        self.start + self.len as u64
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory it holds (for the reassembly memcap).
    pub(crate) fn footprint(&self) -> usize {
        self.ring.capacity() + self.pieces.capacity() * std::mem::size_of::<Piece>()
    }

    /// Forgets everything; the window restarts at `at`.
    pub(crate) fn clear_at(&mut self, at: u64) {
        self.pieces.clear();
        self.ring.clear();
        self.start = at;
        self.len = 0;
    }

    /// Forgets everything and gives back memory beyond `ring_cap` bytes of ring.
    pub(crate) fn reset(&mut self, ring_cap: usize) {
        self.clear_at(0);
        if self.ring.capacity() > ring_cap {
            self.ring.shrink_to(ring_cap);
        }
        if self.pieces.capacity() > ring_cap / MIN_REF {
            self.pieces.shrink_to(ring_cap / MIN_REF);
        }
    }

    /// Forgets everything (the window restarts at `at`) and gives back all memory.
    pub(crate) fn release_memory(&mut self, at: u64) {
        self.clear_at(at);
        self.ring.shrink_to_fit();
        self.pieces.shrink_to_fit();
    }

    /// Appends `data`, delivered at stream offset `at`, keeping at most `cap`
    /// bytes (the oldest go first).
    #[inline]
    pub(crate) fn push(&mut self, at: u64, data: &[u8], cap: usize, backings: &Backings) {
        let (at, data) = if data.len() > cap {
            let cut = data.len() - cap;
            (at + cut as u64, &data[cut..])
        } else {
            (at, data)
        };
        if self.len == 0 || self.end() != at || data.len() == cap {
            self.clear_at(at);
        }
        if data.is_empty() {
            return;
        }
        let mapped = if data.len() >= MIN_REF {
            backings.locate(data)
        } else {
            None
        };
        match mapped {
            Some((backing, off)) => self.pieces.push_back(Piece {
                len: data.len(),
                src: Src::Mapped { backing, off },
            }),
            None => {
                self.ring.extend(data);
                match self.pieces.back_mut() {
                    Some(Piece {
                        len,
                        src: Src::Ring,
                    }) => *len += data.len(),
                    _ => self.pieces.push_back(Piece {
                        len: data.len(),
                        src: Src::Ring,
                    }),
                }
            }
        }
        self.len += data.len();
        if self.len > cap {
            self.drop_front(self.len - cap);
        }
    }

    /// Forgets the bytes before stream offset `off` (acknowledged).
    pub(crate) fn trim_to(&mut self, off: u64) {
        if off > self.start {
            let n = usize::try_from(off - self.start).unwrap_or(usize::MAX);
            self.drop_front(n.min(self.len));
        }
    }

    fn drop_front(&mut self, mut n: usize) {
        if n >= self.len {
            let end = self.end();
            self.clear_at(end);
            return;
        }
        self.start += n as u64;
        self.len -= n;
        while n > 0 {
            let Some(p) = self.pieces.front_mut() else {
                break;
            };
            let take = n.min(p.len);
            if let Src::Ring = p.src {
                self.ring.drain(..take.min(self.ring.len()));
            }
            if take == p.len {
                self.pieces.pop_front();
            } else {
                p.len -= take;
                if let Src::Mapped { off, .. } = &mut p.src {
                    *off += take;
                }
            }
            n -= take;
        }
    }

    /// Whether the bytes of `[data_start, end)` in `data` (which begins at stream
    /// offset `data_start`) differ from the kept bytes where both exist. Bytes
    /// that can no longer be read back are not compared.
    pub(crate) fn differs(
        &self,
        data_start: u64,
        data: &[u8],
        end: u64,
        backings: &Backings,
    ) -> bool {
        let s = data_start.max(self.start);
        let e = end.min(self.end());
        if s >= e {
            return false;
        }
        let mut pos = self.start;
        let mut ring_pos = 0usize;
        for p in &self.pieces {
            let p_end = pos + p.len as u64;
            let (a, b) = (s.max(pos), e.min(p_end));
            if a < b {
                let in_piece = usize_of(a - pos)..usize_of(b - pos);
                let Some(new) = data.get(usize_of(a - data_start)..usize_of(b - data_start)) else {
                    return false;
                };
                let differs = match p.src {
                    Src::Mapped { backing, off } => backings
                        .get(backing)
                        .and_then(|base| base.get(off + in_piece.start..off + in_piece.end))
                        .is_some_and(|old| old != new),
                    Src::Ring => ring_differs(&self.ring, ring_pos + in_piece.start, new),
                };
                if differs {
                    return true;
                }
            }
            if let Src::Ring = p.src {
                ring_pos += p.len;
            }
            pos = p_end;
            if pos >= e {
                break;
            }
        }
        false
    }
}

fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Whether `new` differs from the ring's bytes from `at` (compared where the
/// ring has them, across its wrap point without copying).
fn ring_differs(ring: &VecDeque<u8>, at: usize, new: &[u8]) -> bool {
    let (a, b) = ring.as_slices();
    let first = a
        .get(at.min(a.len())..(at + new.len()).min(a.len()))
        .unwrap_or(&[]);
    let rest = new.len() - first.len();
    let from_b = at.saturating_sub(a.len());
    let second = b.get(from_b..(from_b + rest).min(b.len())).unwrap_or(&[]);
    let (n1, n2) = new.split_at(first.len());
    first != n1 || second != &n2[..second.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn backing(bytes: Vec<u8>) -> Backing {
        Arc::new(bytes)
    }

    #[test]
    fn mapped_and_copied_pieces_compare_byte_for_byte() {
        let file: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let bk = backing(file);
        let base: &[u8] = bk.as_ref().as_ref();
        let mut b = Backings::default();
        b.add(bk.clone());
        let mut k = Kept::default();
        // 100 bytes referred to, 10 copied (short), 200 referred to.
        k.push(0, &base[1000..1100], 1 << 16, &b);
        k.push(100, &[7u8; 10], 1 << 16, &b);
        k.push(110, &base[2000..2200], 1 << 16, &b);
        assert_eq!((k.start, k.end()), (0, 310));
        assert_eq!(k.pieces.len(), 3);
        assert_eq!(k.ring.len(), 10);
        // Same bytes: no difference, whatever the range.
        let mut same = base[1000..1100].to_vec();
        same.extend_from_slice(&[7u8; 10]);
        same.extend_from_slice(&base[2000..2200]);
        for (s, e) in [(0, 310), (50, 150), (105, 108), (300, 310)] {
            let d = &same[s..e];
            assert!(!k.differs(s as u64, d, e as u64, &b), "{s}..{e}");
        }
        // One byte changed in each piece is found.
        for at in [0usize, 99, 100, 109, 110, 309] {
            let mut d = same.clone();
            d[at] ^= 1;
            assert!(k.differs(0, &d, 310, &b), "changed at {at}");
            // ... and only when the compared range covers it.
            let lo = at.saturating_sub(5);
            assert!(k.differs(lo as u64, &d[lo..at + 1], at as u64 + 1, &b));
            if at > 0 {
                assert!(!k.differs(0, &d[..at], at as u64, &b));
            }
        }
    }

    #[test]
    fn trimming_and_the_cap_drop_the_oldest_bytes() {
        let file: Vec<u8> = (0..=255u8).cycle().take(8192).collect();
        let bk = backing(file);
        let base: &[u8] = bk.as_ref().as_ref();
        let mut b = Backings::default();
        b.add(bk.clone());
        let mut k = Kept::default();
        k.push(0, &base[0..1000], 1500, &b);
        k.push(1000, &[1u8; 20], 1500, &b);
        k.push(1020, &base[3000..4000], 1500, &b);
        // Capped at 1500: bytes before 520 are gone.
        assert_eq!((k.start, k.end()), (520, 2020));
        let mut d = base[520..1000].to_vec();
        d.extend_from_slice(&[1u8; 20]);
        d.extend_from_slice(&base[3000..4000]);
        assert!(!k.differs(520, &d, 2020, &b));
        // Acknowledged up to 1010: half the copied piece goes too.
        k.trim_to(1010);
        assert_eq!(k.start, 1010);
        assert_eq!(k.ring.len(), 10);
        assert!(!k.differs(1010, &d[490..], 2020, &b));
        let mut x = d[490..].to_vec();
        x[5] = 9;
        assert!(k.differs(1010, &x, 2020, &b));
        // A push that does not continue the window restarts it.
        k.push(5000, &base[0..100], 1500, &b);
        assert_eq!((k.start, k.end()), (5000, 5100));
        k.trim_to(u64::MAX);
        assert!(k.is_empty());
    }

    #[test]
    fn bytes_outside_the_backing_are_copied() {
        let mut b = Backings::default();
        b.add(backing(vec![0u8; 4096]));
        let elsewhere = vec![3u8; 500];
        let mut k = Kept::default();
        k.push(0, &elsewhere, 1 << 16, &b);
        assert_eq!(k.ring.len(), 500);
        assert!(!k.differs(0, &elsewhere, 500, &b));
        assert!(k.differs(0, &[4u8; 500], 500, &b));
        // No backing at all: copied too.
        let mut k = Kept::default();
        k.push(0, &elsewhere, 1 << 16, &Backings::default());
        assert_eq!(k.ring.len(), 500);
    }

    #[test]
    fn copied_bytes_compare_across_the_ring_wrap() {
        let mut k = Kept::default();
        let mut stream = Vec::new();
        let mut at = 0u64;
        let mut wrapped = 0;
        // Short pieces (copied), trimmed as acknowledged, so the ring wraps.
        for i in 0..200u32 {
            let piece: Vec<u8> = (0..40u32).map(|j| (i * 7 + j) as u8).collect();
            k.push(at, &piece, 1 << 16, &Backings::default());
            stream.extend_from_slice(&piece);
            at += 40;
            k.trim_to(at.saturating_sub(100));
            if k.ring.as_slices().1.is_empty() {
                continue;
            }
            wrapped += 1;
            let s = k.start;
            let tail = &stream[usize::try_from(s).unwrap()..];
            assert!(!k.differs(s, tail, at, &Backings::default()));
            for x in 0..tail.len() {
                let mut d = tail.to_vec();
                d[x] ^= 0x80;
                assert!(k.differs(s, &d, at, &Backings::default()), "changed at {x}");
            }
        }
        assert!(wrapped > 0, "the ring never wrapped");
    }
}
