//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 793 / RFC 1982).

use std::cmp::Ordering;
use std::fmt;

/// A TCP sequence (or acknowledgement) number.
///
/// Arithmetic wraps at 2^32 and comparison is modular: `a < b` when `b` lies within
/// the 2^31 values that follow `a`. This is the only sound order on sequence space,
/// and it is not a total order (values exactly 2^31 apart compare as neither), so the
/// type implements [`PartialOrd`] only.
///
/// ```
/// use stormwatch_flow::SeqNumber;
/// let a = SeqNumber(u32::MAX - 1);
/// let b = a + 5; // wraps
/// assert_eq!(b, SeqNumber(3));
/// assert!(a < b);
/// assert_eq!(b - a, 5);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance `self - other` in sequence space, in `-2^31 ..= 2^31 - 1`.
    pub fn distance(self, other: SeqNumber) -> i32 {
        // Reinterpreting the wrapped difference as two's complement is exactly the
        // modular distance; this is a bit cast, not a narrowing of a traffic value.
        i32::from_ne_bytes(self.0.wrapping_sub(other.0).to_ne_bytes())
    }

    /// The later of two sequence numbers (modular order; `self` on a tie).
    pub fn max_mod(self, other: SeqNumber) -> SeqNumber {
        if other.distance(self) > 0 {
            other
        } else {
            self
        }
    }
}

impl std::ops::Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl std::ops::Sub for SeqNumber {
    type Output = i32;
    /// Signed modular distance, as [`SeqNumber::distance`].
    fn sub(self, rhs: SeqNumber) -> i32 {
        self.distance(rhs)
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        let d = self.distance(*other);
        if d == i32::MIN {
            // Exactly half the space apart: neither is before the other.
            None
        } else {
            Some(d.cmp(&0))
        }
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_wraps() {
        let a = SeqNumber(0xFFFF_FFF0);
        let b = SeqNumber(0x10);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 0x20);
        assert_eq!(a - b, -0x20);
        assert_eq!(a.max_mod(b), b);
        assert_eq!(b.max_mod(a), b);
    }

    #[test]
    fn half_space_is_unordered() {
        let a = SeqNumber(0);
        let b = SeqNumber(0x8000_0000);
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(a.partial_cmp(&a), Some(Ordering::Equal));
    }
}
