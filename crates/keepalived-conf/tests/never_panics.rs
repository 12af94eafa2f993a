//! The parser never panics: random text, random keyword soup, and seed configs with
//! random edits all come back as a model plus diagnostics.

use std::path::Path;

use keepalived_conf::host::FakeHost;
use keepalived_conf::{parse_str, ReadOptions};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    include_str!("../../../fixtures/seeds/000/keepalived-master.conf"),
    include_str!("../../../fixtures/seeds/001/keepalived-hap1.conf"),
    include_str!("../../../fixtures/seeds/003/keepalived-node1.conf"),
    include_str!("../../../fixtures/seeds/004/keepalived-master.conf"),
];

/// Words that steer the reader and the model into their interesting corners.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "\"",
    "'",
    "\\",
    "#",
    "!",
    "$X=1",
    "$X",
    "${X}",
    "$M=a \\",
    "@host",
    "@^host",
    "~SEQ(i,1,3)",
    "~SEQx(i, 5)",
    "include",
    "*",
    "vrrp_instance",
    "VI_1",
    "vrrp_script",
    "global_defs",
    "vrrp_sync_group",
    "group",
    "state",
    "MASTER",
    "master",
    "priority",
    "0",
    "255",
    "-1",
    "99999999999999999999",
    "interface",
    "eth0",
    "virtual_router_id",
    "advert_int",
    "0.5",
    "authentication",
    "auth_type",
    "AH",
    "PASS",
    "auth_pass",
    "virtual_ipaddress",
    "10.0.0.1/24",
    "::1/200",
    "dev",
    "brd",
    "+",
    "label",
    "virtual_routes",
    "via",
    "src",
    "unicast_peer",
    "track_script",
    "weight",
    "reverse",
    "script",
    "“killall -0 x”",
    "\u{a0}",
    "notify_master",
    "track_interface",
    "virtual_server",
    "nopreempt",
    "smtp_server",
    "\n",
    "\n",
    "\n",
    "\r\n",
    "\t",
];

fn parse(text: &str) {
    let host = FakeHost {
        interfaces: vec!["eth0".into()],
        programs: vec!["killall".into()],
        users: vec![],
    };
    let dir = std::env::temp_dir();
    let parsed = parse_str(
        &dir.join("fuzz.conf"),
        text,
        &ReadOptions {
            config_id: Some("host".into()),
        },
        &host,
    );
    // Rendering must not panic either.
    for d in &parsed.diagnostics {
        let _ = conf_diag::render_rich(d, &parsed.sources);
        let _ = conf_diag::render_keepalived(d, &parsed.sources);
    }
    let _ = parsed.config_test_exit();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_text(text in "\\PC{0,400}") {
        parse(&text);
    }

    #[test]
    fn keyword_soup(words in prop::collection::vec(prop::sample::select(TOKENS), 0..120)) {
        parse(&words.join(" "));
    }

    #[test]
    fn mutated_seeds(
        seed in prop::sample::select(SEEDS),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(TOKENS), 0u8..3), 1..12),
    ) {
        let mut text: Vec<char> = seed.chars().collect();
        for (at, token, kind) in edits {
            if text.is_empty() {
                break;
            }
            let i = at.index(text.len());
            match kind {
                0 => { text.remove(i); }
                1 => { for (k, c) in token.chars().enumerate() { text.insert(i + k, c); } }
                _ => { text.truncate(i); }
            }
        }
        parse(&text.into_iter().collect::<String>());
    }
}

#[test]
fn deep_nesting_does_not_overflow() {
    parse(&"a {\n".repeat(100_000));
    parse(&"{".repeat(100_000));
}

#[test]
fn include_cycle_terminates() {
    let dir = std::env::temp_dir().join(format!("kc-cycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("a.conf"), "include b.conf\n").expect("write");
    std::fs::write(dir.join("b.conf"), "include a.conf\n").expect("write");
    let host = FakeHost::default();
    let parsed = keepalived_conf::parse_file(&dir.join("a.conf"), &ReadOptions::default(), &host)
        .expect("readable");
    assert!(parsed
        .diagnostics
        .iter()
        .any(|d| d.message.contains("nested deeper")));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = Path::new("");
}

#[test]
fn huge_seq_is_bounded() {
    parse("~SEQ(i, 1, 1, 9223372036854775807) vrrp_instance V$i {\n");
    parse("~SEQ(i, -9223372036854775807, 1, 9223372036854775807) x\n");
}
