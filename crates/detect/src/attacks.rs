//! Who was attacked, how and when: exploits (alerts with exploit classtypes,
//! PCT/SSLv2 overflow shapes) and decided scans against each host. Answers
//! "was there an exploit before this download?" (E3 `exploit_before`) and
//! "was this new attacker itself a target before?" (E5 propagation, with the
//! time it was attacked on the same vector).

use crate::Ctx;
use crate::util::{FifoMap, ep};
use std::borrow::Cow;
use std::net::IpAddr;
use stormwatch_model::{
    Alert, FlowId, IpProto, Notice, NoticeKind, PropagationInfo, Stage, Target, Timestamp,
};

/// Classtypes of exploit attempts (Snort/Suricata `classification.config`).
const EXPLOIT_CLASSTYPES: &[&str] = &[
    "attempted-admin",
    "attempted-user",
    "successful-admin",
    "successful-user",
    "shellcode-detect",
    "web-application-attack",
    "exploit-kit",
    "system-call-detect",
];

/// Message prefixes of exploit rules when the classtype is missing or generic.
const EXPLOIT_MSG_PREFIXES: &[&str] = &[
    "ET EXPLOIT",
    "GPL EXPLOIT",
    "EXPLOIT",
    "ET SHELLCODE",
    "GPL SHELLCODE",
    "SHELLCODE",
    "ET WORM",
    "WORM",
    "ET WEB_CLIENT",
];

/// True when the alert is an exploit attempt.
pub(crate) fn is_exploit_alert(a: &Alert) -> bool {
    if let Some(ct) = &a.sig.classtype
        && EXPLOIT_CLASSTYPES
            .iter()
            .any(|c| ct.eq_ignore_ascii_case(c))
    {
        return true;
    }
    let msg = a.sig.msg.trim_start();
    EXPLOIT_MSG_PREFIXES.iter().any(|p| {
        msg.len() >= p.len()
            && msg.is_char_boundary(p.len())
            && msg[..p.len()].eq_ignore_ascii_case(p)
            && msg[p.len()..].starts_with([' ', '_'])
    })
}

/// (target, attacker) of an alert: the rule's `target` when given, else the
/// packet's destination.
pub(crate) fn alert_parties(a: &Alert) -> (IpAddr, IpAddr) {
    match a.sig.target {
        Some(Target::SrcIp) => (a.src_ip, a.dest_ip),
        _ => (a.dest_ip, a.src_ip),
    }
}

/// The service port an alert's attack went to: the flow's responder port when
/// known (client-side exploits arrive from the server port), else the packet's
/// destination port.
pub(crate) fn alert_service_port(a: &Alert) -> u16 {
    a.flow.as_ref().map_or(a.dest_port, |f| f.dest_port)
}

/// True for PCT / SSLv2 overflow-shape anomaly names.
pub(crate) fn is_overflow_anomaly(event: &str) -> bool {
    let e = event.to_ascii_lowercase();
    (e.starts_with("pct.") || e.starts_with("sslv2.") || e.starts_with("ssl."))
        && (e.contains("overflow") || e.contains("oversized"))
}

/// One attack against a host.
#[derive(Clone, Debug)]
pub(crate) struct AttackRec {
    pub proto: u8,
    pub port: u16,
    pub sid: Option<u32>,
    pub what: Cow<'static, str>,
    pub ts: Timestamp,
    pub attacker: IpAddr,
}

/// Attack history of the hosts that were targets.
pub(crate) struct Attacks {
    exploits: FifoMap<IpAddr, Vec<AttackRec>>,
    scans: FifoMap<IpAddr, Vec<AttackRec>>,
    per_target_max: usize,
    /// Attack records dropped because a host had too many vectors.
    pub vectors_dropped: u64,
}

impl Attacks {
    pub(crate) fn new(exploits_max: usize, scans_max: usize, per_target_max: usize) -> Attacks {
        Attacks {
            exploits: FifoMap::new(exploits_max),
            scans: FifoMap::new(scans_max),
            per_target_max: per_target_max.max(1),
            vectors_dropped: 0,
        }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.exploits.evicted + self.scans.evicted
    }

    pub(crate) fn hosts(&self) -> usize {
        self.exploits.len() + self.scans.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let per = std::mem::size_of::<IpAddr>()
            + std::mem::size_of::<Vec<AttackRec>>()
            + std::mem::size_of::<AttackRec>() * 2;
        self.exploits.capacity_bytes(per) + self.scans.capacity_bytes(per)
    }

