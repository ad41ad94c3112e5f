//! Rule groups by direction, server port and `$HOME_NET` membership of the
//! endpoints (Suricata's signature group heads), and an address index for the
//! rules that name specific hosts.
//!
//! A packet, stream chunk or transaction selects one group from four facts
//! ([`Sel`]): the direction it travels, the server's port (the destination
//! port to the server, the source port to the client), and whether its source
//! and destination are in `$HOME_NET`. The group holds every rule that can
//! match with those facts — a superset: the full header check runs on each
//! candidate. Groups with the same rules are one group, and a group's filter is
//! built on first use, so loading stays quick.

use crate::header::{AddrSet, PortSet};
use crate::prefilter::{FlagsOf, Group, Key};
use crate::rule::{Rule, Side};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::sync::OnceLock;
use stormwatch_model::Direction;

/// What selects a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sel {
    /// Direction the data travels.
    pub(crate) dir: Direction,
    /// The server's port (0 without ports).
    pub(crate) port: u16,
    /// The source is in `$HOME_NET`.
    pub(crate) src_home: bool,
    /// The destination is in `$HOME_NET`.
    pub(crate) dst_home: bool,
}

impl Sel {
    fn combo(&self) -> usize {
        (usize::from(self.src_home) << 1) | usize::from(self.dst_home)
    }
}

/// True when a rule side of class `c` can hold an address whose home-ness is `home`.
fn side_ok(c: Side, home: bool) -> bool {
    match c {
        Side::Any | Side::Other => true,
        Side::Home => home,
        Side::NotHome => !home,
    }
}

/// True when `r` may match data travelling in `dir` between endpoints of
/// that home-ness (either orientation for `<>` rules).
fn header_may_match(r: &Rule, dir: Direction, src_home: bool, dst_home: bool) -> bool {
    let dir_ok = match dir {
        Direction::ToServer => !r.flow.to_client,
        Direction::ToClient => !r.flow.to_server,
    };
    if !dir_ok {
        return false;
    }
    let fwd = side_ok(r.src_class, src_home) && side_ok(r.dst_class, dst_home);
    fwd || (r.bidir && side_ok(r.src_class, dst_home) && side_ok(r.dst_class, src_home))
}

/// The ports of `r` that can be the server's port for data in `dir`.
fn server_ports(r: &Rule, dir: Direction) -> std::borrow::Cow<'_, PortSet> {
    let (a, b) = match dir {
        Direction::ToServer => (&r.dp, &r.sp),
        Direction::ToClient => (&r.sp, &r.dp),
    };
    if r.bidir {
        std::borrow::Cow::Owned(a.union(b))
    } else {
        std::borrow::Cow::Borrowed(a)
    }
}

/// The id of list `v` in `lists`, added when new (`interned` maps each
/// list held to its id; a list is allocated only when it is new).
fn intern_list(
    lists: &mut Vec<Vec<u32>>,
    interned: &mut FxHashMap<Vec<u32>, u32>,
    v: &[u32],
) -> u32 {
    if let Some(&id) = interned.get(v) {
        return id;
    }
    let id = u32::try_from(lists.len()).unwrap_or(u32::MAX);
    lists.push(v.to_vec());
    interned.insert(v.to_vec(), id);
    id
}

/// Port intervals → group ids for one (direction, home combination).
#[derive(Debug, Default)]
struct PortMap {
    /// Start of each interval (sorted; the first is 0).
    starts: Vec<u16>,
    /// Group id of each interval.
    ids: Vec<u32>,
}

impl PortMap {
    fn get(&self, port: u16) -> Option<u32> {
        let i = self.starts.partition_point(|&s| s <= port);
        self.ids.get(i.checked_sub(1)?).copied()
    }
}

/// One inspection engine's rules, grouped (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Engine {
    /// [direction][home combination] → port map.
    maps: [[PortMap; 4]; 2],
    /// Group id → (rules for any port, rules for this port interval) list ids.
    parts: Vec<(u32, u32)>,
    /// Interned sorted rule lists.
    lists: Vec<Vec<u32>>,
    groups: Vec<OnceLock<Group>>,
    /// Prefilter key of each member rule.
    keys: FxHashMap<u32, Key>,
    /// Accepted TCP flag bytes of each member rule without a key (TCP packet engines).
    flags: Option<FxHashMap<u32, [u64; 4]>>,
    /// Rules without a key that name specific hosts: looked up by address
    /// instead of being evaluated in every group.
    indexed: AddrIndex,
    members: usize,
}

