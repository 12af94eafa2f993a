//! The master CLI (`haproxy -W -S SOCKET`) against the real HAProxy 2.6.12: both run the
//! same configuration in a network namespace of their own (`hacmcli-PID-N`, deleted by a
//! drop guard), and the same commands go to both through `socat`: `help`, `show proc`,
//! `show version`, the `@1` / `@2` / `@master` prefixes (a command relayed to the worker's
//! runtime API), an unknown command, `reload`, then `show proc` again. Replies must be
//! equal byte for byte once pids, uptimes and the version string are masked; after
//! `reload` the master counts one reload and lists one new worker.
//!
//! Needs root, haproxy and socat; skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;

use common::{can_run, has_socat, sleep_ms, socat, Ns, HAPROXY};

const CFG: &str = "\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    server s1 127.0.0.1:8001
    server s2 127.0.0.1:8002 weight 50
";

const SEQUENCE: &[&str] = &[
    "help",
    "show proc",
    "show version",
    "@1 get weight be/s2",
    "@1 get weight be/s1;get weight be/s2",
    "@2 show info",
    "@!1 show info",
    "@master show cli level",
    "show cli level;show version",
    "foo",
    "operator;show cli level;user;show cli level;operator",
    "reload",
];

/// Pids, uptimes and versions masked, runs of spaces collapsed (the column layout is
/// asserted by `master_cli.rs`'s unit test).
fn mask(text: &str, version: &str) -> String {
    text.replace(version, "VERSION")
        .split('\n')
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    let is_uptime = w.len() == 11 && w.as_bytes()[1] == b'd' && w.ends_with('s');
                    if (w.len() >= 3 && w.chars().all(|c| c.is_ascii_digit())) || is_uptime {
                        "*".repeat(w.len().min(1))
                    } else {
                        w.to_string()
                    }
                })
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn run(program: &Path, dir: &Path) -> (Vec<String>, String, String) {
    let ns = Ns::new("hacmcli");
    let cfg = dir.join("h.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let sock = dir.join("master.sock");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(program)
        .args(["-W", "-db", "-S"])
        .arg(&sock)
        .arg("-f")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Ready when the worker answers through the master.
    for _ in 0..100 {
        if socat(&sock, "@1 show cli level") == "admin\n\n" {
            break;
        }
        sleep_ms(50);
    }
    let version = socat(&sock, "show version").trim().to_string();
    let replies = SEQUENCE.iter().map(|c| socat(&sock, c)).collect();
    let mut after = String::new();
    for _ in 0..100 {
        sleep_ms(100);
        after = socat(&sock, "show proc");
        if after.contains("1 [failed: 0]") && !after.contains("# old workers") {
            break;
        }
    }
    let _ = child.kill();
    let _ = Command::new("pkill")
        .args(["-f", &cfg.display().to_string()])
        .status();
    let _ = child.wait();
    (replies, after, version)
}

#[test]
fn master_cli_answers_like_haproxy_2_6() {
    if !can_run("master_cli_reference") {
        return;
    }
    if !has_socat("master_cli_reference") {
        return;
    }
    let base =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hacmcli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (ref_dir, ours_dir) = (base.join("ref"), base.join("ours"));
    std::fs::create_dir_all(&ref_dir).unwrap();
    std::fs::create_dir_all(&ours_dir).unwrap();
    let link = ours_dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let (ref_replies, ref_after, ref_version) = run(Path::new(HAPROXY), &ref_dir);
    let (our_replies, our_after, our_version) = run(&link, &ours_dir);
    assert!(ref_version.starts_with("2.6.12"), "{ref_version}");
    for (i, command) in SEQUENCE.iter().enumerate() {
        let (r, o) = (&ref_replies[i], &our_replies[i]);
        if *command == "help" {
            // 2.6.12 also lists `show cli sockets`, which ours does not run.
            let r: String = r
                .lines()
                .filter(|l| !l.starts_with("  show cli sockets"))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(r, *o, "{command}");
        } else {
            assert_eq!(mask(r, &ref_version), mask(o, &our_version), "{command}");
        }
    }
    assert!(
        ref_after.contains("master          1 [failed: 0]"),
        "{ref_after}"
    );
    assert_eq!(
        mask(&ref_after, &ref_version),
        mask(&our_after, &our_version)
    );
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn master_socket_without_master_worker_is_warned_about() {
    if !can_run("master_cli_reference") {
        return;
    }
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hacmcli-c-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let link = base.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let cfg = base.join("h.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let line = |program: &Path| {
        let ns = Ns::new("hacmcli");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .arg(program)
            .args(["-db", "-S"])
            .arg(base.join("m.sock"))
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        sleep_ms(800);
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .find(|l| l.contains("master CLI"))
            .map(|l| l.split_once(") : ").map_or(l, |(_, r)| r).to_string())
    };
    let reference = line(Path::new(HAPROXY));
    assert!(reference.is_some());
    assert_eq!(reference, line(&link));
    assert!(!base.join("m.sock").exists());
    let _ = std::fs::remove_dir_all(&base);
}
