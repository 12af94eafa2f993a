//! Unit tests of the balancers on hand-made backends. The sequences HAProxy itself
//! produces are checked against the real haproxy in `tests/balance_vs_haproxy.rs`.

use std::time::Duration;

use super::*;

/// The first backend of a configuration made of `cfg` under a plain `defaults`.
pub(crate) fn backend(cfg: &str) -> Proxy {
    let text = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n{cfg}"
    );
    load_config(&text)
        .proxies
        .into_iter()
        .find(|p| p.kind.has_backend())
        .expect("a backend")
}

/// `text` loaded as a haproxy.cfg (through a temporary file); it must be valid.
pub(crate) fn load_config(text: &str) -> haproxy_conf::model::HaproxyConfig {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "proxy-engine-balance-{}-{}.cfg",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, text).expect("write cfg");
    let env = std::collections::BTreeMap::<String, String>::new();
    let options = haproxy_conf::LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &haproxy_conf::NoResolver,
        accounts: &haproxy_conf::host::AnyAccounts,
        host_files: false,
    };
    let loaded = haproxy_conf::load(std::slice::from_ref(&path), &options);
    let _ = std::fs::remove_file(&path);
    assert!(
        matches!(loaded.outcome, haproxy_conf::Outcome::Valid { .. }),
        "{:?}",
        loaded.diagnostics
    );
    loaded.config
}

fn names(b: &mut Balancer, n: usize, req: &RequestInfo<'_>) -> Vec<String> {
    (0..n)
        .map(|_| match b.pick(req, None, Duration::ZERO) {
            Pick::Server(id) => {
                b.release(id, Duration::ZERO);
                b.server_name(id).to_string()
            }
            other => format!("{other:?}"),
        })
        .collect()
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn get(uri: &str) -> RequestInfo<'_> {
    RequestInfo {
        uri: Some(uri.as_bytes()),
        ..RequestInfo::default()
    }
}

#[test]
fn roundrobin_sequence_of_the_notes() {
    // ../shared/reference/NOTES.md: weights 3/1/2 served `a c a b a c` repeating
    // (re-checked against haproxy by tests/balance_vs_haproxy.rs for other weights).
    let mut b = Balancer::new(
        &backend("backend be\n  server a 127.0.0.1:1 weight 3\n  server b 127.0.0.1:2 weight 1\n  server c 127.0.0.1:3 weight 2\n"),
        1,
    )
    .unwrap();
    assert_eq!(
        names(&mut b, 12, &get("/")).join(" "),
        "a c a b a c a c a b a c"
    );
}

#[test]
fn full_servers_queue_and_a_release_hands_the_slot_over() {
    let mut b = Balancer::new(
        &backend(
            "backend be\n  server a 127.0.0.1:1 maxconn 1\n  server b 127.0.0.1:2 maxconn 1\n",
        ),
        1,
    )
    .unwrap();
    let r = get("/");
    assert_eq!(b.pick(&r, None, ms(0)), Pick::Server(ServerId(0)));
    assert_eq!(b.pick(&r, None, ms(0)), Pick::Server(ServerId(1)));
    let Pick::Queued(t1) = b.pick(&r, None, ms(1)) else {
        panic!("not queued")
    };
    let Pick::Queued(t2) = b.pick(&r, None, ms(2)) else {
        panic!("not queued")
    };
    assert_eq!(b.queued(), 2);
    // The oldest waiting connection gets the freed slot.
    assert_eq!(
        b.release(ServerId(1), ms(3)),
        vec![Dequeued {
            ticket: t1,
            server: ServerId(1),
            // First in the backend queue.
            position: QueuePosition {
                server_queue: 0,
                backend_queue: 1
            }
        }]
    );
    assert_eq!(b.served(ServerId(1)), 1);
    // timeout connect (1s) stands in for the unset timeout queue.
    assert_eq!(b.next_deadline(ms(0)), Some(ms(1002)));
    assert!(b.expire_queue(ms(1001)).is_empty());
    // One connection left the backend queue with a slot while t2 waited.
    assert_eq!(
        b.expire_queue(ms(1002)),
        vec![(
            t2,
            QueuePosition {
                server_queue: 0,
                backend_queue: 2
            }
        )]
    );
    assert_eq!(b.queued(), 0);
}

