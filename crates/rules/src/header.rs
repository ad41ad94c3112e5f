//! Rule header pieces: address and port lists (with variables, negation,
//! ranges and nested groups), compiled to sorted range sets.

use crate::config::Vars;
use std::net::IpAddr;

/// Sorted, disjoint, inclusive ranges over an integer space.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) struct RangeSet<T> {
    pub(crate) ranges: Vec<(T, T)>,
}

/// The integer spaces we use (u16 ports, u32 IPv4, u128 IPv6).
pub(crate) trait Space: Copy + Ord + std::fmt::Debug {
    const MIN: Self;
    const MAX: Self;
    fn succ(self) -> Self;
    fn pred(self) -> Self;
}

macro_rules! space {
    ($t:ty) => {
        impl Space for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn succ(self) -> Self {
                self.saturating_add(1)
            }
            fn pred(self) -> Self {
                self.saturating_sub(1)
            }
        }
    };
}
space!(u16);
space!(u32);
space!(u128);

impl<T: Space> RangeSet<T> {
    pub(crate) fn empty() -> Self {
        RangeSet { ranges: Vec::new() }
    }
    pub(crate) fn full() -> Self {
        RangeSet {
            ranges: vec![(T::MIN, T::MAX)],
        }
    }
    pub(crate) fn single(a: T, b: T) -> Self {
        RangeSet {
            ranges: vec![(a.min(b), a.max(b))],
        }
    }
    pub(crate) fn is_full(&self) -> bool {
        self.ranges.len() == 1 && self.ranges[0] == (T::MIN, T::MAX)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    fn normalize(mut v: Vec<(T, T)>) -> Self {
        v.sort();
        let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            if let Some(last) = out.last_mut()
                && (a <= last.1 || (last.1 != T::MAX && a == last.1.succ()))
            {
                if b > last.1 {
                    last.1 = b;
                }
                continue;
            }
            out.push((a, b));
        }
        RangeSet { ranges: out }
    }
    pub(crate) fn union(&self, o: &Self) -> Self {
        let mut v = self.ranges.clone();
        v.extend_from_slice(&o.ranges);
        Self::normalize(v)
    }
    pub(crate) fn complement(&self) -> Self {
        let mut out = Vec::new();
        let mut next = Some(T::MIN);
        for &(a, b) in &self.ranges {
            if let Some(n) = next
                && a > n
            {
                out.push((n, a.pred()));
            }
            next = if b == T::MAX { None } else { Some(b.succ()) };
        }
        if let Some(n) = next {
            out.push((n, T::MAX));
        }
        RangeSet { ranges: out }
    }
    pub(crate) fn intersect(&self, o: &Self) -> Self {
        self.complement().union(&o.complement()).complement()
    }
    pub(crate) fn contains(&self, x: T) -> bool {
        // Binary search for the last range starting at or before x.
        let idx = self.ranges.partition_point(|r| r.0 <= x);
        idx > 0 && self.ranges[idx - 1].1 >= x
    }
}

/// A compiled address list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AddrSet {
    pub(crate) v4: RangeSet<u32>,
    pub(crate) v6: RangeSet<u128>,
}

impl AddrSet {
    pub(crate) fn any() -> Self {
        AddrSet {
            v4: RangeSet::full(),
            v6: RangeSet::full(),
        }
    }
    pub(crate) fn is_any(&self) -> bool {
        self.v4.is_full() && self.v6.is_full()
    }
    fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
    fn intersect(&self, o: &Self) -> Self {
        AddrSet {
            v4: self.v4.intersect(&o.v4),
            v6: self.v6.intersect(&o.v6),
        }
    }
    pub(crate) fn complement(&self) -> Self {
        AddrSet {
            v4: self.v4.complement(),
            v6: self.v6.complement(),
        }
    }
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => {
                // IPv4-mapped addresses are matched as IPv4.
                if let Some(v4) = a.to_ipv4_mapped() {
                    return self.v4.contains(u32::from(v4));
                }
                self.v6.contains(u128::from(a))
            }
        }
    }
}

/// The elements of a bracketed address list, gathered before one merge.
#[derive(Default)]
struct AddrParts {
    seen: bool,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl AddrParts {
    fn add(&mut self, set: AddrSet) {
        self.seen = true;
        self.v4.extend(set.v4.ranges);
        self.v6.extend(set.v6.ranges);
    }
    /// The union of everything added, or `None` when nothing was.
    fn into_set(self) -> Option<AddrSet> {
        self.seen.then(|| AddrSet {
            v4: RangeSet::normalize(self.v4),
            v6: RangeSet::normalize(self.v6),
        })
    }
}

/// A compiled port list.
pub(crate) type PortSet = RangeSet<u16>;

const MAX_VAR_DEPTH: usize = 16;

/// Splits a bracketed list body at top-level commas.
fn split_top(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced `]` in {s:?}"));
                }
            }
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("expected `]` to close {s:?}"));
    }
    out.push(s[start..].trim());
    Ok(out)
}

