//! The pool's rules on the sequences measured on haproxy 2.6.12 (`nbthread 1`, one
//! server; the web numbered its connections): each test names the reference run.

use super::*;

/// A connection: its number as the web would count it.
type Conn = u32;

/// Plays requests the way a session runs them: take (or open a new connection), then
/// put back after the response. Returns the connection each request used.
struct Sim {
    pool: ServerPool<(), Conn>,
    mode: ReuseMode,
    next: Conn,
    now: Instant,
    closed: Vec<Conn>,
}

impl Sim {
    fn new(mode: ReuseMode, limits: PoolLimits) -> Sim {
        Sim {
            pool: ServerPool::new(limits),
            mode,
            next: 1,
            now: Instant::now(),
            closed: Vec::new(),
        }
    }

    /// Starts a request: `(connection, reused)`.
    fn start(&mut self, first: bool) -> (Conn, bool) {
        let request = if first {
            Eligibility::FirstRequest
        } else {
            Eligibility::Later
        };
        let mut dead = Vec::new();
        if let Some(c) = self.pool.take(self.mode, request, &(), |_| true, &mut dead) {
            return (c, true);
        }
        self.pool.opened();
        let c = self.next;
        self.next += 1;
        (c, false)
    }

    fn finish(&mut self, (conn, reused): (Conn, bool)) {
        if let Err(c) = self.pool.put((), conn, reused, self.now) {
            self.closed.push(c);
        }
    }

    /// One whole request.
    fn request(&mut self, first: bool) -> Conn {
        let c = self.start(first);
        self.finish(c);
        c.0
    }

    fn advance(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        let closed = self.pool.purge(self.now);
        self.closed.extend(closed);
    }
}

#[test]
fn safe_a_second_client_s_later_requests_take_the_first_client_s_connection() {
    // Reference: a: /1 /2, close; b: /3 /4 /5 -> web c1 c1 c2 (closed at once) c1 c1.
    let mut sim = Sim::new(ReuseMode::Safe, PoolLimits::default());
    let used = [
        sim.request(true),
        sim.request(false),
        sim.request(true),
        sim.request(false),
        sim.request(false),
    ];
    assert_eq!(used, [1, 1, 2, 1, 1]);
    assert_eq!(sim.closed, vec![2]);
}

#[test]
fn always_and_aggressive_first_requests() {
    // Reference, a: /1, close; b: /3 /4. always: c1 c1 c1; aggressive: c1 c2 (closed
    // at once) c1: c1 served one request only, so it is not safe yet.
    for (mode, expected, closed) in [
        (ReuseMode::Always, [1, 1, 1], vec![]),
        (ReuseMode::Aggressive, [1, 2, 1], vec![2]),
    ] {
        let mut sim = Sim::new(mode, PoolLimits::default());
        let used = [sim.request(true), sim.request(true), sim.request(false)];
        assert_eq!((used, &sim.closed), (expected, &closed), "{mode:?}");
    }
    // Once c1 served two requests, aggressive gives it to a first request (reference:
    // a: /1 /2; b: /3 -> c1 c1 c1).
    let mut sim = Sim::new(ReuseMode::Aggressive, PoolLimits::default());
    let used = [sim.request(true), sim.request(false), sim.request(true)];
    assert_eq!(used, [1, 1, 1]);
}

#[test]
fn pool_max_conn_zero_closes_every_connection_after_its_response() {
    // Reference: every request on a connection of its own, closed after the response.
    let limits = PoolLimits {
        max_idle: Some(0),
        ..PoolLimits::default()
    };
    let mut sim = Sim::new(ReuseMode::Safe, limits);
    let used = [sim.request(true), sim.request(false), sim.request(false)];
    assert_eq!(used, [1, 2, 3]);
    assert_eq!(sim.closed, vec![1, 2, 3]);
}

#[test]
fn pool_max_conn_one() {
    // Reference: a /1 /2, b /3, a /4, b /5, a closes, b /6, c /7 /8 ->
    // c1 c1 c2 (closed) c1 c1 c1 c3 (closed) c1.
    let limits = PoolLimits {
        max_idle: Some(1),
        ..PoolLimits::default()
    };
    let mut sim = Sim::new(ReuseMode::Safe, limits);
    let used = [
        sim.request(true),
        sim.request(false),
        sim.request(true),
        sim.request(false),
        sim.request(false),
        sim.request(false),
        sim.request(true),
        sim.request(false),
    ];
    assert_eq!(used, [1, 1, 2, 1, 1, 1, 3, 1]);
    assert_eq!(sim.closed, vec![2, 3]);
}

