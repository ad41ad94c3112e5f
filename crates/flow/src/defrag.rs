//! IPv4 and IPv6 defragmentation with target-based overlap resolution.
//!
//! A fragment is copied into its datagram's tracker; when the tracker holds the
//! offset-0 fragment, the last fragment and everything in between, the datagram is
//! rebuilt (header of the offset-0 fragment, fragment fields cleared, lengths and
//! IPv4 header checksum recomputed) and returned for decoding.

use crate::config::FlowConfig;
use crate::events::Counters;
use crate::segments::{PieceStore, len64};
use std::collections::BTreeMap;
use std::net::IpAddr;
use stormwatch_model::{Anomaly, AnomalyType, Endpoints, IpProto, Timestamp};
use stormwatch_wire::{DecodeAnomaly, Decoded, L3};

/// Largest IPv4 datagram / IPv6 payload.
const MAX_LEN: u64 = 65_535;
/// Accounted bytes of a tracker and its map entry, without its data.
const TRACKER_BYTES: u64 = 256;
/// Accounted bytes per held piece besides its data.
const PIECE_BYTES: u64 = 48;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FragKey {
    v6: bool,
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
    vlan: [u16; 2],
}

#[derive(Debug)]
struct Tracker {
    pieces: PieceStore,
    /// IPv4: the header of the offset-0 fragment. IPv6: the unfragmentable part with
    /// the next-header byte that named the fragment header rewritten.
    header: Option<Vec<u8>>,
    /// The link-layer bytes that preceded the offset-0 fragment's IP header in its
    /// frame (empty when unknown).
    link: Vec<u8>,
    /// Payload length, known from the last fragment.
    end: Option<u64>,
    last: Timestamp,
    frags: u32,
    overlap_reported: bool,
    accounted: u64,
    proto: u8,
}

impl Tracker {
    fn footprint(&self) -> u64 {
        let h = self.header.as_ref().map_or(0, |h| len64(h)) + len64(&self.link);
        let n = u64::try_from(self.pieces.len()).unwrap_or(u64::MAX);
        let b = u64::try_from(self.pieces.bytes()).unwrap_or(u64::MAX);
        TRACKER_BYTES + h + b + n * PIECE_BYTES
    }

    fn complete(&self) -> bool {
        let (Some(_), Some(end)) = (&self.header, self.end) else {
            return false;
        };
        let mut cursor = 0u64;
        for p in self.pieces.iter() {
            if p.start > cursor {
                return false;
            }
            cursor = cursor.max(p.end());
            if cursor >= end {
                return true;
            }
        }
        cursor >= end
    }
}

/// One fragment's facts, taken from a decoded packet.
struct Frag<'a> {
    key: FragKey,
    offset: u64,
    more: bool,
    /// Fragmentable data carried.
    data: Vec<&'a [u8]>,
    header: Option<Vec<u8>>,
    hdr_len: u64,
}

/// Walks an IPv6 header chain in `hdr` to the fragment header. Returns the
/// unfragmentable part (with the pointing next-header byte rewritten to `next`) and
/// the offset just past the fragment header, or the chain's end when the fragment
/// header is not inside `hdr`.
fn split_v6(hdr: &[u8], next: u8) -> Option<(Vec<u8>, usize, bool)> {
    let mut nh = *hdr.get(6)?;
    let mut nh_pos = 6usize;
    let mut pos = 40usize;
    loop {
        if nh == 44 {
            let mut unfrag = hdr.get(..pos)?.to_vec();
            *unfrag.get_mut(nh_pos)? = next;
            return Some((unfrag, pos + 8, pos + 8 <= hdr.len()));
        }
        if pos >= hdr.len() {
            return None;
        }
        let len = match nh {
            0 | 43 | 60 | 135 | 139 | 140 => (usize::from(*hdr.get(pos + 1)?) + 1) * 8,
            51 => (usize::from(*hdr.get(pos + 1)?) + 2) * 4,
            _ => return None,
        };
        nh = *hdr.get(pos)?;
        nh_pos = pos;
        pos += len;
    }
}

