//! Every seed haproxy.cfg is accepted, and means what the tutorial says it means.
//! Expectations come from the tutorials (shared/seeds) and HAProxy 2.6's documented
//! defaults, not from our own output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use haproxy_conf::host::AnyAccounts;
use haproxy_conf::model::{
    Balance, BindAddress, HttpConnectionMode, LogAddress, Mode, PortRange, ServerHost, ServerPort,
};
use haproxy_conf::{LoadOptions, Loaded, NoResolver, Outcome};

fn seed(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/seeds")
        .join(path)
}

/// Loads a file as it would be checked for another machine: no name resolves, every
/// user exists (the seeds name `user haproxy` and placeholder hosts).
fn load(path: &str) -> Loaded {
    let env: BTreeMap<String, String> = BTreeMap::new();
    let options = LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &NoResolver,
        accounts: &AnyAccounts,
        host_files: false,
    };
    haproxy_conf::load(&[seed(path)], &options)
}

fn any_port(port: u16) -> BindAddress {
    BindAddress::Inet {
        host: None,
        ports: PortRange {
            first: port,
            last: port,
        },
    }
}

fn warnings(l: &Loaded) -> Vec<String> {
    l.diagnostics
        .iter()
        .filter(|d| d.severity == conf_diag::Severity::Warning)
        .map(|d| d.message.clone())
        .collect()
}

#[test]
fn seed_000_l4_roundrobin_with_tcp_check() {
    let l = load("000/haproxy.cfg");
    assert_eq!(
        l.outcome,
        Outcome::Valid { listeners: true },
        "{:?}",
        l.diagnostics
    );
    assert!(
        warnings(&l).is_empty(),
        "HAProxy prints no warning for seed 000: {:?}",
        warnings(&l)
    );
    let c = &l.config;
    let g = &c.global;
    assert_eq!(g.logs.len(), 2);
    assert_eq!(g.logs[0].address, LogAddress::Unix("/dev/log".into()));
    assert_eq!(g.logs[0].facility.0, 16, "local0");
    assert_eq!(g.logs[1].max_level.map(|l| l.0), Some(5), "notice");
    assert_eq!(g.chroot.as_deref(), Some(Path::new("/var/lib/haproxy")));
    assert_eq!(g.user.as_deref(), Some("haproxy"));
    assert!(g.daemon);
    assert_eq!(g.stats_sockets.len(), 1);
    let sock = &g.stats_sockets[0];
    assert_eq!(
        sock.address,
        BindAddress::Unix("/run/haproxy/admin.sock".into())
    );
    assert_eq!(sock.options.mode, Some(0o660));
    assert_eq!(sock.options.level.as_deref(), Some("admin"));
    assert!(sock.options.expose_fd_listeners);
    assert_eq!(g.stats_timeout, Some(Duration::from_secs(30)));
    assert_eq!(
        g.ssl_default_bind_options,
        ["ssl-min-ver TLSv1.2", "no-tls-tickets"]
    );

    let fe = c.proxy("myweb").expect("frontend myweb");
    assert_eq!(fe.binds.len(), 1);
    assert_eq!(fe.binds[0].address, any_port(80));
    // `mode tcp` in the frontend overrides `defaults mode http`; tcplog replaces httplog.
    assert_eq!(fe.settings.mode, Mode::Tcp);
    assert!(fe.settings.options.tcplog);
    assert!(fe.settings.options.httplog.is_none());
    assert_eq!(fe.settings.default_backend.as_deref(), Some("web-servers"));
    // Inherited from defaults: timeouts in ms without a unit, errorfiles, log global.
    assert_eq!(
        fe.settings.timeouts.client,
        Some(Duration::from_millis(50_000))
    );
    assert!(fe.settings.logs.global);
    assert_eq!(fe.settings.errorfiles.len(), 7);
    assert_eq!(fe.settings.options.flag("dontlognull"), Some(true));

    let be = c.proxy("web-servers").expect("backend web-servers");
    assert_eq!(be.settings.mode, Mode::Tcp);
    assert_eq!(be.settings.balance, Some(Balance::Roundrobin));
    assert_eq!(
        be.settings.options.check_protocol.as_deref(),
        Some("tcp-check")
    );
    assert_eq!(
        be.settings.timeouts.connect,
        Some(Duration::from_millis(5000))
    );
    assert_eq!(
        be.settings.timeouts.server,
        Some(Duration::from_millis(50_000))
    );
    let names: Vec<_> = be.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web1", "web2"]);
    for (s, ip) in be.servers.iter().zip(["192.168.56.11", "192.168.56.12"]) {
        assert_eq!(s.address.host, ServerHost::Ip(ip.parse().expect("ip")));
        assert_eq!(s.address.port, ServerPort::Fixed(80));
        assert_eq!(s.options.check, Some(true));
        assert_eq!(s.options.effective_fall(), 3);
        assert_eq!(s.options.effective_rise(), 2);
        assert_eq!(
            s.options.effective_inter(),
            Duration::from_secs(2),
            "HAProxy's default inter"
        );
    }
}

