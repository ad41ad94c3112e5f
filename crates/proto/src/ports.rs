//! The registered-port table (IANA service names, plus the ports the IRC world
//! uses) and the masquerade judgement: a protocol identified by content on a
//! server port registered to another protocol.

use crate::config::Transport;
use stormwatch_model::AppProto;

/// One registered server port.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RegisteredPort {
    /// Transport.
    pub transport: Transport,
    /// Port number.
    pub port: u16,
    /// Service name as IANA (or common use) spells it: `https`, `irc`, `ssh`.
    pub service: &'static str,
    /// Protocols that may run there without being a masquerade. An empty list
    /// means a service stormwatch does not parse (any identified protocol there
    /// is a masquerade).
    pub protos: &'static [AppProto],
    /// The service also runs wrapped in TLS or upgrades to it (STARTTLS, IRC
    /// over TLS): TLS there is not a masquerade.
    pub tls_ok: bool,
}

const fn tcp(
    port: u16,
    service: &'static str,
    protos: &'static [AppProto],
    tls_ok: bool,
) -> RegisteredPort {
    RegisteredPort {
        transport: Transport::Tcp,
        port,
        service,
        protos,
        tls_ok,
    }
}

const fn udp(port: u16, service: &'static str, protos: &'static [AppProto]) -> RegisteredPort {
    RegisteredPort {
        transport: Transport::Udp,
        port,
        service,
        protos,
        tls_ok: false,
    }
}

use AppProto::{Dns, Ftp, FtpData, Http, Imap, Irc, Pct, Pop3, Smtp, Ssh, Tftp, Tls};

const TLS: &[AppProto] = &[Tls, Pct];
const IRC: &[AppProto] = &[Irc];

/// The table, sorted by (transport, port).
pub const REGISTERED_PORTS: &[RegisteredPort] = &[
    tcp(20, "ftp-data", &[FtpData], true),
    tcp(21, "ftp", &[Ftp], true),
    tcp(22, "ssh", &[Ssh], false),
    tcp(23, "telnet", &[], false),
    tcp(25, "smtp", &[Smtp], true),
    tcp(53, "domain", &[Dns], false),
    tcp(80, "http", &[Http], false),
    tcp(110, "pop3", &[Pop3], true),
    tcp(119, "nntp", &[], true),
    tcp(135, "epmap", &[], false),
    tcp(139, "netbios-ssn", &[], false),
    tcp(143, "imap", &[Imap], true),
    tcp(389, "ldap", &[], true),
    tcp(443, "https", TLS, true),
    tcp(445, "microsoft-ds", &[], false),
    tcp(465, "submissions", &[Smtp], true),
    tcp(587, "submission", &[Smtp], true),
    tcp(636, "ldaps", TLS, true),
    tcp(639, "msdp", TLS, true),
    tcp(989, "ftps-data", &[FtpData], true),
    tcp(990, "ftps", &[Ftp], true),
    tcp(992, "telnets", TLS, true),
    tcp(993, "imaps", &[Imap], true),
    tcp(994, "ircs", IRC, true),
    tcp(995, "pop3s", &[Pop3], true),
    tcp(1433, "ms-sql-s", &[], false),
    tcp(3128, "squid-http", &[Http], true),
    tcp(3306, "mysql", &[], false),
    tcp(3389, "ms-wbt-server", &[], true),
    tcp(5900, "rfb", &[], false),
    tcp(6660, "irc", IRC, true),
    tcp(6661, "irc", IRC, true),
    tcp(6662, "irc", IRC, true),
    tcp(6663, "irc", IRC, true),
    tcp(6664, "irc", IRC, true),
    tcp(6665, "irc", IRC, true),
    tcp(6666, "irc", IRC, true),
    tcp(6667, "irc", IRC, true),
    tcp(6668, "irc", IRC, true),
    tcp(6669, "irc", IRC, true),
    tcp(6697, "ircs-u", IRC, true),
    tcp(7000, "irc", IRC, true),
    tcp(8080, "http-alt", &[Http], true),
    tcp(8443, "https-alt", TLS, true),
    udp(53, "domain", &[Dns]),
    udp(69, "tftp", &[Tftp]),
    udp(123, "ntp", &[]),
    udp(137, "netbios-ns", &[]),
    udp(161, "snmp", &[]),
    udp(5353, "mdns", &[Dns]),
];

/// The registration of `port` on `transport`, if any.
pub fn registered(transport: Transport, port: u16) -> Option<&'static RegisteredPort> {
    REGISTERED_PORTS
        .binary_search_by(|r| (r.transport, r.port).cmp(&(transport, port)))
        .ok()
        .and_then(|i| REGISTERED_PORTS.get(i))
}

/// Whether `proto` on server port `port` is a masquerade; returns the port's
/// registration when it is.
///
/// Not a masquerade: unregistered ports, the port's own protocols, TLS on ports
/// whose service also runs over TLS (IRC on 6667, IMAP on 993...), protocols
/// that are not named (`unknown`/`failed`) and FTP data connections (their port
/// is negotiated).
pub fn masquerade(
    transport: Transport,
    port: u16,
    proto: AppProto,
) -> Option<&'static RegisteredPort> {
    if !proto.is_known() || proto == FtpData {
        return None;
    }
    let reg = registered(transport, port)?;
    if reg.protos.contains(&proto) {
        return None;
    }
    if matches!(proto, Tls | Pct) && reg.tls_ok {
        return None;
    }
    Some(reg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        for w in REGISTERED_PORTS.windows(2) {
            assert!((w[0].transport, w[0].port) < (w[1].transport, w[1].port));
        }
    }

    #[test]
    fn masquerade_cases() {
        let t = Transport::Tcp;
        assert_eq!(masquerade(t, 443, Irc).map(|r| r.service), Some("https"));
        assert_eq!(masquerade(t, 80, Ssh).map(|r| r.service), Some("http"));
        assert_eq!(masquerade(t, 22, Http).map(|r| r.service), Some("ssh"));
        assert!(masquerade(t, 445, Irc).is_some());
        // Not masquerades.
        assert!(masquerade(t, 443, Tls).is_none());
        assert!(masquerade(t, 443, Pct).is_none());
        assert!(masquerade(t, 6667, Tls).is_none());
        assert!(masquerade(t, 6667, Irc).is_none());
        assert!(masquerade(t, 993, Tls).is_none());
        assert!(masquerade(t, 995, Tls).is_none());
        assert!(masquerade(t, 31337, Irc).is_none());
        assert!(masquerade(t, 8000, Http).is_none());
        assert!(masquerade(t, 443, AppProto::Unknown).is_none());
        assert!(masquerade(t, 443, AppProto::Failed).is_none());
        assert!(masquerade(t, 80, FtpData).is_none());
        assert!(masquerade(Transport::Udp, 5353, Dns).is_none());
        assert!(masquerade(Transport::Udp, 123, Dns).is_some());
    }
}