impl Engine {
    /// Groups `members` (rule index, prefilter key). `flags_of` splits the
    /// rules without a key by the TCP flags they accept (TCP packet engines).
    pub(crate) fn build(
        rules: &[Rule],
        members: &[(u32, Option<&Key>)],
        flags_of: Option<FlagsOf<'_>>,
    ) -> Engine {
        let mut e = Engine {
            members: members.len(),
            ..Engine::default()
        };
        if members.is_empty() {
            return e;
        }
        for &(r, k) in members {
            if let Some(k) = k {
                e.keys.insert(r, k.clone());
            }
        }
        // Keyless rules naming specific hosts go to the address index.
        let names_hosts = |ri: u32| {
            rules
                .get(ri as usize)
                .is_some_and(|r| r.src_class == Side::Other || r.dst_class == Side::Other)
        };
        let by_addr: Vec<u32> = members
            .iter()
            .filter(|m| m.1.is_none() && names_hosts(m.0))
            .map(|m| m.0)
            .collect();
        e.indexed = AddrIndex::build(rules, &by_addr);
        let members: Vec<(u32, Option<&Key>)> = members
            .iter()
            .filter(|m| !(m.1.is_none() && names_hosts(m.0)))
            .copied()
            .collect();
        let members = &members[..];
        if let Some(f) = flags_of {
            e.flags = Some(
                members
                    .iter()
                    .filter(|m| m.1.is_none())
                    .map(|m| (m.0, f(m.0)))
                    .collect(),
            );
        }
        // A list is allocated only when it is new (a port map of all ET
        // rules looks up ≈ 10^4 points with few distinct sets).
        let mut interned: FxHashMap<Vec<u32>, u32> = FxHashMap::default();
        let mut part_ids: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        for (di, dir) in [Direction::ToServer, Direction::ToClient]
            .into_iter()
            .enumerate()
        {
            for combo in 0..4usize {
                let (src_home, dst_home) = (combo & 2 != 0, combo & 1 != 0);
                let mut any = Vec::new();
                // (port, +1 / -1, rule)
                let mut events: Vec<(u32, i8, u32)> = Vec::new();
                for &(ri, _) in members {
                    let Some(r) = rules.get(ri as usize) else {
                        continue;
                    };
                    if !header_may_match(r, dir, src_home, dst_home) {
                        continue;
                    }
                    let ports = server_ports(r, dir);
                    if ports.is_full() {
                        any.push(ri);
                        continue;
                    }
                    for &(a, b) in &ports.ranges {
                        events.push((u32::from(a), 1, ri));
                        events.push((u32::from(b) + 1, -1, ri));
                    }
                }
                any.sort_unstable();
                let any_id = intern_list(&mut e.lists, &mut interned, &any);
                events.sort_unstable();
                let mut active: Vec<u32> = Vec::new();
                let mut map = PortMap::default();
                let mut i = 0;
                let mut port = 0u32;
                loop {
                    while let Some(&(p, d, ri)) = events.get(i) {
                        if p != port {
                            break;
                        }
                        if d > 0 {
                            if let Err(pos) = active.binary_search(&ri) {
                                active.insert(pos, ri);
                            }
                        } else if let Ok(pos) = active.binary_search(&ri) {
                            active.remove(pos);
                        }
                        i += 1;
                    }
                    if port > u32::from(u16::MAX) {
                        break;
                    }
                    let spec_id = intern_list(&mut e.lists, &mut interned, &active);
                    let next = part_ids.len();
                    let gid = *part_ids
                        .entry((any_id, spec_id))
                        .or_insert(u32::try_from(next).unwrap_or(u32::MAX));
                    if map.ids.last() != Some(&gid) {
                        map.starts.push(u16::try_from(port).unwrap_or(u16::MAX));
                        map.ids.push(gid);
                    }
                    match events.get(i) {
                        Some(&(p, _, _)) => port = p,
                        None => break,
                    }
                }
                e.maps[di][combo] = map;
            }
        }
        let mut parts: Vec<((u32, u32), u32)> = part_ids.into_iter().collect();
        parts.sort_unstable_by_key(|p| p.1);
        e.parts = parts.into_iter().map(|p| p.0).collect();
        e.groups = (0..e.parts.len()).map(|_| OnceLock::new()).collect();
        e
    }

    /// True when the engine holds no rule.
    pub(crate) fn is_empty(&self) -> bool {
        self.members == 0
    }

    /// True when some keyless rule is indexed by address.
    pub(crate) fn is_indexed(&self) -> bool {
        !self.indexed.is_empty()
    }

