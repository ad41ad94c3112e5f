//! Evaluation of a rule's inspection steps on one buffer: content with its
//! position modifiers (and Suricata's backtracking over relative matches),
//! pcre, byte_test / byte_jump / byte_extract / byte_math, isdataat,
//! base64_decode / base64_data, bsize / urilen and asn1.

use crate::rule::*;

/// Per-evaluation state.
pub(crate) struct Eval {
    /// Remaining backtracking steps.
    pub(crate) budget: u32,
    /// Upper bound of base64 output.
    pub(crate) b64_max: usize,
}

type Vars = [i64; MAX_VARS];

fn num(n: Num, vars: &Vars) -> i64 {
    match n {
        Num::Lit(v) => v,
        Num::Var(i) => vars.get(i).copied().unwrap_or(0),
    }
}

/// Finds `c` within `buf[start..end]` at or after `from`; returns the match start.
fn find_content(c: &Content, buf: &[u8], from: usize, end: usize) -> Option<usize> {
    let hay = buf.get(from..end)?;
    let plen = c.pat.len();
    if hay.len() < plen {
        return None;
    }
    if !c.nocase {
        return c.finder().find(hay).map(|p| p + from);
    }
    // Case-insensitive: scan for either case of the first byte.
    let first = c.lower[0];
    let last_start = hay.len() - plen;
    let mut i = 0;
    while i <= last_start {
        let rel = crate::prefilter::memchr_either_case(first, &hay[i..=last_start])?;
        let p = i + rel;
        if hay[p..p + plen].eq_ignore_ascii_case(&c.lower) {
            return Some(p + from);
        }
        i = p + 1;
    }
    None
}

/// Reads the number a `byte_*` step refers to. Returns (value, position just
/// after the bytes read).
fn read_number(rd: &ByteRead, buf: &[u8], pos: usize, vars: &Vars) -> Option<(u64, usize)> {
    let base = if rd.relative { pos as i64 } else { 0 };
    let start = base.checked_add(num(rd.offset, vars))?;
    let start = usize::try_from(start).ok()?;
    let n = match rd.nbytes_var {
        Some(var) => {
            let v = num(Num::Var(var), vars);
            usize::try_from(v)
                .ok()
                .filter(|n| *n <= usize::from(rd.nbytes))?
        }
        None => usize::from(rd.nbytes),
    };
    let end = start.checked_add(n)?;
    let bytes = buf.get(start..end)?;
    let v = match rd.string {
        Some(radix) => {
            let s = std::str::from_utf8(bytes).ok()?;
            let s = s.trim_start();
            let digits: &str = {
                let l = s
                    .char_indices()
                    .find(|(_, c)| !c.is_digit(radix))
                    .map(|(i, _)| i)
                    .unwrap_or(s.len());
                &s[..l]
            };
            if digits.is_empty() {
                return None;
            }
            u64::from_str_radix(digits, radix).ok()?
        }
        None => {
            let mut v: u64 = 0;
            if rd.little {
                for &b in bytes.iter().rev() {
                    v = (v << 8) | u64::from(b);
                }
            } else {
                for &b in bytes {
                    v = (v << 8) | u64::from(b);
                }
            }
            v
        }
    };
    let v = match rd.bitmask {
        Some(m) => (v & m) >> m.trailing_zeros(),
        None => v,
    };
    Some((v, end))
}

impl Eval {
    /// True when all steps match `buf`.
    pub(crate) fn run(&mut self, ops: &[Op], buf: &[u8]) -> bool {
        let vars = [0i64; MAX_VARS];
        self.step(ops, 0, buf, 0, vars, None)
    }

