//! Rule profiling: how often each rule was evaluated, how often it matched
//! and the time its evaluations took, and per buffer how much the prefilter
//! searched and for how long — the questions Suricata's `rule_perf.log`
//! answers for an operator deciding which rules a busy sensor can afford
//! (`stormwatch analyze --rule-profile FILE`).
//!
//! Off by default ([`RuleSet::enable_profiling`](crate::RuleSet::enable_profiling)):
//! then each candidate costs one test of an `Option`. On, each evaluation and
//! each search reads the clock twice (tens of nanoseconds each), so the
//! figures include that overhead and a profiled run is slower.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use stormwatch_model::{BufferId, SignatureInfo};

/// Where a prefilter search ran.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SearchAt {
    /// A packet's payload (packet rules).
    Packet,
    /// The new bytes of a reassembled stream (stream rules).
    Stream,
    /// A transaction buffer.
    Tx(BufferId),
}

impl SearchAt {
    fn index(self) -> usize {
        match self {
            SearchAt::Packet => 0,
            SearchAt::Stream => 1,
            SearchAt::Tx(b) => 2 + b as usize,
        }
    }
}

#[derive(Debug, Default)]
struct RuleCounts {
    checks: AtomicU64,
    matches: AtomicU64,
    total_ns: AtomicU64,
    match_ns: AtomicU64,
    max_ns: AtomicU64,
}

#[derive(Debug, Default)]
struct SearchCounts {
    calls: AtomicU64,
    bytes: AtomicU64,
    total_ns: AtomicU64,
}

/// The counters of a profiled rule set.
#[derive(Debug)]
pub(crate) struct Profile {
    rules: Box<[RuleCounts]>,
    searches: Box<[SearchCounts]>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Profile {
    pub(crate) fn new(rules: usize) -> Profile {
        Profile {
            rules: (0..rules).map(|_| RuleCounts::default()).collect(),
            searches: (0..2 + BufferId::ALL.len())
                .map(|_| SearchCounts::default())
                .collect(),
        }
    }

    /// Rule `ri` was evaluated from `since` until now; `matched`: it matched.
    pub(crate) fn rule(&self, ri: u32, since: Instant, matched: bool) {
        let Some(c) = self.rules.get(ri as usize) else {
            return;
        };
        let ns = nanos(since.elapsed());
        c.checks.fetch_add(1, Relaxed);
        c.total_ns.fetch_add(ns, Relaxed);
        c.max_ns.fetch_max(ns, Relaxed);
        if matched {
            c.matches.fetch_add(1, Relaxed);
            c.match_ns.fetch_add(ns, Relaxed);
        }
    }

    /// A search of `bytes` bytes at `at` ran from `since` until now.
    pub(crate) fn search(&self, at: SearchAt, bytes: usize, since: Instant) {
        let Some(c) = self.searches.get(at.index()) else {
            return;
        };
        c.calls.fetch_add(1, Relaxed);
        c.bytes.fetch_add(bytes as u64, Relaxed);
        c.total_ns.fetch_add(nanos(since.elapsed()), Relaxed);
    }

    /// The counters so far, with each rule's signature from `sigs` (by rule
    /// index).
    pub(crate) fn report<'s>(
        &self,
        sigs: impl Iterator<Item = &'s SignatureInfo>,
    ) -> ProfileReport {
        let mut rules: Vec<RuleProfile> = sigs
            .zip(self.rules.iter())
            .filter(|(_, c)| c.checks.load(Relaxed) > 0)
            .map(|(s, c)| RuleProfile {
                gid: s.gid,
                sid: s.sid,
                rev: s.rev,
                msg: s.msg.clone(),
                checks: c.checks.load(Relaxed),
                matches: c.matches.load(Relaxed),
                total_ns: c.total_ns.load(Relaxed),
                match_ns: c.match_ns.load(Relaxed),
                max_ns: c.max_ns.load(Relaxed),
            })
            .collect();
        rules.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(a.sid.cmp(&b.sid)));
        let names = ["packet", "stream"]
            .into_iter()
            .chain(BufferId::ALL.iter().map(|&b| buffer_name(b)));
        let mut searches: Vec<SearchProfile> = names
            .zip(self.searches.iter())
            .filter(|(_, c)| c.calls.load(Relaxed) > 0)
            .map(|(buffer, c)| SearchProfile {
                buffer,
                calls: c.calls.load(Relaxed),
                bytes: c.bytes.load(Relaxed),
                total_ns: c.total_ns.load(Relaxed),
            })
            .collect();
        searches.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(a.buffer.cmp(b.buffer)));
        ProfileReport { rules, searches }
    }
}

