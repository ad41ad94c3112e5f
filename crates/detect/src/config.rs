//! Every threshold and limit of the detectors, with its unit in its name.
//!
//! `DetectConfig::default()` holds the documented defaults (`docs/detect.md`
//! explains each one and the false-positive story behind it).

use serde::{Deserialize, Serialize};
use stormwatch_model::NetSet;

/// Thresholds and table limits of all detectors.
///
/// Times are packet time. Limits bound memory: reaching one bumps a counter
/// (see [`crate::Detectors::counters`]) and never fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    // --- scans: Threshold Random Walk -------------------------------------
    /// TRW θ0: probability that a benign source's first contact succeeds.
    pub trw_theta0: f64,
    /// TRW θ1: probability that a scanner's first contact succeeds.
    pub trw_theta1: f64,
    /// TRW α: tolerated false-positive probability (benign source called scanner).
    pub trw_alpha: f64,
    /// TRW β: required detection probability.
    pub trw_beta: f64,
    /// A first contact with no answer within this time is a failure (milliseconds).
    pub probe_timeout_ms: u64,
    /// A decided scanner that sends no probe for this long has ended (seconds).
    pub scan_idle_secs: u64,
    /// An undecided source with no probe for this long is forgotten (seconds).
    pub source_idle_secs: u64,
    /// An undecided source whose first contacts so far all succeeded starts a
    /// fresh episode (walk and statistics) after a pause this long (seconds):
    /// a bot's IRC connection or a worm's egg fetch minutes before its sweep is
    /// not part of the sweep.
    pub scan_episode_gap_secs: u64,
    /// Sources (address × protocol class) tracked at once; the least recently
    /// active is evicted beyond it (`detect.scan.sources_evicted`).
    pub scan_sources_max: usize,
    /// First contacts awaiting their outcome, all sources together.
    pub scan_pending_max: usize,
    /// First contacts awaiting their outcome, per undecided source.
    pub scan_pending_per_source_max: u32,
    /// Distinct values a counter keeps exactly before it turns into a sketch.
    pub distinct_exact_max: usize,
    /// Exact distinct values kept by all counters together.
    pub distinct_exact_budget: usize,
    /// HyperLogLog sketches (4 KiB each) in use at once.
    pub sketches_max: usize,
    /// ICMP echo requests to this many distinct hosts within
    /// `ping_sweep_window_secs` make a ping sweep, answered or not.
    pub ping_sweep_min_targets: u32,
    /// Window of the ping-sweep rule (seconds).
    pub ping_sweep_window_secs: u64,
    /// Ports listed in a scan record (the count goes on beyond).
    pub scan_ports_listed_max: usize,
    /// Sample targets listed in a scan record.
    pub scan_sample_targets: usize,
    /// Per-target `E1` records per scan (targets in `home_net`).
    pub scan_target_notices_max: u64,
    /// Home targets remembered per source while it is undecided (they get
    /// their `E1` record when the source is decided).
    pub scan_undecided_targets_max: usize,
    /// Home targets remembered for undecided sources, all together (32 bytes each).
    pub scan_undecided_targets_budget: usize,
    /// Sources never judged as scanners (e.g. a vulnerability scanner that is
    /// expected). Empty by default: an authorised scan is still a scan.
    pub scan_ignore_sources: NetSet,

    // --- tool fingerprint ---------------------------------------------------
    /// Probes per second at or above which a scan is automated (with at least
    /// `automated_min_probes` probes).
    pub automated_min_rate_pps: f64,
    /// Minimum probes for the rate rule.
    pub automated_min_probes: u32,
    /// Gap coefficient of variation at or below which a scan is machine-regular
    /// (with at least `automated_regular_min_probes` probes).
    pub automated_max_gap_cv: f64,
    /// Minimum probes for the regularity rule.
    pub automated_regular_min_probes: u32,

    // --- brute force --------------------------------------------------------
    /// Failed logins (FTP 530, short SSH sessions) from one client to one
    /// service within `bruteforce_window_secs` that make a brute force.
    pub bruteforce_min_failures: u32,
    /// Window of the brute-force rule (seconds).
    pub bruteforce_window_secs: u64,
    /// An SSH session no longer than this is short (seconds).
    pub ssh_short_session_max_secs: u64,
    /// An SSH session whose server sent at most this much is a failed login
    /// (bytes, whole frames).
    pub ssh_failed_login_max_bytes_toclient: u64,
    /// An SSH session whose client sent less than this never got past the key
    /// exchange (a banner check, not a login attempt) (bytes, whole frames).
    pub ssh_login_min_bytes_toserver: u64,
    /// (client, service) pairs tracked for brute force.
    pub bruteforce_pairs_max: usize,

    // --- new listener -------------------------------------------------------
    /// A host's listening ports are learned silently for this long after the
    /// host is first seen (seconds).
    pub listener_warmup_secs: u64,
    /// Hosts whose listening ports are learned.
    pub listener_hosts_max: usize,
    /// Listening ports learned per host.
    pub listener_ports_per_host_max: usize,
    /// FTP data / DCC expectations remembered.
    pub listener_expectations_max: usize,
    /// How long an FTP data / DCC expectation stays valid (seconds).
    pub listener_expectation_secs: u64,
    /// Only hosts in `home_net` get new-listener records.
    pub listener_home_only: bool,
    /// Ordinary service ports: a host starting to serve one is learned
    /// silently unless it was the target of an exploit before.
    pub listener_quiet_ports: Vec<u16>,
    /// A candidate listener connection still open (no reset) this long after
    /// its SYN/ACK is in use (seconds).
    pub listener_confirm_secs: u64,
    /// A new listener that first accepts the very host that exploited it, at
    /// most this long after the exploit, is watched as a possible backdoor
    /// (seconds).
    pub backdoor_after_exploit_secs: u64,
    /// An interactive session on such a listener from its exploiter (data both
    /// ways, several packets each way) lasting at least this long is the
    /// backdoor's control channel (seconds).
    pub backdoor_session_min_secs: u64,
    /// Backdoor listeners watched at once.
    pub backdoor_watch_max: usize,

    // --- C&C: IRC -----------------------------------------------------------
    /// IRC sessions tracked at once.
    pub irc_sessions_max: usize,
    /// Trait score at which an IRC session is a C&C channel.
    pub irc_c2_min_score: u32,
    /// Weight: the controller side issues bot commands.
    pub irc_weight_bot_command: u32,
    /// Weight: the client answers with automated status lines.
    pub irc_weight_bot_reply: u32,
    /// Weight: IRC on a server port that is not an IRC port.
    pub irc_weight_non_irc_port: u32,
    /// Weight: machine-made nick (digit runs, country tags).
    pub irc_weight_random_nick: u32,
    /// Weight: a channel joined with a key.
    pub irc_weight_keyed_channel: u32,
    /// Weight: the client stays connected `irc_silent_secs` without talking.
    pub irc_weight_silent_client: u32,
    /// Silence that counts as the `silent_client` trait (seconds).
    pub irc_silent_secs: u64,

    // --- C&C: beaconing -----------------------------------------------------
    /// Minimum connections to one endpoint before beaconing is scored.
    pub beacon_min_connections: u32,
    /// Minimum span from first to last connection (seconds).
    pub beacon_min_span_secs: u64,
    /// Score (0..1) at or above which the series is a beacon.
    pub beacon_min_score: f64,
    /// (client, server, port) series tracked.
    pub beacon_pairs_max: usize,
    /// Connection start times and sizes kept per series.
    pub beacon_samples_max: usize,
    /// Server ports never scored (infrastructure that polls by design).
    pub beacon_ignore_ports: Vec<u16>,
    /// Only clients in `home_net` are scored.
    pub beacon_home_only: bool,

    // --- exploits, eggs, propagation ----------------------------------------
    /// Hosts remembered as targets of exploits.
    pub exploit_targets_max: usize,
    /// Hosts remembered as targets of decided scans.
    pub scan_targets_max: usize,
    /// Attack vectors remembered per target.
    pub vectors_per_target_max: usize,
    /// Victims listed in a propagation record.
    pub propagation_victims_listed_max: usize,

    // --- suppression --------------------------------------------------------
    /// Notice identifiers remembered for suppression (oldest forgotten first).
    pub suppress_max: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            trw_theta0: 0.8,
            trw_theta1: 0.2,
            trw_alpha: 0.01,
            trw_beta: 0.99,
            probe_timeout_ms: 5_000,
            scan_idle_secs: 300,
            source_idle_secs: 3_600,
            scan_episode_gap_secs: 30,
            scan_sources_max: 65_536,
            scan_pending_max: 262_144,
            scan_pending_per_source_max: 64,
            distinct_exact_max: 4_096,
            distinct_exact_budget: 4_194_304,
            sketches_max: 8_192,
            ping_sweep_min_targets: 8,
            ping_sweep_window_secs: 60,
            scan_ports_listed_max: 64,
            scan_sample_targets: 8,
            scan_target_notices_max: 65_536,
            scan_undecided_targets_max: 65_536,
            scan_undecided_targets_budget: 1_048_576,
            scan_ignore_sources: NetSet::default(),
            automated_min_rate_pps: 1.0,
            automated_min_probes: 5,
            automated_max_gap_cv: 0.3,
            automated_regular_min_probes: 8,
            bruteforce_min_failures: 10,
            bruteforce_window_secs: 600,
            ssh_short_session_max_secs: 30,
            ssh_failed_login_max_bytes_toclient: 6_000,
            ssh_login_min_bytes_toserver: 1_000,
            bruteforce_pairs_max: 16_384,
            listener_warmup_secs: 60,
            listener_hosts_max: 65_536,
            listener_ports_per_host_max: 64,
            listener_expectations_max: 16_384,
            listener_expectation_secs: 300,
            listener_home_only: true,
            listener_quiet_ports: vec![
                21, 22, 23, 25, 53, 80, 88, 110, 135, 139, 143, 389, 443, 445, 587, 993, 995, 3389,
                5900, 8080, 8443,
            ],
            listener_confirm_secs: 10,
            backdoor_after_exploit_secs: 600,
            backdoor_session_min_secs: 2,
            backdoor_watch_max: 4_096,
            irc_sessions_max: 4_096,
            irc_c2_min_score: 3,
            irc_weight_bot_command: 3,
            irc_weight_bot_reply: 3,
            irc_weight_non_irc_port: 2,
            irc_weight_random_nick: 1,
            irc_weight_keyed_channel: 1,
            irc_weight_silent_client: 1,
            irc_silent_secs: 600,
            beacon_min_connections: 10,
            beacon_min_span_secs: 60,
            beacon_min_score: 0.8,
            beacon_pairs_max: 32_768,
            beacon_samples_max: 32,
            beacon_ignore_ports: vec![53, 67, 68, 123, 137, 138, 1900, 5353],
            beacon_home_only: true,
            exploit_targets_max: 65_536,
            scan_targets_max: 65_536,
            vectors_per_target_max: 8,
            propagation_victims_listed_max: 16,
            suppress_max: 1_048_576,
        }
    }
}