fn frag_of<'a>(pkt: &Decoded<'a>) -> Option<Frag<'a>> {
    match &pkt.l3 {
        L3::Ipv4(v) if v.is_fragment() => {
            let offset = u64::from(v.frag_offset);
            Some(Frag {
                key: FragKey {
                    v6: false,
                    src: IpAddr::V4(v.src),
                    dst: IpAddr::V4(v.dst),
                    id: u32::from(v.id),
                    proto: v.proto,
                    vlan: pkt.vlan,
                },
                offset,
                more: v.more_frags,
                data: vec![pkt.ip_payload],
                header: (offset == 0).then(|| pkt.ip_header.to_vec()),
                hdr_len: len64(pkt.ip_header),
            })
        }
        L3::Ipv6(v) => {
            let f = v.frag?;
            if f.offset == 0 && !f.more {
                return None; // atomic fragment: an ordinary packet
            }
            let (unfrag, past, inside) = split_v6(pkt.ip_header, f.next_header)?;
            let data: Vec<&[u8]> = if inside {
                vec![pkt.ip_header.get(past..).unwrap_or(&[]), pkt.ip_payload]
            } else {
                // The fragment header was not in the header bytes: it opens the payload
                // when its fields match, else the payload is the fragment data.
                let p = pkt.ip_payload;
                let opens = p.len() >= 8
                    && p[0] == f.next_header
                    && u32::from_be_bytes([p[4], p[5], p[6], p[7]]) == f.id;
                vec![if opens { &p[8..] } else { p }]
            };
            Some(Frag {
                key: FragKey {
                    v6: true,
                    src: IpAddr::V6(v.src),
                    dst: IpAddr::V6(v.dst),
                    id: f.id,
                    proto: f.next_header,
                    vlan: pkt.vlan,
                },
                offset: u64::from(f.offset),
                more: f.more,
                data,
                header: (f.offset == 0).then_some(unfrag),
                hdr_len: 0,
            })
        }
        _ => None,
    }
}

/// Is this packet an IP fragment the defragmenter must take?
pub(crate) fn is_fragment(pkt: &Decoded<'_>) -> bool {
    match &pkt.l3 {
        L3::Ipv4(v) => v.is_fragment(),
        L3::Ipv6(v) => v.frag.is_some_and(|f| f.offset != 0 || f.more),
        _ => false,
    }
}

/// Rebuilds the datagram of a complete tracker, after the offset-0 fragment's link
/// bytes. Returns the frame and the offset of its IP header.
fn rebuild(key: &FragKey, t: &Tracker) -> Option<(Vec<u8>, usize)> {
    let header = t.header.as_ref()?;
    let end = t.end?;
    let base = t.link.len();
    let mut out = Vec::with_capacity(base + header.len() + usize::try_from(end).ok()?);
    out.extend_from_slice(&t.link);
    out.extend_from_slice(header);
    let mut cursor = 0u64;
    for p in t.pieces.iter() {
        if cursor >= end {
            break;
        }
        let from = usize::try_from(cursor.checked_sub(p.start)?).ok()?;
        let to = usize::try_from(p.end().min(end) - p.start).ok()?;
        if from < to {
            out.extend_from_slice(p.data.get(from..to)?);
            cursor = p.end().min(end);
        }
    }
    let data_len = u64::try_from(out.len() - base - header.len()).ok()?;
    if key.v6 {
        let plen = u16::try_from(len64(header).checked_sub(40)? + data_len).ok()?;
        out.get_mut(base + 4..base + 6)?
            .copy_from_slice(&plen.to_be_bytes());
    } else {
        let total = u16::try_from(len64(header) + data_len).ok()?;
        out.get_mut(base + 2..base + 4)?
            .copy_from_slice(&total.to_be_bytes());
        let flags = *out.get(base + 6)? & 0xC0; // keep reserved and DF, clear MF and offset
        out.get_mut(base + 6..base + 8)?
            .copy_from_slice(&[flags, 0]);
        out.get_mut(base + 10..base + 12)?.copy_from_slice(&[0, 0]);
        let hl = header.len();
        let c = stormwatch_wire::checksum(out.get(base..base + hl)?);
        out.get_mut(base + 10..base + 12)?
            .copy_from_slice(&c.to_be_bytes());
    }
    Some((out, base))
}

/// The defragmenter: trackers keyed by (addresses, id, protocol, VLAN), in a
/// B-tree so timeouts are reported in a deterministic order.
#[derive(Debug, Default)]
pub(crate) struct Defragmenter {
    trackers: BTreeMap<FragKey, Tracker>,
    mem: u64,
    /// Engine anomalies already raised (bit 0 trackers, bit 1 memcap).
    once: u8,
}

fn endpoints(k: &FragKey) -> Endpoints {
    Endpoints {
        src: k.src,
        dst: k.dst,
        src_port: 0,
        dst_port: 0,
        proto: IpProto(if k.v6 { 44 } else { k.proto }),
    }
}

