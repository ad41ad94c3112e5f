//! Correlation acceptance 2: real captures whose catalog states an expected verdict
//! get that verdict. Hosts without any verdict record are `clean`.

use crate::common::shared_dir;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use stormwatch_cli::analyze::{Settings, load_rules, run_pipeline};
use stormwatch_model::{Label, NetSet, VecSink};

/// What the catalog allows for a host: one label, or "anything but compromised".
#[derive(Clone, Copy, Debug)]
enum Want {
    Is(Label),
    NotCompromised,
}

struct Case {
    file: &'static str,
    /// `--home-net` as an analyst would set it (the victim's address) when the
    /// default RFC 1918 networks would make both ends internal.
    home_net: Option<&'static str>,
    /// Load the Emerging Threats rules of the shared folder.
    et_rules: bool,
    hosts: &'static [(&'static str, Want)],
}

use Want::{Is, NotCompromised};

const CASES: &[Case] = &[
    Case {
        file: "suricata-verify-irc-input.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("172.16.1.10", Is(Label::Bot)),
            ("69.64.34.124", Is(Label::Controller)),
        ],
    },
    Case {
        file: "zeek-irc-basic.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("192.168.6.110", Is(Label::Clean))],
    },
    Case {
        file: "zeek-irc-more-commands.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("172.16.238.1", Is(Label::Clean)),
            ("172.16.238.10", Is(Label::Clean)),
        ],
    },
    Case {
        file: "zeek-irc-whitespace.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("192.168.6.110", Is(Label::Clean))],
    },
    Case {
        file: "zeek-irc-dcc-send.pcapng",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("10.0.0.7", Is(Label::Clean)),
            ("10.0.0.22", Is(Label::Clean)),
        ],
    },
    Case {
        file: "zeek-tls-irc-starttls.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("203.143.168.47", Is(Label::Clean))],
    },
    Case {
        file: "protocoldetector-irc.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("192.168.2.6", Is(Label::Clean))],
    },
    Case {
        file: "zeek-tcp-http-on-irc-port-missing-syn.pcapng",
        home_net: None,
        et_rules: false,
        hosts: &[("141.142.228.5", Is(Label::Clean))],
    },
    Case {
        file: "zeek-ssh-on-port-80.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("172.16.238.1", Is(Label::Clean)),
            ("172.16.238.131", Is(Label::Clean)),
        ],
    },
    Case {
        file: "esnet-masscan-tcp_0_1000_20190821.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("172.31.15.102", Is(Label::Scanner)),
            ("198.124.152.15", Is(Label::Probed)),
        ],
    },
    Case {
        file: "esnet-masscan-udp_0_1000_20190821.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("172.31.15.102", Is(Label::Scanner)),
            ("198.124.152.15", Is(Label::Probed)),
        ],
    },
    Case {
        file: "esnet-nmap_80_all.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("10.87.1.10", Is(Label::Scanner)),
            ("130.211.223.103", Is(Label::Probed)),
        ],
    },
    Case {
        file: "esnet-nmap_80_vanilla.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("130.211.223.103", NotCompromised)],
    },
    Case {
        file: "esnet-nmap_80_w_service_detection.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("10.87.1.10", Is(Label::Scanner)),
            ("130.211.223.103", Is(Label::Probed)),
        ],
    },
    Case {
        file: "zeek-nmap-vsn.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("192.168.1.71", Is(Label::Scanner)),
            ("192.168.1.61", Is(Label::Probed)),
            ("192.168.1.69", Is(Label::Probed)),
        ],
    },
    Case {
        file: "stratosphere-test12-icmp-portscan.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("192.168.1.109", Is(Label::Scanner))],
    },
    Case {
        file: "stratosphere-malicious-ssh-bruteforce.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("147.32.80.40", Is(Label::Scanner)),
            ("147.32.80.37", Is(Label::Targeted)),
        ],
    },
    Case {
        file: "zeek-ftp-bruteforce.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("192.168.56.1", Is(Label::Scanner)),
            ("192.168.56.101", Is(Label::Targeted)),
        ],
    },
    Case {
        file: "suricata-verify-ssl-v2-s1.pcap",
        home_net: None,
        et_rules: true,
        hosts: &[
            ("10.150.98.145", Is(Label::Clean)),
            ("10.157.4.11", Is(Label::Clean)),
        ],
    },
    Case {
        file: "zeek-tls-ssl-v2.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("192.168.4.149", Is(Label::Clean))],
    },
    Case {
        file: "zeek-tls-tls1.2.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("10.0.0.80", Is(Label::Clean))],
    },
    Case {
        file: "stratosphere-test-cc-capture-2.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("147.32.80.37", NotCompromised)],
    },
    Case {
        file: "chrissanders-ek_to_cryptowall4.pcapng",
        home_net: None,
        et_rules: true,
        hosts: &[
            ("192.168.122.145", Is(Label::Trojan)),
            ("45.32.238.202", Is(Label::Exploiter)),
            ("213.186.33.18", Is(Label::Controller)),
            ("184.170.149.44", Is(Label::Controller)),
        ],
    },
    Case {
        file: "chrissanders-aurora.pcapng",
        home_net: Some("192.168.100.206/32"),
        et_rules: true,
        hosts: &[
            ("192.168.100.206", Is(Label::Trojan)),
            ("192.168.100.202", Is(Label::Controller)),
        ],
    },
    Case {
        file: "zeek-pe-pe.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[
            ("192.168.1.31", NotCompromised),
            ("192.168.1.32", Is(Label::EggServer)),
        ],
    },
    Case {
        file: "zeek-http-get.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("141.142.228.5", Is(Label::Clean))],
    },
    Case {
        file: "zeek-http-bro.org.pcap",
        home_net: None,
        et_rules: false,
        hosts: &[("10.0.2.15", Is(Label::Clean))],
    },
    Case {
        file: "ppa1e-http.cap",
        home_net: None,
        et_rules: false,
        hosts: &[("145.254.160.237", Is(Label::Clean))],
    },
    Case {
        file: "ppa1e-dns.cap",
        home_net: None,
        et_rules: false,
        hosts: &[("192.168.0.114", Is(Label::Clean))],
    },
    Case {
        file: "suricata-verify-bug-28.pcap",
        home_net: None,
        et_rules: true,
        hosts: &[("192.168.2.7", Is(Label::Trojan))],
    },
];

