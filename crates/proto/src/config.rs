//! Protocol-stage configuration: limits and logger options, per protocol.

/// Settings of the protocol stage.
#[derive(Clone, Debug, Default)]
pub struct ProtoConfig {
    /// HTTP settings.
    pub http: crate::http::HttpConfig,
    /// DNS settings.
    pub dns: crate::dns::DnsConfig,
    /// FTP settings.
    pub ftp: crate::ftp::FtpConfig,
    /// SMTP settings.
    pub smtp: crate::smtp::SmtpConfig,
    /// TFTP settings.
    pub tftp: crate::tftp::TftpConfig,
}
