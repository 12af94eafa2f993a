//! VRRP interoperability of ours (ha-compat run as `keepalived`) with the reference keepalived
//! 2.2.7, in mixed pairs on one lab bridge. Root only.
//!
//! For each flavour (v2 multicast, v2 unicast PASS, v2 AH, v3 IPv4 with two VIPs, v3 IPv6) two
//! labs run one after the other: node1 = reference + node2 = ours, then node1 = ours + node2 =
//! reference. Both nodes are `state BACKUP`, node1 has priority 150, node2 100, `advert_int 1`.
//! Each lab checks:
//! 1. election: node1 holds every VIP and node2 none within 6 s of start (master down
//!    interval 3 s + skew 0.41 s + start-up slack), still so 1 s later;
//! 2. graceful failover: SIGTERM to node1's keepalived -> node2 holds the VIPs within 2 s
//!    (priority-0 advert, then node2's skew time 0.61 s) and node1 none;
//! 3. preempt back: node1's keepalived started again -> node1 holds the VIPs within 6 s, node2
//!    releases them;
//! 4. SIGKILL failover: node1's keepalived SIGKILLed -> its VIPs stay on its interface
//!    (keepalived's behaviour), the test deletes them (`ip addr del`), and node2 holds them
//!    within 5 s (3 s + 0.61 s skew + slack);
//! 5. graceful stop of node2 (now master): the VIPs are released (and a priority-0 advert is
//!    sent, compared below).
//!
//! Then the adverts captured on the bridge (`ip proto 112 or ip proto 51 or ip6`) are compared:
//! for each role (node1's or node2's config) and each priority sent (150 / 100 / 0), every
//! advert of ours is diffed against the reference's first advert of the same role and
//! priority with `adverts::diff_including_src` (IPv4: same source address in both labs) or
//! `adverts::diff` (IPv6: the link-local source differs between labs). Not compared (as those
//! functions define): capture time and frame, IP id (not decoded), checksum *value* (its
//! validity is compared), AH sequence number and ICV (the ICV covers the sequence number and
//! the IP id). With AH every AH advert of ours must pass `Advert::verify_ah` with the
//! `auth_pass`. The exit code after SIGTERM must be the reference's.
//!
//! Run: `cargo test --release -p compat-tests --test vrrp_interop -- --nocapture
//! --test-threads 1` after `cargo build --release -p ha-compat`. Artifacts (node logs,
//! `vrrp.pcap`, `adverts.txt`) are in `<target>/compat/labs/interop-<flavour>-<pair>/`.

// unwrap()/expect() in these test helpers: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use compat_tests::adverts::{self, Advert};
use compat_tests::lab::{wait_for, Lab, LabSpec, NodeSpec};

/// The labs are timing-sensitive: one at a time, even without `--test-threads 1`.
static SERIAL: Mutex<()> = Mutex::new(());

const NODES: [&str; 2] = ["node1", "node2"];
const PRIORITIES: [u8; 2] = [150, 100];
const IFACE: &str = "eth1";
const LABEL: &str = "keepalived";

fn node_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 56, if i == 0 { 11 } else { 12 })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Imp {
    Reference,
    Ours,
}

impl Imp {
    fn name(self) -> &'static str {
        match self {
            Imp::Reference => "ref",
            Imp::Ours => "ours",
        }
    }
}

/// A virtual address: as written in the config, and as `ip -o addr` shows it.
#[derive(Debug)]
struct Vip {
    conf: &'static str,
    shown: &'static str,
}

#[derive(Debug)]
struct Flavour {
    name: &'static str,
    vrid: u8,
    /// Extra `global_defs` lines.
    global: &'static str,
    /// Extra `vrrp_instance` lines (version, authentication).
    instance: &'static str,
    unicast: bool,
    vips: Vec<Vip>,
    /// `auth_pass` of `auth_type AH`: every AH advert of ours must verify with it.
    ah_pass: Option<&'static str>,
    v6: bool,
}

const FILTER: &str = "ip proto 112 or ip proto 51 or ip6";

