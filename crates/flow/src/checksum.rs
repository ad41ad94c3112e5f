//! TCP checksum validation (the Auto mode state); the checksum itself is
//! [`stormwatch_wire::tcp_checksum_ok`].

use crate::config::{ChecksumMode, FlowConfig};
use crate::events::Counters;
use stormwatch_wire::{Decoded, tcp_checksum_ok};

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
    #[inline]
    pub fn segment_invalid(&mut self, cfg: &FlowConfig, d: &Decoded<'_>, c: &mut Counters) -> bool {
        // Inlined where it is called: validation off, or switched off for the run
        // (`Auto` on a capture from a host with checksum offload), costs nothing.
        match cfg.checksum {
            ChecksumMode::Off => false,
            ChecksumMode::Auto if self.disabled => false,
            _ => self.check(cfg, d, c),
        }
    }

    fn check(&mut self, cfg: &FlowConfig, d: &Decoded<'_>, c: &mut Counters) -> bool {
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
                    let bad = u64::from(self.bad) * 100;
                    let sample = u64::from(cfg.checksum_auto_sample_packets);
                    let pct = u64::from(cfg.checksum_auto_bad_percent);
                    // More bad segments than the share allowed of the whole sample: the
                    // outcome is certain already, so decide now rather than after the
                    // sample (a small capture from an offloading host is then usable).
                    let certain = bad > sample * pct;
                    if certain || self.checked >= cfg.checksum_auto_sample_packets {
                        self.decided = true;
                        if bad > u64::from(self.checked) * pct || certain {
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
    fn auto_mode_disables_after_sample_with_many_bad() {
        // A TCP segment with a wrong checksum: raw IPv4 + TCP, checksum field left 0.
        let pkt = [
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0,
            80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ];
        let d = stormwatch_wire::decode_ip(&pkt);
        assert_eq!(tcp_checksum_ok(&d), Some(false));
        let cfg = FlowConfig {
            checksum_auto_sample_packets: 100,
            ..FlowConfig::default()
        };
        let mut st = ChecksumState::default();
        let mut c = Counters::default();
        // 10% of a 100-segment sample may be bad: the first ten are dropped...
        for _ in 0..10 {
            assert!(st.segment_invalid(&cfg, &d, &mut c));
        }
        // ...the eleventh makes the outcome certain: validation stops at once.
        assert!(!st.segment_invalid(&cfg, &d, &mut c));
        assert!(!st.segment_invalid(&cfg, &d, &mut c));
        assert_eq!(c.tcp_checksum_disabled, 1);
        let on = FlowConfig {
            checksum: ChecksumMode::On,
            ..FlowConfig::default()
        };
        assert!(ChecksumState::default().segment_invalid(&on, &d, &mut c));
        let off = FlowConfig {
            checksum: ChecksumMode::Off,
            ..FlowConfig::default()
        };
        assert!(!ChecksumState::default().segment_invalid(&off, &d, &mut c));
    }
}