#[test]
fn purge_closes_an_unneeded_connection_on_the_third_pass() {
    // Reference (pool-purge-delay 500ms): a: /1 at 0, /2 at 0.3; b: /3 /4 at 1.0-1.3;
    // c1 closed by the purge at 2.5; c: /5 /6 at 2.6-2.9 on c3, closed at 4.0.
    let limits = PoolLimits {
        purge_delay: Duration::from_millis(500),
        ..PoolLimits::default()
    };
    let mut sim = Sim::new(ReuseMode::Safe, limits);
    assert_eq!(sim.request(true), 1);
    sim.advance(300);
    assert_eq!(sim.request(false), 1);
    sim.advance(200); // 0.5: first pass, nothing in excess
    sim.advance(500); // 1.0
    assert_eq!(sim.request(true), 2);
    assert_eq!(sim.closed, vec![2]);
    sim.advance(300);
    assert_eq!(sim.request(false), 1);
    sim.advance(200); // 1.5
    sim.advance(500); // 2.0
    assert_eq!(sim.closed, vec![2]);
    sim.advance(500); // 2.5
    assert_eq!(sim.closed, vec![2, 1]);
    assert_eq!(sim.pool.idle_count(), 0);
    sim.advance(100); // 2.6
    assert_eq!(sim.request(true), 3);
    sim.advance(300);
    assert_eq!(sim.request(false), 3);
    sim.advance(100); // 3.0
    sim.advance(500); // 3.5
    assert_eq!(sim.pool.idle_count(), 1);
    sim.advance(500); // 4.0
    assert_eq!(sim.closed, vec![2, 1, 3]);
    // Nothing pooled: the next pass takes the server out of the purge tree.
    sim.advance(500);
    assert_eq!(sim.pool.purge_at(), None);
}

#[test]
fn oldest_first_in_each_list() {
    // Reference: a and b concurrently (c1, c2; c1 answered first), then c, d, e one
    // after the other with two requests each -> c: c3 (closed) c1; d: c4 (closed) c2;
    // e: c5 (closed) c1.
    let mut sim = Sim::new(ReuseMode::Safe, PoolLimits::default());
    let a = sim.start(true);
    let b = sim.start(true);
    sim.finish(a);
    sim.finish(b);
    assert!(sim.closed.is_empty());
    let used = [
        sim.request(true),
        sim.request(false),
        sim.request(true),
        sim.request(false),
        sim.request(true),
        sim.request(false),
    ];
    assert_eq!(used, [3, 1, 4, 2, 5, 1]);
    assert_eq!(sim.closed, vec![3, 4, 5]);
}

#[test]
fn purge_delay_zero_keeps_nothing_and_never_shares() {
    let limits = PoolLimits {
        purge_delay: Duration::ZERO,
        ..PoolLimits::default()
    };
    let mut sim = Sim::new(ReuseMode::Safe, limits);
    assert_eq!([sim.request(true), sim.request(false)], [1, 2]);
    let mut never = Sim::new(ReuseMode::Never, PoolLimits::default());
    never.pool.put((), 7, true, never.now).unwrap();
    assert_eq!(never.start(false), (1, false));
}

#[test]
fn dead_candidates_are_skipped_and_handed_back() {
    let mut pool: ServerPool<(), Conn> = ServerPool::new(PoolLimits::default());
    let now = Instant::now();
    for _ in [1, 2] {
        pool.opened();
    }
    pool.put((), 1, false, now).unwrap();
    pool.put((), 2, false, now).unwrap();
    let mut dead = Vec::new();
    let got = pool.take(
        ReuseMode::Safe,
        Eligibility::Later,
        &(),
        |c| *c != 1,
        &mut dead,
    );
    assert_eq!((got, dead), (Some(2), vec![1]));
    assert_eq!((pool.idle_count(), pool.used_count()), (0, 1));
}

#[test]
fn an_excess_of_minus_one_still_purges_as_the_c_arithmetic_does() {
    // used 1, idle 1, estimated need 3: exceed = -1, `-1 / 2 + (-1 & 1)` = 1, so up to
    // two idle connections go.
    let mut pool: ServerPool<(), Conn> = ServerPool::new(PoolLimits::default());
    let now = Instant::now();
    for _ in 0..3 {
        pool.opened();
    }
    pool.put((), 1, true, now).unwrap();
    pool.closed();
    assert_eq!((pool.used_count(), pool.idle_count()), (1, 1));
    let closed = pool.purge(now + Duration::from_secs(5));
    assert_eq!(closed, vec![1]);
}

#[test]
fn retry_on_words() {
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    assert!(!retries_make_reuse_safe(&words("conn-failure")));
    assert!(retries_make_reuse_safe(&words(
        "conn-failure empty-response response-timeout"
    )));
    assert!(retries_make_reuse_safe(&words("all-retryable-errors")));
}

#[test]
fn only_a_request_with_the_same_parameters_takes_a_connection() {
    // `send-proxy`: the PROXY line (the client's addresses) is part of the hash.
    let mut pool: ServerPool<&str, Conn> = ServerPool::new(PoolLimits::default());
    let now = Instant::now();
    pool.opened();
    pool.opened();
    pool.put("client a", 1, true, now).unwrap();
    pool.put("client b", 2, true, now).unwrap();
    let mut dead = Vec::new();
    let mut take = |key| {
        pool.take(
            ReuseMode::Always,
            Eligibility::Later,
            &key,
            |_| true,
            &mut dead,
        )
    };
    assert_eq!(take("client c"), None);
    assert_eq!(take("client b"), Some(2));
    assert_eq!(take("client a"), Some(1));
}