fn config(f: &Flavour, i: usize) -> String {
    let mut s = format!(
        "global_defs {{\n    router_id {}\n{}}}\n\nvrrp_instance VI_{} {{\n    state BACKUP\n    \
         interface {IFACE}\n    virtual_router_id {}\n    priority {}\n    advert_int 1\n{}",
        NODES[i], f.global, f.vrid, f.vrid, PRIORITIES[i], f.instance
    );
    if f.unicast {
        s.push_str(&format!(
            "    unicast_src_ip {}\n    unicast_peer {{\n        {}\n    }}\n",
            node_addr(i),
            node_addr(1 - i)
        ));
    }
    s.push_str("    virtual_ipaddress {\n");
    for v in &f.vips {
        s.push_str(&format!("        {}\n", v.conf));
    }
    s.push_str("    }\n}\n");
    s
}

/// The addresses on a node's lab interface as `ip -o addr` shows them (`192.168.56.151/32`,
/// `fd00:56::155/64`), both families.
fn addrs(lab: &Lab, node: &str) -> Vec<String> {
    let n = lab.node(node);
    let out = Command::new("ip")
        .args(["-n", n.netns_name(), "-o", "addr", "show", "dev", n.iface()])
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "inet" || *w == "inet6")?;
            words.next().map(str::to_owned)
        })
        .collect()
}

fn holds_all(lab: &Lab, f: &Flavour, node: &str) -> bool {
    let a = addrs(lab, node);
    f.vips.iter().all(|v| a.iter().any(|x| x == v.shown))
}

fn holds_any(lab: &Lab, f: &Flavour, node: &str) -> bool {
    let a = addrs(lab, node);
    f.vips.iter().any(|v| a.iter().any(|x| x == v.shown))
}