    /// The keyless rules indexed by address (with repeats).
    pub(crate) fn indexed_rules(&self) -> impl Iterator<Item = u32> + '_ {
        self.indexed.rules()
    }

    /// Appends the keyless rules naming `src` or `dst` (see [`AddrIndex`]).
    pub(crate) fn indexed_candidates(&self, src: IpAddr, dst: IpAddr, out: &mut Vec<u32>) {
        self.indexed.candidates(src, dst, out);
    }

    /// The group for `sel` (None when no rule can match).
    pub(crate) fn lookup(&self, sel: &Sel) -> Option<&Group> {
        self.group(self.lookup_id(sel)?)
    }

    /// The id of the group `sel` selects (its rules may be none); stable for
    /// the rule set's life, so a flow direction can keep it (see
    /// [`Engine::group`]).
    pub(crate) fn lookup_id(&self, sel: &Sel) -> Option<u32> {
        if self.groups.is_empty() {
            return None;
        }
        let map = self.maps.get(sel.dir.index())?.get(sel.combo())?;
        map.get(sel.port)
    }

    /// Group `gid` (built on first use), None when it holds no rules.
    #[inline]
    pub(crate) fn group(&self, gid: u32) -> Option<&Group> {
        let gid = gid as usize;
        let cell = self.groups.get(gid)?;
        let g = cell.get_or_init(|| self.build_group(gid));
        (!g.is_empty()).then_some(g)
    }

    fn build_group(&self, gid: usize) -> Group {
        let Some(&(a, b)) = self.parts.get(gid) else {
            return Group::default();
        };
        let empty = Vec::new();
        let la = self.lists.get(a as usize).unwrap_or(&empty);
        let lb = self.lists.get(b as usize).unwrap_or(&empty);
        let mut rules: Vec<u32> = la.iter().chain(lb).copied().collect();
        rules.sort_unstable();
        rules.dedup();
        let members: Vec<(u32, Option<&Key>)> =
            rules.iter().map(|r| (*r, self.keys.get(r))).collect();
        match &self.flags {
            Some(fl) => {
                let f = |r: u32| fl.get(&r).copied().unwrap_or([u64::MAX; 4]);
                Group::build(&members, Some(&f))
            }
            None => Group::build(&members, None),
        }
    }

    /// (distinct groups, member rules, groups built so far).
    pub(crate) fn stats(&self) -> (usize, usize, usize) {
        (
            self.groups.len(),
            self.members,
            self.groups.iter().filter(|g| g.get().is_some()).count(),
        )
    }

    /// Builds every group (for statistics and tests).
    pub(crate) fn all_groups(&self) -> Vec<&Group> {
        (0..self.groups.len())
            .filter_map(|gid| {
                self.groups
                    .get(gid)
                    .map(|c| c.get_or_init(|| self.build_group(gid)))
            })
            .collect()
    }
}

/// Sorted, disjoint address intervals → interned rule lists.
#[derive(Debug, Default)]
struct IntervalMap<T> {
    starts: Vec<T>,
    ids: Vec<u32>,
    /// For maps of more than [`COARSE_MIN`] intervals: for each value of an
    /// address's top [`COARSE_BITS`] bits, the index of the first start at
    /// or above it (`2^COARSE_BITS + 1` entries), so a lookup searches only
    /// the starts sharing its top bits (ET's address lists hold thousands of
    /// intervals; a full binary search per packet missed the cache).
    coarse: Vec<u32>,
}

/// Top bits of an address indexing [`IntervalMap::coarse`].
const COARSE_BITS: u32 = 12;
/// Smaller interval maps are searched whole.
const COARSE_MIN: usize = 64;

impl<T: Copy + Ord + num_step::Step> IntervalMap<T> {
    fn get(&self, x: T) -> Option<u32> {
        let (lo, hi) = match self.coarse.get(x.top(COARSE_BITS)..) {
            Some([lo, hi, ..]) => (*lo as usize, *hi as usize),
            _ => (0, self.starts.len()),
        };
        let i = lo + self.starts.get(lo..hi)?.partition_point(|&s| s <= x);
        self.ids.get(i.checked_sub(1)?).copied()
    }

    /// Builds [`IntervalMap::coarse`] for a large map.
    fn index(&mut self) {
        if self.starts.len() <= COARSE_MIN {
            return;
        }
        self.coarse = (0..=1usize << COARSE_BITS)
            .map(|b| {
                let i = self.starts.partition_point(|s| s.top(COARSE_BITS) < b);
                u32::try_from(i).unwrap_or(u32::MAX)
            })
            .collect();
    }
}

