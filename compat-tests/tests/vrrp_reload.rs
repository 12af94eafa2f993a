//! SIGHUP reload of the VRRP engine, ours against the reference keepalived 2.2.7.
//!
//! One lab per subject (node1 runs the subject, node2 always the reference), on one bridge.
//! node1 starts with configuration A:
//! - `VI_1` (vrid 71, priority 150, VIP .171, excluded .172, tracking `chk` = `/bin/true`,
//!   weight 2): master;
//! - `VI_2` (vrid 72, priority 50, VIP .173): backup (node2 has 100);
//! - `VI_3` (vrid 73, priority 150, VIP .174): master.
//!
//! Then configuration B is written and node1's keepalived gets SIGHUP:
//! - `VI_1` keeps .171, loses .172, gains .175: it must stay master without a gap in its
//!   adverts (no priority 0, no re-election), drop .172 and add .175;
//! - `VI_2` unchanged: still backup, node2 still master;
//! - `VI_3` deleted: node1 sends priority 0 and releases .174, node2 takes it over;
//! - `VI_4` (vrid 74, priority 150, VIP .176) new: starts in BACKUP, then preempts node2.
//!
//! The instance log lines after the reload (`(VI_x) ...`, `VRRP_Script(...)`) must be the reference's, in the same order. Last, a configuration
//! with a fatal error is written and SIGHUP sent again: the reference 2.2.7 stops (and
//! leaves its VIPs on the interface); ours keeps running the configuration it has, which
//! the test asserts as the documented difference.
//!
//! Run: `cargo test --release -p compat-tests --test vrrp_reload -- --nocapture` after
//! `cargo build --release -p ha-compat`. Artifacts in
//! `<target>/compat/labs/reload-<subject>/`.

// unwrap()/expect() in these test helpers: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use compat_tests::adverts::{self, Advert};
use compat_tests::lab::{wait_for, Lab, LabSpec, NodeSpec};

static SERIAL: Mutex<()> = Mutex::new(());

const IFACE: &str = "eth1";
const LABEL: &str = "keepalived";

fn node_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 56, if i == 0 { 11 } else { 12 })
}

fn vip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 56, last)
}

/// (name, vrid, priority, VIP last octets, excluded VIP last octets, tracks `chk`).
/// VI_1's changing addresses are `virtual_ipaddress_excluded`: not in the adverts, so
/// both nodes' adverts keep the same address list (a count mismatch makes keepalived
/// discard the advert, and the peer would become master too).
type InstanceSpec = (&'static str, u8, u8, &'static [u8], &'static [u8], bool);

const NODE1_A: &[InstanceSpec] = &[
    ("VI_1", 71, 150, &[171], &[172], true),
    ("VI_2", 72, 50, &[173], &[], false),
    ("VI_3", 73, 150, &[174], &[], false),
];
const NODE1_B: &[InstanceSpec] = &[
    ("VI_1", 71, 150, &[171], &[175], true),
    ("VI_2", 72, 50, &[173], &[], false),
    ("VI_4", 74, 150, &[176], &[], false),
];
const NODE2: &[InstanceSpec] = &[
    ("VI_1", 71, 100, &[171], &[], false),
    ("VI_2", 72, 100, &[173], &[], false),
    ("VI_3", 73, 100, &[174], &[], false),
    ("VI_4", 74, 100, &[176], &[], false),
];

fn config(router: &str, instances: &[InstanceSpec]) -> String {
    let mut s = format!(
        "global_defs {{\n    router_id {router}\n}}\n\nvrrp_script chk {{\n    script \"/bin/true\"\n    \
         interval 1\n    weight 2\n}}\n"
    );
    for (name, vrid, prio, vips, excluded, tracks) in instances {
        s.push_str(&format!(
            "\nvrrp_instance {name} {{\n    state BACKUP\n    interface {IFACE}\n    \
             virtual_router_id {vrid}\n    priority {prio}\n    advert_int 1\n    virtual_ipaddress {{\n"
        ));
        for v in *vips {
            s.push_str(&format!("        {}/32\n", vip(*v)));
        }
        s.push_str("    }\n");
        if !excluded.is_empty() {
            s.push_str("    virtual_ipaddress_excluded {\n");
            for v in *excluded {
                s.push_str(&format!("        {}/32\n", vip(*v)));
            }
            s.push_str("    }\n");
        }
        if *tracks {
            s.push_str("    track_script {\n        chk\n    }\n");
        }
        s.push_str("}\n");
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Reference,
    Ours,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::Reference => "ref",
            Subject::Ours => "ours",
        }
    }
    fn program(self) -> std::path::PathBuf {
        match self {
            Subject::Reference => compat_tests::reference_keepalived(),
            Subject::Ours => compat_tests::ours_as("keepalived"),
        }
    }
}