#[test]
fn tallies_count_choices_peaks_and_queues_as_the_stats_page_reads_them() {
    let mut b = Balancer::new(
        &backend(
            "backend be\n  server a 127.0.0.1:1 maxconn 1\n  server b 127.0.0.1:2 maxconn 1\n",
        ),
        1,
    )
    .unwrap();
    let r = get("/");
    let secs = Duration::from_secs;
    assert_eq!(b.pick(&r, None, ms(0)), Pick::Server(ServerId(0)));
    assert_eq!(b.pick(&r, None, ms(0)), Pick::Server(ServerId(1)));
    b.connection_opened(ServerId(0));
    assert!(matches!(b.pick(&r, None, ms(0)), Pick::Queued(_)));
    assert!(matches!(b.pick(&r, None, ms(0)), Pick::Queued(_)));
    // The dequeued session was not chosen by the algorithm: `lbtot` stays.
    b.release(ServerId(0), ms(1));
    // A persistence cookie's direct pick is not a choice either.
    b.release(ServerId(1), ms(1));
    let _ = b.pick_direct(ServerId(1), ms(2));
    let be = b.backend_tallies(secs(5));
    assert_eq!((be.lbtot, be.smax, be.qmax), (2, 4, 2));
    let a = b.server_tallies(ServerId(0), secs(5));
    assert_eq!((a.lbtot, a.smax, a.qmax), (1, 1, 0));
    // Never changed: the age is the balancer's.
    assert_eq!((a.lastchg, a.downtime), (5, 0));
}

#[test]
fn downtime_and_backend_down_transitions_follow_srv_update_status() {
    let mut b = Balancer::new(
        &backend("backend be\n  server a 127.0.0.1:1\n  server b 127.0.0.1:2\n"),
        1,
    )
    .unwrap();
    let secs = Duration::from_secs;
    b.set_stopped(ServerId(0), secs(10));
    b.set_stopped(ServerId(1), secs(12));
    // Down for 4 s so far, counted while it lasts.
    assert_eq!(b.server_tallies(ServerId(0), secs(14)).downtime, 4);
    let be = b.backend_tallies(secs(14));
    assert_eq!((be.down_transitions, be.lastchg, be.downtime), (1, 2, 2));
    b.set_running(ServerId(1), secs(15));
    let be = b.backend_tallies(secs(20));
    assert_eq!((be.down_transitions, be.lastchg, be.downtime), (1, 5, 3));
    assert_eq!(b.server_tallies(ServerId(1), secs(20)).downtime, 3);
    // Maintenance counts while it lasts, and is not added when it ends.
    b.set_maintenance(ServerId(1), true, secs(20));
    assert_eq!(b.server_tallies(ServerId(1), secs(22)).downtime, 5);
    b.set_maintenance(ServerId(1), false, secs(22));
    assert_eq!(b.server_tallies(ServerId(1), secs(30)).downtime, 3);
    // Leaving drain adds the drained time.
    b.set_drain(ServerId(1), true, secs(30));
    b.set_drain(ServerId(1), false, secs(33));
    assert_eq!(b.server_tallies(ServerId(1), secs(40)).downtime, 6);
}

#[test]
fn a_hashed_server_with_a_full_queue_refuses() {
    let mut b = Balancer::new(
        &backend("backend be\n  balance uri\n  timeout queue 5s\n  server a 127.0.0.1:1 maxconn 1 maxqueue 1\n  server b 127.0.0.1:2 maxconn 1 maxqueue 1\n"),
        1,
    )
    .unwrap();
    let r = get("/same");
    let Pick::Server(first) = b.pick(&r, None, ms(0)) else {
        panic!("no server")
    };
    assert!(matches!(b.pick(&r, None, ms(0)), Pick::Queued(_)));
    assert_eq!(b.pick(&r, None, ms(0)), Pick::QueueFull(first));
    assert_eq!(b.next_deadline(ms(0)), Some(ms(5000)));
}

