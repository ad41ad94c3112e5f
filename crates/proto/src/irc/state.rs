//! IRC session state.

use crate::api::{ParseStatus, ProtoSink, StreamParser};
use crate::config::ProtoConfig;
use stormwatch_model::{AppContext, AppProto, StreamData};

/// The IRC stream parser.
#[derive(Debug)]
pub struct IrcParser {}

impl IrcParser {
    /// A parser for one connection.
    pub fn new(_cfg: &ProtoConfig) -> IrcParser {
        IrcParser {}
    }
}

impl StreamParser for IrcParser {
    fn proto(&self) -> AppProto {
        AppProto::Irc
    }
    fn parse(&mut self, _: &AppContext, _: StreamData<'_>, _: &mut dyn ProtoSink) -> ParseStatus {
        ParseStatus::Ok
    }
    fn close(&mut self, _: &AppContext, _: &mut dyn ProtoSink) {}
}
