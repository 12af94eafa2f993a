//! The VRRP engine's Prometheus metrics, under the names, labels, help texts, types and
//! values of keepalived-exporter (github.com/mehdy/keepalived-exporter,
//! `internal/collector/collector.go`, current master), which reads keepalived's
//! `/tmp/keepalived.data` and `/tmp/keepalived.stats`: rendered here from the same
//! [`Snapshot`] as those dumps, so the values are the ones the exporter would read from
//! ours. Pure: a snapshot in, the text exposition format (0.0.4) out, families sorted by
//! name and samples by label values as the exporter's Go client writes them.
//!
//! What the exporter does not have is ours and says so in its help text:
//! `keepalived_vrrp_priority` and `keepalived_vrrp_effective_priority`.

use std::fmt::Write as _;

use crate::dump::{InstanceDump, Snapshot};

/// keepalived-exporter's state numbers (`VRRPStates`: INIT 0, BACKUP 1, MASTER 2,
/// FAULT 3), which are keepalived's `VRRP_STATE_*`; a stopping instance has keepalived's
/// `VRRP_STATE_STOP` (98), as the exporter's JSON mode would read it.
pub fn state_value(state: crate::machine::State) -> u8 {
    crate::dump::state_number(state)
}

/// One metric family: its samples are label pairs (in label-name order) and a value.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, u64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, kind: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }
}

/// The instance counters: name, help (the exporter's), how to read it.
type CounterRead = fn(&InstanceDump) -> u64;
const COUNTERS: [(&str, &str, CounterRead); 15] = [
    (
        "keepalived_advertisements_received_total",
        "Advertisements received",
        |i| i.counters.advert_rcvd,
    ),
    (
        "keepalived_advertisements_sent_total",
        "Advertisements sent",
        |i| i.counters.advert_sent,
    ),
    ("keepalived_become_master_total", "Became master", |i| {
        i.counters.become_master
    }),
    ("keepalived_release_master_total", "Released master", |i| {
        i.counters.release_master
    }),
    (
        "keepalived_packet_length_errors_total",
        "Packet length errors",
        |i| i.counters.packet_len_err,
    ),
    (
        "keepalived_advertisements_interval_errors_total",
        "Advertisement interval errors",
        |i| i.counters.advert_interval_err,
    ),
    ("keepalived_ip_ttl_errors_total", "TTL errors", |i| {
        i.counters.ip_ttl_err
    }),
    (
        "keepalived_invalid_type_received_total",
        "Invalid type errors",
        |i| i.counters.invalid_type_rcvd,
    ),
    (
        "keepalived_address_list_errors_total",
        "Address list errors",
        |i| i.counters.addr_list_err,
    ),
    (
        "keepalived_authentication_invalid_total",
        "Authentication invalid",
        |i| i.counters.invalid_authtype,
    ),
    (
        "keepalived_authentication_mismatch_total",
        "Authentication mismatch",
        |i| i.counters.authtype_mismatch,
    ),
    (
        "keepalived_authentication_failure_total",
        "Authentication failure",
        |i| i.counters.auth_failure,
    ),
    (
        "keepalived_priority_zero_received_total",
        "Priority zero received",
        |i| i.counters.pri_zero_rcvd,
    ),
    (
        "keepalived_priority_zero_sent_total",
        "Priority zero sent",
        |i| i.counters.pri_zero_sent,
    ),
    // The exporter's counter of the data dump's `Gratuitous ARP delay` (a setting).
    (
        "keepalived_gratuitous_arp_delay_total",
        "Gratuitous ARP delay",
        |i| i.garp_delay_secs,
    ),
];

/// The help texts of our own families (not in keepalived-exporter).
pub const PRIORITY_HELP: &str = "Configured priority of the VRRP instance (ha-compat)";
pub const EFFECTIVE_PRIORITY_HELP: &str =
    "Effective priority of the VRRP instance: the configured one with the tracked scripts' and interfaces' weights (ha-compat)";

/// The exporter's `ParseVIP`: the first and third words of the data dump's VIP line
/// (`10.0.0.100/24 dev eth0 scope global`: `10.0.0.100/24`, `eth0`); `None` (no sample)
/// below three words.
fn vip_labels(vip: &str) -> Option<(String, String)> {
    let words: Vec<&str> = vip.split(' ').collect();
    if words.len() < 3 {
        return None;
    }
    Some((words[0].to_string(), words[2].to_string()))
}