#[test]
fn queue_positions_count_the_slots_handed_out_meanwhile() {
    // queue.c: `%sq` is the server queue's dequeue count when the connection leaves, minus
    // the count when it joined, plus one; expiring or giving up does not move the count.
    // The real haproxy 2.6.12 logs by this rule in ha-compat's tests/queue_reference.rs
    // (`0/2` for a session that gave up after one other got the slot).
    let mut b = Balancer::new(
        &backend(
            "backend be\n  balance uri\n  timeout queue 5s\n  server a 127.0.0.1:1 maxconn 1\n",
        ),
        1,
    )
    .unwrap();
    let r = get("/same");
    let at = |server_queue| QueuePosition {
        server_queue,
        backend_queue: 0,
    };
    let Pick::Server(a) = b.pick(&r, None, ms(0)) else {
        panic!("no server")
    };
    let Pick::Queued(t1) = b.pick(&r, None, ms(0)) else {
        panic!("not queued")
    };
    assert_eq!(b.queued_on(t1), Some(a));
    let Pick::Queued(t2) = b.pick(&r, None, ms(0)) else {
        panic!("not queued")
    };
    let Pick::Queued(t3) = b.pick(&r, None, ms(1)) else {
        panic!("not queued")
    };
    assert_eq!(b.cancel(t2), at(1));
    assert_eq!(b.cancel(t2), QueuePosition::default());
    let handed = b.release(a, ms(2));
    assert_eq!(handed.len(), 1);
    assert_eq!((handed[0].ticket, handed[0].position), (t1, at(1)));
    // t1 got a slot while t3 waited.
    assert_eq!(b.expire_queue(ms(5001)), vec![(t3, at(2))]);
}

#[test]
fn no_usable_server() {
    let mut b = Balancer::new(&backend("backend be\n  server a 127.0.0.1:1\n"), 1).unwrap();
    let ch = b.set_stopped(ServerId(0), ms(0)).unwrap();
    assert!(ch.backend_down);
    assert_eq!((ch.active_servers, ch.backup_servers), (0, 0));
    assert_eq!(b.pick(&get("/"), None, ms(0)), Pick::NoServer);
    // Already down: no second change.
    assert!(b.set_stopped(ServerId(0), ms(0)).is_none());
    let up = b.set_running(ServerId(0), ms(5)).unwrap();
    assert_eq!(up.active_servers, 1);
    assert_eq!(b.pick(&get("/"), None, ms(5)), Pick::Server(ServerId(0)));
}

/// `sessions active` in a DOWN line is HAProxy's `cur_sess`: connections being made or
/// established. A session between two connect attempts keeps its slot (`served`) but is
/// not counted (backend.c `back_handle_st_cer()` decrements `cur_sess` on a failed
/// attempt); the seed 004 lab showed the reference logging `0 sessions active` while its
/// clients were retrying against the refused server.
#[test]
fn sessions_active_counts_connections_not_slots() {
    let mut b = Balancer::new(
        &backend("backend be\n  server a 127.0.0.1:1\n  server b 127.0.0.1:2\n"),
        1,
    )
    .unwrap();
    let r = get("/");
    assert_eq!(b.pick(&r, None, ms(0)), Pick::Server(ServerId(0)));
    assert_eq!(b.pick(&r, None, ms(0)), Pick::Server(ServerId(1)));
    assert_eq!(b.pick(&r, None, ms(0)), Pick::Server(ServerId(0)));
    // Two attempts on a: one refused (waiting to retry), one established.
    b.connection_opened(ServerId(0));
    b.connection_closed(ServerId(0));
    b.connection_opened(ServerId(0));
    let down = b.set_stopped(ServerId(0), ms(1)).unwrap();
    assert_eq!(b.served(ServerId(0)), 2);
    assert_eq!(down.sessions_active, 1);
}

#[test]
fn slowstart_ramps_the_weight_by_the_second() {
    let mut b = Balancer::new(
        &backend(
            "backend be\n  server a 127.0.0.1:1\n  server b 127.0.0.1:2 weight 10 slowstart 10s\n",
        ),
        1,
    )
    .unwrap();
    // At startup a server is up at full weight: no ramp.
    assert_eq!(b.weight(ServerId(1)), (10, 10));
    let s = Duration::from_secs;
    b.set_stopped(ServerId(1), s(100));
    b.set_running(ServerId(1), s(200));
    assert_eq!(b.state(ServerId(1)), ServerState::Starting);
    // (16 * 0 + 10) / 10 = 1 sixteenth of the weight: 10 * 1 / 16 -> shown as 1.
    assert_eq!(b.weight(ServerId(1)), (10, 1));
    assert_eq!(b.next_deadline(s(200)), Some(s(201)));
    b.refresh(s(205));
    // (16 * 5 + 10) / 10 = 9 -> eweight 90, shown ceil(90 / 16) = 6.
    assert_eq!(b.weight(ServerId(1)), (10, 6));
    b.refresh(s(210));
    assert_eq!(b.weight(ServerId(1)), (10, 10));
    assert_eq!(b.state(ServerId(1)), ServerState::Running);
    assert_eq!(b.next_deadline(s(210)), None);
}

