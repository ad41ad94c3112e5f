//! The engine's configuration: one struct holding every stage's settings.

use std::sync::Arc;
use stormwatch_correlate::CorrelateConfig;
use stormwatch_detect::DetectConfig;
use stormwatch_flow::FlowConfig;
use stormwatch_model::NetSet;
use stormwatch_proto::ProtoConfig;
use stormwatch_rules::RuleSet;

/// Settings of every stage. `Default` gives stormwatch's documented defaults
/// (`docs/configuration.md`).
#[derive(Clone)]
pub struct Config {
    /// The protected networks (`HOME_NET`); default RFC 1918.
    pub home_net: NetSet,
    /// Flow table, defragmentation and reassembly.
    pub flow: FlowConfig,
    /// Protocol identification and parsers.
    pub proto: ProtoConfig,
    /// Compiled signatures; `None` runs without rules (zero cost).
    pub rules: Option<Arc<RuleSet>>,
    /// Behavioural detectors.
    pub detect: DetectConfig,
    /// Correlation.
    pub correlate: CorrelateConfig,
    /// Run the behavioural detectors and the correlator (off for pure
    /// Suricata-compatible runs).
    pub behaviour: bool,
    /// With `behaviour` on, run the behavioural detectors (scans, C&C, listeners,
    /// eggs, propagation). Off, the correlator joins what the rules alert on
    /// alone: host stories from signatures only.
    pub detectors: bool,
    /// Emit an EVE `anomaly` record for each decode anomaly (they are always counted).
    pub decode_anomaly_records: bool,
    /// Build application-layer records (`http`, `dns`, `tls`, `irc`, `fileinfo`...).
    /// Runs that write no EVE (a report only) turn this off: the parsers then skip
    /// building JSON nobody reads.
    pub app_records: bool,
}

impl Default for Config {
    fn default() -> Self {
        let home_net = NetSet::rfc1918();
        let correlate = CorrelateConfig {
            home_net: home_net.clone(),
            ..CorrelateConfig::default()
        };
        Config {
            home_net,
            // Offline captures are often taken on the sending host with checksum
            // offload: its outgoing segments carry wrong checksums. stormwatch
            // trusts them by default (Suricata-compatible runs use Suricata's `auto`).
            flow: FlowConfig {
                checksum: stormwatch_flow::ChecksumMode::Off,
                ..FlowConfig::default()
            },
            proto: ProtoConfig::default(),
            rules: None,
            detect: DetectConfig::default(),
            correlate,
            behaviour: true,
            detectors: true,
            decode_anomaly_records: true,
            app_records: true,
        }
    }
}

impl Config {
    /// Sets `HOME_NET` for every stage that uses it.
    pub fn set_home_net(&mut self, net: NetSet) {
        self.correlate.home_net = net.clone();
        self.home_net = net;
    }
}