/// Derived TRW constants (natural logarithms).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Trw {
    /// ln((1-θ1)/(1-θ0)): added on a failed first contact.
    pub fail: f64,
    /// ln(θ1/θ0): added on a successful first contact.
    pub success: f64,
    /// ln η1 = ln(β/α): at or above, the source is a scanner.
    pub upper: f64,
    /// ln η0 = ln((1-β)/(1-α)): at or below, the source is benign (walk restarts).
    pub lower: f64,
}

impl Trw {
    /// Derives the walk's steps and bounds from the configured θ0, θ1, α, β.
    /// Out-of-range values fall back to the paper's defaults.
    pub(crate) fn from_config(cfg: &DetectConfig) -> Trw {
        let ok = |x: f64| x.is_finite() && x > 0.0 && x < 1.0;
        let (t0, t1, a, b) = if ok(cfg.trw_theta0)
            && ok(cfg.trw_theta1)
            && ok(cfg.trw_alpha)
            && ok(cfg.trw_beta)
            && cfg.trw_theta1 < cfg.trw_theta0
            && cfg.trw_alpha < cfg.trw_beta
        {
            (cfg.trw_theta0, cfg.trw_theta1, cfg.trw_alpha, cfg.trw_beta)
        } else {
            (0.8, 0.2, 0.01, 0.99)
        };
        Trw {
            fail: ((1.0 - t1) / (1.0 - t0)).ln(),
            success: (t1 / t0).ln(),
            upper: (b / a).ln(),
            lower: ((1.0 - b) / (1.0 - a)).ln(),
        }
    }

