//! Rule groups and the multi-pattern prefilter: one Aho-Corasick automaton
//! per group over the rules' fast patterns (case-insensitive; case-sensitive
//! patterns are verified by the full evaluation).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Rules with their fast pattern.
pub(crate) type Members<'a> = Vec<(u32, Option<&'a [u8]>)>;

/// A set of rules inspected together.
#[derive(Debug, Default)]
pub(crate) struct Group {
    /// Automaton over distinct fast patterns.
    ac: Option<AhoCorasick>,
    /// Pattern id → rule indices (sorted).
    pat_rules: Vec<Vec<u32>>,
    /// Rules without a fast pattern: evaluated on every input.
    pub(crate) always: Vec<u32>,
    /// Number of rules in the group.
    pub(crate) len: usize,
    /// Length of the shortest pattern.
    short: usize,
}

impl Group {
    /// Builds a group from (rule index, fast pattern) pairs.
    pub(crate) fn build(members: &[(u32, Option<&[u8]>)]) -> Group {
        let mut pats: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        let mut always = Vec::new();
        for &(r, p) in members {
            match p {
                Some(p) if !p.is_empty() => pats.entry(p.to_ascii_lowercase()).or_default().push(r),
                _ => always.push(r),
            }
        }
        always.sort_unstable();
        always.dedup();
        let (keys, mut pat_rules): (Vec<Vec<u8>>, Vec<Vec<u32>>) = pats.into_iter().unzip();
        for v in pat_rules.iter_mut() {
            v.sort_unstable();
            v.dedup();
        }
        let ac = if keys.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .build(&keys)
                .ok()
        };
        Group {
            short: keys.iter().map(Vec::len).min().unwrap_or(0),
            ac,
            pat_rules,
            always,
            len: members.len(),
        }
    }

    /// (rules, distinct patterns, shortest pattern length, rules without pattern).
    pub(crate) fn stats(&self) -> (usize, usize, usize, usize) {
        let shortest = self.short;
        (self.len, self.pat_rules.len(), shortest, self.always.len())
    }

    /// True when the group holds no rule.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the rules whose fast pattern occurs in `hay` to `out`
    /// (unsorted, may hold duplicates).
    pub(crate) fn scan(&self, hay: &[u8], out: &mut Vec<u32>) {
        let Some(ac) = &self.ac else { return };
        if hay.is_empty() {
            return;
        }
        let n = self.pat_rules.len();
        // Each pattern is reported once per scan.
        let mut seen: Vec<u64> = Vec::new();
        for m in ac.find_overlapping_iter(hay) {
            let id = m.pattern().as_usize();
            if seen.is_empty() {
                seen = vec![0u64; n.div_ceil(64)];
            }
            let (w, b) = (id / 64, id % 64);
            if let Some(word) = seen.get_mut(w) {
                if *word & (1 << b) != 0 {
                    continue;
                }
                *word |= 1 << b;
            }
            if let Some(rules) = self.pat_rules.get(id) {
                out.extend_from_slice(rules);
            }
        }
    }
}

/// Groups keyed by port, for one transport protocol. A packet is scanned
/// with the `any` group plus the group of its destination port and the group
/// of its source port (each built once; ports with the same rules share one).
#[derive(Debug, Default)]
pub(crate) struct PortGroups {
    /// Rules whose ports do not narrow them.
    pub(crate) any: Arc<Group>,
    /// Destination port → rules placed by destination port.
    pub(crate) by_dst: FxHashMap<u16, Arc<Group>>,
    /// Source port → rules placed by source port.
    pub(crate) by_src: FxHashMap<u16, Arc<Group>>,
}

/// How a rule is placed in port groups.
#[derive(Clone, Debug)]
pub(crate) enum PortKey {
    Any,
    Dst(Vec<u16>),
    Src(Vec<u16>),
}

/// Most ports a rule may list and still be placed in per-port groups.
pub(crate) const MAX_GROUP_PORTS: u128 = 64;

impl PortGroups {
    /// Builds the groups from (rule, fast pattern, placement).
    pub(crate) fn build(members: &[(u32, Option<&[u8]>, PortKey)]) -> PortGroups {
        let mut any: Members<'_> = Vec::new();
        let mut dst: BTreeMap<u16, Members<'_>> = BTreeMap::new();
        let mut src: BTreeMap<u16, Members<'_>> = BTreeMap::new();
        for (r, p, k) in members {
            match k {
                PortKey::Any => any.push((*r, *p)),
                PortKey::Dst(ports) => {
                    for port in ports {
                        dst.entry(*port).or_default().push((*r, *p));
                    }
                }
                PortKey::Src(ports) => {
                    for port in ports {
                        src.entry(*port).or_default().push((*r, *p));
                    }
                }
            }
        }
        // Ports with the same rules share one automaton.
        let mut cache: BTreeMap<Vec<u32>, Arc<Group>> = BTreeMap::new();
        let mut make = |v: Members<'_>| -> Arc<Group> {
            let mut key: Vec<u32> = v.iter().map(|x| x.0).collect();
            key.sort_unstable();
            key.dedup();
            cache
                .entry(key)
                .or_insert_with(|| Arc::new(Group::build(&v)))
                .clone()
        };
        let any_g = make(any);
        let by_dst = dst.into_iter().map(|(p, v)| (p, make(v))).collect();
        let by_src = src.into_iter().map(|(p, v)| (p, make(v))).collect();
        PortGroups {
            any: any_g,
            by_dst,
            by_src,
        }
    }

    /// The groups that apply to a packet from `sp` to `dp`.
    pub(crate) fn lookup(&self, sp: u16, dp: u16) -> [Option<&Group>; 3] {
        [
            Some(self.any.as_ref()).filter(|g| !g.is_empty()),
            self.by_dst.get(&dp).map(Arc::as_ref),
            self.by_src.get(&sp).map(Arc::as_ref),
        ]
    }

    /// True when no rule is in any group.
    pub(crate) fn is_empty(&self) -> bool {
        self.any.is_empty() && self.by_dst.is_empty() && self.by_src.is_empty()
    }
}