/// A buffer's name as rules write it (Suricata's sticky-buffer names; a
/// response's header buffers as `http.response_*`, as stormwatch keeps them).
pub fn buffer_name(b: BufferId) -> &'static str {
    use BufferId::*;
    match b {
        HttpUri => "http.uri",
        HttpRawUri => "http.uri.raw",
        HttpMethod => "http.method",
        HttpProtocol => "http.protocol",
        HttpRequestLine => "http.request_line",
        HttpResponseLine => "http.response_line",
        HttpStart => "http.start",
        HttpHost => "http.host",
        HttpRawHost => "http.host.raw",
        HttpHeader => "http.header",
        HttpRawHeader => "http.header.raw",
        HttpHeaderNames => "http.header_names",
        HttpUserAgent => "http.user_agent",
        HttpCookie => "http.cookie",
        HttpReferer => "http.referer",
        HttpContentType => "http.content_type",
        HttpContentLen => "http.content_len",
        HttpAccept => "http.accept",
        HttpAcceptEnc => "http.accept_enc",
        HttpAcceptLang => "http.accept_lang",
        HttpConnection => "http.connection",
        HttpLocation => "http.location",
        HttpServer => "http.server",
        HttpStatCode => "http.stat_code",
        HttpStatMsg => "http.stat_msg",
        HttpRequestBody => "http.request_body",
        HttpResponseBody => "http.response_body",
        FileData => "file.data",
        HttpResponseHeader => "http.response_header",
        HttpResponseRawHeader => "http.response_header.raw",
        HttpResponseCookie => "http.response_cookie",
        HttpResponseContentType => "http.response_content_type",
        HttpResponseContentLen => "http.response_content_len",
        HttpResponseHeaderNames => "http.response_header_names",
        HttpResponseStart => "http.response_start",
        TlsSni => "tls.sni",
        TlsCertSubject => "tls.cert_subject",
        TlsCertIssuer => "tls.cert_issuer",
        TlsCertSerial => "tls.cert_serial",
        TlsCertFingerprint => "tls.cert_fingerprint",
        TlsVersion => "tls.version",
        DnsQuery => "dns.query",
        SshProto => "ssh.proto",
        SshSoftware => "ssh.software",
        IrcCommand => "irc.command",
        IrcParams => "irc.params",
        IrcNick => "irc.nick",
        IrcChannel => "irc.channel",
        FtpCommand => "ftp.command",
        SmtpHelo => "smtp.helo",
        SmtpMailFrom => "smtp.mail_from",
        SmtpRcptTo => "smtp.rcpt_to",
    }
}

/// One rule's profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleProfile {
    /// Generator id.
    pub gid: u32,
    /// Signature id.
    pub sid: u32,
    /// Revision.
    pub rev: u32,
    /// `msg`.
    pub msg: String,
    /// Evaluations (the prefilter made it a candidate, or it has no key).
    pub checks: u64,
    /// Evaluations that matched (before thresholds and `noalert`).
    pub matches: u64,
    /// Nanoseconds of all its evaluations.
    pub total_ns: u64,
    /// Nanoseconds of the evaluations that matched.
    pub match_ns: u64,
    /// Longest single evaluation, nanoseconds.
    pub max_ns: u64,
}