/// Rules that name specific hosts (not `any`, `$HOME_NET` or its complement),
/// indexed by those addresses; the others are listed plainly.
#[derive(Debug, Default)]
pub(crate) struct AddrIndex {
    /// Rules checked on every input.
    pub(crate) plain: Vec<u32>,
    /// [by source, by destination, by either address] (`<>` rules).
    v4: [IntervalMap<u32>; 3],
    v6: [IntervalMap<u128>; 3],
    lists: Vec<Vec<u32>>,
}

/// Which endpoint an index keys on.
#[derive(Clone, Copy)]
enum IxKey {
    Src,
    Dst,
    Either,
}

impl AddrIndex {
    /// Indexes `members` (sorted rule indices) by their specific address side.
    pub(crate) fn build(rules: &[Rule], members: &[u32]) -> AddrIndex {
        let mut ix = AddrIndex::default();
        let mut keyed: [Vec<(u32, &AddrSet)>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for &ri in members {
            let Some(r) = rules.get(ri as usize) else {
                continue;
            };
            let (k, set) = match (r.src_class, r.dst_class) {
                (_, Side::Other) => (IxKey::Dst, &r.dst),
                (Side::Other, _) => (IxKey::Src, &r.src),
                _ => {
                    ix.plain.push(ri);
                    continue;
                }
            };
            let k = if r.bidir { IxKey::Either } else { k };
            keyed[k as usize].push((ri, set));
        }
        ix.plain.sort_unstable();
        let mut interned: FxHashMap<Vec<u32>, u32> = FxHashMap::default();
        for (ki, list) in keyed.iter().enumerate() {
            let v4: Vec<(u32, u32, u32)> = list
                .iter()
                .flat_map(|(ri, s)| s.v4.ranges.iter().map(move |&(a, b)| (a, b, *ri)))
                .collect();
            ix.v4[ki] = sweep(&v4, &mut ix.lists, &mut interned);
            let v6: Vec<(u128, u128, u32)> = list
                .iter()
                .flat_map(|(ri, s)| s.v6.ranges.iter().map(move |&(a, b)| (a, b, *ri)))
                .collect();
            ix.v6[ki] = sweep(&v6, &mut ix.lists, &mut interned);
        }
        ix
    }

    /// True when no rule is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.lists.iter().all(Vec::is_empty)
    }

    /// Every rule held (with repeats).
    pub(crate) fn rules(&self) -> impl Iterator<Item = u32> + '_ {
        self.plain
            .iter()
            .chain(self.lists.iter().flatten())
            .copied()
    }

    /// True when some rule may match a packet from `src` to `dst`
    /// ([`AddrIndex::candidates`] would add one).
    pub(crate) fn any(&self, src: IpAddr, dst: IpAddr) -> bool {
        !self.plain.is_empty() || self.lookups(src, dst).any(|l| !l.is_empty())
    }

    /// Appends the rules that may match a packet from `src` to `dst`.
    pub(crate) fn candidates(&self, src: IpAddr, dst: IpAddr, out: &mut Vec<u32>) {
        out.extend_from_slice(&self.plain);
        for l in self.lookups(src, dst) {
            out.extend_from_slice(l);
        }
    }

    /// The rule lists the indexes give `src` and `dst`.
    fn lookups(&self, src: IpAddr, dst: IpAddr) -> impl Iterator<Item = &[u32]> + '_ {
        [
            (IxKey::Src, [Some(src), None]),
            (IxKey::Dst, [Some(dst), None]),
            (IxKey::Either, [Some(src), Some(dst)]),
        ]
        .into_iter()
        .flat_map(move |(k, addrs)| {
            addrs.into_iter().flatten().filter_map(move |a| {
                let id = match a {
                    IpAddr::V4(v) => self.v4[k as usize].get(u32::from(v)),
                    IpAddr::V6(v) => match v.to_ipv4_mapped() {
                        Some(v4) => self.v4[k as usize].get(u32::from(v4)),
                        None => self.v6[k as usize].get(u128::from(v)),
                    },
                };
                id.and_then(|i| self.lists.get(i as usize))
                    .map(Vec::as_slice)
            })
        })
    }
}