/// What one lab run saw.
#[derive(Debug)]
struct Run {
    failures: Vec<String>,
    /// node1's instance lines after the first reload, timestamps removed.
    reload_lines: Vec<String>,
    /// Whether node1's keepalived still ran 3 s after the bad-config SIGHUP.
    alive_after_bad_reload: bool,
}

/// The message part of a console log line (`Sun Nov 22 00:55:05 2026: msg`).
fn message(line: &str) -> &str {
    line.get(26..).unwrap_or(line)
}

/// node1's log lines about instances and scripts after the first `Reloading` line (the
/// VRRP process's, not the parent's `Reloading ...`). Left out: GARP sends (their
/// interleaving with other lines is timing), lines per received packet, and the parent's
/// `Reload complete`, which races with the child's lines in keepalived.
fn reload_lines(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut after = false;
    let mut out = Vec::new();
    for line in text.lines().map(message) {
        if line == "Reloading" {
            after = true;
            continue;
        }
        if line == "Reloading ..." && after {
            break;
        }
        if after
            && (line.starts_with("(VI_") || line.starts_with("VRRP_Script("))
            && !line.contains("Sending/queueing")
            // Per received packet: how many fall in the window is timing.
            && !line.contains(" received ")
        {
            out.push(line.to_string());
        }
    }
    out
}

fn holds(lab: &Lab, node: &str, v: u8) -> bool {
    lab.node(node).holds(vip(v))
}

