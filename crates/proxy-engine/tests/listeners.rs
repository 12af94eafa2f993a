//! Listeners against a real kernel, in namespaces the tests create: `IP_FREEBIND` on an
//! address the namespace does not have, port ranges, `:::PORT` dual stack, `fd@N`, and
//! `maxconn` leaving the excess in the accept backlog. Needs root; skipped otherwise.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::os::fd::IntoRawFd;
use std::path::PathBuf;
use std::time::Duration;

use common::Ns;
use haproxy_conf::host::AnyAccounts;
use haproxy_conf::model::HaproxyConfig;
use haproxy_conf::{LoadOptions, NoResolver};
use proxy_engine::listener::{
    open_listener, plan_listeners, ConnLimit, ListenSource, Listener, ListenerPlan,
};

fn config(text: &str) -> HaproxyConfig {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path: PathBuf =
        std::env::temp_dir().join(format!("hapio-listeners-{}-{n}.cfg", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let env: BTreeMap<String, String> = BTreeMap::new();
    let options = LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &NoResolver,
        accounts: &AnyAccounts,
        host_files: false,
    };
    let loaded = haproxy_conf::load(std::slice::from_ref(&path), &options);
    let _ = std::fs::remove_file(&path);
    loaded.config
}

fn frontend(binds: &str, extra: &str) -> HaproxyConfig {
    config(&format!(
        "defaults\n    mode tcp\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n\
         frontend fe\n{binds}{extra}    default_backend be\nbackend be\n    server s 127.0.0.1:9\n"
    ))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn freebind_listens_on_an_address_the_namespace_does_not_have() {
    if !common::can_run("listeners") {
        return;
    }
    let ns = Ns::new();
    // The VIP's subnet is routed (as on a backup node) but the address is not there.
    // (A veth pair inside the namespace: this kernel has no dummy interfaces.)
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "d0"]);
    ns.ip(&["addr", "add", "2001:db8::1/64", "dev", "d0", "nodad"]);
    ns.ip(&["link", "set", "d0", "up"]);
    ns.ip(&["link", "set", "d1", "up"]);
    let cfg = frontend(
        "    bind 192.0.2.50:8080\n    bind [2001:db8::50]:8080\n",
        "",
    );
    ns.enter(|| {
        // Without IP_FREEBIND the kernel refuses (ip_nonlocal_bind is 0 in a new netns).
        let plain = StdListener::bind("192.0.2.50:8080").unwrap_err();
        assert_eq!(plain.raw_os_error(), Some(nix::libc::EADDRNOTAVAIL));
        let plans = plan_listeners(cfg.proxy("fe").unwrap(), None).unwrap();
        for plan in &plans {
            let socket = open_listener(plan).unwrap();
            let ListenSource::Bind(addr) = plan.source else {
                panic!("{plan:?}")
            };
            assert_eq!(socket.local_addr().unwrap(), addr);
        }
        // Once the VIP arrives, the listener that was already there accepts on it.
        let socket = open_listener(&plans[0]).unwrap();
        run(&["ip", "addr", "add", "192.0.2.50/32", "dev", "d0"]);
        let _client = StdStream::connect("192.0.2.50:8080").unwrap();
        let (_, peer) = socket.accept().unwrap();
        assert_eq!(peer.ip().to_string(), "192.0.2.50");
    });
}

fn run(args: &[&str]) -> String {
    common::run(args)
}

#[test]
fn port_ranges_wildcards_and_dual_stack_ipv6() {
    if !common::can_run("listeners") {
        return;
    }
    let ns = Ns::new();
    let cfg = frontend(
        "    bind 127.0.0.1:8101-8102\n    bind :::8103\n    bind *:8104\n",
        "",
    );
    ns.enter(|| {
        let plans = plan_listeners(cfg.proxy("fe").unwrap(), None).unwrap();
        let sockets: Vec<StdListener> = plans.iter().map(|p| open_listener(p).unwrap()).collect();
        let addrs: Vec<SocketAddr> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
        assert_eq!(
            addrs,
            [
                "127.0.0.1:8101",
                "127.0.0.1:8102",
                "[::]:8103",
                "0.0.0.0:8104"
            ]
            .map(|a| a.parse::<SocketAddr>().unwrap())
        );
        // `:::8103` takes IPv4 clients too (IPV6_V6ONLY left at the system's 0).
        for target in [
            "127.0.0.1:8103",
            "[::1]:8103",
            "127.0.0.1:8101",
            "127.0.0.1:8104",
        ] {
            StdStream::connect(target).unwrap();
        }
        // SO_REUSEPORT as HAProxy sets it: a second process (here: socket) can bind the
        // same address, which is how a reload hands over.
        let again = open_listener(&plans[0]).unwrap();
        assert_eq!(again.local_addr().unwrap(), addrs[0]);
    });
}

