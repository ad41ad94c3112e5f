//! TFTP flow state: requests (EVE `tftp` records) and DATA blocks assembled
//! into a file, with retransmissions ignored and missing blocks counted as gaps.

use super::TftpConfig;
use super::parser::{Packet, parse_packet};
use crate::ProtoConfig;
use crate::api::{DatagramParser, ParseStatus, ProtoSink, app_record, parser_anomaly};
use crate::files::util::{parse_u64, string_from_bytes};
use crate::files::{FileTracker, fileinfo_record};
use stormwatch_model::{AppContext, AppEvent, AppProto, Direction};

/// Default block size (RFC 1350).
const BLOCK: u64 = 512;

#[derive(Debug)]
struct Transfer {
    file: FileTracker,
    dir: Direction,
    last_block: u16,
    block_size: u64,
    /// Blocks seen, to tell a 16-bit block number roll-over from a replay.
    blocks: u64,
}

/// TFTP parser for one UDP flow (a request flow, a transfer flow, or both).
#[derive(Debug)]
pub struct TftpParser {
    cfg: TftpConfig,
    next_tx: u64,
    name: Option<String>,
    block_size: u64,
    transfer: Option<Transfer>,
    anomaly_sent: bool,
}

impl TftpParser {
    /// A parser with the settings in `cfg.tftp`.
    pub fn new(cfg: &ProtoConfig) -> Self {
        TftpParser {
            cfg: cfg.tftp.clone(),
            next_tx: 0,
            name: None,
            block_size: BLOCK,
            transfer: None,
            anomaly_sent: false,
        }
    }

    /// A parser for a transfer flow announced by a request for `file` (the
    /// server answers from a new port, so the transfer is another flow).
    pub fn for_transfer(cfg: &ProtoConfig, file: Option<&str>) -> Self {
        let mut p = Self::new(cfg);
        p.name = file.map(str::to_owned);
        p
    }

    fn finish(&mut self, ctx: &AppContext, truncated: bool, sink: &mut dyn ProtoSink) {
        let Some(t) = self.transfer.take() else {
            return;
        };
        let ev = t.file.finish(truncated, None);
        if self.cfg.files.log_fileinfo {
            sink.record(fileinfo_record(ctx, &ev, serde_json::Map::new()));
        }
        sink.event(ctx, AppEvent::File(ev));
    }

    fn data(&mut self, ctx: &AppContext, block: u16, data: &[u8], sink: &mut dyn ProtoSink) {
        if self.transfer.is_none() {
            if block != 1 {
                // Picked up mid-transfer: earlier blocks are a gap.
                let missing = u64::from(block.saturating_sub(1)) * self.block_size;
                let mut file =
                    FileTracker::new(AppProto::Tftp, self.name.clone(), None, &self.cfg.files);
                if missing > 0 {
                    file.gap(missing);
                }
                self.transfer = Some(Transfer {
                    file,
                    dir: ctx.dir,
                    last_block: block.wrapping_sub(1),
                    block_size: self.block_size,
                    blocks: 0,
                });
            } else {
                self.transfer = Some(Transfer {
                    file: FileTracker::new(
                        AppProto::Tftp,
                        self.name.clone(),
                        None,
                        &self.cfg.files,
                    ),
                    dir: ctx.dir,
                    last_block: 0,
                    block_size: self.block_size,
                    blocks: 0,
                });
            }
        }
        let Some(t) = self.transfer.as_mut() else {
            return;
        };
        if t.dir != ctx.dir {
            return;
        }
        let expected = t.last_block.wrapping_add(1);
        if block == expected {
            t.file.update(data);
        } else if block == t.last_block || block.wrapping_sub(t.last_block) > 0x8000 {
            // A retransmission or an old block: already counted.
            return;
        } else {
            let missing = u64::from(block.wrapping_sub(expected));
            t.file.gap(missing * t.block_size);
            t.file.update(data);
        }
        t.last_block = block;
        t.blocks += 1;
        if (data.len() as u64) < t.block_size {
            self.finish(ctx, false, sink);
        }
    }
}

impl DatagramParser for TftpParser {
    fn proto(&self) -> AppProto {
        AppProto::Tftp
    }

    fn parse(&mut self, ctx: &AppContext, payload: &[u8], sink: &mut dyn ProtoSink) -> ParseStatus {
        match parse_packet(payload) {
            Some(Packet::Request {
                write,
                file,
                mode,
                options,
            }) => {
                let name = string_from_bytes(file);
                self.name = Some(name.clone());
                self.apply_options(&options);
                let mut m = serde_json::Map::new();
                m.insert("packet".into(), if write { "write" } else { "read" }.into());
                m.insert("file".into(), name.into());
                m.insert("mode".into(), string_from_bytes(mode).into());
                sink.record(app_record(
                    ctx,
                    "tftp",
                    Some(self.next_tx),
                    serde_json::Value::Object(m),
                ));
                self.next_tx += 1;
            }
            Some(Packet::Data { block, data }) => self.data(ctx, block, data, sink),
            Some(Packet::OptionAck { options }) => self.apply_options(&options),
            Some(Packet::Error { .. }) => self.finish(ctx, true, sink),
            Some(Packet::Ack { .. }) => {}
            None => {
                if !self.anomaly_sent {
                    self.anomaly_sent = true;
                    sink.anomaly(parser_anomaly(
                        ctx,
                        AppProto::Tftp,
                        "tftp.malformed_packet",
                        None,
                    ));
                }
            }
        }
        ParseStatus::Ok
    }

    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        self.finish(ctx, true, sink);
    }
}

impl TftpParser {
    fn apply_options(&mut self, options: &[(&[u8], &[u8])]) {
        for (k, v) in options {
            if k.eq_ignore_ascii_case(b"blksize")
                && let Some(n) = parse_u64(v)
                && (8..=u64::from(self.cfg.max_block_size)).contains(&n)
            {
                self.block_size = n;
                if let Some(t) = self.transfer.as_mut()
                    && t.blocks == 0
                {
                    t.block_size = n;
                }
            }
        }
    }
}