    fn add(
        table: &mut FifoMap<IpAddr, Vec<AttackRec>>,
        max: usize,
        dropped: &mut u64,
        target: IpAddr,
        rec: AttackRec,
    ) {
        let (recs, _) = table.entry_or_insert_with(target, Vec::new);
        if recs.iter().any(|r| {
            r.proto == rec.proto
                && r.port == rec.port
                && r.sid == rec.sid
                && r.attacker == rec.attacker
        }) {
            return;
        }
        if recs.len() >= max {
            *dropped += 1;
            return;
        }
        recs.push(rec);
    }

    /// Records an exploit attempt against `target`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_exploit(
        &mut self,
        target: IpAddr,
        attacker: IpAddr,
        proto: u8,
        port: u16,
        sid: Option<u32>,
        what: &str,
        ts: Timestamp,
    ) {
        let rec = AttackRec {
            proto,
            port,
            sid,
            what: Cow::Owned(what.to_string()),
            ts,
            attacker,
        };
        Self::add(
            &mut self.exploits,
            self.per_target_max,
            &mut self.vectors_dropped,
            target,
            rec,
        );
    }

    /// Records that a decided scanner probed `target`.
    pub(crate) fn record_scan(
        &mut self,
        target: IpAddr,
        scanner: IpAddr,
        proto: u8,
        port: u16,
        ts: Timestamp,
    ) {
        let rec = AttackRec {
            proto,
            port,
            sid: None,
            what: Cow::Borrowed("scan"),
            ts,
            attacker: scanner,
        };
        Self::add(
            &mut self.scans,
            self.per_target_max,
            &mut self.vectors_dropped,
            target,
            rec,
        );
    }

    /// The first exploit against `host` at or before `ts`.
    pub(crate) fn exploit_before(&self, host: IpAddr, ts: Timestamp) -> Option<&AttackRec> {
        self.exploits
            .get(&host)?
            .iter()
            .filter(|r| r.ts <= ts)
            .min_by_key(|r| r.ts)
    }

    /// The last exploit against `host` by `attacker` at or before `ts`.
    pub(crate) fn exploit_by(
        &self,
        host: IpAddr,
        attacker: IpAddr,
        ts: Timestamp,
    ) -> Option<&AttackRec> {
        self.exploits
            .get(&host)?
            .iter()
            .filter(|r| r.attacker == attacker && r.ts <= ts)
            .max_by_key(|r| r.ts)
    }

    /// True when `host` was scanned or exploited at or before `ts`.
    fn attacked_before(&self, host: IpAddr, ts: Timestamp) -> bool {
        let any = |t: &FifoMap<IpAddr, Vec<AttackRec>>| {
            t.get(&host).is_some_and(|v| v.iter().any(|r| r.ts <= ts))
        };
        any(&self.exploits) || any(&self.scans)
    }

    fn attackers(&self, host: IpAddr) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .exploits
            .get(&host)
            .into_iter()
            .chain(self.scans.get(&host))
            .flatten()
            .map(|r| r.attacker)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// When `host` was itself attacked on the vector (proto, port[, sid]):
    /// the earliest exploit on it (same sid preferred), else the earliest scan.
    fn infected_on(
        &self,
        host: IpAddr,
        proto: u8,
        port: u16,
        sid: Option<u32>,
        before: Timestamp,
    ) -> Option<&AttackRec> {
        let same = |r: &&AttackRec| r.proto == proto && r.port == port && r.ts <= before;
        let ex = self.exploits.get(&host);
        if let Some(s) = sid
            && let Some(r) = ex
                .into_iter()
                .flatten()
                .filter(same)
                .filter(|r| r.sid == Some(s))
                .min_by_key(|r| r.ts)
        {
            return Some(r);
        }
        if let Some(r) = ex.into_iter().flatten().filter(same).min_by_key(|r| r.ts) {
            return Some(r);
        }
        self.scans
            .get(&host)
            .into_iter()
            .flatten()
            .filter(same)
            .min_by_key(|r| r.ts)
    }
}

