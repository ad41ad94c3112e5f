//! SSH session state: banner line buffering per direction, binary packet
//! framing up to NEWKEYS, limits and anomalies.

use super::detect::SshTx;
use super::parser::{self, SshKexInit};
use crate::api::{ParseStatus, ProtoSink, StreamParser, app_record, parser_anomaly};
use crate::config::ProtoConfig;
use stormwatch_model::{AppContext, AppEvent, AppProto, Direction, SshEvent, StreamData};

/// One side of the session.
#[derive(Clone, Debug, Default)]
pub struct SshSide {
    /// Banner seen.
    pub banner_done: bool,
    /// Protocol version from the banner.
    pub proto_version: Vec<u8>,
    /// Software version from the banner.
    pub software_version: Vec<u8>,
    /// KEXINIT algorithm lists, once seen.
    pub kexinit: Option<SshKexInit>,
    /// NEWKEYS seen: what follows is encrypted.
    pub newkeys: bool,
    line: Vec<u8>,
    line_overflow: bool,
    pre_lines: u32,
    pkt: Vec<u8>,
    skip: u64,
    /// Data after a gap or a framing error: no more parsing on this side.
    lost: bool,
}

/// SSH state of one connection.
#[derive(Clone, Debug, Default)]
pub struct SshState {
    /// Client side.
    pub client: SshSide,
    /// Server side.
    pub server: SshSide,
    logged: bool,
}

/// The SSH stream parser.
#[derive(Debug)]
pub struct SshParser {
    state: SshState,
    max_banner: usize,
    max_pre_lines: u32,
    max_packet: usize,
}

impl SshParser {
    /// A parser for one connection.
    pub fn new(cfg: &ProtoConfig) -> SshParser {
        SshParser {
            state: SshState::default(),
            max_banner: cfg.ssh.max_banner_bytes.max(8),
            max_pre_lines: cfg.ssh.max_pre_banner_lines,
            max_packet: cfg.ssh.max_packet_bytes,
        }
    }

    /// The session state (for tests and tools).
    pub fn state(&self) -> &SshState {
        &self.state
    }

    fn log(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        if self.state.logged {
            return;
        }
        if let Some(body) = super::logger::log_ssh(&self.state) {
            self.state.logged = true;
            sink.record(app_record(ctx, "ssh", Some(0), body));
        }
    }

