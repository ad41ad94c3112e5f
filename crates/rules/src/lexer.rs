//! Rule files → logical rules (comments, blank lines and `\` continuations
//! handled), and a rule's option text → `(keyword, value)` pairs.

/// One logical rule: its text with continuations joined and the physical line
/// it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogicalLine<'a> {
    /// 1-based line of the first physical line.
    pub(crate) line: usize,
    /// Joined text (continuation backslashes removed); a rule on one line is
    /// not copied (copying every rule's text was ≈ 4 MB of fresh memory of
    /// loading all ET rules).
    pub(crate) text: std::borrow::Cow<'a, str>,
    /// For each physical line after the first: (byte offset in `text` where it
    /// starts, its line number), so errors can point at the exact line.
    pub(crate) breaks: Vec<(usize, usize)>,
}

impl LogicalLine<'_> {
    /// The physical line holding byte `off` of `text`.
    pub(crate) fn line_at(&self, off: usize) -> usize {
        let mut l = self.line;
        for &(o, n) in &self.breaks {
            if off >= o {
                l = n;
            } else {
                break;
            }
        }
        l
    }
}

/// Splits a rule file into logical lines. Lines whose first non-blank
/// character is `#` are comments; a line ending in `\` continues on the next.
pub(crate) fn logical_lines(text: &str) -> Vec<LogicalLine<'_>> {
    let mut out = Vec::new();
    let mut cur: Option<LogicalLine<'_>> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        let trimmed = line.trim();
        // Continuation lines keep their leading blanks (Suricata only removes
        // the backslash and the newline).
        let src = if cur.is_some() { line } else { trimmed };
        let (body, cont) = match src.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (src, false),
        };
        match cur.as_mut() {
            Some(c) => {
                // A comment line inside a continuation is left out of the rule.
                if trimmed.starts_with('#') {
                    continue;
                }
                let off = c.text.len();
                c.breaks.push((off, n));
                c.text.to_mut().push_str(body);
                if !cont && let Some(done) = cur.take() {
                    out.push(done);
                }
            }
            None => {
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let l = LogicalLine {
                    line: n,
                    text: std::borrow::Cow::Borrowed(body),
                    breaks: Vec::new(),
                };
                if cont {
                    cur = Some(l);
                } else {
                    out.push(l);
                }
            }
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    out
}

/// One `keyword[:value]` option with the byte offset of the keyword within the
/// option text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawOption<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: Option<&'a str>,
    pub(crate) offset: usize,
}

/// Splits the text between the rule's parentheses into options. A `;` ends an
/// option unless escaped (`\;`) or inside a double-quoted string.
pub(crate) fn split_options(body: &str) -> Result<Vec<RawOption<'_>>, (usize, String)> {
    let bytes = body.as_bytes();
    // ET rules have ~14 options: one allocation instead of four growths.
    let mut out = Vec::with_capacity(16);
    let mut i = 0;
    while let Some(start) = option_start(bytes, i) {
        i = start;
        let mut in_q = false;
        let mut end = None;
        // Jump from one byte that matters to the next (rule bodies are long).
        while let Some(k) = bytes
            .get(i..)
            .and_then(|rest| memchr::memchr3(b'\\', b'"', b';', rest))
        {
            let at = i + k;
            match bytes.get(at) {
                // An escape hides the next byte, whatever it is.
                Some(b'\\') => i = at + 2,
                Some(b'"') => {
                    in_q = !in_q;
                    i = at + 1;
                }
                _ if !in_q => {
                    end = Some(at);
                    break;
                }
                _ => i = at + 1,
            }
        }
        i = push_option(body, start, end, in_q, &mut out)?;
    }
    Ok(out)
}

/// Where the next option starts at or after `i` (blanks between options
/// skipped); `None` when only blanks are left.
fn option_start(bytes: &[u8], i: usize) -> Option<usize> {
    let rest = bytes.get(i..)?;
    rest.iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|k| i + k)
}

