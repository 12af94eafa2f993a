//! `ha-compat demo`: seed 001 (two HAProxy + keepalived nodes in front of two webs) run by
//! ha-compat in a throwaway lab of network namespaces, then haproxy killed on the master
//! to show the VIP move and the service continue. Root only; nothing outside the lab's
//! namespaces is touched, and everything is removed at the end (also after Ctrl-C).
//!
//! - [`lab`]: the namespaces, nodes and processes, and their teardown.
//! - [`agent`]: the webs and the client, run by this binary inside the namespaces.
//!
//! The LB nodes run seed 001's files unchanged through symlinks named `keepalived` and
//! `haproxy` to this binary (as the Debian package installs it): the kernel names a process
//! after the file it executes, so the seed's tracker `killall -0 haproxy` sees our proxy.

pub mod agent;
pub mod lab;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use lab::Lab;

/// Exit status when not run as root: sysexits' `EX_NOPERM` ("insufficient permission"),
/// distinct from 1 (the demo ran and something failed) so scripts and test harnesses can
/// tell "could not run here" from "ran and failed" (automake's harness reads 77 as SKIP).
pub const EXIT_NOT_ROOT: i32 = 77;

/// Seed 001's files, byte for byte (`fixtures/seeds/001/`).
const HAPROXY_CFG: &str = include_str!("../../../fixtures/seeds/001/haproxy.cfg");
const KEEPALIVED_HAP1: &str = include_str!("../../../fixtures/seeds/001/keepalived-hap1.conf");
const KEEPALIVED_HAP2: &str = include_str!("../../../fixtures/seeds/001/keepalived-hap2.conf");

/// Seed 001's addresses (its tutorial: hap1 .11, hap2 .12, web1 .21, web2 .22, VIP .10).
const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 10);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 100);

/// A load-balancer node: its name, address, keepalived.conf and that file's priority.
struct LbNode {
    name: &'static str,
    addr: Ipv4Addr,
    keepalived_conf: &'static str,
    priority: u8,
}

const LB_NODES: [LbNode; 2] = [
    LbNode {
        name: "lb1",
        addr: Ipv4Addr::new(192, 168, 50, 11),
        keepalived_conf: KEEPALIVED_HAP1,
        priority: 101,
    },
    LbNode {
        name: "lb2",
        addr: Ipv4Addr::new(192, 168, 50, 12),
        keepalived_conf: KEEPALIVED_HAP2,
        priority: 100,
    },
];

const WEBS: [(&str, Ipv4Addr); 2] = [
    ("web1", Ipv4Addr::new(192, 168, 50, 21)),
    ("web2", Ipv4Addr::new(192, 168, 50, 22)),
];

/// Programs the lab needs on the host, with the Debian package that has each.
const NEEDED: [(&str, &str, &str); 5] = [
    ("ip", "iproute2", "builds the namespaces and links"),
    (
        "unshare",
        "util-linux",
        "gives each LB node its own PID namespace",
    ),
    ("nsenter", "util-linux", "starts the daemons on a node"),
    (
        "setpriv",
        "util-linux",
        "ties the nodes' life to the demo's",
    ),
    (
        "killall",
        "psmisc",
        "seed 001's keepalived tracker runs `killall -0 haproxy`",
    ),
];