/// Parses an address list (`any`, `$HOME_NET`, `!1.2.3.0/24`, `[a,![b,c]]`,
/// `1.2.3.4-1.2.3.9`).
pub(crate) fn parse_addrs(s: &str, vars: &Vars) -> Result<AddrSet, String> {
    let set = addrs_rec(s.trim(), vars, 0)?;
    if set.is_empty() {
        return Err(format!("address list {s:?} matches no address"));
    }
    Ok(set)
}

fn addrs_rec(s: &str, vars: &Vars, depth: usize) -> Result<AddrSet, String> {
    if depth > MAX_VAR_DEPTH {
        return Err(format!(
            "address {s:?} nests too deeply (variable loop?); expected at most {MAX_VAR_DEPTH} levels"
        ));
    }
    let s = s.trim();
    if s.is_empty() {
        return Err("expected an address, got nothing".to_string());
    }
    if let Some(rest) = s.strip_prefix('!') {
        let inner = addrs_rec(rest, vars, depth + 1)?;
        if inner.is_any() {
            return Err("`!any` matches no address".to_string());
        }
        return Ok(inner.complement());
    }
    if let Some(body) = s.strip_prefix('[') {
        let body = body
            .strip_suffix(']')
            .ok_or_else(|| format!("expected `]` to close address list {s:?}"))?;
        // The elements' ranges are gathered and merged once: ET's IP-list rules
        // name hundreds of addresses, and merging after each one was quadratic.
        let mut pos = AddrParts::default();
        let mut neg = AddrParts::default();
        for part in split_top(body)? {
            if part.is_empty() {
                return Err(format!("empty element in address list {s:?}"));
            }
            if let Some(r) = part.strip_prefix('!') {
                neg.add(addrs_rec(r, vars, depth + 1)?);
            } else {
                pos.add(addrs_rec(part, vars, depth + 1)?);
            }
        }
        let base = pos.into_set().unwrap_or_else(AddrSet::any);
        return Ok(match neg.into_set() {
            Some(neg) => base.intersect(&neg.complement()),
            None => base,
        });
    }
    if let Some(name) = s.strip_prefix('$') {
        let def = vars
            .address
            .get(name)
            .ok_or_else(|| format!("undefined address variable ${name}"))?;
        return addrs_rec(def, vars, depth + 1);
    }
    if s.eq_ignore_ascii_case("any") {
        return Ok(AddrSet::any());
    }
    if let Some((a, b)) = s.split_once('-') {
        let a: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("expected an IP address at the start of range {s:?}"))?;
        let b: IpAddr = b
            .trim()
            .parse()
            .map_err(|_| format!("expected an IP address at the end of range {s:?}"))?;
        return match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => Ok(AddrSet {
                v4: RangeSet::single(u32::from(a), u32::from(b)),
                v6: RangeSet::empty(),
            }),
            (IpAddr::V6(a), IpAddr::V6(b)) => Ok(AddrSet {
                v4: RangeSet::empty(),
                v6: RangeSet::single(u128::from(a), u128::from(b)),
            }),
            _ => Err(format!("range {s:?} mixes IPv4 and IPv6")),
        };
    }
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = a.trim().parse().map_err(|_| {
        format!("expected an IP address, CIDR, `any`, `$VAR` or `[list]`, got {s:?}")
    })?;
    let max: u32 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u32 = match p {
        None => max,
        Some(p) => {
            let p = p.trim();
            if let Ok(n) = p.parse::<u32>() {
                if n > max {
                    return Err(format!("prefix length {n} too long in {s:?}"));
                }
                n
            } else if let (true, Ok(std::net::IpAddr::V4(m))) = (addr.is_ipv4(), p.parse()) {
                // Netmask form 255.255.255.0.
                let m = u32::from(m);
                if m.leading_ones() + m.trailing_zeros() != 32 {
                    return Err(format!("netmask in {s:?} is not contiguous"));
                }
                m.leading_ones()
            } else {
                return Err(format!("expected a prefix length after `/` in {s:?}"));
            }
        }
    };
    Ok(match addr {
        IpAddr::V4(a) => {
            let a = u32::from(a);
            let host = if prefix == 0 {
                u32::MAX
            } else {
                u32::MAX >> prefix.min(31)
            };
            let host = if prefix == 32 { 0 } else { host };
            AddrSet {
                v4: RangeSet::single(a & !host, a | host),
                v6: RangeSet::empty(),
            }
        }
        IpAddr::V6(a) => {
            let a = u128::from(a);
            let host = if prefix == 0 {
                u128::MAX
            } else if prefix == 128 {
                0
            } else {
                u128::MAX >> prefix
            };
            AddrSet {
                v4: RangeSet::empty(),
                v6: RangeSet::single(a & !host, a | host),
            }
        }
    })
}