/// Builds an interval map from (start, end inclusive, rule) ranges.
fn sweep<T>(
    ranges: &[(T, T, u32)],
    lists: &mut Vec<Vec<u32>>,
    interned: &mut FxHashMap<Vec<u32>, u32>,
) -> IntervalMap<T>
where
    T: Copy + Ord + num_step::Step,
{
    let mut map = IntervalMap {
        starts: Vec::new(),
        ids: Vec::new(),
        coarse: Vec::new(),
    };
    if ranges.is_empty() {
        return map;
    }
    // (point, +1 start / -1 after end, rule); `None` point = past the maximum.
    let mut events: Vec<(Option<T>, i8, u32)> = Vec::with_capacity(ranges.len() * 2);
    for &(a, b, r) in ranges {
        events.push((Some(a), 1, r));
        events.push((b.next(), -1, r));
    }
    T::sort_events(&mut events);
    let mut active: Vec<u32> = Vec::new();
    let mut scratch: Vec<u32> = Vec::new();
    let mut i = 0;
    while let Some(&(Some(p), _, _)) = events.get(i) {
        while let Some(&(Some(q), d, r)) = events.get(i) {
            if q != p {
                break;
            }
            if d > 0 {
                active.push(r);
            } else if let Some(pos) = active.iter().position(|&x| x == r) {
                active.swap_remove(pos);
            }
            i += 1;
        }
        // The set at this point, in a kept buffer: a list is allocated only
        // when it is new (ET's IP lists give ≈ 10^5 points and few sets).
        scratch.clear();
        scratch.extend_from_slice(&active);
        scratch.sort_unstable();
        scratch.dedup();
        let id = intern_list(lists, interned, &scratch);
        if map.ids.last() != Some(&id) {
            map.starts.push(p);
            map.ids.push(id);
        }
    }
    map.index();
    map
}

/// Successor of an address (None past the maximum).
mod num_step {
    /// A sweep event: (point, +1 start / −1 after the end, rule); a `None`
    /// point is past the maximum.
    pub(crate) type Event<T> = (Option<T>, i8, u32);

    pub(crate) trait Step: Sized + Copy + Ord {
        fn next(self) -> Option<Self>;
        /// The top `bits` bits (1–32) as an index.
        fn top(self, bits: u32) -> usize;
        /// Sorts events by point (`None` after every address), ends before
        /// starts, then rule.
        fn sort_events(ev: &mut [Event<Self>]) {
            sort_by_cmp(ev);
        }
    }

    /// [`Step::sort_events`] with a comparator.
    pub(crate) fn sort_by_cmp<T: Copy + Ord>(ev: &mut [Event<T>]) {
        ev.sort_unstable_by(|x, y| match (x.0, y.0) {
            (Some(a), Some(b)) => a.cmp(&b).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => x.1.cmp(&y.1).then(x.2.cmp(&y.2)),
        });
    }

    /// Rule bits of a packed IPv4 event.
    const RULE_BITS: u32 = 30;