    /// Like [`Eval::run`] but seeded with variables from an earlier list.
    fn step(
        &mut self,
        ops: &[Op],
        i: usize,
        buf: &[u8],
        pos: usize,
        mut vars: Vars,
        b64: Option<&[u8]>,
    ) -> bool {
        let Some(op) = ops.get(i) else {
            return true;
        };
        let next_relative = ops.get(i + 1).is_some_and(Op::is_relative);
        match op {
            Op::Content(c) => {
                let plen = c.pat.len();
                let len = buf.len();
                let (start, end) = if c.startswith {
                    (0i64, plen as i64)
                } else if c.is_relative() {
                    let d = c.distance.map(|d| num(d, &vars)).unwrap_or(0);
                    let s = (pos as i64).saturating_add(d).max(0);
                    let e = match c.within {
                        Some(w) => (pos as i64).saturating_add(d).saturating_add(num(w, &vars)),
                        None => len as i64,
                    };
                    (s, e)
                } else {
                    let o = c.offset.map(|o| num(o, &vars)).unwrap_or(0).max(0);
                    let e = match c.depth {
                        Some(dp) => o.saturating_add(num(dp, &vars)),
                        None => len as i64,
                    };
                    (o, e)
                };
                let end = usize::try_from(end.min(len as i64).max(0)).unwrap_or(0);
                let mut from = usize::try_from(start).unwrap_or(usize::MAX);
                if c.endswith {
                    // Only a match ending at the buffer's end counts.
                    let at = len.checked_sub(plen);
                    let found = match at {
                        Some(at) if at >= from && at + plen <= end => {
                            let hay = &buf[at..at + plen];
                            if c.nocase {
                                hay.eq_ignore_ascii_case(&c.lower)
                            } else {
                                hay == c.pat.as_slice()
                            }
                        }
                        _ => false,
                    };
                    if c.negated {
                        return !found && self.step(ops, i + 1, buf, pos, vars, b64);
                    }
                    return found && self.step(ops, i + 1, buf, len, vars, b64);
                }
                if c.negated {
                    let found = from <= end && find_content(c, buf, from, end).is_some();
                    return !found && self.step(ops, i + 1, buf, pos, vars, b64);
                }
                loop {
                    if from > end {
                        return false;
                    }
                    let Some(m) = find_content(c, buf, from, end) else {
                        return false;
                    };
                    if self.step(ops, i + 1, buf, m + plen, vars, b64) {
                        return true;
                    }
                    if !next_relative || self.budget == 0 {
                        return false;
                    }
                    self.budget -= 1;
                    from = m + 1;
                }
            }
            Op::Pcre(p) => {
                let base = if p.relative { pos.min(buf.len()) } else { 0 };
                let subject = &buf[base..];
                if p.negated {
                    let hit = match p.regex().find(subject) {
                        Ok(Some(m)) => !p.anchored || m.start() == 0,
                        _ => false,
                    };
                    return !hit && self.step(ops, i + 1, buf, pos, vars, b64);
                }
                let mut from = 0;
                loop {
                    let m = match p.regex().find_at(subject, from) {
                        Ok(Some(m)) => m,
                        _ => return false,
                    };
                    if p.anchored && m.start() != 0 {
                        return false;
                    }
                    if self.step(ops, i + 1, buf, base + m.end(), vars, b64) {
                        return true;
                    }
                    if !next_relative || p.anchored || self.budget == 0 {
                        return false;
                    }
                    self.budget -= 1;
                    from = m.start() + 1;
                    if from > subject.len() {
                        return false;
                    }
                }
            }
            Op::ByteTest {
                rd,
                op,
                negate,
                value,
            } => {
                let Some((v, _)) = read_number(rd, buf, pos, &vars) else {
                    return false;
                };
                let want = num(*value, &vars) as u64;
                let r = match op {
                    ByteOp::Lt => v < want,
                    ByteOp::Gt => v > want,
                    ByteOp::Eq => v == want,
                    ByteOp::Le => v <= want,
                    ByteOp::Ge => v >= want,
                    ByteOp::And => v & want != 0,
                    ByteOp::Xor => v ^ want != 0,
                };
                r != *negate && self.step(ops, i + 1, buf, pos, vars, b64)
            }
            Op::ByteJump {
                rd,
                multiplier,
                align,
                from_beginning,
                from_end,
                post_offset,
            } => {
                let (v, after) = if rd.nbytes == 0 {
                    let base = if rd.relative { pos as i64 } else { 0 };
                    let at = base.saturating_add(num(rd.offset, &vars));
                    (0u64, usize::try_from(at).unwrap_or(usize::MAX))
                } else {
                    match read_number(rd, buf, pos, &vars) {
                        Some(x) => x,
                        None => return false,
                    }
                };
                let mut val = i64::try_from(v)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(*multiplier);
                if *align && val % 4 != 0 {
                    val = val.saturating_add(4 - val % 4);
                }
                let len = buf.len() as i64;
                let mut target = if *from_beginning {
                    val
                } else if *from_end {
                    len.saturating_add(val)
                } else {
                    (after as i64).saturating_add(val)
                };
                target = target.saturating_add(*post_offset);
                if target < 0 || target >= len {
                    return false;
                }
                self.step(ops, i + 1, buf, target as usize, vars, b64)
            }
            Op::ByteExtract {
                rd,
                multiplier,
                align,
                var,
            } => {
                let Some((v, after)) = read_number(rd, buf, pos, &vars) else {
                    return false;
                };
                let mut val = i64::try_from(v)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(*multiplier);
                if *align > 0 {
                    let a = i64::from(*align);
                    if val % a != 0 {
                        val = val.saturating_add(a - val % a);
                    }
                }
                if let Some(slot) = vars.get_mut(*var) {
                    *slot = val;
                }
                self.step(ops, i + 1, buf, after, vars, b64)
            }
            Op::ByteMath {
                rd,
                op,
                rvalue,
                var,
            } => {
                let Some((v, _)) = read_number(rd, buf, pos, &vars) else {
                    return false;
                };
                let l = i64::try_from(v).unwrap_or(i64::MAX);
                let r = num(*rvalue, &vars);
                let res = match op {
                    MathOp::Add => l.checked_add(r),
                    MathOp::Sub => l.checked_sub(r),
                    MathOp::Mul => l.checked_mul(r),
                    MathOp::Div => {
                        if r == 0 {
                            None
                        } else {
                            l.checked_div(r)
                        }
                    }
                    MathOp::Shl => u32::try_from(r).ok().and_then(|s| l.checked_shl(s)),
                    MathOp::Shr => u32::try_from(r).ok().and_then(|s| l.checked_shr(s)),
                };
                let Some(res) = res else {
                    return false;
                };
                if let Some(slot) = vars.get_mut(*var) {
                    *slot = res;
                }
                self.step(ops, i + 1, buf, pos, vars, b64)
            }
            Op::IsDataAt {
                n,
                relative,
                negated,
            } => {
                let n = num(*n, &vars);
                let len = buf.len() as i64;
                let present = if *relative {
                    (pos as i64).saturating_add(n) <= len
                } else {
                    n < len
                };
                present != *negated && self.step(ops, i + 1, buf, pos, vars, b64)
            }
            Op::Len(c) => c.test(buf.len() as u64) && self.step(ops, i + 1, buf, pos, vars, b64),
            Op::Base64Decode {
                bytes,
                offset,
                relative,
            } => {
                let start = if *relative { pos } else { 0 }.saturating_add(*offset as usize);
                let src = buf.get(start..).unwrap_or(&[]);
                let src = if *bytes > 0 {
                    &src[..src.len().min(*bytes as usize)]
                } else {
                    src
                };
                let decoded = base64_decode(src, self.b64_max);
                self.step(ops, i + 1, buf, pos, vars, Some(&decoded))
            }
            Op::Base64Data => {
                let d = b64.unwrap_or(&[]);
                // Following steps inspect the decoded bytes from their start.
                self.step(ops, i + 1, d, 0, vars, None)
            }
            Op::Asn1(a) => {
                let start = match (a.absolute_offset, a.relative_offset) {
                    (Some(o), _) => Some(o as usize),
                    (None, Some(r)) => usize::try_from(pos as i64 + i64::from(r)).ok(),
                    (None, None) => Some(0),
                };
                let hit = start
                    .and_then(|s| buf.get(s..))
                    .is_some_and(|d| asn1_check(a, d));
                hit && self.step(ops, i + 1, buf, pos, vars, b64)
            }
        }
    }
}