/// A new attack by `host` (a scan decided or an exploit sent): if `host` was
/// itself a target before, emit one `Propagation` notice per vector.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_propagation(
    ctx: &mut Ctx<'_>,
    host: IpAddr,
    proto: u8,
    port: u16,
    sid: Option<u32>,
    what: &str,
    victims: &[IpAddr],
    ts: Timestamp,
    flow_id: Option<FlowId>,
) {
    let this: &Attacks = ctx.attacks;
    if !this.attacked_before(host, ts) {
        return;
    }
    // Attacking back one's own attacker is a reply, not propagation.
    let own = this.attackers(host);
    let victims: Vec<IpAddr> = victims
        .iter()
        .copied()
        .filter(|v| !own.contains(v) && *v != host)
        .take(ctx.cfg.propagation_victims_listed_max)
        .collect();
    if victims.is_empty() {
        return;
    }
    let pname = IpProto(proto).eve_name().to_ascii_lowercase();
    let mut identifier = format!("propagation:{host}:{pname}/{port}");
    if let Some(s) = sid {
        identifier.push_str(&format!(":sid{s}"));
    }
    if !ctx.sup.first(&identifier) {
        return;
    }
    let inf = this.infected_on(host, proto, port, sid, ts);
    let infected_at = inf.map(|r| r.ts);
    let mut msg = format!(
        "{host}, itself a target before, now attacks {port}/{pname} ({what}) on {}",
        victims.first().map_or_else(String::new, |v| ep(*v, port))
    );
    if victims.len() > 1 {
        msg.push_str(&format!(" and {} more", victims.len() - 1));
    }
    match inf {
        Some(r) => msg.push_str(&format!(
            "; it was attacked on the same vector at {} by {} ({})",
            r.ts.to_time_of_day(),
            r.attacker,
            r.what
        )),
        None => msg.push_str("; it was not attacked on this vector before"),
    }
    ctx.out.push(Notice {
        ts,
        identifier,
        host,
        peer: victims.first().copied(),
        flow_id,
        stage: Some(Stage::E5OutboundAttack),
        msg,
        kind: NoticeKind::Propagation(PropagationInfo {
            host,
            port,
            proto: IpProto(proto),
            sid,
            targets: victims,
            infected_at,
        }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use stormwatch_model::{AlertAction, AppProto, SignatureInfo};

    pub(crate) fn alert(classtype: Option<&str>, msg: &str) -> Alert {
        Alert {
            ts: Timestamp(0),
            sig: Arc::new(SignatureInfo {
                gid: 1,
                sid: 2515,
                rev: 1,
                msg: msg.into(),
                classtype: classtype.map(str::to_string),
                category: String::new(),
                severity: 1,
                metadata: vec![],
                references: vec![],
                target: None,
            }),
            action: AlertAction::Allowed,
            flow_id: None,
            src_ip: "203.0.113.7".parse().unwrap(),
            src_port: 4000,
            dest_ip: "10.1.1.20".parse().unwrap(),
            dest_port: 443,
            proto: IpProto::TCP,
            direction: None,
            app_proto: AppProto::Unknown,
            tx_id: None,
            flow: None,
            payload: None,
            packet: None,
            stream: false,
        }
    }

    #[test]
    fn exploit_classification() {
        assert!(is_exploit_alert(&alert(
            Some("attempted-admin"),
            "WEB-MISC PCT Client_Hello overflow attempt"
        )));
        assert!(is_exploit_alert(&alert(None, "ET EXPLOIT something")));
        assert!(is_exploit_alert(&alert(
            Some("bad-unknown"),
            "SHELLCODE x86 NOOP"
        )));
        assert!(!is_exploit_alert(&alert(
            Some("trojan-activity"),
            "ET TROJAN checkin"
        )));
        assert!(!is_exploit_alert(&alert(
            Some("misc-activity"),
            "EXPLOITATION of nothing"
        )));
        assert!(is_overflow_anomaly("pct.client_hello_oversized_challenge"));
        assert!(!is_overflow_anomaly("tls.invalid_record"));
    }

    #[test]
    fn infection_vector_prefers_exploits_and_sids() {
        let mut a = Attacks::new(10, 10, 4);
        let h: IpAddr = "10.0.0.5".parse().unwrap();
        let x: IpAddr = "203.0.113.7".parse().unwrap();
        a.record_scan(h, x, 6, 443, Timestamp(10));
        a.record_exploit(h, x, 6, 443, Some(1), "one", Timestamp(30));
        a.record_exploit(h, x, 6, 443, Some(2515), "pct", Timestamp(40));
        assert_eq!(
            a.infected_on(h, 6, 443, Some(2515), Timestamp(100))
                .unwrap()
                .ts,
            Timestamp(40)
        );
        assert_eq!(
            a.infected_on(h, 6, 443, None, Timestamp(100)).unwrap().ts,
            Timestamp(30)
        );
        assert_eq!(
            a.infected_on(h, 6, 443, None, Timestamp(20)).unwrap().ts,
            Timestamp(10)
        );
        assert!(a.infected_on(h, 6, 445, None, Timestamp(100)).is_none());
        assert_eq!(
            a.exploit_before(h, Timestamp(35)).unwrap().ts,
            Timestamp(30)
        );
        assert!(a.exploit_before(h, Timestamp(20)).is_none());
    }
}
