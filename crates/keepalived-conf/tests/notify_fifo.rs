//! `notify_fifo`, `notify_fifo_script`, `vrrp_notify_fifo`, `vrrp_notify_fifo_script` in
//! `global_defs`. The messages and their lines are those the real keepalived 2.2.7 prints
//! for `fixtures/keepalived/invalid/notify-fifo-errors.conf` (recorded by
//! `fixtures/keepalived/measure.sh` in `notify-fifo-errors.expected`); what is kept is
//! what keepalived then runs (checked against the real one in
//! `crates/ha-compat/tests/notify_fifo_reference.rs`).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use keepalived_conf::host::FakeHost;
use keepalived_conf::model::{Command, NotifyFifo, ScriptUser};
use keepalived_conf::{parse_file, parse_str, Parsed, ReadOptions};

fn host() -> FakeHost {
    FakeHost {
        interfaces: vec!["eth0".into()],
        programs: vec![],
        users: vec!["root".into()],
    }
}

fn parse(text: &str) -> Parsed {
    parse_str(
        Path::new("/tmp/t.conf"),
        text,
        &ReadOptions::default(),
        &host(),
    )
}

const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n";

#[test]
fn errors_and_first_wins_as_keepalived() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/keepalived/invalid/notify-fifo-errors.conf");
    let parsed = parse_file(&fixture, &ReadOptions::default(), &host()).unwrap();
    let expected = std::fs::read_to_string(fixture.with_extension("expected")).unwrap();
    let ours: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.code.is_some())
        .map(|d| format!("(Line {}) {}", d.span.unwrap().line, d.message))
        .collect();
    assert_eq!(ours, expected.lines().collect::<Vec<_>>());
    assert_eq!(parsed.config_test_exit(), 5);
    let g = &parsed.config.global;
    let dir = "/tmp/ha-compat-no-such-dir";
    assert_eq!(
        g.notify_fifo,
        Some(NotifyFifo {
            path: format!("{dir}/a"),
            owner: Some(ScriptUser {
                user: "root".into(),
                group: None
            }),
            script: Some(Command {
                argv: vec![format!("{dir}/reader.sh"), "x".into()],
                user: Some(ScriptUser {
                    user: "root".into(),
                    group: None
                }),
            }),
        })
    );
    // The script line came before its FIFO: still the FIFO's.
    assert_eq!(
        g.vrrp_notify_fifo,
        Some(NotifyFifo {
            path: format!("{dir}/c"),
            owner: None,
            script: Some(Command {
                argv: vec![format!("{dir}/reader.sh")],
                user: None,
            }),
        })
    );
}

#[test]
fn same_path_for_both_is_kept_at_start() {
    // keepalived 2.2.7 opens both (and writes each line twice) when it starts; only a reload
    // drops the VRRP one. Measured: two scripts started, two lines per state change.
    let parsed = parse(&format!(
        "global_defs {{\n notify_fifo /run/f\n vrrp_notify_fifo /run/f\n}}\n{INSTANCE}"
    ));
    let g = &parsed.config.global;
    assert_eq!(
        g.notify_fifos()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        ["/run/f", "/run/f"]
    );
    assert_eq!(parsed.config_test_exit(), 0);
}

#[test]
fn owner_and_group() {
    let parsed = parse(&format!(
        "global_defs {{\n notify_fifo /run/f nobody nogroup\n}}\n{INSTANCE}"
    ));
    let f = parsed.config.global.notify_fifo.unwrap();
    assert_eq!(
        f.owner,
        Some(ScriptUser {
            user: "nobody".into(),
            group: Some("nogroup".into())
        })
    );
    assert_eq!(f.script, None);
}

#[test]
fn script_without_fifo_is_dropped_with_a_remark() {
    let parsed = parse(&format!(
        "global_defs {{\n enable_script_security\n notify_fifo_script /bin/true\n}}\n{INSTANCE}"
    ));
    assert_eq!(parsed.config.global.notify_fifo, None);
    let remark = parsed
        .diagnostics
        .iter()
        .find(|d| d.message.contains("without notify_fifo"))
        .unwrap();
    assert_eq!(remark.code, None);
    assert_eq!(remark.span.unwrap().line, 3);
    assert_eq!(parsed.config_test_exit(), 0);
}

#[test]
fn fifo_script_counts_for_script_security() {
    // keepalived's check_vrrp_script_security() includes the FIFO scripts.
    let host = FakeHost {
        interfaces: vec!["eth0".into()],
        programs: vec!["/bin/reader".into()],
        users: vec!["root".into()],
    };
    let parsed = parse_str(
        Path::new("/tmp/t.conf"),
        &format!(
            "global_defs {{\n notify_fifo /run/f\n notify_fifo_script /bin/reader\n}}\n{INSTANCE}"
        ),
        &ReadOptions::default(),
        &host,
    );
    assert!(parsed
        .diagnostics
        .iter()
        .any(|d| d.message.starts_with("SECURITY VIOLATION")));
    assert_eq!(parsed.config_test_exit(), 6);
}