#[test]
fn v6only_refuses_ipv4_clients() {
    if !common::can_run("listeners") {
        return;
    }
    let ns = Ns::new();
    let cfg = frontend("    bind :::8105 v6only\n", "");
    ns.enter(|| {
        let plans = plan_listeners(cfg.proxy("fe").unwrap(), None).unwrap();
        let _socket = open_listener(&plans[0]).unwrap();
        assert!(StdStream::connect("127.0.0.1:8105").is_err());
        StdStream::connect("[::1]:8105").unwrap();
    });
}

#[test]
fn fd_at_n_uses_the_inherited_socket() {
    if !common::can_run("listeners") {
        return;
    }
    let ns = Ns::new();
    ns.enter(|| {
        let inherited = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = inherited.local_addr().unwrap();
        let fd = inherited.into_raw_fd();
        let cfg = frontend(&format!("    bind fd@{fd}\n"), "");
        let plans = plan_listeners(cfg.proxy("fe").unwrap(), None).unwrap();
        assert_eq!(plans[0].source, ListenSource::InheritedFd(fd));
        let socket = open_listener(&plans[0]).unwrap();
        assert_eq!(socket.local_addr().unwrap(), addr);
        let _client = StdStream::connect(addr).unwrap();
        socket.set_nonblocking(false).unwrap();
        socket.accept().unwrap();
        // The same descriptor cannot be owned twice; a closed one is refused.
        assert!(open_listener(&plans[0]).is_err());
        let closed = ListenerPlan {
            source: ListenSource::InheritedFd(999),
            ..plans[0].clone()
        };
        assert!(open_listener(&closed).is_err());
        // A descriptor that is not a socket is refused too.
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let not_socket = ListenerPlan {
            source: ListenSource::InheritedFd(file.into_raw_fd()),
            ..plans[0].clone()
        };
        assert!(open_listener(&not_socket).is_err());
    });
}

#[test]
fn maxconn_leaves_the_excess_in_the_backlog() {
    if !common::can_run("listeners") {
        return;
    }
    let ns = Ns::new();
    let cfg = frontend("    bind 127.0.0.1:8106\n", "    maxconn 1\n");
    ns.enter(|| {
        rt().block_on(async {
            let fe = cfg.proxy("fe").unwrap();
            let plan = plan_listeners(fe, None).unwrap().remove(0);
            assert_eq!(
                plan.backlog, 1,
                "backlog falls back to the frontend's maxconn"
            );
            let frontend_limit = ConnLimit::new(fe.settings.maxconn);
            let listener = Listener::new(
                open_listener(&plan).unwrap(),
                plan,
                frontend_limit.clone(),
                ConnLimit::new(None),
            )
            .unwrap();
            let mut first = StdStream::connect("127.0.0.1:8106").unwrap();
            let held = listener.accept().await.unwrap();
            assert_eq!(frontend_limit.current(), 1);
            // The kernel completes the second handshake (backlog) but we do not accept.
            let mut second = StdStream::connect("127.0.0.1:8106").unwrap();
            let waiting = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
            assert!(waiting.is_err(), "accepted beyond maxconn");
            second.write_all(b"queued").unwrap();
            drop(held);
            let mut next = listener.accept().await.unwrap();
            let mut buf = [0u8; 6];
            tokio::io::AsyncReadExt::read_exact(&mut next.stream, &mut buf)
                .await
                .unwrap();
            assert_eq!(
                &buf, b"queued",
                "the queued client is the one accepted next"
            );
            first.write_all(b"x").unwrap();
            let _ = first.read(&mut [0u8; 1]);
        });
    });
}