#[test]
fn static_algorithms_take_only_zero_or_the_initial_weight() {
    let mut b = Balancer::new(
        &backend("backend be\n  balance static-rr\n  server a 127.0.0.1:1 weight 3\n"),
        1,
    )
    .unwrap();
    assert!(b.set_weight(ServerId(0), 2, ms(0)).is_err());
    assert!(b.set_weight(ServerId(0), 0, ms(0)).is_ok());
    assert_eq!(b.pick(&get("/"), None, ms(0)), Pick::NoServer);
    assert!(b.set_weight(ServerId(0), 3, ms(0)).is_ok());
    assert_eq!(b.pick(&get("/"), None, ms(0)), Pick::Server(ServerId(0)));
    let mut d =
        Balancer::new(&backend("backend be\n  server a 127.0.0.1:1 weight 3\n"), 1).unwrap();
    assert!(d.set_weight(ServerId(0), 257, ms(0)).is_err());
    assert!(d.set_weight(ServerId(0), 256, ms(0)).is_ok());
}

#[test]
fn random_only_picks_usable_servers_in_proportion() {
    let mut b = Balancer::new(
        &backend("backend be\n  balance random\n  server a 127.0.0.1:1 weight 1\n  server b 127.0.0.1:2 weight 3\n  server c 127.0.0.1:3 weight 2\n"),
        12345,
    )
    .unwrap();
    b.set_maintenance(ServerId(2), true, ms(0));
    let mut counts = [0u32; 3];
    for _ in 0..4000 {
        match b.pick(&get("/"), None, ms(0)) {
            Pick::Server(id) => {
                counts[id.0] += 1;
                b.release(id, ms(0));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(counts[2], 0, "a server in maintenance was picked");
    // Weight 1 vs 3: a quarter for `a`, loosely (ring points are not perfectly even).
    assert!((600..1400).contains(&counts[0]), "{counts:?}");
}

#[test]
fn random_prefers_the_less_loaded_of_two_draws() {
    let mut b = Balancer::new(
        &backend(
            "backend be\n  balance random(2)\n  server a 127.0.0.1:1\n  server b 127.0.0.1:2\n",
        ),
        7,
    )
    .unwrap();
    // Hold every connection: with two draws the loads can never drift far apart.
    for _ in 0..200 {
        assert!(matches!(b.pick(&get("/"), None, ms(0)), Pick::Server(_)));
    }
    let (a, c) = (b.served(ServerId(0)), b.served(ServerId(1)));
    assert!(a.abs_diff(c) <= 20, "{a} vs {c}");
}

#[test]
fn hashing_without_a_key_falls_back_to_round_robin() {
    let mut b = Balancer::new(
        &backend("backend be\n  balance url_param user\n  server a 127.0.0.1:1\n  server b 127.0.0.1:2\n"),
        1,
    )
    .unwrap();
    assert_eq!(names(&mut b, 4, &get("/nothing")).join(" "), "a b a b");
    let fixed = names(&mut b, 3, &get("/p?user=bob"));
    assert!(fixed.iter().all(|n| n == &fixed[0]));
}

#[test]
fn retries_avoid_the_previous_server_when_possible() {
    let mut b = Balancer::new(
        &backend(
            "backend be\n  balance leastconn\n  server a 127.0.0.1:1\n  server b 127.0.0.1:2\n",
        ),
        1,
    )
    .unwrap();
    assert_eq!(
        b.pick(&get("/"), Some(ServerId(0)), ms(0)),
        Pick::Server(ServerId(1))
    );
    b.set_maintenance(ServerId(1), true, ms(0));
    // Alone: the avoided server is taken anyway.
    assert_eq!(
        b.pick(&get("/"), Some(ServerId(0)), ms(0)),
        Pick::Server(ServerId(0))
    );
}

mod props {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Pick(u8, Option<u8>),
        Release(u8),
        Weight(u8, u16),
        Down(u8),
        Up(u8),
        Maint(u8, bool),
        Tick(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), proptest::option::of(any::<u8>())).prop_map(|(k, a)| Op::Pick(k, a)),
            3 => any::<u8>().prop_map(Op::Release),
            1 => (any::<u8>(), 0u16..300).prop_map(|(s, w)| Op::Weight(s, w)),
            1 => any::<u8>().prop_map(Op::Down),
            1 => any::<u8>().prop_map(Op::Up),
            1 => (any::<u8>(), any::<bool>()).prop_map(|(s, m)| Op::Maint(s, m)),
            1 => (0u16..5000).prop_map(Op::Tick),
        ]
    }

    const ALGOS: [&str; 10] = [
        "roundrobin",
        "static-rr",
        "leastconn",
        "first",
        "random",
        "source",
        "uri",
        "uri\n  hash-type consistent",
        "url_param k\n  hash-type consistent djb2",
        "hdr(x)",
    ];

    fn balancers() -> Vec<Balancer> {
        ALGOS
            .iter()
            .map(|algo| {
                let cfg = format!(
                    "backend be\n  balance {algo}\n  timeout queue 2s\n  server a 127.0.0.1:1 weight 3 maxconn 2\n  server b 127.0.0.1:2 weight 1 slowstart 3s\n  server c 127.0.0.1:3 weight 2 backup maxconn 1 maxqueue 2\n  server d 127.0.0.1:4 weight 5 backup\n  server e 127.0.0.1:5 weight 0\n"
                );
                Balancer::new(&backend(&cfg), 9).unwrap()
            })
            .collect()
    }

    /// What must hold whatever happened: the counters match the servers' states and the
    /// weight the algorithm balances over.
    fn check_invariants(b: &Balancer) {
        let usable: Vec<&Srv> = b.srvs.iter().filter(|s| s.currently_usable()).collect();
        assert_eq!(
            b.prm.srv_act as usize,
            usable.iter().filter(|s| !s.backup).count()
        );
        assert_eq!(
            b.prm.srv_bck as usize,
            usable.iter().filter(|s| s.backup).count()
        );
        let wact: u32 = usable
            .iter()
            .filter(|s| !s.backup)
            .map(|s| s.cur_eweight)
            .sum();
        assert_eq!(b.prm.tot_wact, wact);
        if b.prm.srv_act > 0 {
            assert_eq!(b.prm.tot_weight, wact);
        }
        for s in &b.srvs {
            assert!(s.cur_eweight <= MAX_WEIGHT * BE_WEIGHT_SCALE);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn no_panic_and_counters_stay_consistent(ops in proptest::collection::vec(op(), 1..120)) {
            for mut b in balancers() {
                let n = b.server_count();
                let mut now = Duration::from_secs(10);
                let mut held: Vec<ServerId> = Vec::new();
                for op in &ops {
                    match op {
                        Op::Pick(k, avoid) => {
                            let uri = format!("/p{k}?k={k}");
                            let hv = [*k];
                            let req = RequestInfo {
                                source: Some(IpAddr::from([10, 0, 0, *k])),
                                uri: Some(uri.as_bytes()),
                                header: Some(&hv),
                                post_body: None,
                            };
                            if let Pick::Server(id) = b.pick(&req, avoid.map(|a| ServerId(a as usize % n)), now) {
                                let s = &b.srvs[id.0];
                                prop_assert!(s.currently_usable(), "picked an unusable server");
                                held.push(id);
                            }
                        }
                        Op::Release(i) => {
                            if !held.is_empty() {
                                let id = held.remove(*i as usize % held.len());
                                for d in b.release(id, now) {
                                    held.push(d.server);
                                }
                            }
                        }
                        Op::Weight(s, w) => {
                            let _ = b.set_weight(ServerId(*s as usize % n), *w as u32, now);
                        }
                        Op::Down(s) => {
                            if let Some(ch) = b.set_stopped(ServerId(*s as usize % n), now) {
                                prop_assert!(ch.redispatch.is_empty());
                            }
                        }
                        Op::Up(s) => {
                            if let Some(ch) = b.set_running(ServerId(*s as usize % n), now) {
                                held.extend(ch.dequeued.iter().map(|d| d.server));
                            }
                        }
                        Op::Maint(s, on) => {
                            if let Some(ch) = b.set_maintenance(ServerId(*s as usize % n), *on, now) {
                                held.extend(ch.dequeued.iter().map(|d| d.server));
                            }
                        }
                        Op::Tick(d) => {
                            now += Duration::from_millis(*d as u64);
                            b.refresh(now);
                            let _ = b.expire_queue(now);
                        }
                    }
                    check_invariants(&b);
                }
            }
        }
    }
}
