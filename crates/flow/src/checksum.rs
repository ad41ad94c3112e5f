//! TCP checksum validation with the Auto mode state.

use crate::config::{ChecksumMode, FlowConfig};
use crate::events::Counters;
use stormwatch_wire::{DecodeAnomaly, Decoded, L3, L4};

fn add(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        if let [a, b, c, d] = *c {
            acc += u64::from(u32::from_be_bytes([a, b, c, d]));
        }
    }
    match *chunks.remainder() {
        [a] => acc += u64::from(a) << 8,
        [a, b] => acc += u64::from(u16::from_be_bytes([a, b])),
        [a, b, c] => acc += u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        _ => {}
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    u16::try_from(acc).unwrap_or(0xffff)
}

/// Internet checksum of `data` (value for a zeroed checksum field).
pub(crate) fn internet_checksum(data: &[u8]) -> u16 {
    !fold(add(data, 0))
}

/// Whether the TCP checksum of the innermost segment is right; `None` when the whole
/// segment is not there (fragment, snaplen cut, lying length field).
pub(crate) fn tcp_checksum_ok(d: &Decoded<'_>) -> Option<bool> {
    if !matches!(d.l4, L4::Tcp(_)) {
        return None;
    }
    if d.anomalies.contains(DecodeAnomaly::CaptureTruncated)
        || d.anomalies.contains(DecodeAnomaly::Ipv4TruncPkt)
        || d.anomalies.contains(DecodeAnomaly::Ipv6TruncPkt)
    {
        return None;
    }
    let seg = d.ip_payload;
    let len = u64::try_from(seg.len()).ok()?;
    let acc = match &d.l3 {
        L3::Ipv4(v) => {
            if v.is_fragment() {
                return None;
            }
            let expect = usize::from(v.total_len).checked_sub(usize::from(v.header_len))?;
            if seg.len() != expect {
                return None;
            }
            add(&v.dst.octets(), add(&v.src.octets(), 0)) + 6 + len
        }
        L3::Ipv6(v) => {
            if v.frag.is_some() {
                return None;
            }
            add(&v.dst.octets(), add(&v.src.octets(), 0)) + 6 + len
        }
        _ => return None,
    };
    if seg.len() < 20 {
        return None;
    }
    Some(fold(add(seg, acc)) == 0xffff)
}

/// Checksum validation state (Auto mode decides once).
#[derive(Debug, Default)]
pub(crate) struct ChecksumState {
    checked: u32,
    bad: u32,
    decided: bool,
    disabled: bool,
}

impl ChecksumState {
    /// True when this TCP segment must be treated as invalid (bad checksum while
    /// validation is on).
    pub fn segment_invalid(&mut self, cfg: &FlowConfig, d: &Decoded<'_>, c: &mut Counters) -> bool {
        match cfg.checksum {
            ChecksumMode::Off => false,
            ChecksumMode::On => {
                let r = tcp_checksum_ok(d);
                if r.is_some() {
                    c.tcp_checksum_checked += 1;
                }
                let bad = r == Some(false);
                if bad {
                    c.tcp_checksum_invalid += 1;
                }
                bad
            }
            ChecksumMode::Auto => {
                if self.disabled {
                    return false;
                }
                let Some(ok) = tcp_checksum_ok(d) else {
                    return false;
                };
                c.tcp_checksum_checked += 1;
                if !ok {
                    c.tcp_checksum_invalid += 1;
                }
                if !self.decided {
                    self.checked += 1;
                    if !ok {
                        self.bad += 1;
                    }
                    if self.checked >= cfg.checksum_auto_sample_packets {
                        self.decided = true;
                        let bad = u64::from(self.bad) * 100;
                        let limit =
                            u64::from(self.checked) * u64::from(cfg.checksum_auto_bad_percent);
                        if bad > limit {
                            self.disabled = true;
                            c.tcp_checksum_disabled = 1;
                            return false;
                        }
                    }
                }
                !ok
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_known_header() {
        // RFC 1071 style example: IPv4 header from a well-known capture.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&hdr), 0xb861);
    }
}