impl RuleProfile {
    /// Mean nanoseconds of an evaluation.
    pub fn avg_ns(&self) -> u64 {
        self.total_ns / self.checks.max(1)
    }

    /// Mean nanoseconds of an evaluation that matched.
    pub fn avg_match_ns(&self) -> u64 {
        self.match_ns / self.matches.max(1)
    }

    /// Mean nanoseconds of an evaluation that did not match.
    pub fn avg_nomatch_ns(&self) -> u64 {
        (self.total_ns - self.match_ns) / (self.checks - self.matches).max(1)
    }
}

/// One buffer's prefilter searches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchProfile {
    /// `packet`, `stream`, or the transaction buffer's name.
    pub buffer: &'static str,
    /// Searches.
    pub calls: u64,
    /// Bytes searched.
    pub bytes: u64,
    /// Nanoseconds.
    pub total_ns: u64,
}

/// A profiled rule set's counters ([`RuleSet::profile`](crate::RuleSet::profile)):
/// the rules evaluated at least once, most time first; the buffers searched,
/// most time first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileReport {
    /// Rules evaluated at least once.
    pub rules: Vec<RuleProfile>,
    /// Buffers searched at least once.
    pub searches: Vec<SearchProfile>,
}

impl ProfileReport {
    /// A text table: the `top` costliest rules, then every buffer searched.
    pub fn table(&self, top: usize) -> String {
        use std::fmt::Write;
        let total: u64 = self.rules.iter().map(|r| r.total_ns).sum();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:>12} {:>10} {:>10} {:>12} {:>10} {:>6}  rule",
            "sid", "checks", "matches", "total µs", "avg ns", "%"
        );
        for r in self.rules.iter().take(top) {
            let _ = writeln!(
                s,
                "{:>12} {:>10} {:>10} {:>12.1} {:>10} {:>6.2}  {}",
                format!("{}:{}:{}", r.gid, r.sid, r.rev),
                r.checks,
                r.matches,
                r.total_ns as f64 / 1e3,
                r.avg_ns(),
                percent(r.total_ns, total),
                r.msg
            );
        }
        let _ = writeln!(
            s,
            "{} rules evaluated, {:.1} ms in all",
            self.rules.len(),
            total as f64 / 1e6
        );
        let _ = writeln!(
            s,
            "{:<28} {:>12} {:>14} {:>12} {:>10}",
            "searched buffer", "searches", "bytes", "ms", "MB/s"
        );
        for b in &self.searches {
            let _ = writeln!(
                s,
                "{:<28} {:>12} {:>14} {:>12.1} {:>10.0}",
                b.buffer,
                b.calls,
                b.bytes,
                b.total_ns as f64 / 1e6,
                b.bytes as f64 * 1e3 / b.total_ns.max(1) as f64
            );
        }
        s
    }
}

/// `part` of `whole` in percent (0 for an empty whole).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer's counters sit at its declaration index, and the report
    /// names them in `BufferId::ALL`'s order: the two must agree, and every
    /// buffer needs its own name.
    #[test]
    fn buffers_are_counted_and_named_in_one_order() {
        for (i, &b) in BufferId::ALL.iter().enumerate() {
            assert_eq!(SearchAt::Tx(b).index(), 2 + i, "{b:?}");
        }
        let mut names: Vec<&str> = BufferId::ALL.iter().map(|&b| buffer_name(b)).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BufferId::ALL.len());
        let p = Profile::new(0);
        p.search(SearchAt::Tx(BufferId::DnsQuery), 9, Instant::now());
        let r = p.report(std::iter::empty());
        assert_eq!(r.searches.len(), 1);
        assert_eq!(
            (r.searches[0].buffer, r.searches[0].bytes),
            ("dns.query", 9)
        );
    }
}