    impl Step for u32 {
        fn next(self) -> Option<Self> {
            self.checked_add(1)
        }
        fn top(self, bits: u32) -> usize {
            (self >> (32 - bits)) as usize
        }
        /// The same order from one `u64` per event (point: 33 bits, `None`
        /// = 2^32; start: 1 bit; rule: 30 bits), sorted as integers: the
        /// comparator over options cost ≈ 7 % of loading all ET rules,
        /// whose IP lists give ≈ 10^5 events.
        fn sort_events(ev: &mut [Event<u32>]) {
            if ev.iter().any(|e| e.2 >> RULE_BITS != 0) {
                sort_by_cmp(ev);
                return;
            }
            let mut keys: Vec<u64> = ev
                .iter()
                .map(|&(p, d, r)| {
                    let p = p.map_or(1u64 << 32, u64::from);
                    (p << (RULE_BITS + 1)) | (u64::from(d > 0) << RULE_BITS) | u64::from(r)
                })
                .collect();
            keys.sort_unstable();
            for (e, k) in ev.iter_mut().zip(keys) {
                let p = k >> (RULE_BITS + 1);
                *e = (
                    u32::try_from(p).ok(),
                    if (k >> RULE_BITS) & 1 == 1 { 1 } else { -1 },
                    (k & ((1 << RULE_BITS) - 1)) as u32,
                );
            }
        }
    }
    impl Step for u128 {
        fn next(self) -> Option<Self> {
            self.checked_add(1)
        }
        fn top(self, bits: u32) -> usize {
            (self >> (128 - bits)) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packed IPv4 event sort gives the comparator's order, with
    /// repeated points, both kinds of event at one point, the end past the
    /// maximum address, and rules beyond the packed width (comparator).
    #[test]
    fn packed_event_sort_keeps_the_sweep_order() {
        use num_step::{Event, Step, sort_by_cmp};
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut r = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for (n, rule_max) in [
            (0usize, 10u64),
            (1, 10),
            (50, 3),
            (5000, 1 << 20),
            (300, 1 << 31),
        ] {
            let ev: Vec<Event<u32>> = (0..n)
                .map(|_| {
                    let p = match r() % 8 {
                        0 => None,
                        1 => Some(u32::MAX),
                        2 => Some(0),
                        _ => Some((r() % 64) as u32 * 0x0100_0000),
                    };
                    let d = if r() % 2 == 0 { 1 } else { -1 };
                    (p, d, (r() % rule_max) as u32)
                })
                .collect();
            let mut want = ev.clone();
            sort_by_cmp(&mut want);
            let mut got = ev;
            u32::sort_events(&mut got);
            assert_eq!(got, want, "{n} events, rules below {rule_max}");
        }
    }

    #[test]
    fn port_map_intervals() {
        let m = PortMap {
            starts: vec![0, 80, 81],
            ids: vec![0, 1, 0],
        };
        assert_eq!(m.get(0), Some(0));
        assert_eq!(m.get(79), Some(0));
        assert_eq!(m.get(80), Some(1));
        assert_eq!(m.get(81), Some(0));
        assert_eq!(m.get(65535), Some(0));
    }

    #[test]
    fn sweep_covers_overlaps_and_ends() {
        let mut lists = Vec::new();
        let mut interned = FxHashMap::default();
        let m = sweep(
            &[(10u32, 20, 1), (15, 30, 2), (u32::MAX - 1, u32::MAX, 3)],
            &mut lists,
            &mut interned,
        );
        let at = |x: u32| {
            m.get(x)
                .map(|i| lists[i as usize].clone())
                .unwrap_or_default()
        };
        assert_eq!(at(9), Vec::<u32>::new());
        assert_eq!(at(10), vec![1]);
        assert_eq!(at(15), vec![1, 2]);
        assert_eq!(at(20), vec![1, 2]);
        assert_eq!(at(21), vec![2]);
        assert_eq!(at(31), Vec::<u32>::new());
        assert_eq!(at(u32::MAX), vec![3]);
    }

    /// Large maps (as ET's address lists make) answer through the coarse
    /// index exactly as a whole binary search does, at interval edges too.
    #[test]
    fn coarse_index_answers_as_the_full_search() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut lists = Vec::new();
        let mut interned = FxHashMap::default();
        let ranges: Vec<(u32, u32, u32)> = (0..600)
            .map(|i| {
                let a = rnd() as u32;
                let len = if i % 3 == 0 {
                    rnd() as u32 % 0x0100_0000
                } else {
                    rnd() as u32 % 300
                };
                (a, a.saturating_add(len), i % 40)
            })
            .collect();
        let m = sweep(&ranges, &mut lists, &mut interned);
        assert!(!m.coarse.is_empty());
        let whole = IntervalMap {
            starts: m.starts.clone(),
            ids: m.ids.clone(),
            coarse: Vec::new(),
        };
        let mut probes: Vec<u32> = vec![0, 1, u32::MAX, u32::MAX - 1];
        for &(a, b, _) in &ranges {
            probes.extend([a.wrapping_sub(1), a, b, b.wrapping_add(1)]);
        }
        probes.extend((0..20_000).map(|_| rnd() as u32));
        for p in probes {
            assert_eq!(m.get(p), whole.get(p), "{p:#x}");
        }
        let ranges6: Vec<(u128, u128, u32)> = ranges
            .iter()
            .map(|&(a, b, r)| (u128::from(a) << 96, (u128::from(b) << 96) | 0xffff, r))
            .collect();
        let m6 = sweep(&ranges6, &mut lists, &mut interned);
        assert!(!m6.coarse.is_empty());
        let whole6 = IntervalMap {
            starts: m6.starts.clone(),
            ids: m6.ids.clone(),
            coarse: Vec::new(),
        };
        for _ in 0..20_000 {
            let p = (u128::from(rnd()) << 64) | u128::from(rnd());
            assert_eq!(m6.get(p), whole6.get(p), "{p:#x}");
        }
        for &(a, b, _) in &ranges6 {
            for p in [a.wrapping_sub(1), a, b, b.wrapping_add(1)] {
                assert_eq!(m6.get(p), whole6.get(p), "{p:#x}");
            }
        }
    }
}