    fn parse_bytes(
        &mut self,
        ctx: &AppContext,
        mut data: &[u8],
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        let max_banner = self.max_banner;
        let max_pre = self.max_pre_lines;
        let max_packet = self.max_packet;
        let side = match ctx.dir {
            Direction::ToServer => &mut self.state.client,
            Direction::ToClient => &mut self.state.server,
        };
        // Banner lines.
        while !side.banner_done && !data.is_empty() {
            let (line_part, rest, complete) = match memchr::memchr(b'\n', data) {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            data = rest;
            if !side.line_overflow {
                let room = max_banner.saturating_sub(side.line.len());
                if line_part.len() > room {
                    side.line.extend_from_slice(&line_part[..room]);
                    side.line_overflow = true;
                    sink.anomaly(parser_anomaly(
                        ctx,
                        AppProto::Ssh,
                        "ssh.banner_too_long",
                        Some(format!("banner line longer than {max_banner} bytes")),
                    ));
                } else {
                    side.line.extend_from_slice(line_part);
                }
            }
            if !complete && !side.line_overflow {
                return ParseStatus::Ok;
            }
            // (An over-long line: what fits is taken as the banner.)
            let mut line = std::mem::take(&mut side.line);
            side.line_overflow = false;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            match parser::parse_ssh_banner(&line) {
                Some(b) => {
                    side.proto_version = b.proto_version.to_vec();
                    side.software_version = b.software_version.to_vec();
                    side.banner_done = true;
                    if sink.wants_events_of(AppProto::Ssh) {
                        let ev = SshEvent {
                            proto_version: String::from_utf8_lossy(b.proto_version).into_owned(),
                            software: String::from_utf8_lossy(b.software_version).into_owned(),
                        };
                        sink.event(ctx, AppEvent::Ssh(ev));
                    }
                }
                None => {
                    side.pre_lines += 1;
                    if ctx.dir == Direction::ToServer || side.pre_lines > max_pre {
                        return ParseStatus::Violation("ssh: no SSH- banner");
                    }
                }
            }
            if side.banner_done {
                let tx = SshTx {
                    state: &self.state,
                    dir: ctx.dir,
                };
                sink.tx(ctx, &tx);
                if self.state.client.banner_done && self.state.server.banner_done {
                    self.log(ctx, sink);
                }
                return self.parse_bytes(ctx, data, sink);
            }
        }
        // Binary packets until NEWKEYS.
        while !side.newkeys && !side.lost && !data.is_empty() {
            if side.skip > 0 {
                let n = usize::try_from(side.skip).map_or(data.len(), |k| k.min(data.len()));
                side.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            let need_hdr = 6usize.saturating_sub(side.pkt.len());
            if need_hdr > 0 {
                let n = need_hdr.min(data.len());
                side.pkt.extend_from_slice(&data[..n]);
                data = &data[n..];
                if side.pkt.len() < 6 {
                    break;
                }
            }
            let hdr = match parser::parse_ssh_packet_header(&side.pkt) {
                Ok((_, h)) => h,
                Err(_) => break,
            };
            let total =
                4usize.saturating_add(usize::try_from(hdr.packet_length).unwrap_or(usize::MAX));
            if hdr.packet_length < 2 || hdr.packet_length > 262_144 {
                side.lost = true;
                sink.anomaly(parser_anomaly(
                    ctx,
                    AppProto::Ssh,
                    "ssh.invalid_record_length",
                    Some(format!("packet length {}", hdr.packet_length)),
                ));
                break;
            }
            if hdr.msg_code != parser::msg::KEXINIT || total > max_packet {
                // Not needed (or too large to keep): skip its body.
                let have = side.pkt.len();
                side.pkt.clear();
                side.skip = (total.saturating_sub(have)) as u64;
                if hdr.msg_code == parser::msg::NEWKEYS {
                    side.newkeys = true;
                }
                continue;
            }
            let need = total.saturating_sub(side.pkt.len());
            let n = need.min(data.len());
            side.pkt.extend_from_slice(&data[..n]);
            data = &data[n..];
            if side.pkt.len() < total {
                break;
            }
            let payload = side.pkt.get(5..total).unwrap_or(&[]);
            if let Ok((_, k)) = parser::parse_ssh_kexinit(payload) {
                side.kexinit = Some(k);
            }
            side.pkt.clear();
        }
        let both = |s: &SshSide| s.newkeys || s.lost;
        if both(&self.state.client) && both(&self.state.server) {
            self.log(ctx, sink);
            return ParseStatus::Done;
        }
        ParseStatus::Ok
    }
}

impl StreamParser for SshParser {
    fn proto(&self) -> AppProto {
        AppProto::Ssh
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        match data {
            StreamData::Bytes(b) => self.parse_bytes(ctx, b, sink),
            StreamData::Gap(_) => {
                let side = match ctx.dir {
                    Direction::ToServer => &mut self.state.client,
                    Direction::ToClient => &mut self.state.server,
                };
                side.lost = true;
                side.banner_done |= false;
                ParseStatus::Ok
            }
        }
    }

    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        self.log(ctx, sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::VecSink;
    use stormwatch_model::{FlowId, FlowKey, IpProto, Timestamp};

    fn ctx(dir: Direction) -> AppContext {
        AppContext {
            ts: Timestamp::ZERO,
            flow_id: FlowId(1),
            key: FlowKey {
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
                src_port: 1000,
                dst_port: 22,
                proto: IpProto::TCP,
                vlan: [0, 0],
            },
            dir,
        }
    }

    #[test]
    fn kexinit_lists_and_done_after_newkeys() {
        let mut payload = vec![20u8];
        payload.extend_from_slice(&[0x41; 16]);
        for name in [
            &b"curve25519-sha256"[..],
            b"ssh-ed25519",
            b"aes128-ctr",
            b"aes128-ctr",
        ] {
            payload.extend_from_slice(&(name.len() as u32).to_be_bytes());
            payload.extend_from_slice(name);
        }
        for _ in 0..6 {
            payload.extend_from_slice(&0u32.to_be_bytes());
        }
        payload.extend_from_slice(&[0; 5]);
        let mut pkt = ((1 + payload.len() + 4) as u32).to_be_bytes().to_vec();
        pkt.push(4);
        pkt.extend_from_slice(&payload);
        pkt.extend_from_slice(&[0; 4]);
        let newkeys = [0u8, 0, 0, 12, 10, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut p = SshParser::new(&ProtoConfig::default());
        let mut sink = VecSink::default();
        let (cs, sc) = (ctx(Direction::ToServer), ctx(Direction::ToClient));
        let mut client = b"SSH-2.0-PuTTY_0.70\r\n".to_vec();
        client.extend_from_slice(&pkt);
        client.extend_from_slice(&newkeys);
        assert_eq!(
            p.parse(
                &sc,
                StreamData::Bytes(b"SSH-2.0-OpenSSH_7.4\r\n"),
                &mut sink
            ),
            ParseStatus::Ok
        );
        assert_eq!(
            p.parse(&cs, StreamData::Bytes(&client), &mut sink),
            ParseStatus::Ok
        );
        let k = p.state().client.kexinit.clone().unwrap();
        assert_eq!(k.kex, "curve25519-sha256");
        assert_eq!(k.host_key, "ssh-ed25519");
        assert_eq!(k.enc_s2c, "aes128-ctr");
        assert!(p.state().client.newkeys);
        assert_eq!(sink.records.len(), 1);
        assert_eq!(
            p.parse(&sc, StreamData::Bytes(&newkeys), &mut sink),
            ParseStatus::Done
        );
        assert_eq!(sink.records.len(), 1, "logged once");
    }

    #[test]
    fn banner_lines_before_the_server_banner() {
        let mut p = SshParser::new(&ProtoConfig::default());
        let mut sink = VecSink::default();
        let sc = ctx(Direction::ToClient);
        let r = p.parse(
            &sc,
            StreamData::Bytes(b"Welcome\r\nPlease wait\r\nSSH-1.99-Cisco-1.25\r\n"),
            &mut sink,
        );
        assert_eq!(r, ParseStatus::Ok);
        assert_eq!(p.state().server.proto_version, b"1.99");
        assert_eq!(p.state().server.software_version, b"Cisco-1.25");
        // The client may not send anything but its banner first.
        let r = p.parse(
            &ctx(Direction::ToServer),
            StreamData::Bytes(b"GET / HTTP/1.0\r\n"),
            &mut sink,
        );
        assert!(matches!(r, ParseStatus::Violation(_)));
    }
}