fn anomaly(
    ts: Timestamp,
    kind: AnomalyType,
    name: &'static str,
    k: &FragKey,
    detail: Option<String>,
) -> Anomaly {
    let mut a = Anomaly::new(ts, kind, name);
    a.endpoints = Some(endpoints(k));
    a.detail = detail;
    a
}

impl Defragmenter {
    /// Trackers open.
    pub fn len(&self) -> usize {
        self.trackers.len()
    }

    /// Takes one fragment (`link`: the link-layer bytes before its IP header, kept
    /// for the offset-0 fragment). Returns the rebuilt frame (the offset-0 fragment's
    /// link bytes, then the datagram) and the offset of its IP header when this
    /// fragment completed it.
    pub fn add(
        &mut self,
        ts: Timestamp,
        pkt: &Decoded<'_>,
        link: &[u8],
        cfg: &FlowConfig,
        c: &mut Counters,
        out: &mut dyn FnMut(Anomaly),
    ) -> Option<(Vec<u8>, usize)> {
        let Some(f) = frag_of(pkt) else {
            c.defrag_invalid += 1;
            return None;
        };
        let v6 = f.key.v6;
        if v6 {
            c.defrag_v6_fragments += 1;
        } else {
            c.defrag_v4_fragments += 1;
        }
        let len: u64 = f.data.iter().map(|d| len64(d)).sum();
        let end = f.offset + len;
        if end + f.hdr_len > MAX_LEN || (v6 && end > MAX_LEN) {
            c.defrag_too_large += 1;
            let (name, seen) = if v6 {
                (
                    "decoder.ipv6.frag_pkt_too_large",
                    DecodeAnomaly::Ipv6FragPktTooLarge,
                )
            } else {
                (
                    "decoder.ipv4.frag_pkt_too_large",
                    DecodeAnomaly::Ipv4FragPktTooLarge,
                )
            };
            // The decoder reports it already when it noticed; do not say it twice.
            if !pkt.anomalies.contains(seen) {
                let detail = Some(format!("fragment ends at {end}"));
                out(anomaly(ts, AnomalyType::Decode, name, &f.key, detail));
            }
            return None;
        }
        if f.more && !len.is_multiple_of(8) {
            c.defrag_invalid += 1;
        }
        // An expired tracker for the same key is dropped before reuse.
        let timeout = i64::from(cfg.defrag_timeout_secs);
        if let Some(t) = self.trackers.get(&f.key)
            && t.last.add_secs(timeout) <= ts
        {
            self.expire(&f.key.clone(), ts, c, out);
        }
        let is_new = !self.trackers.contains_key(&f.key);
        if is_new && self.trackers.len() >= cfg.defrag_max_trackers {
            c.defrag_max_trackers += 1;
            if self.once & 1 == 0 {
                self.once |= 1;
                let mut a = Anomaly::new(ts, AnomalyType::Engine, "defrag.max_trackers_reached");
                a.detail = Some(format!(
                    "{} datagrams in reassembly",
                    cfg.defrag_max_trackers
                ));
                out(a);
            }
            return None;
        }
        // Estimated growth: the data, a piece, the header and (new) the tracker.
        let hdr = f.header.as_ref().map_or(0, |h| len64(h) + len64(link));
        let fixed = if is_new { TRACKER_BYTES } else { 0 };
        let need = len + PIECE_BYTES + hdr + fixed;
        if self.mem.saturating_add(need) > cfg.defrag_memcap_bytes {
            c.defrag_memcap += 1;
            if self.once & 2 == 0 {
                self.once |= 2;
                let mut a = Anomaly::new(ts, AnomalyType::Engine, "defrag.memcap_reached");
                a.detail = Some(format!(
                    "{} of {} bytes held",
                    self.mem, cfg.defrag_memcap_bytes
                ));
                out(a);
            }
            return None;
        }
        if is_new {
            self.trackers.insert(
                f.key.clone(),
                Tracker {
                    pieces: PieceStore::default(),
                    header: None,
                    link: Vec::new(),
                    end: None,
                    last: ts,
                    frags: 0,
                    overlap_reported: false,
                    accounted: 0,
                    proto: f.key.proto,
                },
            );
        }
        let t = self.trackers.get_mut(&f.key)?;
        if t.frags >= cfg.defrag_max_fragments {
            c.defrag_max_frags += 1;
            return None;
        }
        t.frags += 1;
        t.last = t.last.max(ts);
        if t.header.is_none() && f.header.is_some() {
            t.header = f.header;
            t.link = link.to_vec();
        }
        if !f.more && t.end.is_none() {
            t.end = Some(end);
            t.pieces.truncate_from(end);
        }
        let limit = t.end.unwrap_or(u64::MAX);
        let policy = cfg.defrag_policy;
        let mut at = f.offset;
        let mut overlapped = false;
        let mut different = false;
        let orig_e = end;
        for part in &f.data {
            let part_end = at + len64(part);
            let keep = usize::try_from(limit.saturating_sub(at))
                .unwrap_or(usize::MAX)
                .min(part.len());
            if keep > 0 {
                let r = t
                    .pieces
                    .insert(at, &part[..keep], f.offset, orig_e, |a, b, c2, d| {
                        policy.ip_new_wins(a, b, c2, d)
                    });
                overlapped |= r.overlapped;
                different |= r.different;
            }
            at = part_end;
        }
        if overlapped {
            c.defrag_overlap += 1;
            if different {
                c.defrag_overlap_diff += 1;
            }
            if !t.overlap_reported {
                t.overlap_reported = true;
                let name = if v6 {
                    "decoder.ipv6.frag_overlap"
                } else {
                    "decoder.ipv4.frag_overlap"
                };
                let detail = if different {
                    "overlapping fragments with different data"
                } else {
                    "overlapping fragments with the same data"
                };
                out(anomaly(
                    ts,
                    AnomalyType::Decode,
                    name,
                    &f.key,
                    Some(detail.into()),
                ));
            }
        }
        let now = t.footprint();
        self.mem = self.mem.saturating_sub(t.accounted).saturating_add(now);
        t.accounted = now;
        if t.complete() {
            let t = self.trackers.remove(&f.key)?;
            self.mem = self.mem.saturating_sub(t.accounted);
            c.defrag_memuse = self.mem;
            let d = rebuild(&f.key, &t);
            if d.is_some() {
                if v6 {
                    c.defrag_v6_reassembled += 1;
                } else {
                    c.defrag_v4_reassembled += 1;
                }
            }
            return d;
        }
        c.defrag_memuse = self.mem;
        None
    }

