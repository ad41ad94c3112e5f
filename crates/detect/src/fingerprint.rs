//! The tool behind a scan: rate, regularity, target order, header fields that
//! stay constant, and named fingerprints (nmap, masscan, zmap, a worm's
//! sequential sweep). Fixed-size accumulators, updated once per probe.

use crate::config::DetectConfig;
use crate::util::{ip_int, num, secs, thousands};
use stormwatch_model::{PacketSummary, ScanKind, TargetOrder, Timestamp, ToolFingerprint};

/// Probe protocol class.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Class {
    Tcp,
    Udp,
    Icmp,
}

impl Class {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::Tcp => "tcp",
            Class::Udp => "udp",
            Class::Icmp => "icmp",
        }
    }
}

/// How often a header field kept its first value.
#[derive(Copy, Clone, Debug, Default)]
struct Track<T> {
    first: T,
    same: u32,
}

impl<T: PartialEq + Copy> Track<T> {
    fn update(&mut self, n_before: u32, v: T) {
        if n_before == 0 {
            self.first = v;
            self.same = 1;
        } else if v == self.first {
            self.same = self.same.saturating_add(1);
        }
    }
}

/// Step statistics of a sequence (addresses or ports) with a 3-counter
/// Misra–Gries summary of the most frequent step.
#[derive(Copy, Clone, Debug, Default)]
struct Steps {
    n: u32,
    plus_one: u32,
    cand: [(i64, u32); 3],
}

impl Steps {
    fn add(&mut self, delta: i64) {
        self.n = self.n.saturating_add(1);
        if delta == 1 {
            self.plus_one = self.plus_one.saturating_add(1);
        }
        if let Some(c) = self.cand.iter_mut().find(|c| c.1 > 0 && c.0 == delta) {
            c.1 += 1;
        } else if let Some(c) = self.cand.iter_mut().find(|c| c.1 == 0) {
            *c = (delta, 1);
        } else {
            for c in self.cand.iter_mut() {
                c.1 -= 1;
            }
        }
    }

    fn order(&self) -> TargetOrder {
        if self.n < 3 {
            return TargetOrder::Unknown;
        }
        let n = f64::from(self.n);
        if f64::from(self.plus_one) / n >= 0.7 {
            return TargetOrder::Sequential;
        }
        let top = self
            .cand
            .iter()
            .max_by_key(|c| c.1)
            .copied()
            .unwrap_or((0, 0));
        if top.0 != 0 && top.0 != 1 && f64::from(top.1) / n >= 0.7 {
            TargetOrder::Strided
        } else {
            TargetOrder::Random
        }
    }
}

/// Per-source probe accumulators (fixed size).
#[derive(Clone, Debug, Default)]
pub(crate) struct FpAcc {
    n: u32,
    first: Timestamp,
    last: Timestamp,
    gap_n: u32,
    gap_mean: f64,
    gap_m2: f64,
    src_port: Track<u16>,
    ip_id: Track<u16>,
    ttl: Track<u8>,
    window: Track<u16>,
    opts: Track<u32>,
    mss: Track<Option<u16>>,
    prev_ip_id: u16,
    ip_id_small_steps: u32,
    prev_addr: i64,
    prev_port: u16,
    addr_steps: Steps,
    port_steps: Steps,
}

/// Windows nmap uses for its raw SYN probes.
const NMAP_WINDOWS: [u16; 4] = [1024, 2048, 3072, 4096];

impl FpAcc {
    /// Adds one probe (a first contact).
    pub(crate) fn add(&mut self, p: &PacketSummary) {
        let n = self.n;
        if n == 0 {
            self.first = p.ts;
        } else {
            let gap = p.ts.secs_since(self.last).max(0.0);
            // Welford's running mean and variance.
            self.gap_n += 1;
            let d = gap - self.gap_mean;
            self.gap_mean += d / f64::from(self.gap_n);
            self.gap_m2 += d * (gap - self.gap_mean);
            let step = p.ip_id.wrapping_sub(self.prev_ip_id);
            if (1..=64).contains(&step) {
                self.ip_id_small_steps += 1;
            }
            let addr = ip_int(p.dst);
            if addr != self.prev_addr {
                self.addr_steps.add(addr.wrapping_sub(self.prev_addr));
            } else {
                self.port_steps
                    .add(i64::from(p.dst_port) - i64::from(self.prev_port));
            }
        }
        if p.ts > self.last || n == 0 {
            self.last = p.ts;
        }
        self.src_port.update(n, p.src_port);
        self.ip_id.update(n, p.ip_id);
        self.ttl.update(n, p.ttl);
        self.window.update(n, p.window);
        self.opts.update(n, p.tcp_options_sig);
        self.mss.update(n, p.mss);
        self.prev_ip_id = p.ip_id;
        self.prev_addr = ip_int(p.dst);
        self.prev_port = p.dst_port;
        self.n = n.saturating_add(1);
    }

