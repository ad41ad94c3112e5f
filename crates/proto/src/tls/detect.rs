//! TLS inspection buffers (`tls.sni`, `tls.cert_subject`, `tls.cert_issuer`,
//! `tls.cert_serial`, `tls.cert_fingerprint`, `tls.version`) and the
//! `ssl_state` / `ssl_version` fields. One transaction per connection.

use super::state::TlsState;
use stormwatch_model::{AppProto, BufferId, Direction, SSL_STATE_UNKNOWN, TxField, TxView};

/// The TLS transaction seen from one direction.
#[derive(Debug)]
pub struct TlsTx<'a> {
    /// Connection facts.
    pub state: &'a TlsState,
    /// Direction inspected (selects the hello version for `ssl_version`).
    pub dir: Direction,
}

/// Suricata's version names: `SSLv2`, `SSLv3`, `TLSv1`, `TLS 1.1`, `TLS 1.2`,
/// `TLS 1.3`, `UNDETERMINED`.
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "UNDETERMINED",
    }
}

impl TxView for TlsTx<'_> {
    fn app_proto(&self) -> AppProto {
        AppProto::Tls
    }
    fn tx_id(&self) -> u64 {
        0
    }
    fn buffer_count(&self, id: BufferId) -> usize {
        usize::from(self.buffer(id, 0).is_some())
    }
    fn buffer(&self, id: BufferId, idx: usize) -> Option<&[u8]> {
        if idx != 0 {
            return None;
        }
        let leaf = self.state.certs.first();
        match id {
            BufferId::TlsSni => self.state.sni.as_deref(),
            BufferId::TlsCertSubject => leaf.map(|c| c.subject.as_bytes()),
            BufferId::TlsCertIssuer => leaf.map(|c| c.issuer.as_bytes()),
            BufferId::TlsCertSerial => leaf.map(|c| c.serial.as_bytes()),
            BufferId::TlsCertFingerprint => leaf.map(|c| c.fingerprint.as_bytes()),
            BufferId::TlsVersion => {
                let v = self.state.server.version;
                (v != 0).then(|| version_name(v).as_bytes())
            }
            _ => None,
        }
    }
    fn field(&self, f: TxField) -> Option<u64> {
        let side = match self.dir {
            Direction::ToServer => &self.state.client,
            Direction::ToClient => &self.state.server,
        };
        match f {
            TxField::TlsVersion => (side.version != 0).then_some(u64::from(side.version)),
            TxField::SslState => Some(if self.state.ssl_state == 0 {
                SSL_STATE_UNKNOWN
            } else {
                self.state.ssl_state
            }),
            TxField::SslVersions => {
                // The hello's version, as Suricata's `ssl_version` reads it: an
                // SSLv2-format client hello offering TLS 1.0 is TLS 1.0.
                let v = if side.version == 0 && side.sslv2 {
                    0x0002
                } else {
                    side.version
                };
                let bits = super::state::version_bits(v);
                (bits != 0).then_some(bits)
            }
            _ => None,
        }
    }
    fn complete(&self, dir: Direction) -> bool {
        match dir {
            Direction::ToServer => self.state.client.version != 0,
            Direction::ToClient => !self.state.certs.is_empty() || self.state.handshake_done,
        }
    }
}