/// `ha-compat demo [--cleanup]`.
pub fn run(cleanup: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if !nix::unistd::geteuid().is_root() {
        let _ = writeln!(
            err,
            "ha-compat demo: needs root: it builds network namespaces, virtual links and a \
             bridge (nothing outside them is touched, and all of it is removed at the end).\n\
             Run it as root: in a root shell `cargo run -q -p ha-compat -- demo`, or \
             `sudo ha-compat demo` once installed."
        );
        return EXIT_NOT_ROOT;
    }
    if cleanup {
        let before = lab::leftovers();
        let left = lab::remove_leftovers();
        for item in &before {
            let _ = writeln!(out, "removed {item}");
        }
        if left.is_empty() {
            let _ = writeln!(out, "nothing left behind by ha-compat demo");
            return 0;
        }
        for item in &left {
            let _ = writeln!(err, "ha-compat demo: could not remove {item}");
        }
        return 1;
    }
    let missing: Vec<String> = NEEDED
        .iter()
        .filter(|(program, _, _)| find_program(program).is_none())
        .map(|(program, package, why)| format!("  {program} (package {package}): {why}"))
        .collect();
    if !missing.is_empty() {
        let mut packages: Vec<&str> = NEEDED
            .iter()
            .filter(|(program, _, _)| find_program(program).is_none())
            .map(|(_, package, _)| *package)
            .collect();
        packages.dedup();
        let _ = writeln!(
            err,
            "ha-compat demo: missing programs:\n{}\n\
             On Debian: apt-get install {} (scripts/test.sh installs them too).",
            missing.join("\n"),
            packages.join(" ")
        );
        return 1;
    }
    let left = lab::leftovers();
    if !left.is_empty() {
        let _ = writeln!(
            err,
            "ha-compat demo: a previous demo left these behind (or one is running):\n  {}\n\
             Remove them with `ha-compat demo --cleanup`.",
            left.join("\n  ")
        );
        return 1;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            let _ = writeln!(err, "ha-compat demo: cannot handle signal {signal}: {e}");
            return 1;
        }
    }
    let started = Instant::now();
    let result = show(out, &stop, started);
    // The lab is gone here (dropped inside `show`, also on error): check it really is.
    let left = lab::leftovers();
    let code = match &result {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "ha-compat demo: {e:#}");
            1
        }
    };
    if left.is_empty() {
        let _ = writeln!(
            out,
            "[{}] cleaned up: nothing left behind (no hacdemo-* namespace, link, process or directory)",
            stamp(started)
        );
        code
    } else {
        let _ = writeln!(
            err,
            "ha-compat demo: left behind: {}; remove with `ha-compat demo --cleanup`",
            left.join(", ")
        );
        1
    }
}

fn stamp(started: Instant) -> String {
    format!("{:5.1} s", started.elapsed().as_secs_f64())
}

/// Checks the interrupt flag between steps.
fn check(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted; cleaning up");
    }
    Ok(())
}

/// One client request: when it started and what came back.
#[derive(Debug, Clone)]
struct Request {
    start: Instant,
    outcome: std::result::Result<String, String>,
}

/// Polls `cond` every 20 ms for at most `limit`, stopping early on an interrupt.
fn wait_until(stop: &AtomicBool, limit: Duration, mut cond: impl FnMut() -> bool) -> Result<bool> {
    let mut held = false;
    lab::wait_for(limit, || {
        held = cond();
        held || stop.load(Ordering::Relaxed)
    });
    check(stop)?;
    Ok(held)
}