    pub(crate) fn first(&self) -> Timestamp {
        self.first
    }

    pub(crate) fn last(&self) -> Timestamp {
        self.last
    }

    fn duration(&self) -> f64 {
        self.last.secs_since(self.first).max(0.0)
    }

    /// Probes per second (first to last probe; a burst within one millisecond
    /// counts as one millisecond).
    fn rate(&self) -> f64 {
        if self.n <= 1 {
            return 0.0;
        }
        f64::from(self.n - 1) / self.duration().max(0.001)
    }

    /// Coefficient of variation of inter-probe gaps.
    fn gap_cv(&self) -> f64 {
        if self.gap_n < 2 || self.gap_mean <= 0.0 {
            return 0.0;
        }
        let var = self.gap_m2 / f64::from(self.gap_n);
        let cv = var.max(0.0).sqrt() / self.gap_mean;
        if cv.is_finite() { cv } else { 0.0 }
    }

    fn all<T>(&self, t: &Track<T>) -> bool {
        self.n >= 2 && t.same == self.n
    }

    fn mostly<T>(&self, t: &Track<T>) -> bool {
        self.n >= 2 && f64::from(t.same) >= 0.8 * f64::from(self.n)
    }

    /// IP IDs step by small increments (a host's global counter).
    fn ip_id_sequential(&self) -> bool {
        self.gap_n >= 2 && f64::from(self.ip_id_small_steps) >= 0.7 * f64::from(self.gap_n)
    }

    /// Order of the dimension the scan walks.
    pub(crate) fn order(&self, kind: ScanKind) -> TargetOrder {
        match kind {
            ScanKind::Horizontal | ScanKind::PingSweep => self.addr_steps.order(),
            ScanKind::Vertical => self.port_steps.order(),
            ScanKind::Block => {
                if self.addr_steps.n >= self.port_steps.n {
                    self.addr_steps.order()
                } else {
                    self.port_steps.order()
                }
            }
        }
    }

    /// The fingerprint of the probes seen so far. `ports` is the number of
    /// distinct ports, `app_tool` a tool named by application-layer probes.
    pub(crate) fn fingerprint(
        &self,
        class: Class,
        kind: ScanKind,
        ports: u64,
        app_tool: Option<&'static str>,
        cfg: &DetectConfig,
    ) -> ToolFingerprint {
        let rate = self.rate();
        let cv = self.gap_cv();
        let order = self.order(kind);
        let tcp = class == Class::Tcp;

        let mut constant = Vec::new();
        if self.all(&self.src_port) && class != Class::Icmp {
            constant.push("src_port".to_string());
        }
        if self.all(&self.ip_id) {
            constant.push("ip_id".to_string());
        }
        if self.all(&self.ttl) {
            constant.push("ttl".to_string());
        }
        if tcp && self.all(&self.window) {
            constant.push("window".to_string());
        }
        if tcp && self.all(&self.opts) {
            constant.push("tcp_options".to_string());
        }

        // Named fingerprints, most specific first.
        let no_opts = self.opts.first == 0 && self.mss.first.is_none();
        let name: Option<&'static str> =
            if self.n >= 2 && self.all(&self.ip_id) && self.ip_id.first == 54321 {
                Some("zmap")
            } else if tcp
                && self.n >= 3
                && self.all(&self.window)
                && self.window.first == 1024
                && self.all(&self.opts)
                && no_opts
                && self.all(&self.ttl)
            {
                Some("masscan")
            } else if tcp
                && self.n >= 3
                && self.mostly(&self.window)
                && NMAP_WINDOWS.contains(&self.window.first)
                && self.mss.first == Some(1460)
                && self.opts.first != 0
                && self.mostly(&self.opts)
                && self.mostly(&self.src_port)
                && !self.ip_id_sequential()
            {
                Some("nmap")
            } else if let Some(t) = app_tool {
                Some(t)
            } else if order == TargetOrder::Sequential
                && ports <= 1
                && kind == ScanKind::Horizontal
                && self.n >= 8
            {
                Some("worm-sequential")
            } else {
                None
            };

        let fast = self.n >= cfg.automated_min_probes && rate >= cfg.automated_min_rate_pps;
        let regular = self.n >= cfg.automated_regular_min_probes && cv <= cfg.automated_max_gap_cv;
        let automated = name.is_some() || fast || regular;

        let mut traits = Vec::new();
        traits.push(format!(
            "{} probe{} in {} at {}/s",
            thousands(u64::from(self.n)),
            if self.n == 1 { "" } else { "s" },
            secs(self.duration()),
            num(rate)
        ));
        traits.push(format!("gap CV {:.2}", cv));
        if order != TargetOrder::Unknown {
            traits.push(format!("{} order", order_name(order)));
        }
        let mut consts = Vec::new();
        if tcp && self.all(&self.window) {
            consts.push(format!("window {}", self.window.first));
        }
        if self.all(&self.ttl) {
            consts.push(format!("TTL {}", self.ttl.first));
        }
        if self.all(&self.src_port) && class != Class::Icmp {
            consts.push(format!("source port {}", self.src_port.first));
        } else if self.mostly(&self.src_port) && class != Class::Icmp {
            consts.push(format!("source port {} reused", self.src_port.first));
        }
        if self.all(&self.ip_id) {
            consts.push(format!("IP ID {}", self.ip_id.first));
        }
        if !consts.is_empty() {
            traits.push(format!("constant {}", join_and(&consts)));
        }
        if tcp && self.all(&self.opts) && no_opts {
            traits.push("no TCP options".into());
        } else if tcp && self.mss.first == Some(1460) && self.mostly(&self.mss) {
            traits.push("MSS 1460".into());
        }
        if let Some(t) = app_tool {
            traits.push(format!("application-layer probes name {t}"));
        }

        let head = if automated { "automated" } else { "manual" };
        let mut reason = format!("{head}: {}", traits.join(", "));
        if let Some(n) = name {
            reason.push_str(" → ");
            reason.push_str(n);
        } else if !automated {
            reason.push_str(" → slow and irregular, like a person");
        } else if fast {
            reason.push_str(" → faster than a person");
        } else {
            reason.push_str(" → machine-regular gaps");
        }

        ToolFingerprint {
            name: name.map(str::to_string),
            automated,
            reason,
            rate_pps: rate,
            gap_cv: cv,
            order,
            constant_fields: constant,
        }
    }
}