fn vip_state(lab: &Lab, f: &Flavour) -> String {
    NODES
        .iter()
        .map(|n| {
            let held: Vec<&str> = {
                let a = addrs(lab, n);
                f.vips
                    .iter()
                    .filter(|v| a.iter().any(|x| x == v.shown))
                    .map(|v| v.shown)
                    .collect()
            };
            format!("{n} holds {held:?}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Waits until `master` holds every VIP and the other node none: the time it took.
fn wait_master(lab: &Lab, f: &Flavour, master: usize, limit: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let other = NODES[1 - master];
    let ok = wait_for(limit, || {
        holds_all(lab, f, NODES[master]) && !holds_any(lab, f, other)
    });
    if ok {
        Ok(start.elapsed())
    } else {
        Err(format!(
            "after {:.1} s: {} (want all on {} only)",
            limit.as_secs_f64(),
            vip_state(lab, f),
            NODES[master]
        ))
    }
}

fn start_daemon(lab: &mut Lab, i: usize, imp: Imp) {
    let program = match imp {
        Imp::Reference => compat_tests::reference_keepalived(),
        Imp::Ours => compat_tests::ours_as("keepalived"),
    };
    let log = lab
        .dir()
        .join(format!("{}-{}-keepalived.log", NODES[i], imp.name()));
    lab.node_mut(NODES[i]).spawn(
        LABEL,
        &program,
        &["-n", "-l", "-D", "-f", "/etc/keepalived/keepalived.conf"],
        &log,
    );
}

/// Sends SIGTERM to a node's keepalived main process (the oldest `keepalived`; the
/// reference's parent stops its VRRP child itself): whether there was one.
fn send_term(lab: &Lab, i: usize) -> bool {
    lab.node(NODES[i]).sh("pkill -TERM -o -x keepalived") == 0
}

/// Waits (10 s at most) for a node's keepalived to end: its exit code.
fn wait_exit(lab: &mut Lab, i: usize) -> Option<i32> {
    let n = lab.node_mut(NODES[i]);
    wait_for(Duration::from_secs(10), || n.exited(LABEL).is_some());
    n.exited(LABEL)
}

/// SIGKILLs every keepalived process of a node, newest first: the reference's VRRP child
/// before its parent, so that the child never sees its parent die (keepalived's children
/// have a parent-death signal, SIGTERM, which would make them stop gracefully), and the
/// parent has no time to respawn it. (Not SIGSTOP first: `nsenter` would stop itself too.)
fn sigkill(lab: &mut Lab, i: usize) {
    let node = NODES[i];
    lab.node(node)
        .sh("kill -KILL $(pgrep -x keepalived | sort -rn)");
}

#[derive(Debug, Default)]
struct Times {
    election: Option<Duration>,
    graceful: Option<Duration>,
    preempt: Option<Duration>,
    sigkill: Option<Duration>,
    /// From the capture: node1's last advert -> node2's first advert, at each handover to
    /// node2 (ms).
    handovers_ms: Vec<u64>,
}

#[derive(Debug)]
struct PairRun {
    imps: [Imp; 2],
    dir: PathBuf,
    adverts: Vec<Advert>,
    /// Each node's advert source address (IPv4 address or link-local).
    srcs: [IpAddr; 2],
    times: Times,
    sigterm_exit: Option<i32>,
    failures: Vec<String>,
}

impl PairRun {
    fn label(&self) -> String {
        format!(
            "node1={} node2={}",
            self.imps[0].name(),
            self.imps[1].name()
        )
    }
}

fn fmt_time(d: Option<Duration>) -> String {
    d.map_or_else(
        || "FAIL".to_owned(),
        |d| format!("{:.2} s", d.as_secs_f64()),
    )
}

fn link_local(lab: &Lab, node: &str) -> Option<std::net::Ipv6Addr> {
    let n = lab.node(node);
    let out = Command::new("ip")
        .args(["-n", n.netns_name(), "-6", "-o", "addr", "show", "dev"])
        .arg(n.iface())
        .args(["scope", "link"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter(|l| !l.contains("tentative"))
        .find_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|x| *x == "inet6")?;
            w.next()?.split('/').next()?.parse().ok()
        })
}

/// Runs one lab; `None` if the lab cannot do what the flavour needs (IPv6).
fn run_pair(f: &Flavour, imps: [Imp; 2]) -> Option<PairRun> {
    let spec = LabSpec {
        name: format!("interop-{}", f.name),
        prefix_len: 24,
        nodes: (0..2)
            .map(|i| NodeSpec {
                name: NODES[i].into(),
                iface: IFACE.into(),
                addr: node_addr(i),
                hosts: vec![],
            })
            .collect(),
    };
    let dir = compat_tests::target_dir().join(format!(
        "compat/labs/interop-{}-{}-{}",
        f.name,
        imps[0].name(),
        imps[1].name()
    ));
    let mut lab = Lab::start(spec, &dir);
    let srcs: [IpAddr; 2] = if f.v6 {
        let mut ll = [None, None];
        for (i, slot) in ll.iter_mut().enumerate() {
            wait_for(Duration::from_secs(8), || {
                *slot = link_local(&lab, NODES[i]);
                slot.is_some()
            });
        }
        match ll {
            [Some(a), Some(b)] => [IpAddr::V6(a), IpAddr::V6(b)],
            _ => {
                println!(
                    "NOTE {}: no usable IPv6 link-local address on the lab nodes ({:?}): skipped",
                    f.name, ll
                );
                return None;
            }
        }
    } else {
        [IpAddr::V4(node_addr(0)), IpAddr::V4(node_addr(1))]
    };
    for (i, name) in NODES.iter().enumerate() {
        lab.node(name)
            .write_etc("keepalived", "keepalived.conf", config(f, i).as_bytes());
    }
    let pcap = lab.capture(FILTER, "vrrp.pcap");
    let mut failures = Vec::new();
    let mut times = Times::default();
    let mut fail = |what: &str, why: String| failures.push(format!("{what}: {why}"));

    // 1. Election.
    let t0 = Instant::now();
    start_daemon(&mut lab, 0, imps[0]);
    start_daemon(&mut lab, 1, imps[1]);
    match wait_master(&lab, f, 0, Duration::from_secs(6)) {
        Ok(_) => {
            times.election = Some(t0.elapsed());
            std::thread::sleep(Duration::from_secs(1));
            if !holds_all(&lab, f, "node1") || holds_any(&lab, f, "node2") {
                fail(
                    "1. election (stable 1 s later)",
                    format!("not stable: {}", vip_state(&lab, f)),
                );
            }
        }
        Err(e) => fail(
            "1. election: node1 (150) holds the VIPs, node2 (100) none",
            e,
        ),
    }
    for i in 0..2 {
        if let Some(code) = lab.node_mut(NODES[i]).exited(LABEL) {
            fail(
                &format!("{} keepalived ({}) running", NODES[i], imps[i].name()),
                format!("exited with {code} after start"),
            );
        }
    }

    // 2. Graceful failover.
    let t = Instant::now();
    let sent = send_term(&lab, 0);
    match wait_master(&lab, f, 1, Duration::from_secs(2)) {
        Ok(_) => times.graceful = Some(t.elapsed()),
        Err(e) => fail(
            "2. SIGTERM node1: node2 holds the VIPs within 2 s, node1 none",
            e,
        ),
    }
    let exit = if sent { wait_exit(&mut lab, 0) } else { None };
    if exit.is_none() {
        fail(
            "2. SIGTERM node1: keepalived ends",
            "still running 10 s after SIGTERM (or not running at all)".into(),
        );
    }

    // 3. Preempt back.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    start_daemon(&mut lab, 0, imps[0]);
    match wait_master(&lab, f, 0, Duration::from_secs(6)) {
        Ok(d) => times.preempt = Some(d.max(t.elapsed())),
        Err(e) => fail(
            "3. node1 restarted: node1 takes the VIPs back within 6 s, node2 releases them",
            e,
        ),
    }
    // Let node2 settle as backup (and the capture see node1's adverts).
    std::thread::sleep(Duration::from_millis(1500));

    // 4. SIGKILL failover.
    let t = Instant::now();
    sigkill(&mut lab, 0);
    if !holds_all(&lab, f, "node1") {
        fail(
            "4. SIGKILL node1: its VIPs stay on its interface (keepalived's behaviour)",
            vip_state(&lab, f),
        );
    }
    {
        let n = lab.node("node1");
        for v in &f.vips {
            let _ = Command::new("ip")
                .args([
                    "-n",
                    n.netns_name(),
                    "addr",
                    "del",
                    v.shown,
                    "dev",
                    n.iface(),
                ])
                .output();
        }
    }
    match wait_master(&lab, f, 1, Duration::from_secs(5)) {
        Ok(_) => times.sigkill = Some(t.elapsed()),
        Err(e) => fail(
            "4. SIGKILL node1 (VIPs removed by hand): node2 holds the VIPs within 5 s",
            e,
        ),
    }
    if wait_exit(&mut lab, 0).is_none() {
        fail("4. SIGKILL node1: keepalived ends", "still running".into());
    }
    std::thread::sleep(Duration::from_millis(1500));

    // 5. Graceful stop of the master node2: VIPs released (and its priority-0 advert sent).
    if !send_term(&lab, 1) || wait_exit(&mut lab, 1).is_none() {
        fail(
            "5. SIGTERM node2: keepalived ends",
            "still running 10 s after SIGTERM".into(),
        );
    }
    if holds_any(&lab, f, "node2") {
        fail(
            "5. SIGTERM node2 (master): it releases the VIPs",
            vip_state(&lab, f),
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    lab.stop_captures();

    let bytes = std::fs::read(&pcap).unwrap_or_default();
    let all = adverts::read_pcap(&bytes).unwrap_or_else(|e| panic!("{}: {e}", pcap.display()));
    let adverts: Vec<Advert> = all.into_iter().filter(|a| a.vrid == f.vrid).collect();
    let listing: String = adverts
        .iter()
        .map(|a| format!("{} {}\n", a.timestamp_us, a.describe()))
        .collect();
    let _ = std::fs::write(dir.join("adverts.txt"), listing);
    let mut prev: Option<&Advert> = None;
    for a in &adverts {
        if let Some(p) = prev {
            if p.src == srcs[0] && a.src == srcs[1] {
                times
                    .handovers_ms
                    .push(a.timestamp_us.saturating_sub(p.timestamp_us) / 1000);
            }
        }
        prev = Some(a);
    }
    if !failures.is_empty() {
        for i in 0..2 {
            let log = dir.join(format!("{}-{}-keepalived.log", NODES[i], imps[i].name()));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            println!("--- {} (last 25 lines)", log.display());
            for l in &lines[lines.len().saturating_sub(25)..] {
                println!("    {l}");
            }
        }
    }
    Some(PairRun {
        imps,
        dir,
        adverts,
        srcs,
        times,
        sigterm_exit: exit,
        failures,
    })
}

/// Compares ours with the reference, role by role and priority by priority.
fn compare(f: &Flavour, runs: &[PairRun; 2]) -> Vec<String> {
    let mut failures = Vec::new();
    for role in 0..2 {
        let theirs_run = runs.iter().find(|r| r.imps[role] == Imp::Reference);
        let ours_run = runs.iter().find(|r| r.imps[role] == Imp::Ours);
        let (Some(tr), Some(or)) = (theirs_run, ours_run) else {
            continue;
        };
        let of = |r: &'_ PairRun, prio: u8| -> Vec<Advert> {
            r.adverts
                .iter()
                .filter(|a| a.src == r.srcs[role] && a.priority == prio)
                .cloned()
                .collect()
        };
        let prios: BTreeSet<u8> = tr
            .adverts
            .iter()
            .filter(|a| a.src == tr.srcs[role])
            .chain(or.adverts.iter().filter(|a| a.src == or.srcs[role]))
            .map(|a| a.priority)
            .collect();
        for prio in prios {
            let theirs = of(tr, prio);
            let mine = of(or, prio);
            let what = format!(
                "5. adverts of {} (config priority {}) with priority {prio}",
                NODES[role], PRIORITIES[role]
            );
            let Some(first) = theirs.first() else {
                failures.push(format!(
                    "{what}: ours sent {} (e.g. {}), the reference none",
                    mine.len(),
                    mine.first().map(Advert::describe).unwrap_or_default()
                ));
                continue;
            };
            if mine.is_empty() {
                failures.push(format!(
                    "{what}: the reference sent {} (e.g. {}), ours none ({})",
                    theirs.len(),
                    first.describe(),
                    or.dir.display()
                ));
                continue;
            }
            let mut seen = BTreeSet::new();
            for a in &mine {
                let d = if f.v6 {
                    adverts::diff(first, a)
                } else {
                    adverts::diff_including_src(first, a)
                };
                if !d.is_empty() {
                    let text = d
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ");
                    if seen.insert(text.clone()) {
                        failures.push(format!(
                            "{what}: ours differs (reference != ours): {text}\n      ref:  {}\n      ours: {} (frame {} of {})",
                            first.describe(),
                            a.describe(),
                            a.frame,
                            or.dir.join("vrrp.pcap").display()
                        ));
                    }
                }
            }
        }
        if let Some(pass) = f.ah_pass {
            for (r, who) in [(or, "ours"), (tr, "the reference")] {
                let bad: Vec<&Advert> = r
                    .adverts
                    .iter()
                    .filter(|a| a.src == r.srcs[role])
                    .filter(|a| a.verify_ah(pass) != Some(true))
                    .collect();
                if let Some(b) = bad.first() {
                    failures.push(format!(
                        "5. AH: {} of {} adverts of {who} as {} fail verify_ah({pass:?}), e.g. frame {}: {}",
                        bad.len(),
                        r.adverts.iter().filter(|a| a.src == r.srcs[role]).count(),
                        NODES[role],
                        b.frame,
                        b.describe()
                    ));
                }
            }
        }
    }
    // The exit code after SIGTERM (node1's keepalived): ours as the reference's.
    let code = |imp: Imp| {
        runs.iter()
            .find(|r| r.imps[0] == imp)
            .map(|r| r.sigterm_exit)
    };
    if let (Some(theirs), Some(mine)) = (code(Imp::Reference), code(Imp::Ours)) {
        if theirs != mine {
            failures.push(format!(
                "2. exit code after SIGTERM: reference {theirs:?}, ours {mine:?}"
            ));
        }
    }
    failures
}

fn run_flavour(f: &Flavour) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    compat_tests::require_root();
    // Both programs must exist: fail now rather than in the lab.
    let _ = compat_tests::reference_keepalived();
    let _ = compat_tests::ours_as("keepalived");
    let started = Instant::now();
    let mut runs = Vec::new();
    for imps in [[Imp::Reference, Imp::Ours], [Imp::Ours, Imp::Reference]] {
        match run_pair(f, imps) {
            Some(r) => runs.push(r),
            None => return,
        }
    }
    let runs: [PairRun; 2] = runs.try_into().unwrap();
    let mut failures: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(|m| format!("[{}] {m} ({})", r.label(), r.dir.display()))
                .collect::<Vec<_>>()
        })
        .collect();
    failures.extend(compare(f, &runs));

    println!(
        "\n== {} (vrid {}, {:.0} s)",
        f.name,
        f.vrid,
        started.elapsed().as_secs_f64()
    );
    for r in &runs {
        let backup = r.imps[1].name();
        println!(
            "   {}: election {}, SIGTERM takeover by node2={backup} {}, preempt back {}, \
             SIGKILL takeover by node2={backup} {}; capture handovers node1->node2 {:?} ms; \
             SIGTERM exit {:?}",
            r.label(),
            fmt_time(r.times.election),
            fmt_time(r.times.graceful),
            fmt_time(r.times.preempt),
            fmt_time(r.times.sigkill),
            r.times.handovers_ms,
            r.sigterm_exit
        );
    }
    if failures.is_empty() {
        println!("   PASS");
    } else {
        println!("   FAIL:");
        for m in &failures {
            println!("   - {m}");
        }
    }
    assert!(
        failures.is_empty(),
        "{}: {} failure(s):\n{}",
        f.name,
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_v2_multicast_no_auth() {
    run_flavour(&Flavour {
        name: "v2-mcast",
        vrid: 51,
        global: "",
        instance: "",
        unicast: false,
        vips: vec![Vip {
            conf: "192.168.56.151",
            shown: "192.168.56.151/32",
        }],
        ah_pass: None,
        v6: false,
    });
}

#[test]
fn b_v2_unicast_pass() {
    run_flavour(&Flavour {
        name: "v2-unicast-pass",
        vrid: 52,
        global: "",
        instance:
            "    authentication {\n        auth_type PASS\n        auth_pass pw52pass\n    }\n",
        unicast: true,
        vips: vec![Vip {
            conf: "192.168.56.152",
            shown: "192.168.56.152/32",
        }],
        ah_pass: None,
        v6: false,
    });
}

#[test]
fn c_v2_multicast_ah() {
    run_flavour(&Flavour {
        name: "v2-mcast-ah",
        vrid: 53,
        global: "",
        instance: "    authentication {\n        auth_type AH\n        auth_pass ah53pass\n    }\n",
        unicast: false,
        vips: vec![Vip {
            conf: "192.168.56.153",
            shown: "192.168.56.153/32",
        }],
        ah_pass: Some("ah53pass"),
        v6: false,
    });
}

#[test]
fn d_v3_multicast_two_vips() {
    run_flavour(&Flavour {
        name: "v3-mcast",
        vrid: 54,
        global: "    vrrp_version 3\n",
        instance: "",
        unicast: false,
        vips: vec![
            Vip {
                conf: "192.168.56.154",
                shown: "192.168.56.154/32",
            },
            Vip {
                conf: "192.168.56.155",
                shown: "192.168.56.155/32",
            },
        ],
        ah_pass: None,
        v6: false,
    });
}

#[test]
fn e_v3_ipv6() {
    run_flavour(&Flavour {
        name: "v3-ipv6",
        vrid: 55,
        global: "",
        instance: "    version 3\n",
        unicast: false,
        vips: vec![
            Vip {
                conf: "fd00:56::155/64",
                shown: "fd00:56::155/64",
            },
            Vip {
                conf: "fd00:56::156/64",
                shown: "fd00:56::156/64",
            },
        ],
        ah_pass: None,
        v6: true,
    });
}