#[test]
fn seed_001_l7_httpchk_forwardfor_stats() {
    let l = load("001/haproxy.cfg");
    assert_eq!(
        l.outcome,
        Outcome::Valid { listeners: true },
        "{:?}",
        l.diagnostics
    );
    let c = &l.config;
    assert_eq!(c.global.maxconn, Some(2000));
    assert_eq!(
        c.global.logs[0].address,
        LogAddress::Udp {
            host: "127.0.0.1".into(),
            port: 514
        }
    );
    let fe = c.proxy("http-in").expect("frontend");
    assert_eq!(fe.binds[0].address, any_port(80));
    assert_eq!(fe.settings.mode, Mode::Http);
    assert!(fe.settings.options.httplog.is_some());
    assert_eq!(fe.settings.default_backend.as_deref(), Some("webservers"));
    let be = c.proxy("webservers").expect("backend");
    assert_eq!(be.settings.retries, Some(3));
    assert_eq!(be.settings.options.flag("redispatch"), Some(true));
    assert_eq!(
        be.settings.timeouts.connect,
        Some(Duration::from_millis(5000))
    );
    let chk = be
        .settings
        .options
        .httpchk
        .as_ref()
        .expect("option httpchk");
    assert_eq!(
        (chk.method.as_str(), chk.uri.as_str(), chk.version.as_str()),
        ("OPTIONS", "/", "HTTP/1.0")
    );
    let ff = be
        .settings
        .options
        .forwardfor
        .as_ref()
        .expect("option forwardfor");
    assert_eq!(ff.header, "X-Forwarded-For");
    assert!(!ff.if_none);
    assert_eq!(
        be.settings.options.http_mode,
        Some(HttpConnectionMode::ServerClose)
    );
    let st = &be.settings.stats;
    assert!(st.enabled);
    assert_eq!(st.uri.as_deref(), Some("/haproxy?stats"));
    assert_eq!(st.auth.len(), 1);
    assert_eq!(
        (st.auth[0].user.as_str(), st.auth[0].password.as_str()),
        ("admin", "admin")
    );
    for s in &be.servers {
        assert_eq!(s.options.maxconn, Some(32));
        assert_eq!(s.options.check, Some(true));
    }
    assert_eq!(be.servers.len(), 2);
}

#[test]
fn seed_002_old_keywords_are_read_with_warnings() {
    let l = load("002/haproxy.cfg");
    assert_eq!(
        l.outcome,
        Outcome::Valid { listeners: true },
        "{:?}",
        l.diagnostics
    );
    let w = warnings(&l);
    for modern in [
        "timeout connect",
        "timeout client",
        "timeout server",
        "bind 192.168.0.100:7001",
    ] {
        assert!(
            w.iter().any(|m| m.contains(modern)),
            "a warning names '{modern}': {w:?}"
        );
    }
    assert!(w
        .iter()
        .any(|m| m.contains("could not resolve address 'blogadminvhn.nostratech.com'")));
    let px = &l.config.proxies[0];
    assert_eq!(px.name, "blogadmin.nostratech.com");
    assert_eq!(
        px.binds[0].address,
        BindAddress::Inet {
            host: Some("192.168.0.100".parse().expect("ip")),
            ports: PortRange {
                first: 7001,
                last: 7001
            }
        }
    );
    assert_eq!(px.settings.mode, Mode::Tcp);
    assert_eq!(px.settings.maxconn, Some(2000), "maxconn from defaults");
    assert_eq!(
        px.settings.timeouts.connect,
        Some(Duration::from_millis(500_000))
    );
    assert_eq!(
        px.settings.timeouts.client,
        Some(Duration::from_millis(500_000))
    );
    assert_eq!(
        px.settings.timeouts.server,
        Some(Duration::from_millis(500_000))
    );
    let s = &px.servers[0];
    assert_eq!(
        s.address.host,
        ServerHost::Name("blogadminvhn.nostratech.com".into())
    );
    assert!(
        s.unresolved,
        "starts in maintenance until the name resolves"
    );
}

#[test]
fn seed_004_listen_with_port_only_and_stats_listener() {
    let l = load("004/haproxy.cfg");
    assert_eq!(
        l.outcome,
        Outcome::Valid { listeners: true },
        "{:?}",
        l.diagnostics
    );
    let c = &l.config;
    assert_eq!((c.global.uid, c.global.gid), (Some(99), Some(99)));
    let tcp = c.proxy("tcp_service_a").expect("listen tcp_service_a");
    assert_eq!(tcp.binds[0].address, any_port(14900));
    assert_eq!(tcp.settings.mode, Mode::Tcp);
    assert_eq!(
        tcp.settings.options.check_protocol.as_deref(),
        Some("tcp-check")
    );
    assert!(
        tcp.settings.tcp_check.is_empty(),
        "the tcp-check send/expect lines are comments"
    );
    assert_eq!(tcp.servers.len(), 2);
    assert!(tcp
        .servers
        .iter()
        .all(|s| s.unresolved && s.address.port == ServerPort::Fixed(4900)));
    let stats = c.proxy("stats").expect("listen stats");
    assert_eq!(stats.binds[0].address, any_port(80));
    assert_eq!(stats.settings.mode, Mode::Http);
    assert_eq!(stats.settings.maxconn, Some(10));
    assert_eq!(stats.settings.stats.uri.as_deref(), Some("/haproxy.stats"));
    assert_eq!(stats.settings.stats.refresh, Some(Duration::from_secs(30)));
}

#[test]
fn seed_000_annotated_fragment_has_the_same_proxies() {
    let l = load("000/haproxy-annotated-fragment.cfg");
    // HAProxy: valid, with "missing timeouts" warnings (no defaults in the fragment).
    assert_eq!(l.outcome, Outcome::Valid { listeners: true });
    assert!(warnings(&l)
        .iter()
        .any(|m| m.starts_with("missing timeouts for frontend 'myweb'")));
    let be = l.config.proxy("web-servers").expect("backend");
    assert_eq!(be.servers.len(), 2);
}
