//! Pure SMTP parsing: command classification and parameters (Suricata's rules:
//! the parameter of HELO/MAIL FROM/RCPT TO starts after the keyword, leading
//! spaces skipped, and ends at the next space), reply lines, BDAT sizes.

use crate::files::starts_with_nocase;
use crate::files::util::parse_u64;

/// The commands the state machine cares about; the rest is `Other`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    /// HELO or EHLO.
    Helo,
    /// MAIL FROM.
    MailFrom,
    /// RCPT TO.
    RcptTo,
    /// DATA.
    Data,
    /// BDAT (CHUNKING).
    Bdat,
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
    /// STARTTLS.
    StartTls,
    /// Anything else (AUTH, NOOP, VRFY, base64 lines...).
    Other,
}

/// Classifies a command line (case-insensitive prefixes, as Suricata does).
pub fn classify(line: &[u8]) -> Verb {
    let p = |s: &[u8]| starts_with_nocase(line, s);
    if p(b"starttls") {
        Verb::StartTls
    } else if p(b"data") {
        Verb::Data
    } else if p(b"bdat") {
        Verb::Bdat
    } else if p(b"helo") || p(b"ehlo") {
        Verb::Helo
    } else if p(b"mail from") {
        Verb::MailFrom
    } else if p(b"rcpt to") {
        Verb::RcptTo
    } else if p(b"rset") {
        Verb::Rset
    } else if p(b"quit") {
        Verb::Quit
    } else {
        Verb::Other
    }
}

/// The parameter of a command whose keyword (plus one separator byte) is
/// `prefix_len` bytes: leading spaces skipped, up to the next space.
pub fn param(line: &[u8], prefix_len: usize) -> &[u8] {
    let rest = line.get(prefix_len + 1..).unwrap_or(&[]);
    let start = rest.iter().position(|&c| c != b' ').unwrap_or(rest.len());
    let rest = &rest[start..];
    let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
    &rest[..end]
}

/// The HELO/EHLO argument.
pub fn helo_param(line: &[u8]) -> &[u8] {
    param(line, 4)
}

/// The MAIL FROM argument (`<a@b>`).
pub fn mail_from_param(line: &[u8]) -> &[u8] {
    param(line, 9)
}

/// The RCPT TO argument.
pub fn rcpt_to_param(line: &[u8]) -> &[u8] {
    param(line, 7)
}

/// A BDAT command: chunk size and the LAST flag; `None` when the size is not a
/// number.
pub fn parse_bdat(line: &[u8]) -> Option<(u64, bool)> {
    let mut it = line.split(|&c| c == b' ').filter(|s| !s.is_empty()).skip(1);
    let size = parse_u64(it.next()?)?;
    let last = it.next().is_some_and(|w| w.eq_ignore_ascii_case(b"LAST"));
    Some((size, last))
}

/// A reply line: code and whether more lines of the same reply follow
/// (`250-...`). `None` when the line does not start with three digits.
pub fn parse_reply(line: &[u8]) -> Option<(u16, bool)> {
    let c = line.get(..3)?;
    if !c.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = u16::try_from(parse_u64(c)?).ok()?;
    Some((code, line.get(3) == Some(&b'-')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_and_params() {
        assert_eq!(classify(b"staRttLs"), Verb::StartTls);
        assert_eq!(classify(b"mail from:<a@b>"), Verb::MailFrom);
        assert_eq!(classify(b"MAILX"), Verb::Other);
        assert_eq!(classify(b"EHLO"), Verb::Helo);
        assert_eq!(mail_from_param(b"MAIL FROM: <a@b> SIZE=10"), b"<a@b>");
        assert_eq!(
            mail_from_param(b"mail from:<alice@example.com>"),
            b"<alice@example.com>"
        );
        assert_eq!(rcpt_to_param(b"RCPT TO:<x@y>"), b"<x@y>");
        assert_eq!(helo_param(b"EHLO OBLAH\r"), b"OBLAH\r");
        assert_eq!(helo_param(b"EHLO"), b"");
        assert_eq!(parse_bdat(b"BDAT 154 LAST"), Some((154, true)));
        assert_eq!(parse_bdat(b"bdat 64"), Some((64, false)));
        assert_eq!(parse_bdat(b"BDAT x"), None);
        assert_eq!(parse_reply(b"250-PIPELINING"), Some((250, true)));
        assert_eq!(parse_reply(b"250"), Some((250, false)));
        assert_eq!(parse_reply(b"hello"), None);
    }
}
