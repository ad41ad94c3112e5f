//! Password guessing: many failed logins from one client to one service —
//! FTP `530` replies to `USER`/`PASS`, and short SSH sessions that got past the
//! key exchange but carried little back (a rejected password closes the
//! session after a few kilobytes).

use crate::Ctx;
use crate::util::{FifoMap, ep};
use std::net::IpAddr;
use stormwatch_model::{
    AppProto, FlowId, FlowRecord, Notice, NoticeKind, Stage, Timestamp, human_duration,
};

type Key = (IpAddr, IpAddr, u16, AppProto);

struct Pair {
    window_start: Timestamp,
    failures: u32,
    emitted: bool,
}

/// Brute-force state per (client, server, port, protocol).
pub(crate) struct Brute {
    pairs: FifoMap<Key, Pair>,
    /// Failed logins counted.
    pub failures: u64,
    /// Records emitted.
    pub reported: u64,
}

impl Brute {
    pub(crate) fn new(max: usize) -> Brute {
        Brute {
            pairs: FifoMap::new(max),
            failures: 0,
            reported: 0,
        }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.pairs.evicted
    }

    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.pairs
            .capacity_bytes(std::mem::size_of::<(Key, Pair)>())
    }

    /// An FTP command and its replies.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_ftp_reply(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        port: u16,
        command: &str,
        reply: &[u16],
        ts: Timestamp,
        flow: FlowId,
        ctx: &mut Ctx<'_>,
    ) {
        let login = command.eq_ignore_ascii_case("PASS") || command.eq_ignore_ascii_case("USER");
        if login && reply.contains(&530) {
            self.failure((client, server, port, AppProto::Ftp), ts, flow, ctx);
        }
    }

    /// A finished flow: a short SSH session with little back is a failed login.
    pub(crate) fn on_flow_end(&mut self, rec: &FlowRecord, ctx: &mut Ctx<'_>) {
        let ssh = rec.app_proto == AppProto::Ssh
            || rec.app_proto_ts == Some(AppProto::Ssh)
            || rec.app_proto_tc == Some(AppProto::Ssh);
        // The server answered several times (banner, key exchange, the
        // rejection). Not `handshake_done`: captures taken on the client with
        // checksum offload have every server packet marked bad.
        if !ssh || rec.pkts_toclient < 3 {
            return;
        }
        let cfg = ctx.cfg;
        let short = rec.end.secs_since(rec.start) <= cfg.ssh_short_session_max_secs as f64;
        if short
            && rec.bytes_toclient <= cfg.ssh_failed_login_max_bytes_toclient
            && rec.bytes_toserver >= cfg.ssh_login_min_bytes_toserver
        {
            let k = &rec.key;
            self.failure(
                (k.src, k.dst, k.dst_port, AppProto::Ssh),
                rec.end,
                rec.flow_id,
                ctx,
            );
        }
    }

    fn failure(&mut self, key: Key, ts: Timestamp, flow: FlowId, ctx: &mut Ctx<'_>) {
        self.failures += 1;
        let window = ctx.cfg.bruteforce_window_secs as f64;
        let (p, _) = self.pairs.entry_or_insert_with(key, || Pair {
            window_start: ts,
            failures: 0,
            emitted: false,
        });
        if ts.secs_since(p.window_start) > window {
            p.window_start = ts;
            p.failures = 0;
        }
        p.failures = p.failures.saturating_add(1);
        if p.emitted || p.failures < ctx.cfg.bruteforce_min_failures.max(1) {
            return;
        }
        p.emitted = true;
        let (client, server, port, proto) = key;
        let identifier = format!(
            "bruteforce:{client}->{}/{}",
            ep(server, port),
            proto.as_str()
        );
        if !ctx.sup.first(&identifier) {
            return;
        }
        self.reported += 1;
        ctx.out.push(Notice {
            ts,
            identifier,
            host: server,
            peer: Some(client),
            flow_id: Some(flow),
            stage: Some(Stage::E2InboundExploit),
            msg: format!(
                "password guessing: {} failed {} logins from {client} to {} within {}",
                p.failures,
                proto.as_str().to_ascii_uppercase(),
                ep(server, port),
                human_duration(ts.secs_since(p.window_start))
            ),
            kind: NoticeKind::BruteForce {
                proto,
                target: server,
                port,
                attempts: p.failures,
            },
        });
    }
}
