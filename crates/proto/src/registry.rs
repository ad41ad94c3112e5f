//! The protocol registry: for every protocol, its content probe and the
//! constructor of its parser. Order matters: more specific probes come first,
//! and a probe that needs more bytes holds back the ones after it.

use crate::api::{DatagramParser, ProbeFn, StreamParser};
use crate::config::ProtoConfig;
use stormwatch_model::AppProto;

/// Builds a stream parser for one flow.
pub type MakeStream = fn(&ProtoConfig) -> Box<dyn StreamParser + Send>;
/// Builds a datagram parser for one flow.
pub type MakeDatagram = fn(&ProtoConfig) -> Box<dyn DatagramParser + Send>;

/// A protocol identified on TCP streams.
#[derive(Copy, Clone)]
pub struct StreamProto {
    /// Protocol named when the probe matches.
    pub proto: AppProto,
    /// Content probe.
    pub probe: ProbeFn,
    /// Parser constructor.
    pub make: MakeStream,
}

/// A protocol identified on UDP datagrams.
#[derive(Copy, Clone)]
pub struct DatagramProto {
    /// Protocol named when the probe matches.
    pub proto: AppProto,
    /// Content probe (one datagram).
    pub probe: ProbeFn,
    /// Parser constructor.
    pub make: MakeDatagram,
}

impl std::fmt::Debug for StreamProto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamProto")
            .field("proto", &self.proto)
            .finish()
    }
}

impl std::fmt::Debug for DatagramProto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramProto")
            .field("proto", &self.proto)
            .finish()
    }
}

fn make_tls(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::tls::TlsParser::new(cfg))
}
fn make_pct(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::tls::TlsParser::new_pct(cfg))
}
fn make_ssh(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::ssh::SshParser::new(cfg))
}
fn make_irc(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::irc::IrcParser::new(cfg))
}
fn make_http(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::http::HttpParser::new(cfg))
}
fn make_ftp(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::ftp::FtpParser::new(cfg))
}
fn make_ftp_data(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::ftp::FtpDataParser::new(cfg))
}
fn make_dns_tcp(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::dns::DnsTcpParser::new(cfg))
}
fn make_dns_udp(cfg: &ProtoConfig) -> Box<dyn DatagramParser + Send> {
    Box::new(crate::dns::DnsUdpParser::new(cfg))
}
fn make_smtp(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::smtp::SmtpParser::new(cfg))
}
fn make_tftp(cfg: &ProtoConfig) -> Box<dyn DatagramParser + Send> {
    Box::new(crate::tftp::TftpParser::new(cfg))
}
fn make_pop3(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::mail::MailParser::new_pop3(cfg))
}
fn make_imap(cfg: &ProtoConfig) -> Box<dyn StreamParser + Send> {
    Box::new(crate::mail::MailParser::new_imap(cfg))
}

/// TCP protocols in probe order.
pub const STREAM_PROTOS: &[StreamProto] = &[
    StreamProto {
        proto: AppProto::Pct,
        probe: crate::tls::probe_pct,
        make: make_pct,
    },
    StreamProto {
        proto: AppProto::Tls,
        probe: crate::tls::probe,
        make: make_tls,
    },
    StreamProto {
        proto: AppProto::Ssh,
        probe: crate::ssh::probe,
        make: make_ssh,
    },
    StreamProto {
        proto: AppProto::Irc,
        probe: crate::irc::probe,
        make: make_irc,
    },
    StreamProto {
        proto: AppProto::Http,
        probe: crate::http::probe,
        make: make_http,
    },
    StreamProto {
        proto: AppProto::Ftp,
        probe: crate::ftp::probe,
        make: make_ftp,
    },
    StreamProto {
        proto: AppProto::Smtp,
        probe: crate::smtp::probe,
        make: make_smtp,
    },
    StreamProto {
        proto: AppProto::Imap,
        probe: crate::mail::probe_imap,
        make: make_imap,
    },
    StreamProto {
        proto: AppProto::Pop3,
        probe: crate::mail::probe_pop3,
        make: make_pop3,
    },
    StreamProto {
        proto: AppProto::Dns,
        probe: crate::dns::probe_tcp,
        make: make_dns_tcp,
    },
];

/// UDP protocols in probe order.
pub const DATAGRAM_PROTOS: &[DatagramProto] = &[
    DatagramProto {
        proto: AppProto::Dns,
        probe: crate::dns::probe,
        make: make_dns_udp,
    },
    DatagramProto {
        proto: AppProto::Tftp,
        probe: crate::tftp::probe,
        make: make_tftp,
    },
];

/// The parser constructor for `proto` on streams, if registered.
pub fn stream_maker(proto: AppProto) -> Option<MakeStream> {
    STREAM_PROTOS
        .iter()
        .find(|p| p.proto == proto)
        .map(|p| p.make)
}

/// The constructor for the parser of an expected data connection
/// (FTP data, IRC DCC SEND).
pub fn data_channel_maker() -> Option<MakeStream> {
    Some(make_ftp_data)
}