    /// Consecutive failures that decide a fresh source (no successes).
    #[cfg(test)]
    pub(crate) fn failures_to_decide(&self) -> u32 {
        let mut llr = 0.0;
        let mut n = 0;
        while llr < self.upper && n < 1_000 {
            llr += self.fail;
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_decide_within_five_failures() {
        let trw = Trw::from_config(&DetectConfig::default());
        // ln 99 / ln 4 = 3.31 → the 4th failure decides.
        assert!((trw.upper / trw.fail - 3.31).abs() < 0.01);
        assert_eq!(trw.failures_to_decide(), 4);
        // Symmetric: four net successes call a source benign.
        assert!((trw.lower / trw.success - 3.31).abs() < 0.01);
    }

    #[test]
    fn nonsense_parameters_fall_back_to_the_paper() {
        let cfg = DetectConfig {
            trw_theta0: 0.1,
            trw_theta1: 0.9,
            ..DetectConfig::default()
        };
        assert_eq!(Trw::from_config(&cfg).failures_to_decide(), 4);
    }

    #[test]
    fn config_round_trips_and_rejects_unknown_keys() {
        let cfg = DetectConfig::default();
        let s = serde_json::to_string(&cfg).unwrap();
        let back: DetectConfig = serde_json::from_str(&s).unwrap();
        assert_eq!(back, cfg);
        let partial: DetectConfig = serde_json::from_str(r#"{"probe_timeout_ms": 3000}"#).unwrap();
        assert_eq!(partial.probe_timeout_ms, 3000);
        assert_eq!(partial.scan_idle_secs, 300);
        assert!(serde_json::from_str::<DetectConfig>(r#"{"probe_timeout": 3}"#).is_err());
    }
}