/// Lenient base64 (RFC 4648 alphabet; stops at the first byte outside it,
/// padding ends input), as Suricata's `base64_decode`.
pub(crate) fn base64_decode(src: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((src.len() / 4 * 3).min(max));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in src {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => break,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            if out.len() >= max {
                break;
            }
        }
    }
    out
}

/// Walks BER elements (at most 256) and reports the `asn1` conditions.
fn asn1_check(a: &Asn1, data: &[u8]) -> bool {
    let mut stack: Vec<(usize, usize)> = vec![(0, data.len())];
    let mut seen = 0;
    while let Some((mut p, end)) = stack.pop() {
        while p < end {
            seen += 1;
            if seen > 256 {
                return false;
            }
            let Some(&id) = data.get(p) else { break };
            p += 1;
            let constructed = id & 0x20 != 0;
            let mut tag = u32::from(id & 0x1f);
            if tag == 0x1f {
                tag = 0;
                loop {
                    let Some(&b) = data.get(p) else { return false };
                    p += 1;
                    tag = (tag << 7) | u32::from(b & 0x7f);
                    if b & 0x80 == 0 || tag > 0xffff {
                        break;
                    }
                }
            }
            let Some(&l0) = data.get(p) else { return false };
            p += 1;
            let len: u64 = if l0 & 0x80 == 0 {
                u64::from(l0)
            } else {
                let n = usize::from(l0 & 0x7f);
                if n == 0 {
                    // Indefinite length: walk the contents.
                    if constructed {
                        stack.push((p, end));
                    }
                    break;
                }
                let mut l: u64 = 0;
                for k in 0..n {
                    let Some(&b) = data.get(p + k) else {
                        return false;
                    };
                    l = l.saturating_mul(256).saturating_add(u64::from(b));
                }
                p += n;
                l
            };
            if let Some(max) = a.oversize_length
                && len > u64::from(max)
            {
                return true;
            }
            let universal = id & 0xc0 == 0;
            if a.bitstring_overflow && universal && tag == 3 && !constructed {
                // Unused-bit count above 7, or unused bits in an empty string.
                match data.get(p) {
                    Some(&u) if u > 7 || (len <= 1 && u > 0) => return true,
                    _ => {}
                }
            }
            if a.double_overflow
                && universal
                && tag == 9
                && !constructed
                && len > 256
                && let Some(&f) = data.get(p)
                && f & 0xc0 == 0
            {
                return true;
            }
            let body_end = p
                .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
                .min(end);
            if constructed {
                stack.push((body_end, end));
                stack.push((p, body_end));
                break;
            }
            p = body_end;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(p: &[u8]) -> Content {
        let mut c = Content::new(p.to_vec(), false);
        c.finish();
        c
    }

    fn ev() -> Eval {
        Eval {
            budget: 3000,
            b64_max: 1 << 16,
        }
    }

    #[test]
    fn nocase_and_windows() {
        let mut c = Content::new(b"abc".to_vec(), false);
        c.nocase = true;
        c.finish();
        assert_eq!(find_content(&c, b"xxABCx", 0, 6), Some(2));
        assert_eq!(find_content(&c, b"xxABCx", 0, 4), None);
        let c = content(b"abc");
        assert_eq!(find_content(&c, b"ABCabc", 0, 6), Some(3));
    }

    /// A `nocase` content is found at its first case-insensitive match in
    /// the window, whether its first byte has case (`a`) or not (`/`,
    /// `|00|`, `@`), as a plain search finds it.
    #[test]
    fn nocase_contents_are_found_where_a_plain_search_finds_them() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"aA/\x00@`bB";
        for _ in 0..20_000 {
            let hay: Vec<u8> = (0..rnd() % 40)
                .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                .collect();
            let pat: Vec<u8> = (0..1 + rnd() % 4)
                .map(|_| b"a/\x00@b"[(rnd() % 5) as usize])
                .collect();
            let mut c = Content::new(pat.clone(), false);
            c.nocase = true;
            c.finish();
            let from = (rnd() % (hay.len() as u64 + 1)) as usize;
            let end = from + (rnd() % ((hay.len() - from) as u64 + 1)) as usize;
            let want = hay
                .get(from..end)
                .and_then(|h| {
                    h.windows(pat.len())
                        .position(|w| w.eq_ignore_ascii_case(&pat))
                })
                .map(|p| p + from);
            assert_eq!(
                find_content(&c, &hay, from, end),
                want,
                "{pat:?} in {hay:?} [{from}, {end})"
            );
        }
    }

    #[test]
    fn relative_backtracking() {
        // "a" followed within 2 bytes by "b": first "a" fails, second works.
        let a = content(b"a");
        let mut b = content(b"b");
        b.distance = Some(Num::Lit(0));
        b.within = Some(Num::Lit(2));
        let ops = vec![Op::Content(Box::new(a)), Op::Content(Box::new(b))];
        assert!(ev().run(&ops, b"a....ab"));
        assert!(!ev().run(&ops, b"a....a...b"));
        let mut e = ev();
        e.budget = 0;
        assert!(!e.run(&ops, b"a....ab"), "no backtracking without budget");
    }

    #[test]
    fn byte_ops() {
        let rd = ByteRead {
            nbytes: 2,
            nbytes_var: None,
            offset: Num::Lit(0),
            relative: false,
            little: false,
            string: None,
            bitmask: Some(0xf8f8),
        };
        assert_eq!(read_number(&rd, b"HT", 0, &[0; MAX_VARS]).unwrap().0, 0x90a);
        let rd = ByteRead {
            nbytes: 2,
            nbytes_var: None,
            offset: Num::Lit(0),
            relative: true,
            little: false,
            string: Some(10),
            bitmask: None,
        };
        assert_eq!(
            read_number(&rd, b"x13y", 1, &[0; MAX_VARS]).unwrap(),
            (13, 3)
        );
        let mut le = rd;
        le.string = None;
        le.little = true;
        assert_eq!(
            read_number(&le, b"\x01\x02", 0, &[0; MAX_VARS]).unwrap().0,
            0x0201
        );
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode(b"aGVsbG8=", 100), b"hello");
        assert_eq!(base64_decode(b"aGVs\r\nbG8", 100), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8=", 2), b"he");
    }

    #[test]
    fn asn1_oversize_and_bitstring() {
        let a = Asn1 {
            oversize_length: Some(100),
            ..Asn1::default()
        };
        // SEQUENCE { OCTET STRING len 200 }
        let mut d = vec![0x30, 0x81, 0xcb, 0x04, 0x81, 0xc8];
        d.extend(std::iter::repeat_n(0u8, 200));
        assert!(asn1_check(&a, &d));
        let small = [0x30, 0x03, 0x04, 0x01, 0x00];
        assert!(!asn1_check(&a, &small));
        let b = Asn1 {
            bitstring_overflow: true,
            ..Asn1::default()
        };
        assert!(asn1_check(&b, &[0x03, 0x02, 0x09, 0xff]));
        assert!(!asn1_check(&b, &[0x03, 0x02, 0x01, 0xfe]));
    }
}