/// The metrics text for `snapshot` (the engine runs: `keepalived_up` is 1).
pub fn render(snapshot: &Snapshot) -> String {
    let mut families: Vec<Family> = vec![{
        let mut up = Family::new("keepalived_up", "Status", "gauge");
        up.samples.push((Vec::new(), 1));
        up
    }];
    let common = |i: &InstanceDump| {
        vec![
            ("iname", i.name.clone()),
            ("intf", i.interface.clone()),
            ("vrid", i.vrid.to_string()),
        ]
    };
    for (name, help, read) in COUNTERS {
        let mut f = Family::new(name, help, "counter");
        for i in &snapshot.instances {
            f.samples.push((common(i), read(i)));
        }
        families.push(f);
    }
    let mut state = Family::new("keepalived_vrrp_state", "State of vrrp", "gauge");
    let mut excluded = Family::new(
        "keepalived_vrrp_excluded_state",
        "State of vrrp with excluded VIP",
        "gauge",
    );
    let mut priority = Family::new("keepalived_vrrp_priority", PRIORITY_HELP, "gauge");
    let mut effective = Family::new(
        "keepalived_vrrp_effective_priority",
        EFFECTIVE_PRIORITY_HELP,
        "gauge",
    );
    for i in &snapshot.instances {
        let value = u64::from(state_value(i.state));
        let split = i.vips.len().saturating_sub(i.excluded_vips);
        let vip_sample = |vip: &String| {
            vip_labels(vip).map(|(address, intf)| {
                (
                    vec![
                        ("iname", i.name.clone()),
                        ("intf", intf),
                        ("ip_address", address),
                        ("vrid", i.vrid.to_string()),
                    ],
                    value,
                )
            })
        };
        state
            .samples
            .extend(i.vips[..split].iter().filter_map(vip_sample));
        excluded
            .samples
            .extend(i.vips[split..].iter().filter_map(vip_sample));
        // The exporter's sample for an instance without VIPs: its interface, no address.
        if split == 0 {
            state.samples.push((
                vec![
                    ("iname", i.name.clone()),
                    ("intf", i.interface.clone()),
                    ("ip_address", String::new()),
                    ("vrid", i.vrid.to_string()),
                ],
                value,
            ));
        }
        priority
            .samples
            .push((common(i), u64::from(i.base_priority)));
        effective
            .samples
            .push((common(i), u64::from(i.effective_priority)));
    }
    families.extend([state, excluded, priority, effective]);
    // The data dump's script `Status` (GOOD 1, BAD 0; `INIT`, no result yet, is not a
    // status the exporter knows: no sample) and `State` (always `idle` in ours: 0).
    let mut status = Family::new("keepalived_script_status", "Tracker Script Status", "gauge");
    let mut script_state = Family::new("keepalived_script_state", "Tracker Script State", "gauge");
    for s in &snapshot.scripts {
        if let Some(good) = s.good {
            status
                .samples
                .push((vec![("name", s.name.clone())], u64::from(good)));
        }
        script_state
            .samples
            .push((vec![("name", s.name.clone())], 0));
    }
    families.extend([status, script_state]);

    // The Go client's order: families by name, samples by label values; no empty family.
    families.retain(|f| !f.samples.is_empty());
    families.sort_by(|a, b| a.name.cmp(b.name));
    let mut text = String::new();
    for f in &mut families {
        f.samples
            .sort_by(|a, b| a.0.iter().map(|(_, v)| v).cmp(b.0.iter().map(|(_, v)| v)));
        // The same labels twice would make the exporter fail the scrape; keep one.
        f.samples.dedup_by(|a, b| a.0 == b.0);
        let _ = writeln!(text, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(text, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            text.push_str(f.name);
            if !labels.is_empty() {
                text.push('{');
                for (n, (label, v)) in labels.iter().enumerate() {
                    if n > 0 {
                        text.push(',');
                    }
                    let _ = write!(text, "{label}=\"{}\"", escape_label(v));
                }
                text.push('}');
            }
            let _ = writeln!(text, " {}", go_float(*value));
        }
    }
    text
}

/// The text format's escaping of a label value: `\`, `"` and newline.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text format's escaping of a help text: `\` and newline.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A value as the Go client writes it (`strconv.FormatFloat(v, 'g', -1, 64)`): plain
/// below 1e6, else the shortest mantissa with a two-digit signed exponent (`1.5e+06`).
fn go_float(value: u64) -> String {
    if value < 1_000_000 {
        return value.to_string();
    }
    // Counters are below 2^53 in practice; above, the float is what Go writes too.
    #[allow(clippy::cast_precision_loss)]
    let float = value as f64;
    let rust = format!("{float:e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((rust.as_str(), "0"));
    format!("{mantissa}e+{exponent:0>2}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::{Counters, ScriptDump};
    use crate::machine::State;

    /// The recorded instance of the dump tests (`VI_1`, vrid 51 on eth0, a VIP), renamed,
    /// in `state`, at priority 100.
    fn instance(name: &str, state: State) -> InstanceDump {
        let mut i = crate::dump::tests::recorded().instances.remove(0);
        i.name = name.into();
        i.state = state;
        i.counters = Counters::default();
        i.base_priority = 100;
        i.effective_priority = 100;
        i
    }

    /// The values are those keepalived-exporter reads from our data and stats dumps of
    /// the same snapshot (its parsers as restated in `dump`'s tests, which check them
    /// against keepalived's own files).
    #[test]
    fn values_equal_what_the_exporter_reads_from_the_dumps() {
        use crate::dump::tests::{exporter_data, exporter_scripts, exporter_stats, recorded};
        let mut snapshot = recorded();
        snapshot.instances[0].counters.advert_rcvd = 3;
        snapshot.instances[0].counters.auth_failure = 2;
        let text = render(&snapshot);
        let data = exporter_data(&crate::dump::render_data(&snapshot));
        let (name, keys, vips) = &data[0];
        let key = |k: &str| {
            keys.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let common = format!(
            "{{iname=\"{name}\",intf=\"{}\",vrid=\"{}\"}}",
            key("Interface"),
            key("Virtual Router ID")
        );
        // The exporter's VRRPStates index of the data dump's `State` word.
        let state = ["INIT", "BACKUP", "MASTER", "FAULT"]
            .iter()
            .position(|w| *w == key("State"))
            .unwrap();
        let words: Vec<&str> = vips[0].split(' ').collect();
        assert!(text.contains(&format!(
            "keepalived_vrrp_state{{iname=\"{name}\",intf=\"{}\",ip_address=\"{}\",vrid=\"51\"}} {state}\n",
            words[2], words[0]
        )));
        assert!(text.contains(&format!(
            "keepalived_gratuitous_arp_delay_total{common} {}\n",
            key("Gratuitous ARP delay")
        )));
        let names = [
            (
                "Advertisements/Received",
                "keepalived_advertisements_received_total",
            ),
            (
                "Advertisements/Sent",
                "keepalived_advertisements_sent_total",
            ),
            ("Became master", "keepalived_become_master_total"),
            ("Released master", "keepalived_release_master_total"),
            (
                "Packet Errors/Length",
                "keepalived_packet_length_errors_total",
            ),
            ("Packet Errors/TTL", "keepalived_ip_ttl_errors_total"),
            (
                "Packet Errors/Invalid Type",
                "keepalived_invalid_type_received_total",
            ),
            (
                "Packet Errors/Advertisement Interval",
                "keepalived_advertisements_interval_errors_total",
            ),
            (
                "Packet Errors/Address List",
                "keepalived_address_list_errors_total",
            ),
            (
                "Authentication Errors/Invalid Type",
                "keepalived_authentication_invalid_total",
            ),
            (
                "Authentication Errors/Type Mismatch",
                "keepalived_authentication_mismatch_total",
            ),
            (
                "Authentication Errors/Failure",
                "keepalived_authentication_failure_total",
            ),
            (
                "Priority Zero/Received",
                "keepalived_priority_zero_received_total",
            ),
            ("Priority Zero/Sent", "keepalived_priority_zero_sent_total"),
        ];
        let stats = exporter_stats(&crate::dump::render_stats(&snapshot));
        assert_eq!(stats.len(), names.len());
        for (instance, key, value) in stats {
            assert_eq!(&instance, name);
            let metric = names.iter().find(|(k, _)| *k == key).unwrap().1;
            let line = format!("{metric}{common} {value}\n");
            assert!(text.contains(&line), "{line} missing from\n{text}");
        }
        for (script, status, state) in exporter_scripts(&crate::dump::render_data(&snapshot)) {
            let status = ["BAD", "GOOD"].iter().position(|w| *w == status).unwrap();
            let state = [
                "idle",
                "running",
                "requested termination",
                "forcing termination",
            ]
            .iter()
            .position(|w| *w == state)
            .unwrap();
            assert!(text.contains(&format!(
                "keepalived_script_status{{name=\"{script}\"}} {status}\n"
            )));
            assert!(text.contains(&format!(
                "keepalived_script_state{{name=\"{script}\"}} {state}\n"
            )));
        }
    }

    /// The exporter's output for one MASTER instance with a VIP and a good script, as its
    /// collector builds it (names, help, labels from collector.go; values from the dump).
    #[test]
    fn one_master_as_the_exporter_writes_it() {
        let mut i = instance("VI_1", State::Master);
        i.counters = Counters {
            advert_sent: 42,
            become_master: 1,
            ..Counters::default()
        };
        let snapshot = Snapshot {
            instances: vec![i],
            scripts: vec![ScriptDump {
                name: "chk_true".into(),
                command: vec!["/bin/true".into()],
                interval_secs: 1,
                timeout_secs: 1,
                weight: 0,
                rise: 1,
                fall: 1,
                good: Some(true),
                tracking: vec![("VI_1".into(), 0)],
            }],
            ..Snapshot::default()
        };
        let text = render(&snapshot);
        let l = r#"{iname="VI_1",intf="eth0",vrid="51"}"#;
        for line in [
            "# HELP keepalived_up Status\n# TYPE keepalived_up gauge\nkeepalived_up 1\n".into(),
            format!(
                "# HELP keepalived_advertisements_sent_total Advertisements sent\n\
                 # TYPE keepalived_advertisements_sent_total counter\n\
                 keepalived_advertisements_sent_total{l} 42\n"
            ),
            format!("keepalived_become_master_total{l} 1\n"),
            format!("keepalived_release_master_total{l} 0\n"),
            format!("keepalived_gratuitous_arp_delay_total{l} 5\n"),
            "# HELP keepalived_vrrp_state State of vrrp\n# TYPE keepalived_vrrp_state gauge\n\
             keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",ip_address=\"10.0.0.100/24\",vrid=\"51\"} 2\n"
                .into(),
            format!("keepalived_vrrp_priority{l} 100\n"),
            format!("keepalived_vrrp_effective_priority{l} 100\n"),
            "# HELP keepalived_script_status Tracker Script Status\n\
             # TYPE keepalived_script_status gauge\nkeepalived_script_status{name=\"chk_true\"} 1\n"
                .into(),
            "keepalived_script_state{name=\"chk_true\"} 0\n".into(),
        ] {
            assert!(text.contains(&line), "{line} missing from:\n{text}");
        }
        assert!(!text.contains("excluded"), "{text}");
        // Families in name order.
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        // keepalived_up, 15 counters, state, 2 priorities, 2 script families.
        assert_eq!(names.len(), 21);
    }

    #[test]
    fn states_excluded_vips_and_no_vips() {
        let mut backup = instance("VI_2", State::Backup);
        backup.vrid = 52;
        backup.vips = vec![
            "10.0.0.101/24 dev eth0 scope global".into(),
            "192.168.9.1/32 dev eth1 scope global".into(),
        ];
        backup.excluded_vips = 1;
        let mut fault = instance("VI_3", State::Fault);
        fault.vips.clear();
        let mut init = instance("VI_0", State::Init);
        init.vips = vec!["oneword".into()];
        let text = render(&Snapshot {
            instances: vec![backup, fault, init],
            ..Snapshot::default()
        });
        assert!(text.contains(
            "keepalived_vrrp_state{iname=\"VI_2\",intf=\"eth0\",ip_address=\"10.0.0.101/24\",vrid=\"52\"} 1\n"
        ));
        assert!(text.contains(
            "keepalived_vrrp_excluded_state{iname=\"VI_2\",intf=\"eth1\",ip_address=\"192.168.9.1/32\",vrid=\"52\"} 1\n"
        ));
        assert!(text.contains(
            "keepalived_vrrp_state{iname=\"VI_3\",intf=\"eth0\",ip_address=\"\",vrid=\"51\"} 3\n"
        ));
        // A VIP the exporter cannot split gives no sample (and the instance has a VIP).
        assert!(
            !text.contains("iname=\"VI_0\",intf=\"eth0\",ip_address"),
            "{text}"
        );
        // Samples sorted by label values: VI_0 before VI_2 before VI_3.
        let sent: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("keepalived_advertisements_sent_total{"))
            .collect();
        assert_eq!(sent.len(), 3);
        assert!(sent[0].contains("VI_0") && sent[1].contains("VI_2") && sent[2].contains("VI_3"));
    }

    #[test]
    fn a_script_without_result_has_a_state_but_no_status() {
        let text = render(&Snapshot {
            scripts: vec![ScriptDump {
                name: "chk \"odd\"\\".into(),
                command: vec![],
                interval_secs: 1,
                timeout_secs: 1,
                weight: 0,
                rise: 1,
                fall: 1,
                good: None,
                tracking: vec![],
            }],
            ..Snapshot::default()
        });
        assert!(!text.contains("keepalived_script_status"), "{text}");
        assert!(text.contains("keepalived_script_state{name=\"chk \\\"odd\\\"\\\\\"} 0\n"));
    }

    #[test]
    fn values_formatted_as_go() {
        assert_eq!(go_float(0), "0");
        assert_eq!(go_float(999_999), "999999");
        assert_eq!(go_float(1_000_000), "1e+06");
        assert_eq!(go_float(1_234_567), "1.234567e+06");
        assert_eq!(go_float(12_345_678_901), "1.2345678901e+10");
    }

    /// A minimal parser of the text format: every line a comment (`# HELP`/`# TYPE` with a
    /// name) or `name{label="value",...} number`; returns the samples.
    /// A sample: metric name, label pairs, value.
    type Sample = (String, Vec<(String, String)>, f64);

    fn parse(text: &str) -> Result<Vec<Sample>, String> {
        let mut out = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ") {
                let mut w = rest.splitn(3, ' ');
                let kind = w.next().ok_or("comment")?;
                let name = w.next().ok_or("comment name")?;
                if !["HELP", "TYPE"].contains(&kind) || name.is_empty() {
                    return Err(format!("bad comment {line}"));
                }
                continue;
            }
            let name_end = line
                .find(['{', ' '])
                .ok_or_else(|| format!("no value: {line}"))?;
            let name = &line[..name_end];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            {
                return Err(format!("bad name {line}"));
            }
            let mut rest = &line[name_end..];
            let mut labels = Vec::new();
            if let Some(r) = rest.strip_prefix('{') {
                rest = r;
                loop {
                    if let Some(r) = rest.strip_prefix('}') {
                        rest = r;
                        break;
                    }
                    let eq = rest.find("=\"").ok_or("label")?;
                    let label = rest[..eq].trim_start_matches(',').to_string();
                    let mut value = String::new();
                    let mut chars = rest[eq + 2..].char_indices();
                    let end = loop {
                        match chars.next() {
                            Some((_, '\\')) => match chars.next() {
                                Some((_, 'n')) => value.push('\n'),
                                Some((_, c @ ('\\' | '"'))) => value.push(c),
                                _ => return Err(format!("bad escape {line}")),
                            },
                            Some((n, '"')) => break eq + 2 + n + 1,
                            Some((_, c)) => value.push(c),
                            None => return Err(format!("unterminated {line}")),
                        }
                    };
                    labels.push((label, value));
                    rest = &rest[end..];
                }
            }
            let number: f64 = rest
                .strip_prefix(' ')
                .ok_or("space")?
                .parse()
                .map_err(|e| format!("{e}: {line}"))?;
            out.push((name.to_string(), labels, number));
        }
        Ok(out)
    }

    proptest::proptest! {
        #[test]
        fn output_always_parses(
            names in proptest::collection::vec("\\PC{0,12}", 1..4),
            vips in proptest::collection::vec("[ -~\n]{0,30}", 0..4),
            sent in proptest::prelude::any::<u64>(),
            prio in proptest::prelude::any::<u8>(),
            excluded in 0usize..5,
        ) {
            let instances: Vec<InstanceDump> = names.iter().map(|n| {
                let mut i = instance(n, State::Backup);
                i.interface = format!("{n}\"\\\n");
                i.vips = vips.clone();
                i.excluded_vips = excluded;
                i.counters.advert_sent = sent;
                i.effective_priority = prio;
                i
            }).collect();
            let scripts = names.iter().map(|n| ScriptDump {
                name: n.clone(), command: vec![], interval_secs: 1, timeout_secs: 1,
                weight: 0, rise: 1, fall: 1, good: Some(true), tracking: vec![],
            }).collect();
            let snapshot = Snapshot { instances, scripts, ..Snapshot::default() };
            let text = render(&snapshot);
            let samples = parse(&text).map_err(proptest::test_runner::TestCaseError::fail)?;
            for n in &names {
                let found = samples.iter().any(|(m, labels, v)| {
                    m == "keepalived_advertisements_sent_total"
                        && labels.first().is_some_and(|(l, value)| l == "iname" && value == n)
                        && (*v - sent as f64).abs() <= (sent as f64) * 1e-15
                });
                proptest::prop_assert!(found, "{n:?} not in {text}");
            }
        }
    }
}
