//! Every seed tutorial's keepalived.conf is accepted and means what the tutorial means.
//! Expectations come from the tutorials' text and from keepalived 2.2.7's own reading
//! (fixtures/seeds/*/ *.expected-stderr), not from our output.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use keepalived_conf::host::FakeHost;
use keepalived_conf::model::{Authentication, InitialState, KeepalivedConfig, VrrpInstance};
use keepalived_conf::{parse_file, Parsed, ReadOptions};

fn seed(path: &str) -> Parsed {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/seeds")
        .join(path);
    let host = FakeHost {
        interfaces: vec!["eth0".into(), "eth1".into()],
        programs: vec!["killall".into()],
        users: vec!["root".into()],
    };
    parse_file(&file, &ReadOptions::default(), &host).expect("seed fixture readable")
}

fn only_instance(config: &KeepalivedConfig) -> &VrrpInstance {
    assert_eq!(config.instances.len(), 1, "{config:#?}");
    &config.instances[0]
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn vips(inst: &VrrpInstance) -> Vec<(IpAddr, u8)> {
    inst.virtual_ipaddresses
        .iter()
        .map(|v| (v.addr, v.prefix_len))
        .collect()
}

fn messages(parsed: &Parsed) -> Vec<String> {
    parsed
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect()
}

#[test]
fn seed000_unicast_pair_with_curly_quoted_script() {
    for (file, src, peer, priority) in [
        (
            "000/keepalived-master.conf",
            "192.168.56.21",
            "192.168.56.22",
            101,
        ),
        (
            "000/keepalived-backup.conf",
            "192.168.56.22",
            "192.168.56.21",
            100,
        ),
    ] {
        let parsed = seed(file);
        let c = &parsed.config;
        let i = only_instance(c);
        assert_eq!(i.name, "vi_1");
        assert_eq!(i.interface, "eth1");
        // `state master` / `state backup` in lower case: keepalived reads both as BACKUP.
        assert_eq!(i.initial_state, InitialState::Backup, "{file}");
        assert_eq!(i.priority.get(), priority);
        assert_eq!(i.advert_int, Duration::from_secs(2));
        assert_eq!(i.vrid.get(), 101);
        assert_eq!(i.unicast_src_ip, Some(ip(src)));
        assert_eq!(
            i.unicast_peers.iter().map(|p| p.addr).collect::<Vec<_>>(),
            vec![ip(peer)]
        );
        // auth_pass mylittlesecret is cut to 8 bytes, as seen on the wire.
        assert_eq!(
            i.authentication,
            Some(Authentication::Pass("mylittle".into()))
        );
        assert_eq!(vips(i), vec![(ip("192.168.56.69"), 32)]);
        // The curly quotes are read as quotes: the script is tracked, so failover works.
        assert_eq!(i.track_scripts.len(), 1);
        assert_eq!(i.track_scripts[0].name, "chk_haproxy");
        assert_eq!(i.track_scripts[0].weight, None);
        let s = c.script("chk_haproxy").expect("script kept");
        assert_eq!(s.command, vec!["killall", "-0", "haproxy"]);
        assert_eq!(s.interval, Duration::from_secs(2));
        assert_eq!(s.weight.get(), 2);
        let m = messages(&parsed);
        assert!(m.iter().any(|m| m.contains("typographic")), "{m:?}");
        assert!(
            m.iter()
                .any(|m| m == "Truncating auth_pass to 8 characters"),
            "{m:?}"
        );
        let state_msg = if priority == 101 { "master" } else { "backup" };
        assert!(
            m.contains(&format!(
                "(vi_1) unknown state '{state_msg}', defaulting to BACKUP"
            )),
            "{m:?}"
        );
    }
}

#[test]
fn seed000_annotated_copy_with_trailing_comments_reads_the_same() {
    let plain = seed("000/keepalived-master.conf");
    let annotated = seed("000/keepalived-master-annotated.conf");
    assert_eq!(plain.config, annotated.config);
}

#[test]
fn seed001_both_nodes_master_priority_from_provisioner() {
    for (file, priority) in [
        ("001/keepalived-hap1.conf", 101),
        ("001/keepalived-hap2.conf", 100),
    ] {
        let parsed = seed(file);
        let i = only_instance(&parsed.config);
        assert_eq!(i.initial_state, InitialState::Master);
        assert_eq!(i.priority.get(), priority);
        assert_eq!(i.interface, "eth1");
        assert_eq!(i.vrid.get(), 51);
        assert_eq!(i.advert_int, Duration::from_secs(1), "default advert_int");
        assert_eq!(i.authentication, None);
        assert!(i.unicast_peers.is_empty(), "multicast");
        assert_eq!(vips(i), vec![(ip("192.168.50.10"), 32)]);
        assert_eq!(i.track_scripts[0].name, "chk_haproxy");
        assert_eq!(
            parsed.config.script("chk_haproxy").map(|s| s.weight.get()),
            Some(2)
        );
        // Scripts without enable_script_security: keepalived -t exits 6 (measured).
        assert_eq!(parsed.config_test_exit(), 6);
    }
}

#[test]
fn seed002_multicast_master_backup() {
    for (file, state, priority) in [
        ("002/keepalived-master.conf", InitialState::Master, 101),
        ("002/keepalived-backup.conf", InitialState::Backup, 100),
    ] {
        let parsed = seed(file);
        let i = only_instance(&parsed.config);
        assert_eq!((i.initial_state, i.priority.get()), (state, priority));
        assert_eq!(i.interface, "eth0");
        assert_eq!(vips(i), vec![(ip("192.168.0.100"), 32)]);
        let s = parsed.config.script("chk_haproxy").expect("script");
        assert_eq!(s.command, vec!["killall", "-0", "haproxy"]);
        assert_eq!(s.weight.get(), 2);
        assert_eq!(parsed.config_test_exit(), 6);
    }
}

#[test]
fn seed003_ah_mcast_src_and_nopreempt_variants() {
    let parsed = seed("003/keepalived-node1.conf");
    let i = only_instance(&parsed.config);
    assert_eq!(i.mcast_src_ip, Some(ip("10.12.166.81")));
    assert_eq!(
        i.authentication,
        Some(Authentication::Ah("cuongqua".into()))
    );
    // MASTER with AH is cleared to BACKUP by keepalived.
    assert_eq!(i.initial_state, InitialState::Backup);
    assert_eq!(i.priority.get(), 100);
    assert_eq!(vips(i), vec![(ip("10.12.166.80"), 32)]);
    // track_script with its brace on the next line.
    assert_eq!(
        i.track_scripts
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        vec!["chk_nginx"]
    );
    assert_eq!(
        parsed.config.script("chk_nginx").map(|s| s.weight.get()),
        Some(4)
    );
    assert!(messages(&parsed).contains(
        &"(VI_1) Initial state master is incompatible with AH authentication - clearing".to_owned()
    ));

    for (file, priority, src) in [
        ("003/keepalived-nopreempt-node1.conf", 51, "10.12.166.81"),
        ("003/keepalived-nopreempt-node2.conf", 50, "10.12.166.82"),
    ] {
        let parsed = seed(file);
        let i = only_instance(&parsed.config);
        assert!(i.nopreempt, "{file}");
        assert_eq!(i.initial_state, InitialState::Backup);
        assert_eq!(i.priority.get(), priority);
        assert_eq!(i.mcast_src_ip, Some(ip(src)));
        assert_eq!(vips(i), vec![(ip("10.12.166.90"), 32)]);
    }
}

#[test]
fn seed003_worked_priority_arithmetic_inputs() {
    // The tutorial's arithmetic: 100 + weight 4 = 104 while nginx runs.
    let parsed = seed("003/keepalived-node1.conf");
    let i = only_instance(&parsed.config);
    let w = parsed
        .config
        .script("chk_nginx")
        .map(|s| s.weight.get())
        .unwrap_or_default();
    assert_eq!(i.priority.get() as i16 + w, 104);
}

#[test]
fn seed004_email_alerts_and_smtp() {
    let parsed = seed("004/keepalived-master.conf");
    let g = &parsed.config.global;
    assert_eq!(g.notification_email, vec!["your@emailaddress.com"]);
    assert_eq!(
        g.notification_email_from.as_deref(),
        Some("loadb01@domain.ext")
    );
    let smtp = g.smtp_server.as_ref().expect("smtp server");
    assert_eq!((smtp.host.as_str(), smtp.port), ("127.0.0.1", 25));
    assert_eq!(g.smtp_connect_timeout, Duration::from_secs(15));
    let i = only_instance(&parsed.config);
    assert_eq!(i.smtp_alert, Some(true));
    assert_eq!(
        (i.initial_state, i.priority.get(), i.vrid.get()),
        (InitialState::Master, 101, 51)
    );
    assert_eq!(
        i.authentication,
        Some(Authentication::Pass("myPassw0".into()))
    );
    // The tutorial leaves the VIP as a placeholder: keepalived skips it, and so do we.
    assert!(i.virtual_ipaddresses.is_empty());
    assert!(messages(&parsed)
        .contains(&"VRRP parsed invalid IP xxx.xxx.xxx.xxx. skipping IP...".to_owned()));
}