/// Parses a port list (`any`, `80`, `1024:`, `:1023`, `!80`, `[80,443,$HTTP_PORTS]`).
pub(crate) fn parse_ports(s: &str, vars: &Vars) -> Result<PortSet, String> {
    let set = ports_rec(s.trim(), vars, 0)?;
    if set.is_empty() {
        return Err(format!("port list {s:?} matches no port"));
    }
    Ok(set)
}

fn parse_port_num(s: &str, whole: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("expected a port number 0-65535 in {whole:?}, got {s:?}"))
}

fn ports_rec(s: &str, vars: &Vars, depth: usize) -> Result<PortSet, String> {
    if depth > MAX_VAR_DEPTH {
        return Err(format!(
            "port {s:?} nests too deeply (variable loop?); expected at most {MAX_VAR_DEPTH} levels"
        ));
    }
    let s = s.trim();
    if s.is_empty() {
        return Err("expected a port, got nothing".to_string());
    }
    if let Some(rest) = s.strip_prefix('!') {
        let inner = ports_rec(rest, vars, depth + 1)?;
        if inner.is_full() {
            return Err("`!any` matches no port".to_string());
        }
        return Ok(inner.complement());
    }
    if let Some(body) = s.strip_prefix('[') {
        let body = body
            .strip_suffix(']')
            .ok_or_else(|| format!("expected `]` to close port list {s:?}"))?;
        let mut pos: Option<Vec<(u16, u16)>> = None;
        let mut neg: Vec<(u16, u16)> = Vec::new();
        for part in split_top(body)? {
            if part.is_empty() {
                return Err(format!("empty element in port list {s:?}"));
            }
            if let Some(r) = part.strip_prefix('!') {
                neg.extend(ports_rec(r, vars, depth + 1)?.ranges);
            } else {
                let p = ports_rec(part, vars, depth + 1)?;
                pos.get_or_insert_with(Vec::new).extend(p.ranges);
            }
        }
        let base = pos.map_or_else(PortSet::full, RangeSet::normalize);
        if neg.is_empty() {
            return Ok(base);
        }
        return Ok(base.intersect(&RangeSet::normalize(neg).complement()));
    }
    if let Some(name) = s.strip_prefix('$') {
        let def = vars
            .port
            .get(name)
            .ok_or_else(|| format!("undefined port variable ${name}"))?;
        return ports_rec(def, vars, depth + 1);
    }
    if s.eq_ignore_ascii_case("any") {
        return Ok(PortSet::full());
    }
    if let Some((a, b)) = s.split_once(':') {
        let lo = if a.trim().is_empty() {
            0
        } else {
            parse_port_num(a, s)?
        };
        let hi = if b.trim().is_empty() {
            u16::MAX
        } else {
            parse_port_num(b, s)?
        };
        if lo > hi {
            return Err(format!("port range {s:?} runs backwards"));
        }
        return Ok(PortSet::single(lo, hi));
    }
    let p = parse_port_num(s, s)?;
    Ok(PortSet::single(p, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_with_vars_negation_and_groups() {
        let v = Vars::default();
        let ext = parse_addrs("$EXTERNAL_NET", &v).unwrap();
        assert!(!ext.contains(ip("10.1.2.3")));
        assert!(ext.contains(ip("8.8.8.8")));
        assert!(ext.contains(ip("2001:db8::1")));
        let g = parse_addrs("[10.0.0.0/8,![10.1.0.0/16,!10.1.2.0/24]]", &v).unwrap();
        assert!(g.contains(ip("10.2.0.1")));
        assert!(!g.contains(ip("10.1.3.1")));
        // `![a,!b]` = not (a minus b): b is back in.
        assert!(g.contains(ip("10.1.2.9")));
        let only_neg = parse_addrs("[!1.2.3.4]", &v).unwrap();
        assert!(only_neg.contains(ip("1.2.3.5")));
        assert!(!only_neg.contains(ip("1.2.3.4")));
        let r = parse_addrs("1.2.3.4-1.2.3.9", &v).unwrap();
        assert!(r.contains(ip("1.2.3.9")) && !r.contains(ip("1.2.3.10")));
        let m = parse_addrs("192.168.1.0/255.255.255.0", &v).unwrap();
        assert!(m.contains(ip("192.168.1.77")));
        assert!(
            parse_addrs("0.0.0.0/0", &v)
                .unwrap()
                .contains(ip("1.1.1.1"))
        );
    }

    #[test]
    fn address_errors_say_what_was_expected() {
        let v = Vars::default();
        assert_eq!(
            parse_addrs("$NOPE", &v).unwrap_err(),
            "undefined address variable $NOPE"
        );
        assert!(
            parse_addrs("[1.2.3.4", &v)
                .unwrap_err()
                .contains("expected `]`")
        );
        assert!(parse_addrs("!any", &v).is_err());
        assert!(parse_addrs("1.2.3.4/33", &v).is_err());
        assert!(
            parse_addrs("banana", &v)
                .unwrap_err()
                .contains("expected an IP")
        );
        let mut lp = Vars::default();
        lp.address.insert("A".into(), "$B".into());
        lp.address.insert("B".into(), "$A".into());
        assert!(
            parse_addrs("$A", &lp)
                .unwrap_err()
                .contains("variable loop")
        );
    }

    #[test]
    fn ports() {
        let v = Vars::default();
        let p = parse_ports("[80,8000:8080,!8008]", &v).unwrap();
        assert!(p.contains(80) && p.contains(8000) && !p.contains(8008) && !p.contains(81));
        let sc = parse_ports("$SHELLCODE_PORTS", &v).unwrap();
        assert!(!sc.contains(80) && sc.contains(81) && sc.contains(0));
        assert!(parse_ports("1024:", &v).unwrap().contains(65535));
        assert!(parse_ports(":1023", &v).unwrap().contains(0));
        assert!(parse_ports("any", &v).unwrap().is_full());
        assert!(parse_ports("[$HTTP_PORTS,443]", &v).unwrap().contains(443));
        assert!(parse_ports("70000", &v).unwrap_err().contains("0-65535"));
        assert!(parse_ports("90:80", &v).unwrap_err().contains("backwards"));
        assert!(parse_ports("[!80,!81]", &v).unwrap().contains(82));
    }

    #[test]
    fn long_lists_merge_to_the_union_of_their_elements() {
        // ET's IP-list rules: hundreds of unsorted, overlapping and adjacent
        // elements, IPv4 and IPv6 mixed, with exceptions.
        let v = Vars::default();
        let mut parts = Vec::new();
        for i in 0..300u32 {
            let x = i.wrapping_mul(2_654_435_761);
            parts.push(format!(
                "{}.{}.{}.0/{}",
                x >> 24,
                (x >> 16) & 255,
                i % 7,
                24 + i % 9
            ));
            if i % 11 == 0 {
                parts.push(format!("2001:db8:{i:x}::/48"));
            }
        }
        parts.push("5.5.5.5".to_string());
        parts.push("5.5.5.6".to_string());
        let list = format!("[{},!5.5.5.6]", parts.join(","));
        let got = parse_addrs(&list, &v).unwrap();
        let mut want = AddrSet {
            v4: RangeSet::empty(),
            v6: RangeSet::empty(),
        };
        for p in &parts {
            let one = parse_addrs(p, &v).unwrap();
            want.v4 = want.v4.union(&one.v4);
            want.v6 = want.v6.union(&one.v6);
        }
        want = want.intersect(&parse_addrs("5.5.5.6", &v).unwrap().complement());
        assert_eq!(got, want);
        assert!(got.contains(ip("5.5.5.5")) && !got.contains(ip("5.5.5.6")));
        assert!(got.contains(ip("2001:db8:21::1")));
        assert!(got.v4.ranges.windows(2).all(|w| w[0].1 < w[1].0));
    }

    #[test]
    fn range_set_ops() {
        let a = RangeSet::<u16>::single(10, 20);
        let b = RangeSet::<u16>::single(15, 30);
        assert_eq!(a.union(&b).ranges, vec![(10, 30)]);
        assert_eq!(a.intersect(&b).ranges, vec![(15, 20)]);
        assert_eq!(a.complement().ranges, vec![(0, 9), (21, u16::MAX)]);
        assert!(RangeSet::<u16>::full().complement().is_empty());
    }
}