/// Adds the option that starts at `start` and ends at the `;` at `end` (none:
/// the body ended inside it) and returns where the next one may start.
fn push_option<'a>(
    body: &'a str,
    start: usize,
    end: Option<usize>,
    in_q: bool,
    out: &mut Vec<RawOption<'a>>,
) -> Result<usize, (usize, String)> {
    let Some(end) = end else {
        let frag = body[start..].trim();
        return Err((
            start,
            if in_q {
                format!("expected a closing `\"` in option `{frag}`")
            } else {
                format!("expected `;` after option `{frag}`")
            },
        ));
    };
    let opt = &body[start..end];
    let (name, value) = match memchr::memchr(b':', opt.as_bytes()) {
        // ASCII blanks, as Suricata's parser skips (and `str::trim`, which
        // also knows Unicode's, cost ≈ 3 % of loading all ET rules).
        Some(c) => (opt[..c].trim_ascii(), Some(opt[c + 1..].trim_ascii())),
        None => (opt.trim_ascii(), None),
    };
    if name.is_empty() {
        return Err((start, "expected a keyword before `:`".to_string()));
    }
    out.push(RawOption {
        name,
        value,
        offset: start,
    });
    Ok(end + 1)
}

/// Removes surrounding double quotes, when present.
pub(crate) fn unquote(s: &str) -> &str {
    let t = s.trim_ascii();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        &t[1..t.len() - 1]
    } else {
        t
    }
}

/// Resolves `\"`, `\;`, `\\`, `\:` escapes of a quoted string (msg and similar).
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_and_comments() {
        let t = "# c\n\nalert tcp any any -> any any ( \\\n msg:\"x\"; \\\nsid:1;)\n  # alert ...\nalert udp any any -> any any (sid:2;)\n";
        let l = logical_lines(t);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].line, 3);
        assert_eq!(
            l[0].text,
            "alert tcp any any -> any any (  msg:\"x\"; sid:1;)"
        );
        assert_eq!(l[0].line_at(l[0].text.find("sid").unwrap()), 5);
        assert_eq!(l[1].line, 7);
    }

    #[test]
    fn options_respect_quotes_and_escapes() {
        let o = split_options(r#"msg:"a;b"; content:"x\;y"; nocase; sid:1;"#).unwrap();
        let names: Vec<_> = o.iter().map(|o| o.name).collect();
        assert_eq!(names, ["msg", "content", "nocase", "sid"]);
        assert_eq!(o[0].value, Some("\"a;b\""));
        assert_eq!(o[1].value, Some(r#""x\;y""#));
        assert_eq!(o[2].value, None);
        let e = split_options("msg:\"abc; sid:1;").unwrap_err();
        assert!(e.1.contains("closing `\"`"), "{}", e.1);
        let e = split_options("sid:1; rev:2").unwrap_err();
        assert!(e.1.contains("expected `;`"));
    }

    /// The byte-at-a-time `split_options` that the `memchr3` jumps replaced.
    fn split_naive(body: &str) -> Result<Vec<RawOption<'_>>, (usize, String)> {
        let bytes = body.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(start) = option_start(bytes, i) {
            i = start;
            let (mut in_q, mut esc, mut end) = (false, false, None);
            while i < bytes.len() {
                let c = bytes[i];
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    in_q = !in_q;
                } else if c == b';' && !in_q {
                    end = Some(i);
                    break;
                }
                i += 1;
            }
            i = push_option(body, start, end, in_q, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn options_split_like_a_byte_at_a_time_scan() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"ab:; \\\"";
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x % 24) as usize;
            let mut y = x;
            let body: String = (0..n)
                .map(|_| {
                    y = y.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    char::from(alphabet[((y >> 33) % alphabet.len() as u64) as usize])
                })
                .collect();
            assert_eq!(split_options(&body), split_naive(&body), "{body:?}");
        }
    }

    #[test]
    fn unescaping() {
        assert_eq!(unescape(r#"a\"b\;c\\d"#), "a\"b;c\\d");
        assert_eq!(unquote(" \"x\" "), "x");
    }
}