fn order_name(o: TargetOrder) -> &'static str {
    match o {
        TargetOrder::Sequential => "sequential",
        TargetOrder::Strided => "strided",
        TargetOrder::Random => "random",
        TargetOrder::Unknown => "unknown",
    }
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use stormwatch_model::{Direction, FlowId, IpProto};

    fn syn(ts_ms: i64, dst: IpAddr, dport: u16) -> PacketSummary {
        PacketSummary {
            ts: Timestamp(ts_ms * 1_000_000),
            flow_id: FlowId(1),
            dir: Direction::ToServer,
            first_in_flow: true,
            src: "198.51.100.1".parse().unwrap(),
            dst,
            src_port: 40000,
            dst_port: dport,
            proto: IpProto::TCP,
            tcp_flags: 2,
            window: 1024,
            ip_id: 0,
            ttl: 52,
            tcp_options_sig: 0,
            mss: None,
            icmp: None,
            payload_len: 0,
            wire_len: 60,
        }
    }

    #[test]
    fn order_detection() {
        let mut s = Steps::default();
        for _ in 0..10 {
            s.add(1);
        }
        assert_eq!(s.order(), TargetOrder::Sequential);
        let mut s = Steps::default();
        for _ in 0..10 {
            s.add(4);
        }
        assert_eq!(s.order(), TargetOrder::Strided);
        let mut s = Steps::default();
        for d in [5, -3, 17, 2, -40, 9, 11, -7] {
            s.add(d);
        }
        assert_eq!(s.order(), TargetOrder::Random);
        let mut s = Steps::default();
        s.add(1);
        assert_eq!(s.order(), TargetOrder::Unknown);
    }

    #[test]
    fn zmap_is_named_by_its_ip_id() {
        let mut acc = FpAcc::default();
        for i in 0..10 {
            let mut p = syn(
                i * 10,
                format!("10.0.0.{}", i * 7 % 200).parse().unwrap(),
                80,
            );
            p.ip_id = 54321;
            p.window = 65535;
            p.src_port = 40000 + i as u16 * 13;
            acc.add(&p);
        }
        let fp = acc.fingerprint(
            Class::Tcp,
            ScanKind::Horizontal,
            1,
            None,
            &DetectConfig::default(),
        );
        assert_eq!(fp.name.as_deref(), Some("zmap"));
        assert!(fp.automated);
        assert!(fp.constant_fields.contains(&"ip_id".to_string()));
    }

    #[test]
    fn stats_of_regular_probes() {
        let mut acc = FpAcc::default();
        for i in 0..11 {
            acc.add(&syn(i * 100, "10.0.0.1".parse().unwrap(), 1000 + i as u16));
        }
        assert!((acc.rate() - 10.0).abs() < 1e-6);
        assert!(acc.gap_cv() < 1e-9);
        assert_eq!(acc.order(ScanKind::Vertical), TargetOrder::Sequential);
    }
}