fn show(out: &mut dyn Write, stop: &AtomicBool, started: Instant) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let _ = writeln!(
        out,
        "ha-compat demo: seed 001 (HAProxy + keepalived on two nodes in front of two webs), \
         its files unchanged, run by ha-compat in a throwaway lab\n\
         lab: network namespaces hacdemo-*, one bridge, 192.168.50.0/24 on each node's eth1"
    );
    for node in &LB_NODES {
        let _ = writeln!(
            out,
            "  {:<6} {:<15} ha-compat as keepalived (priority {}, +2 while `killall -0 haproxy` succeeds) and as haproxy",
            node.name, node.addr, node.priority
        );
    }
    for (name, addr) in WEBS {
        let _ = writeln!(
            out,
            "  {name:<6} {addr:<15} a web server answering \"{name}\""
        );
    }
    let _ = writeln!(
        out,
        "  {:<6} {:<15} GET http://{VIP}/ every {} ms\n  {:<6} {VIP}",
        "client",
        CLIENT,
        agent::CLIENT_INTERVAL.as_millis(),
        "VIP"
    );

    let mut lab = Lab::new()?;
    let dir = lab.dir().to_path_buf();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    for name in ["keepalived", "haproxy"] {
        std::os::unix::fs::symlink(&exe, bin.join(name))
            .with_context(|| format!("cannot link {}", bin.join(name).display()))?;
    }
    let haproxy_cfg = dir.join("haproxy.cfg");
    std::fs::write(&haproxy_cfg, HAPROXY_CFG).context("cannot write haproxy.cfg")?;
    for node in &LB_NODES {
        lab.add_node(node.name, node.addr)?;
    }
    for (name, addr) in WEBS {
        lab.add_node(name, addr)?;
    }
    lab.add_node("client", CLIENT)?;
    check(stop)?;

    for (name, _) in WEBS {
        lab.spawn_in_netns(
            name,
            name,
            &exe,
            &["demo-agent", "web", name],
            std::process::Stdio::from(
                std::fs::File::create(dir.join(format!("{name}-requests.tsv")))
                    .context("cannot create the web's request log")?,
            ),
            &dir.join(format!("{name}.log")),
        )?;
    }
    let mut keepalived_logs = Vec::new();
    for node in &LB_NODES {
        let init = lab.isolate_node(node.name)?;
        // Each node's status sockets (`ha-compat status` reads them).
        let status_env = [format!(
            "{}={}",
            crate::proxy_run::STATUS_DIR_ENV,
            dir.join(format!("{}-status", node.name)).display()
        )];
        let conf = dir.join(format!("{}-keepalived.conf", node.name));
        std::fs::write(&conf, node.keepalived_conf).context("cannot write keepalived.conf")?;
        let ka_log = dir.join(format!("{}-keepalived.log", node.name));
        let conf_arg = conf.display().to_string();
        // Pid files in the lab's directory: keepalived's defaults are the host's
        // /run/keepalived.pid and /run/vrrp.pid, which a packaged keepalived may own.
        let main_pid = dir.join(format!("{}-keepalived.pid", node.name));
        let vrrp_pid = dir.join(format!("{}-vrrp.pid", node.name));
        let (main_pid, vrrp_pid) = (
            main_pid.display().to_string(),
            vrrp_pid.display().to_string(),
        );
        lab.spawn_on_node(
            &format!("{} keepalived", node.name),
            init,
            &bin.join("keepalived"),
            &[
                "-n", "-l", "-D", "-p", &main_pid, "-r", &vrrp_pid, "-f", &conf_arg,
            ],
            &status_env,
            &ka_log,
        )?;
        let cfg_arg = haproxy_cfg.display().to_string();
        lab.spawn_on_node(
            &format!("{} haproxy", node.name),
            init,
            &bin.join("haproxy"),
            &["-db", "-f", &cfg_arg],
            &status_env,
            &dir.join(format!("{}-haproxy.log", node.name)),
        )?;
        keepalived_logs.push(ka_log);
    }
    let _ = writeln!(
        out,
        "[{}] lab built; webs up; ha-compat started as `keepalived -n -l -D -f …` and `haproxy -db -f …` on lb1 and lb2",
        stamp(started)
    );

    // Both nodes say `state MASTER`: they settle on the higher priority (lb1 103 > lb2 102
    // once both trackers succeed). Wait for the trackers, then for lb1 alone to hold the VIP.
    let tracked = wait_until(stop, Duration::from_secs(15), || {
        keepalived_logs.iter().all(|log| {
            std::fs::read_to_string(log)
                .is_ok_and(|s| s.contains("VRRP_Script(chk_haproxy) succeeded"))
        })
    })?;
    if !tracked {
        bail!(
            "the chk_haproxy tracker did not succeed on both nodes within 15 s (logs: {})",
            keepalived_logs
                .iter()
                .map(|l| l.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let settled = wait_until(stop, Duration::from_secs(15), || {
        lab::holds("lb1", VIP) && !lab::holds("lb2", VIP)
    })?;
    if !settled {
        bail!("lb1 did not take the VIP within 15 s");
    }
    let _ = writeln!(
        out,
        "[{}] lb1 holds VIP {VIP} (MASTER, priority 103), lb2 does not (BACKUP, 102)",
        stamp(started)
    );
    // One view of lb1: its VRRP instance and its backend's servers, as `ha-compat
    // status` reads them from the running engines' status sockets.
    let status = std::process::Command::new(&exe)
        .args(["status", "--status-dir"])
        .arg(dir.join("lb1-status"))
        .output()
        .context("cannot run ha-compat status")?;
    let _ = writeln!(out, "[{}] `ha-compat status` on lb1:", stamp(started));
    for line in String::from_utf8_lossy(&status.stdout).lines() {
        let _ = writeln!(out, "    {line}");
    }

    // The client, its lines collected by a thread.
    lab.spawn_in_netns(
        "client",
        "client",
        &exe,
        &[
            "demo-agent",
            "client",
            &SocketAddr::from((VIP, 80)).to_string(),
        ],
        std::process::Stdio::piped(),
        &dir.join("client.log"),
    )?;
    let client_start = Instant::now();
    let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
    if let Some(stdout) = lab.take_stdout("client") {
        let requests = Arc::clone(&requests);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                let mut fields = line.splitn(3, '\t');
                let (Some(ms), Some(kind), Some(detail)) =
                    (fields.next(), fields.next(), fields.next())
                else {
                    continue;
                };
                let Ok(ms) = ms.parse::<u64>() else { continue };
                let outcome = if kind == "ok" {
                    Ok(detail.to_owned())
                } else {
                    Err(detail.to_owned())
                };
                if let Ok(mut r) = requests.lock() {
                    r.push(Request {
                        start: client_start + Duration::from_millis(ms),
                        outcome,
                    });
                }
            }
        });
    }
    let snapshot = |from: Instant, to: Instant| -> Vec<Request> {
        let mut v: Vec<Request> = requests
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|q| q.start >= from && q.start < to)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|q| q.start);
        v
    };
    // One second of normal service.
    wait_until(stop, Duration::from_millis(1200), || false)?;
    let before = snapshot(client_start, client_start + Duration::from_secs(1));
    let answered: Vec<&str> = before
        .iter()
        .filter_map(|q| q.outcome.as_ref().ok().map(String::as_str))
        .collect();
    let shown: Vec<&str> = answered.iter().take(8).copied().collect();
    let _ = writeln!(
        out,
        "[{}] client through the VIP: {} … ({} of {} requests in 1 s answered, web1 {}, web2 {})",
        stamp(started),
        shown.join(" "),
        answered.len(),
        before.len(),
        answered.iter().filter(|b| **b == "web1").count(),
        answered.iter().filter(|b| **b == "web2").count(),
    );

    // The fault: SIGKILL to lb1's haproxy.
    let victims = lab::pids_named("lb1", "haproxy");
    let Some(&victim) = victims.first() else {
        bail!("no process named haproxy on lb1");
    };
    let offsets: Vec<u64> = keepalived_logs
        .iter()
        .map(|l| std::fs::metadata(l).map(|m| m.len()).unwrap_or(0))
        .collect();
    let killed_at = Instant::now();
    lab::kill(victim)?;
    let _ = writeln!(
        out,
        "[{}] killing haproxy on lb1 (SIGKILL to pid {victim}) …",
        stamp(started)
    );
    let moved = wait_until(stop, Duration::from_secs(15), || {
        lab::holds("lb2", VIP) && !lab::holds("lb1", VIP)
    })?;
    if !moved {
        bail!("the VIP did not move to lb2 within 15 s of the kill");
    }
    let moved_after = killed_at.elapsed();
    for (node, (log, offset)) in LB_NODES
        .iter()
        .zip(keepalived_logs.iter().zip(offsets.iter()))
    {
        let text = std::fs::read(log).unwrap_or_default();
        let offset = usize::try_from(*offset).unwrap_or(0).min(text.len());
        for line in String::from_utf8_lossy(&text[offset..]).lines() {
            if line.contains("chk_haproxy")
                || line.contains("effective priority")
                || line.contains("Entering")
                || line.contains("higher priority")
            {
                // keepalived's console lines start with the date (`Sun Nov 22 20:00:29
                // 2026: `); the narrative has its own clock.
                let message = match line.split_once(": ") {
                    Some((date, rest)) if date.ends_with(|c: char| c.is_ascii_digit()) => rest,
                    _ => line,
                };
                let _ = writeln!(out, "        {} keepalived: {}", node.name, message.trim());
            }
        }
    }
    let _ = writeln!(
        out,
        "[{}] VIP {VIP} moved to lb2 after {} ms (lb1's tracker failed: 103 -> 101 < lb2's 102)",
        stamp(started),
        moved_after.as_millis()
    );

    // Let the service settle, then account for every request since the kill.
    let settle = Duration::from_millis(2500);
    wait_until(stop, settle, || false)?;
    // Requests are given 1 s; only count those that have surely ended.
    let until = Instant::now() - Duration::from_millis(1100);
    let after = snapshot(killed_at, until);
    let failed: Vec<&Request> = after.iter().filter(|q| q.outcome.is_err()).collect();
    let ok = after.len() - failed.len();
    let last_failure = failed.last().map(|q| q.start);
    let recovered: Vec<&Request> = after
        .iter()
        .filter(|q| match last_failure {
            // MSRV 1.80: no Option::is_none_or.
            Some(t) => q.start > t,
            None => true,
        })
        .collect();
    let recovered_bodies: Vec<&str> = recovered
        .iter()
        .filter_map(|q| q.outcome.as_ref().ok().map(String::as_str))
        .collect();
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for q in &failed {
        let reason = q.outcome.as_ref().err().cloned().unwrap_or_default();
        match reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((reason, 1)),
        }
    }
    let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    let outage = match (failed.first(), recovered.first()) {
        (Some(first), Some(back)) => format!(
            "failures from +{} ms to +{} ms after the kill ({}), answered again from +{} ms",
            first.start.duration_since(killed_at).as_millis(),
            failed
                .last()
                .map_or(0, |q| q.start.duration_since(killed_at).as_millis()),
            reasons.join(", "),
            back.start.duration_since(killed_at).as_millis()
        ),
        (None, _) => "no request failed".to_owned(),
        (Some(_), None) => "no request answered since the first failure".to_owned(),
    };
    let _ = writeln!(
        out,
        "[{}] requests since the kill: {ok} ok / {} failed during the move; {outage}",
        stamp(started),
        failed.len()
    );
    if !failed.is_empty() {
        let _ = writeln!(
            out,
            "        (the failures are seed 001's own: its tracker runs every 2 s, then lb2 waits \
             its master-down interval, 3 adverts + 0.6 s, before taking over; meanwhile lb1 \
             holds the VIP without a proxy)"
        );
    }
    let web1 = recovered_bodies.iter().filter(|b| **b == "web1").count();
    let web2 = recovered_bodies.iter().filter(|b| **b == "web2").count();
    if recovered.len() < 10 || recovered_bodies.len() != recovered.len() || web1 == 0 || web2 == 0 {
        bail!(
            "service did not continue through lb2: after the last failure {} requests, {} answered (web1 {web1}, web2 {web2})",
            recovered.len(),
            recovered_bodies.len()
        );
    }
    let _ = writeln!(
        out,
        "[{}] service continued through lb2: the last {} requests all answered (web1 {web1}, web2 {web2}); lb1 keeps running keepalived without its haproxy",
        stamp(started),
        recovered.len()
    );
    // What the webs saw, as the tutorial shows it in Apache's logs: `option httpchk`'s
    // health checks from both LB nodes, and `option forwardfor`'s header naming the client.
    for (name, _) in WEBS {
        let log =
            std::fs::read_to_string(dir.join(format!("{name}-requests.tsv"))).unwrap_or_default();
        let mut checks: Vec<&str> = Vec::new();
        let mut forwarded: Vec<&str> = Vec::new();
        let mut check_line = "";
        for line in log.lines() {
            let mut fields = line.splitn(3, '\t');
            let (Some(peer), Some(xff), Some(request)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if request.starts_with("OPTIONS ") {
                check_line = request;
                if !checks.contains(&peer) {
                    checks.push(peer);
                }
            } else if xff != "-" && !forwarded.contains(&xff) {
                forwarded.push(xff);
            }
        }
        checks.sort_unstable();
        let _ = writeln!(
            out,
            "[{}] {name} saw health checks `{check_line}` from {} and requests with X-Forwarded-For: {}",
            stamp(started),
            if checks.is_empty() { "nobody".to_owned() } else { checks.join(" and ") },
            if forwarded.is_empty() { "none".to_owned() } else { forwarded.join(", ") },
        );
    }
    let _ = writeln!(
        out,
        "[{}] cleaning up (stopping every process, deleting the namespaces and {})",
        stamp(started),
        dir.display()
    );
    drop(lab);
    Ok(())
}

/// The path of `program` in the usual system directories or `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|d| d.join(program))
        .find(|p| Path::new(p).is_file())
}