    fn expire(
        &mut self,
        k: &FragKey,
        ts: Timestamp,
        c: &mut Counters,
        out: &mut dyn FnMut(Anomaly),
    ) {
        if let Some(t) = self.trackers.remove(k) {
            self.mem = self.mem.saturating_sub(t.accounted);
            c.defrag_memuse = self.mem;
            let name = if k.v6 {
                c.defrag_v6_timeouts += 1;
                "defrag.ipv6.timeout"
            } else {
                c.defrag_v4_timeouts += 1;
                "defrag.ipv4.timeout"
            };
            let detail = format!(
                "{} fragment(s) of protocol {} never completed",
                t.frags, t.proto
            );
            out(anomaly(ts, AnomalyType::Stream, name, k, Some(detail)));
        }
    }

    /// Drops trackers idle for the timeout, in key order.
    pub fn sweep(
        &mut self,
        now: Timestamp,
        cfg: &FlowConfig,
        c: &mut Counters,
        out: &mut dyn FnMut(Anomaly),
    ) {
        if self.trackers.is_empty() {
            return;
        }
        let timeout = i64::from(cfg.defrag_timeout_secs);
        let expired: Vec<FragKey> = self
            .trackers
            .iter()
            .filter(|(_, t)| t.last.add_secs(timeout) <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.expire(&k, now, c, out);
        }
    }

    /// End of input: drops every incomplete datagram (counted).
    pub fn finish(&mut self, c: &mut Counters) {
        c.defrag_incomplete_at_end += u64::try_from(self.trackers.len()).unwrap_or(u64::MAX);
        self.trackers.clear();
        self.mem = 0;
        c.defrag_memuse = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_chain_split_finds_fragment_header() {
        // Fixed header (next = 0 hop-by-hop), hop-by-hop (next = 44, len 0), fragment header.
        let mut h = vec![0u8; 40];
        h[0] = 0x60;
        h[6] = 0;
        h.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        h.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 9]);
        let (unfrag, past, inside) = split_v6(&h, 17).unwrap();
        assert_eq!(unfrag.len(), 48);
        assert_eq!(unfrag[40], 17);
        assert_eq!(past, 56);
        assert!(inside);
    }
}
