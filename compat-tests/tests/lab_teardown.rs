//! A lab whose test process is killed outright (SIGKILL: no unwinding, no `Drop`) still
//! leaves nothing behind: the holders die with their parent (`--pdeathsig`) and the
//! watchdog deletes the namespaces and their `/etc/netns` directories. Root only.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compat_tests::lab::{leftovers, Lab, LabSpec, NodeSpec};

const CHILD: &str = "HAC_LAB_TEARDOWN_CHILD";

/// Not a test of its own: the process the real test kills. Builds a two-node lab, prints
/// its namespaces, starts a process in a node, and waits to be killed.
#[test]
fn child_holds_a_lab() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let node = |name: &str, host: u8| NodeSpec {
        name: name.into(),
        iface: "eth0".into(),
        addr: Ipv4Addr::new(10, 98, 0, host),
        hosts: vec![],
    };
    let spec = LabSpec {
        name: "teardown".into(),
        prefix_len: 24,
        nodes: vec![node("a", 1), node("b", 2)],
    };
    let dir =
        compat_tests::target_dir().join(format!("compat/labs/teardown-{}", std::process::id()));
    let mut lab = Lab::start(spec, &dir);
    let log = dir.join("sleep.log");
    lab.node_mut("a")
        .spawn("sleep", std::path::Path::new("/bin/sleep"), &["600"], &log);
    println!("NETNS {}", lab.node("a").netns_name());
    println!("NETNS {}", lab.node("b").netns_name());
    println!("READY");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_killed_test_process_leaves_no_namespace_process_or_directory() {
    compat_tests::require_root();
    let exe = std::env::current_exe().expect("own test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_holds_a_lab",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child test process");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut names = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        // libtest prints `test child_holds_a_lab ... ` without a newline before the output.
        if let Some((_, name)) = line.split_once("NETNS ") {
            names.push(name.trim().to_owned());
        }
        if line.ends_with("READY") {
            break;
        }
    }
    if names.len() != 2 {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the child did not build its lab: {names:?}");
    }
    let mine = |left: &[String]| -> Vec<String> {
        left.iter()
            .filter(|l| names.iter().any(|n| l.contains(n.as_str())))
            .cloned()
            .collect()
    };
    let alive = !mine(&leftovers()).is_empty();
    child.kill().expect("SIGKILL the child");
    let _ = child.wait();
    assert!(alive, "the lab should exist while its process lives");
    let start = Instant::now();
    let mut left = mine(&leftovers());
    while !left.is_empty() && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
        left = mine(&leftovers());
    }
    assert!(
        left.is_empty(),
        "left behind 15 s after the test process was killed: {left:?}"
    );
}
