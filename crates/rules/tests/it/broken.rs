//! The table of broken rules: each gives `file:line`, its sid when readable,
//! and what was expected; none panics and none loads.

use stormwatch_rules::{RuleSet, RulesConfig};

/// Line N of this text is line N of `broken.rules`.
const BROKEN: &str = r#"alert tcp any any -> any any (msg:"no sid";)
alert tcp any any -> any any msg:"x"; sid:1;
alert tcp any any -> any any (sid:2;
alrt tcp any any -> any any (sid:3;)
log tcp any any -> any any (sid:4;)
alert foo any any -> any any (sid:5;)
alert tcp any any any any (sid:6;)
alert tcp any any => any any (sid:7;)
alert tcp $NOPE any -> any any (sid:8;)
alert tcp any 70000 -> any any (sid:9;)
alert tcp 1.2.3.4/40 any -> any any (sid:10;)
alert tcp !any any -> any any (sid:11;)
alert tcp any any -> any any (content:"abc; sid:12;)
alert tcp any any -> any any (content:"|4|"; sid:13;)
alert tcp any any -> any any (content:"|zz|"; sid:14;)
alert tcp any any -> any any (content:abc; sid:15;)
alert tcp any any -> any any (nocase; content:"a"; sid:16;)
alert tcp any any -> any any (content:"abcd"; depth:2; sid:17;)
alert tcp any any -> any any (content:"a"; content:"bcd"; within:2; sid:18;)
alert tcp any any -> any any (content:"a"; depth:5; distance:1; sid:19;)
alert tcp any any -> any any (content:"a"; offset:x; sid:20;)
alert tcp any any -> any any (pcre:"/(/"; sid:21;)
alert tcp any any -> any any (pcre:"abc"; sid:22;)
alert tcp any any -> any any (pcre:"/a/Q9"; sid:23;)
alert tcp any any -> any any (byte_test:2,=,1; sid:24;)
alert tcp any any -> any any (byte_test:2,~,1,0; sid:25;)
alert tcp any any -> any any (byte_test:12,=,1,0; sid:26;)
alert tcp any any -> any any (byte_test:4,=,1,0,dce; sid:27;)
alert tcp any any -> any any (byte_jump:4; sid:28;)
alert tcp any any -> any any (byte_extract:1,0; sid:29;)
alert tcp any any -> any any (byte_extract:1,0,9x; sid:30;)
alert tcp any any -> any any (isdataat:-1; sid:31;)
alert tcp any any -> any any (dsize:>x; sid:32;)
alert tcp any any -> any any (flags:SX; sid:33;)
alert tcp any any -> any any (flow:to_server,to_client; sid:34;)
alert tcp any any -> any any (flow:sideways; sid:35;)
alert tcp any any -> any any (flowbits:set; sid:36;)
alert tcp any any -> any any (flowbits:frob,x; sid:37;)
alert tcp any any -> any any (threshold:type limit, count 1, seconds 60; sid:38;)
alert tcp any any -> any any (classtype:nonexistent; sid:39;)
alert tcp any any -> any any (lua:script.lua; sid:40;)
alert tcp any any -> any any (frobnicate; sid:41;)
alert tcp any any -> any any (sid:abc;)
alert tcp any any -> any any (msg:"x"; sid:42; rev:x;)
alert tcp any any -> any any (priority:0; sid:43;)
alert tcp any any -> any any (app-layer-protocol:gopher; sid:44;)
alert tcp any any -> any any (ssl_version:tls9; sid:45;)
alert tcp any any -> any any ( \
  msg:"multi"; \
  content:"|0|"; \
  sid:46;)
alert udp any any -> any any (http.uri; content:"x"; sid:47;)
alert tls any any -> any any (http.uri; content:"x"; sid:48;)
alert tcp any any -> any any (content:"a"; fast_pattern:2,5; sid:49;)
alert tcp any any -> any any (reference:nocomma; sid:50;)
alert tcp any any -> any any (base64_data; content:"x"; sid:51;)
alert tcp any any -> any any (content:"x"; sid:52;) trailing
alert tcp any any -> any any (content:"x"; sid:53; rev:1;)
alert tcp any any -> any any (content:"y"; sid:53; rev:1;)
alert tcp any any -> any any (bsize:>3; sid:54;)
alert tcp any any -> any any (ipopts:bogus; sid:55;)
alert tcp any any -> any any (flowbits:set,a|b; sid:56;)
alert tcp any any -> any any (urilen:5,foo; sid:57;)
alert tcp any any -> any any (content:"a"; content:"b"; distance:1; distance:2; sid:58;)
alert tcp any any -> any any (content:"a\q"; sid:59;)
alert tcp any any -> any any (tcp-flags:S; sid:60;)
alert tcp any any -> any any (content:"a"; http_uri; http_header; sid:61;)
alert tcp any [80:70] -> any any (sid:62;)
alert dns any any -> any any (dns.rrtype:1,first; sid:63;)
alert dns any any -> any any (dns.rrtype:1,0,3:1; sid:64;)
alert dns any any -> any any (dns.opcode:1,0; sid:65;)
alert dns any any -> any any (dns.rrtype:count 2,all; sid:66;)
"#;

const EXPECTED: &[&str] = &[
    "broken.rules:1: expected a `sid` option",
    "broken.rules:2: sid 1: expected `(` starting the rule options after the header",
    "broken.rules:3: sid 2: expected `)` closing the rule options",
    "broken.rules:4: sid 3: expected an action (alert, pass, drop, reject, sdrop), found \"alrt\"",
    "broken.rules:5: sid 4: action `log` is not supported (expected alert, pass, drop, reject or sdrop)",
    "broken.rules:6: sid 5: expected a protocol (ip, tcp, udp, icmp, tcp-pkt, tcp-stream, http, tls, dns, ssh, ftp, smtp, tftp, irc, pop3, imap), found \"foo\"",
    "broken.rules:7: sid 6: expected 7 header fields `action proto src_addr src_port -> dst_addr dst_port`, found 6",
    "broken.rules:8: sid 7: expected direction `->` or `<>`, found \"=>\"",
    "broken.rules:9: sid 8: source address: undefined address variable $NOPE",
    "broken.rules:10: sid 9: source port: expected a port number 0-65535 in \"70000\", got \"70000\"",
    "broken.rules:11: sid 10: source address: prefix length 40 too long in \"1.2.3.4/40\"",
    "broken.rules:12: sid 11: source address: `!any` matches no address",
    "broken.rules:13: sid 12: expected a closing `\"` in option `content:\"abc; sid:12;`",
    "broken.rules:14: sid 13: content: odd number of hex digits between `|`",
    "broken.rules:15: sid 14: content: expected hex digits between `|`, found 'z'",
    "broken.rules:16: sid 15: content: expected a quoted string, found \"abc\"",
    "broken.rules:17: sid 16: nocase: expected a preceding `content`",
    "broken.rules:18: sid 17: depth: 2 is smaller than the content length 4",
    "broken.rules:19: sid 18: within: 2 is smaller than the content length 3",
    "broken.rules:20: sid 19: distance: expected either depth/offset or distance/within on one content, not both",
    "broken.rules:21: sid 20: offset: expected a number or a byte_extract variable, found \"x\"",
    "broken.rules:22: sid 21: pcre: expected a valid PCRE pattern: missing closing parenthesis at pattern offset 1",
    "broken.rules:23: sid 22: pcre: expected the pattern to start with `/` (or `m` and a delimiter)",
    "broken.rules:24: sid 23: pcre: unknown flag '9' (expected one of ismxAEGRUIPQHDMCKSYVWZBO)",
    "broken.rules:25: sid 24: byte_test: expected `bytes, operator, value, offset[, options]`",
    "broken.rules:26: sid 25: byte_test: expected an operator (<, >, =, !, <=, >=, &, ^), found \"~\"",
    "broken.rules:27: sid 26: byte_test: expected at most 8 bytes without `string`, found 12",
    "broken.rules:28: sid 27: byte_test: the `dce` option needs DCE/RPC decoding, which stormwatch does not do",
    "broken.rules:29: sid 28: byte_jump: expected `bytes, offset[, options]`",
    "broken.rules:30: sid 29: byte_extract: expected `bytes, offset, name[, options]`",
    "broken.rules:31: sid 30: byte_extract: expected a variable name, found \"9x\"",
    "broken.rules:32: sid 31: isdataat: expected a non-negative number",
    "broken.rules:33: sid 32: dsize: expected a non-negative number, found \"x\"",
    "broken.rules:34: sid 33: flags: expected flag letters from FSRPAUCE12 and 0, found 'X'",
    "broken.rules:35: sid 34: flow: to_server and to_client exclude each other",
    "broken.rules:36: sid 35: flow: expected to_server, to_client, established, not_established, stateless, only_stream or no_stream, found \"sideways\"",
    "broken.rules:37: sid 36: flowbits: expected `set,name`",
    "broken.rules:38: sid 37: flowbits: expected set, unset, toggle, isset, isnotset or noalert, found \"frob\"",
    "broken.rules:39: sid 38: threshold: expected `track by_src|by_dst|...`",
    "broken.rules:40: sid 39: classtype: \"nonexistent\" is not in the classification table",
    "broken.rules:41: sid 40: keyword \"lua\" is not supported by stormwatch",
    "broken.rules:42: sid 41: unknown keyword \"frobnicate\"",
    "broken.rules:43: sid: expected a positive integer, found \"abc\"",
    "broken.rules:44: sid 42: rev: expected an integer, found \"x\"",
    "broken.rules:45: sid 43: priority: expected an integer 1-255, found \"0\"",
    "broken.rules:46: sid 44: app-layer-protocol: unknown protocol \"gopher\"",
    "broken.rules:47: sid 45: ssl_version: expected sslv2, sslv3, tls1.0, tls1.1, tls1.2 or tls1.3, found \"tls9\"",
    "broken.rules:50: sid 46: content: odd number of hex digits between `|`",
    "broken.rules:52: sid 47: the rule's buffers belong to an application protocol the header protocol cannot carry",
    "broken.rules:53: sid 48: a sticky buffer needs http but the rule is for tls",
    "broken.rules:54: sid 49: fast_pattern: offset 2 + length 5 exceeds the content length 1",
    "broken.rules:55: sid 50: reference: expected `type,value`, found \"nocomma\"",
    "broken.rules:56: sid 51: base64_data: expected a preceding base64_decode in the same buffer",
    "broken.rules:57: sid 52: expected nothing after the closing `)`, found \"trailing\"",
    "broken.rules:59: sid 53: duplicate signature 1:53; the one with rev 1 is kept (higher rev wins, first loaded on a tie)",
    "broken.rules:60: sid 54: bsize: expected a preceding sticky buffer (e.g. http.uri)",
    "broken.rules:61: sid 55: ipopts: expected rr, eol, nop, ts, sec, esec, lsrr, ssrr, satid or any, found \"bogus\"",
    "broken.rules:62: sid 56: flowbits: set expects a single name",
    "broken.rules:63: sid 57: urilen: expected `raw` or `norm` after `,`, found \"foo\"",
    "broken.rules:64: sid 58: distance: expected one distance per content",
    "broken.rules:65: sid 59: content: unknown escape `\\q` (expected \\\", \\;, \\\\ or \\:)",
    "broken.rules:66: sid 60: unknown keyword \"tcp-flags\"",
    "broken.rules:67: sid 61: http_header: the preceding content is already bound to another buffer",
    "broken.rules:68: sid 62: source port: port range \"80:70\" runs backwards",
    "broken.rules:69: sid 63: dns.rrtype: expected an index (a number, any, all, all_or_absent, or_absent, oob_or N or nb <cmp>), found \"first\"",
    "broken.rules:70: sid 64: dns.rrtype: subslice \"3:1\": expected its end after its start",
    "broken.rules:71: sid 65: dns.opcode: expected one value (a message has one dns.opcode), found \"1,0\"",
    "broken.rules:72: sid 66: dns.rrtype: expected no index after count",
];

#[test]
fn every_broken_rule_names_place_and_expectation() {
    let (rs, rep) = RuleSet::from_text("broken.rules", BROKEN, &RulesConfig::default());
    let got: Vec<String> = rep.skips.iter().map(ToString::to_string).collect();
    assert!(EXPECTED.len() >= 40);
    for (i, (g, e)) in got.iter().zip(EXPECTED).enumerate() {
        assert_eq!(g, e, "entry {i}");
    }
    assert_eq!(got.len(), EXPECTED.len(), "{got:#?}");
    // Only the first of the two sid-53 rules loads.
    assert_eq!(rs.len(), 1);
    assert_eq!(rep.loaded(), 1);
    assert_eq!(rep.skipped(), EXPECTED.len());
    // The report table groups the reasons.
    let table = rep.to_string();
    assert!(table.contains("unsupported keyword \"lua\""), "{table}");
    assert!(table.contains("broken.rules"));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic walk over mutations of real rule text.
    let base = BROKEN.as_bytes();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut v = base.to_vec();
        let n = v.len();
        for k in 0..8 {
            let i = ((x >> (k * 8)) as usize).wrapping_mul(2654435761) % n;
            v[i] = (x >> (k * 7)) as u8;
        }
        let text = String::from_utf8_lossy(&v);
        let _ = RuleSet::from_text("fuzz.rules", &text, &RulesConfig::default());
    }
}
