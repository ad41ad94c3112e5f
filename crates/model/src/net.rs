//! Address sets such as `HOME_NET`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 network in CIDR form.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cidr {
    /// Network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// True when `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix.min(32)))
                };
                (u32::from(n) & mask) == (u32::from(a) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix.min(128)))
                };
                (u128::from(n) & mask) == (u128::from(a) & mask)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why a network string was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetParseError {
    /// The offending text.
    pub input: String,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for NetParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid network {:?}: expected {}",
            self.input, self.expected
        )
    }
}

impl std::error::Error for NetParseError {}

impl FromStr for Cidr {
    type Err = NetParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let err = |expected| NetParseError {
            input: s.to_string(),
            expected,
        };
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| err("an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| err("a prefix length within the address family"))?,
            None => max,
        };
        // Clear host bits so equal networks compare equal.
        let addr = match addr {
            IpAddr::V4(v) => {
                let mask = if prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(prefix))
                };
                IpAddr::V4((u32::from(v) & mask).into())
            }
            IpAddr::V6(v) => {
                let mask = if prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(prefix))
                };
                IpAddr::V6((u128::from(v) & mask).into())
            }
        };
        Ok(Cidr { addr, prefix })
    }
}

/// A set of networks with exclusions, e.g. `HOME_NET` (`[10.0.0.0/8,!10.9.0.0/16]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetSet {
    /// Included networks.
    pub include: Vec<Cidr>,
    /// Excluded networks (win over includes).
    pub exclude: Vec<Cidr>,
}

impl NetSet {
    /// Suricata's default `HOME_NET`: RFC 1918 networks.
    pub fn rfc1918() -> NetSet {
        let include = ["192.168.0.0/16", "10.0.0.0/8", "172.16.0.0/12"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        NetSet {
            include,
            exclude: Vec::new(),
        }
    }

    /// True when `ip` is in an included network and not in an excluded one.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.include.iter().any(|c| c.contains(ip)) && !self.exclude.iter().any(|c| c.contains(ip))
    }

    /// Parses a comma-separated list, optionally in brackets, with `!` exclusions:
    /// `10.0.0.0/8,192.168.1.0/24` or `[10.0.0.0/8,!10.1.0.0/16]`. `any` is everything.
    pub fn parse(s: &str) -> Result<NetSet, NetParseError> {
        let t = s.trim();
        let t = t
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(t);
        let mut set = NetSet::default();
        for part in t.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.eq_ignore_ascii_case("any") {
                set.include.push(Cidr {
                    addr: IpAddr::V4(0.into()),
                    prefix: 0,
                });
                set.include.push(Cidr {
                    addr: IpAddr::V6(0.into()),
                    prefix: 0,
                });
            } else if let Some(ex) = part.strip_prefix('!') {
                set.exclude.push(ex.parse()?);
            } else {
                set.include.push(part.parse()?);
            }
        }
        if set.include.is_empty() {
            return Err(NetParseError {
                input: s.to_string(),
                expected: "at least one network",
            });
        }
        Ok(set)
    }
}

impl fmt::Display for NetSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .include
            .iter()
            .map(|c| c.to_string())
            .chain(self.exclude.iter().map(|c| format!("!{c}")))
            .collect();
        write!(f, "[{}]", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let s = NetSet::parse("[10.0.0.0/8, !10.9.0.0/16, 2001:db8::/32]").unwrap();
        assert!(s.contains("10.1.2.3".parse().unwrap()));
        assert!(!s.contains("10.9.2.3".parse().unwrap()));
        assert!(s.contains("2001:db8::1".parse().unwrap()));
        assert!(!s.contains("192.0.2.1".parse().unwrap()));
        assert!(NetSet::rfc1918().contains("172.31.15.102".parse().unwrap()));
    }

    #[test]
    fn rejects_bad_input_with_expectation() {
        let e = NetSet::parse("10.0.0.0/33").unwrap_err();
        assert!(e.to_string().contains("prefix length"));
        assert!(NetSet::parse("banana").is_err());
        assert!(NetSet::parse("").is_err());
    }
}