#[test]
fn catalog_verdicts_hold_on_real_captures() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    let et = shared.join("rules/et-open-snort-2.9.0-2017/rules");
    let mut failures = Vec::new();
    for case in CASES {
        let mut settings = Settings::default();
        if let Some(h) = case.home_net {
            settings.engine.set_home_net(NetSet::parse(h).unwrap());
            settings.rules.set_var("HOME_NET", h).unwrap();
        }
        if case.et_rules {
            settings.engine.rules =
                load_rules(std::slice::from_ref(&et), &settings, true, false).unwrap();
        }
        let mut sink = VecSink::default();
        let path: PathBuf = shared.join("corpus").join(case.file);
        let outcome = run_pipeline(&[path], &settings, &mut sink, false).unwrap();
        let current: BTreeMap<IpAddr, Label> = outcome
            .summary
            .verdicts
            .iter()
            .map(|v| (v.host, v.label))
            .collect();
        for (ip, want) in case.hosts {
            let ip: IpAddr = ip.parse().unwrap();
            let got = current.get(&ip).copied().unwrap_or(Label::Clean);
            let ok = match want {
                Want::Is(l) => got == *l,
                Want::NotCompromised => !got.is_compromised(),
            };
            println!(
                "{:<45} {ip:<16} want {want:?}, got {}",
                case.file,
                got.as_str()
            );
            if !ok {
                failures.push(format!(
                    "{}: {ip}: want {want:?}, got {}",
                    case.file,
                    got.as_str()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "catalog verdicts not met:\n  {}",
        failures.join("\n  ")
    );
}
