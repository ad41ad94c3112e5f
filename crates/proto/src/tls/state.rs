//! TLS session state.

use crate::api::{ParseStatus, ProtoSink, StreamParser};
use crate::config::ProtoConfig;
use stormwatch_model::{AppContext, AppProto, StreamData};

/// The TLS / SSLv2 / PCT stream parser.
#[derive(Debug)]
pub struct TlsParser {
    proto: AppProto,
}

impl TlsParser {
    /// A TLS parser.
    pub fn new(_cfg: &ProtoConfig) -> TlsParser {
        TlsParser {
            proto: AppProto::Tls,
        }
    }

    /// A parser for a connection identified as PCT.
    pub fn new_pct(cfg: &ProtoConfig) -> TlsParser {
        let mut p = TlsParser::new(cfg);
        p.proto = AppProto::Pct;
        p
    }
}

impl StreamParser for TlsParser {
    fn proto(&self) -> AppProto {
        self.proto
    }
    fn parse(&mut self, _: &AppContext, _: StreamData<'_>, _: &mut dyn ProtoSink) -> ParseStatus {
        ParseStatus::Ok
    }
    fn close(&mut self, _: &AppContext, _: &mut dyn ProtoSink) {}
}