fn run(subject: Subject) -> Run {
    let spec = LabSpec {
        name: format!("reload-{}", subject.name()),
        prefix_len: 24,
        nodes: (0..2)
            .map(|i| NodeSpec {
                name: ["node1", "node2"][i].into(),
                iface: IFACE.into(),
                addr: node_addr(i),
                hosts: vec![],
            })
            .collect(),
    };
    let dir = compat_tests::target_dir().join(format!("compat/labs/reload-{}", subject.name()));
    let mut lab = Lab::start(spec, &dir);
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: &str, lab: &Lab| {
        if !ok {
            failures.push(format!(
                "{what} (node1 {:?}, node2 {:?})",
                lab.node("node1").addresses(),
                lab.node("node2").addresses()
            ));
        }
    };
    lab.node("node1").write_etc(
        "keepalived",
        "keepalived.conf",
        config("node1", NODE1_A).as_bytes(),
    );
    lab.node("node2").write_etc(
        "keepalived",
        "keepalived.conf",
        config("node2", NODE2).as_bytes(),
    );
    let pcap = lab.capture("ip proto 112", "vrrp.pcap");
    let log1 = dir.join("node1-keepalived.log");
    let args = ["-n", "-l", "-D", "-f", "/etc/keepalived/keepalived.conf"];
    lab.node_mut("node2").spawn(
        LABEL,
        &compat_tests::reference_keepalived(),
        &args,
        &dir.join("node2-keepalived.log"),
    );
    // node2 first: it is master of VI_4 before node1 knows VI_4.
    std::thread::sleep(Duration::from_millis(500));
    lab.node_mut("node1")
        .spawn(LABEL, &subject.program(), &args, &log1);
    let elected = wait_for(Duration::from_secs(8), || {
        holds(&lab, "node1", 171)
            && holds(&lab, "node1", 172)
            && holds(&lab, "node1", 174)
            && holds(&lab, "node2", 173)
            && holds(&lab, "node2", 176)
    });
    check(
        elected,
        "A: node1 holds .171 .172 .174 (VI_1, VI_3), node2 .173 .176 (VI_2, VI_4)",
        &lab,
    );
    std::thread::sleep(Duration::from_millis(1500));

    // Reload with B.
    lab.node("node1").write_etc(
        "keepalived",
        "keepalived.conf",
        config("node1", NODE1_B).as_bytes(),
    );
    let reload_at = Instant::now();
    check(
        lab.node("node1").sh("pkill -HUP -o -x keepalived") == 0,
        "SIGHUP sent",
        &lab,
    );
    let vi1 = wait_for(Duration::from_secs(2), || {
        holds(&lab, "node1", 171) && holds(&lab, "node1", 175) && !holds(&lab, "node1", 172)
    });
    check(
        vi1,
        "B: within 2 s node1 holds .171 and .175 and no longer .172 (VI_1 stays master)",
        &lab,
    );
    let vi3 = wait_for(Duration::from_secs(3), || {
        !holds(&lab, "node1", 174) && holds(&lab, "node2", 174)
    });
    check(
        vi3,
        "B: VI_3 deleted: within 3 s node1 released .174 and node2 took it",
        &lab,
    );
    let vi4 = wait_for(Duration::from_secs(6), || {
        holds(&lab, "node1", 176) && !holds(&lab, "node2", 176)
    });
    check(
        vi4,
        "B: VI_4 added with priority 150: within 6 s node1 holds .176 and node2 not",
        &lab,
    );
    check(
        holds(&lab, "node2", 173) && !holds(&lab, "node1", 173),
        "B: VI_2 unchanged: node2 still master of .173",
        &lab,
    );
    println!(
        "   {}: VI_4 taken over {:.2} s after SIGHUP",
        subject.name(),
        reload_at.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_millis(1000));
    check(
        lab.node_mut("node1").exited(LABEL).is_none(),
        "B: node1's keepalived still runs after the reload",
        &lab,
    );

    // A fatal error in the file.
    let mut bad = config("node1", NODE1_B);
    bad.push_str("vrrp_instance VI_9 {\n    bogus_keyword 1\n");
    lab.node("node1")
        .write_etc("keepalived", "keepalived.conf", bad.as_bytes());
    lab.node("node1").sh("pkill -HUP -o -x keepalived");
    std::thread::sleep(Duration::from_secs(3));
    let alive = lab.node_mut("node1").exited(LABEL).is_none();
    if alive {
        check(
            holds(&lab, "node1", 171) && holds(&lab, "node1", 175) && holds(&lab, "node1", 176),
            "bad file: node1 still runs and holds .171 .175 .176",
            &lab,
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    lab.stop_captures();

    // The capture: VI_1's adverts from node1 never paused or carried priority 0 (the
    // reload kept its state), VI_3's last one from node1 had priority 0.
    let bytes = std::fs::read(&pcap).unwrap_or_default();
    let all = adverts::read_pcap(&bytes).unwrap_or_default();
    let from1 = |vrid: u8| -> Vec<&Advert> {
        all.iter()
            .filter(|a| a.vrid == vrid && a.src == std::net::IpAddr::V4(node_addr(0)))
            .collect()
    };
    let vi1: Vec<&Advert> = from1(71);
    let gap = vi1
        .windows(2)
        .map(|w| w[1].timestamp_us.saturating_sub(w[0].timestamp_us) / 1000)
        .max()
        .unwrap_or(0);
    check(
        vi1.len() > 5 && gap < 1300 && vi1.iter().all(|a| a.priority == 152),
        &format!(
            "capture: node1's VI_1 adverts ({}) all priority 152 (150 + chk), never more \
             than 1.3 s apart (largest gap {gap} ms)",
            vi1.len()
        ),
        &lab,
    );
    check(
        from1(73).last().is_some_and(|a| a.priority == 0),
        "capture: node1's last VI_3 advert has priority 0",
        &lab,
    );
    Run {
        failures,
        reload_lines: reload_lines(&log1),
        alive_after_bad_reload: alive,
    }
}

#[test]
fn sighup_reload_matches_the_reference() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    compat_tests::require_root();
    let theirs = run(Subject::Reference);
    let mine = run(Subject::Ours);
    let mut failures: Vec<String> = theirs
        .failures
        .iter()
        .map(|f| format!("[reference] {f}"))
        .chain(mine.failures.iter().map(|f| format!("[ours] {f}")))
        .collect();
    println!("reference's lines after the reload:");
    for l in &theirs.reload_lines {
        println!("    {l}");
    }
    if theirs.reload_lines != mine.reload_lines {
        failures.push(format!(
            "node1's instance lines after the reload differ:\n  reference: {:#?}\n  ours: {:#?}",
            theirs.reload_lines, mine.reload_lines
        ));
    }
    // The documented difference (docs/compatibility.md): keepalived 2.2.7 stops on a
    // reload with a fatal error; ours keeps the running configuration.
    if theirs.alive_after_bad_reload {
        failures.push(
            "the reference kept running after a bad reload: the documented difference is gone"
                .into(),
        );
    }
    if !mine.alive_after_bad_reload {
        failures.push("ours stopped on a reload with a bad file".into());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
