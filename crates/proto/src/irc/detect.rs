//! IRC inspection buffers (our own names): `irc.command`, `irc.params`,
//! `irc.nick`, `irc.channel`. One transaction per message.

use stormwatch_model::{AppProto, BufferId, Direction, TxField, TxView};

/// One IRC message as the rule engine sees it.
#[derive(Debug)]
pub struct IrcTx<'a> {
    /// Message number in the session (both directions).
    pub tx_id: u64,
    /// Direction of the message.
    pub dir: Direction,
    /// Command or numeric as sent.
    pub command: &'a [u8],
    /// Everything after the command, as sent.
    pub params: &'a [u8],
    /// The session's current nick.
    pub nick: Option<&'a [u8]>,
    /// The channel the message is about.
    pub channel: Option<&'a [u8]>,
}

impl TxView for IrcTx<'_> {
    fn app_proto(&self) -> AppProto {
        AppProto::Irc
    }
    fn tx_id(&self) -> u64 {
        self.tx_id
    }
    fn buffer_count(&self, id: BufferId) -> usize {
        usize::from(self.buffer(id, 0).is_some())
    }
    fn buffer(&self, id: BufferId, idx: usize) -> Option<&[u8]> {
        if idx != 0 {
            return None;
        }
        match id {
            BufferId::IrcCommand => Some(self.command),
            BufferId::IrcParams => Some(self.params),
            BufferId::IrcNick => self.nick,
            BufferId::IrcChannel => self.channel,
            _ => None,
        }
    }
    fn field(&self, _: TxField) -> Option<u64> {
        None
    }
    fn complete(&self, _dir: Direction) -> bool {
        true
    }
}
