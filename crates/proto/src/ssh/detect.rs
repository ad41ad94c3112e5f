//! SSH inspection buffers: `ssh.proto` and `ssh.software` of the side whose data
//! is being inspected.

use super::state::{SshSide, SshState};
use stormwatch_model::{AppProto, BufferId, Direction, TxField, TxView};

/// The SSH transaction seen from one direction.
#[derive(Debug)]
pub struct SshTx<'a> {
    /// Session state.
    pub state: &'a SshState,
    /// Direction being inspected.
    pub dir: Direction,
}

impl SshTx<'_> {
    fn side(&self) -> &SshSide {
        match self.dir {
            Direction::ToServer => &self.state.client,
            Direction::ToClient => &self.state.server,
        }
    }
}

impl TxView for SshTx<'_> {
    fn app_proto(&self) -> AppProto {
        AppProto::Ssh
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
        let side = self.side();
        match id {
            BufferId::SshProto if side.banner_done => Some(&side.proto_version),
            BufferId::SshSoftware if side.banner_done => Some(&side.software_version),
            _ => None,
        }
    }
    fn field(&self, _: TxField) -> Option<u64> {
        None
    }
    fn complete(&self, dir: Direction) -> bool {
        match dir {
            Direction::ToServer => self.state.client.banner_done,
            Direction::ToClient => self.state.server.banner_done,
        }
    }
}
