//! Load balancing as HAProxy 2.6 does it, sans IO: which server the next connection goes
//! to, the per-server `maxconn` slots, the backend and server queues, and the effect of
//! servers going up, down, into maintenance or changing weight. Time is injected.
//!
//! One file per lookup structure, each a transcription of HAProxy's: `fwrr.rs`
//! (`roundrobin`, `lb_fwrr.c`), `map.rs` (`static-rr` and map-based hashing, `lb_map.c`),
//! `fwlc.rs` (`leastconn`, `lb_fwlc.c`), `fas.rs` (`first`, `lb_fas.c`), `chash.rs`
//! (`hash-type consistent` and `random`, `lb_chash.c`); `hash.rs` holds the hash
//! functions and key extraction of `backend.c`, `tree.rs` the ebtree ordering they rely on.
//! This file is `backend.c`'s `assign_server()`/`assign_server_and_queue()`, the
//! queue of `queue.c` and the state/weight commits of `server.c`.
//!
//! How the runtime uses it:
//! - [`Balancer::pick`] for every new connection (or retry, with `avoid` = the previous
//!   server). [`Pick::Server`] takes a slot on that server: call [`Balancer::release`]
//!   when the connection ends; it returns the queued connections that got a slot.
//! - [`Pick::Queued`]: wait; [`Balancer::expire_queue`] (at [`Balancer::next_deadline`])
//!   returns the tickets whose `timeout queue` ran out: answer 503, termination `sQ`.
//!   Every way out of a queue says where the connection stood ([`QueuePosition`],
//!   the tcplog line's `%sq/%bq`).
//!   [`Pick::QueueFull`] (server `maxqueue` reached) is answered the same way at once.
//!   [`Pick::NoServer`]: 503 `SC`.
//! - Health checks call [`Balancer::set_running`] / [`Balancer::set_stopped`]; the
//!   [`StateChange`] they return carries the counts HAProxy's log line prints.
//! - [`Balancer::refresh`] once a second while a server is in `slowstart`.

mod chash;
mod fas;
mod fwlc;
mod fwrr;
pub mod hash;
mod map;
mod tree;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use haproxy_conf::model::{Balance, Proxy};

use crate::ProxyError;
use hash::HashFunction;
use tree::{NodeRef, Tree};

/// HAProxy's `BE_WEIGHT_SCALE`: dynamic algorithms work on weights scaled by 16.
pub const BE_WEIGHT_SCALE: u32 = 16;
/// `SRV_UWGHT_MAX`: the largest user weight.
pub const MAX_WEIGHT: u32 = 256;
const SRV_EWGHT_MAX: u32 = MAX_WEIGHT * BE_WEIGHT_SCALE;
const SRV_EWGHT_RANGE: u32 = SRV_EWGHT_MAX;

/// A server of the backend, by its position in the configuration (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId(pub usize);

/// A connection waiting in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueTicket(pub u64);

/// The outcome of [`Balancer::pick`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Connect to this server; a slot is taken until [`Balancer::release`].
    Server(ServerId),
    /// Every usable server is full: the connection waits in a queue.
    Queued(QueueTicket),
    /// The chosen server's queue holds `maxqueue` connections: 503, `sQ`.
    QueueFull(ServerId),
    /// No usable server: 503, `SC`.
    NoServer,
}

/// A queued connection that got a slot on `server` (it is counted as served).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dequeued {
    pub ticket: QueueTicket,
    pub server: ServerId,
    pub position: QueuePosition,
}

/// Where a connection stood in the queues it left, as HAProxy logs it (`%sq`/`%bq`,
/// `logs.srv_queue_pos`/`prx_queue_pos`): for each queue, one more than the connections
/// that left that queue with a slot (`process_srv_queue()`; not those that expired,
/// gave up or were moved) while it waited there; 0 when it never waited there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueuePosition {
    pub server_queue: u32,
    pub backend_queue: u32,
}

impl QueuePosition {
    /// Positions in two queues one after the other add up, as HAProxy's `+=`.
    pub fn then(self, other: QueuePosition) -> QueuePosition {
        QueuePosition {
            server_queue: self.server_queue.saturating_add(other.server_queue),
            backend_queue: self.backend_queue.saturating_add(other.backend_queue),
        }
    }
}

/// What a request offers the hashing algorithms. Missing parts make HAProxy fall back
/// to round robin on the same map or ring, as here.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestInfo<'a> {
    /// The client's address (`balance source`).
    pub source: Option<IpAddr>,
    /// The request URI as received (`balance uri`, `url_param`); `None` in TCP mode.
    pub uri: Option<&'a [u8]>,
    /// The value of the header named by [`Balancer::hash_header`] (`balance hdr`).
    pub header: Option<&'a [u8]>,
    /// A POST request's body (`url_param ... check_post`).
    pub post_body: Option<&'a [u8]>,
}

/// What a server state change did to the backend: the numbers HAProxy's
/// `Server be/s is DOWN/UP ...` line prints, and the queued connections to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub server: ServerId,
    pub backup: bool,
    /// Usable active / backup servers after the change.
    pub active_servers: u32,
    pub backup_servers: u32,
    /// Connections on the server at the change (`sessions active`).
    pub sessions_active: u32,
    /// Queued connections moved (`requeued`): redispatched when going down, taken from
    /// the backend queue when coming up.
    pub requeued: u32,
    /// Connections still in the server's own queue.
    pub remaining_in_queue: u32,
    /// The backend had servers before and has none now (`backend X has no server
    /// available!`).
    pub backend_down: bool,
    /// Going down with `option redispatch`: these tickets left the server's queue (at
    /// these positions) and must be picked again.
    pub redispatch: Vec<(QueueTicket, QueuePosition)>,
    /// Coming up: these queued connections now have a slot on the server.
    pub dequeued: Vec<Dequeued>,
}

/// A server's operational state (HAProxy's `SRV_ST_*` without `STOPPING`, which only
/// agent checks and `http-check disable-on-404` produce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Stopped,
    /// Up, in its `slowstart` ramp.
    Starting,
    Running,
    /// Up with load balancing disabled (`SRV_ST_STOPPING`, NOLB): only persistence
    /// still sends to it.
    Stopping,
}

#[derive(Debug, Clone)]
struct Pending {
    ticket: QueueTicket,
    since: Duration,
    /// The queue's `dequeued` count when this connection joined it (HAProxy's
    /// `queue_idx`, plus one).
    joined_at: u64,
}

impl Pending {
    /// Its position (`%sq`/`%bq`) when it leaves a queue that has handed `dequeued` slots
    /// out so far.
    fn position(&self, dequeued: u64) -> u32 {
        u32::try_from(dequeued.saturating_sub(self.joined_at).saturating_add(1)).unwrap_or(u32::MAX)
    }
}

/// Which lookup structure the algorithm uses (`BE_LB_LKUP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    RoundRobin,
    Map,
    LeastConn,
    First,
    Chash,
}

/// What the algorithm hashes, or how it chooses without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Method {
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    Random {
        draws: u32,
    },
    Source,
    Uri {
        whole: bool,
        len: Option<u32>,
        depth: Option<u32>,
        path_only: bool,
    },
    UrlParam {
        name: String,
        check_post: bool,
    },
    Hdr {
        name: String,
        domain_only: bool,
    },
}

#[derive(Debug, Clone)]
struct Srv {
    name: String,
    puid: u32,
    backup: bool,
    /// Initial (configured) and current user weight.
    iweight: u32,
    uweight: u32,
    cur_eweight: u32,
    next_eweight: u32,
    cur_state: ServerState,
    next_state: ServerState,
    cur_maint: bool,
    next_maint: bool,
    /// `SRV_ADMF_DRAIN`: up, but the balancer sends nothing new to it.
    cur_drain: bool,
    next_drain: bool,
    served: u32,
    /// HAProxy's `cur_sess`: connections to the server being made or established. Unlike
    /// `served` (the `maxconn` slots), a session waiting between two connect attempts
    /// does not count (`back_handle_st_cer()` decrements it on a failed attempt).
    cur_sess: u32,
    /// The stats page's tallies of this server.
    tally: Tally,
    queue: VecDeque<Pending>,
    /// Connections that left `queue` with a slot so far (HAProxy's `queue.idx`).
    dequeued: u64,
    maxconn: u32,
    maxqueue: u32,
    /// In whole seconds, as HAProxy keeps it.
    slowstart: u64,
    last_change: u64,
    // Lookup-structure state (see the algorithm files).
    lb_tree: Option<usize>,
    node: Option<(usize, NodeRef)>,
    npos: u32,
    lpos: u32,
    rweight: u32,
    wscore: u32,
    cumulative_weight: u32,
    ch_nodes: Vec<Option<NodeRef>>,
    ch_keys: Vec<u32>,
    ch_now: u32,
}

impl Srv {
    fn willbe_usable(&self) -> bool {
        self.next_eweight > 0
            && !self.next_maint
            && !self.next_drain
            && matches!(
                self.next_state,
                ServerState::Starting | ServerState::Running
            )
    }

    fn currently_usable(&self) -> bool {
        self.cur_eweight > 0
            && !self.cur_maint
            && !self.cur_drain
            && matches!(self.cur_state, ServerState::Starting | ServerState::Running)
    }

    fn status_changed(&self) -> bool {
        self.cur_state != self.next_state
            || self.cur_maint != self.next_maint
            || self.cur_drain != self.next_drain
            || self.cur_eweight != self.next_eweight
    }

    fn commit(&mut self) {
        self.cur_state = self.next_state;
        self.cur_maint = self.next_maint;
        self.cur_drain = self.next_drain;
        self.cur_eweight = self.next_eweight;
    }
}

/// `struct lbprm`'s counters.
#[derive(Debug, Clone, Default)]
struct Prm {
    srv_act: u32,
    srv_bck: u32,
    tot_wact: u32,
    tot_wbck: u32,
    tot_weight: u32,
    tot_used: u32,
    fbck: Option<usize>,
    wdiv: u32,
    wmult: u32,
}

/// What the stats page reads of a backend or a server besides its state, kept as
/// HAProxy keeps it: `cum_lbconn`, `cur_sess_max` / `conn_max`, `nbpend_max`,
/// `last_change` and `down_time` (seconds on the balancer's clock), `down_trans`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    lb_picks: u64,
    most_sessions: u32,
    most_queued: u32,
    last_change: u64,
    down_time: u64,
    down_transitions: u64,
}

/// A backend's or a server's stats-page figures at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tallies {
    /// `lbtot`: times the algorithm chose it (persistence and dequeuing do not count).
    pub lbtot: u64,
    /// `smax`: the most sessions at once (a server's connections, a backend's streams).
    pub smax: u32,
    /// `qmax`: the longest its queue was.
    pub qmax: u32,
    /// `lastchg`: seconds since its last state change.
    pub lastchg: u32,
    /// `downtime`: seconds spent down (`srv_downtime()`, `be_downtime()`).
    pub downtime: u32,
    /// `chkdown` of a backend: its transitions to having no usable server.
    pub down_transitions: u64,
}

fn secs32(secs: u64) -> u32 {
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// One backend's balancer. See the module documentation for how it is driven.
#[derive(Debug, Clone)]
pub struct Balancer {
    backend: String,
    srvs: Vec<Srv>,
    prm: Prm,
    method: Method,
    lookup: Lookup,
    hash_fn: HashFunction,
    avalanche: bool,
    all_backups: bool,
    redispatch: bool,
    /// PROP_DYN: weights can change at run time and `slowstart` ramps them.
    dynamic: bool,
    trees: Vec<Tree>,
    fwrr: [fwrr::Group; 2],
    map: Vec<Option<usize>>,
    rr_idx: usize,
    chash_last: Option<(usize, NodeRef)>,
    queue: VecDeque<Pending>,
    /// Connections that left `queue` with a slot through `process_srv_queue()` so far.
    dequeued: u64,
    next_ticket: u64,
    queue_timeout: Option<Duration>,
    prng: u32,
    /// The stats page's tallies of the backend (`down_trans` is the backend's).
    tally: Tally,
}

impl Balancer {
    /// The balancer of backend (or listen) `proxy`, with every server as HAProxy starts
    /// it: up (health checks start from "up"), in maintenance when `disabled`.
    /// `seed` feeds `balance random`'s generator (HAProxy's xorshift32).
    pub fn new(proxy: &Proxy, seed: u32) -> Result<Balancer, ProxyError> {
        let settings = &proxy.settings;
        let hash_type = settings.hash_type.clone();
        let consistent = hash_type.as_ref().is_some_and(|h| h.consistent);
        let (method, lookup) = match settings.balance.clone().unwrap_or(Balance::Roundrobin) {
            Balance::Roundrobin => (Method::RoundRobin, Lookup::RoundRobin),
            Balance::StaticRr => (Method::StaticRr, Lookup::Map),
            Balance::Leastconn => (Method::LeastConn, Lookup::LeastConn),
            Balance::First => (Method::First, Lookup::First),
            Balance::Random { draws } => (
                Method::Random {
                    draws: draws.max(1),
                },
                Lookup::Chash,
            ),
            other => {
                let method = match other {
                    Balance::Source => Method::Source,
                    Balance::Uri {
                        whole,
                        len,
                        depth,
                        path_only,
                    } => Method::Uri {
                        whole,
                        len,
                        depth,
                        path_only,
                    },
                    Balance::UrlParam { param, check_post } => Method::UrlParam {
                        name: param,
                        check_post: check_post.is_some(),
                    },
                    Balance::Hdr {
                        name,
                        use_domain_only,
                    } => Method::Hdr {
                        name,
                        domain_only: use_domain_only,
                    },
                    Balance::RdpCookie { .. } | Balance::Hash { .. } => {
                        return Err(ProxyError::Plan(format!(
                            "{}:{}: backend '{}': 'balance rdp-cookie' and 'balance hash' are not supported by ha-compat yet",
                            proxy.at.file, proxy.at.line, proxy.name
                        )))
                    }
                    _ => unreachable_method(),
                };
                (
                    method,
                    if consistent {
                        Lookup::Chash
                    } else {
                        Lookup::Map
                    },
                )
            }
        };
        let dynamic = !matches!(lookup, Lookup::Map);
        let (hash_fn, avalanche) = match &hash_type {
            Some(h) => (HashFunction::from_name(&h.function), h.avalanche),
            None => (HashFunction::Sdbm, false),
        };
        let timeouts = settings.timeouts;
        let srvs = assign_puids(proxy)
            .into_iter()
            .map(|(puid, s)| {
                let o = &s.options;
                let weight = o.effective_weight().min(MAX_WEIGHT);
                let maint = o.disabled.unwrap_or(false) || s.unresolved;
                Srv {
                    name: s.name.clone(),
                    puid,
                    backup: o.backup.unwrap_or(false),
                    iweight: weight,
                    uweight: weight,
                    cur_eweight: 0,
                    next_eweight: 0,
                    cur_state: if maint {
                        ServerState::Stopped
                    } else {
                        ServerState::Running
                    },
                    next_state: if maint {
                        ServerState::Stopped
                    } else {
                        ServerState::Running
                    },
                    cur_maint: maint,
                    next_maint: maint,
                    cur_drain: false,
                    next_drain: false,
                    served: 0,
                    cur_sess: 0,
                    tally: Tally::default(),
                    queue: VecDeque::new(),
                    dequeued: 0,
                    maxconn: o.maxconn.unwrap_or(0),
                    maxqueue: o.maxqueue.unwrap_or(0),
                    slowstart: o
                        .slowstart
                        .map(|d| (d.as_millis() as u64).div_ceil(1000))
                        .unwrap_or(0),
                    last_change: 0,
                    lb_tree: None,
                    node: None,
                    npos: 0,
                    lpos: 0,
                    rweight: 0,
                    wscore: 0,
                    cumulative_weight: 0,
                    ch_nodes: Vec::new(),
                    ch_keys: Vec::new(),
                    ch_now: 0,
                }
            })
            .collect();
        let mut b = Balancer {
            backend: proxy.name.clone(),
            srvs,
            prm: Prm {
                wdiv: 1,
                wmult: 1,
                ..Prm::default()
            },
            method,
            lookup,
            hash_fn,
            avalanche,
            all_backups: settings.options.flag("allbackups") == Some(true),
            redispatch: settings.options.flag("redispatch") == Some(true),
            dynamic,
            trees: vec![Tree::default(); 6],
            fwrr: [fwrr::Group::new(0), fwrr::Group::new(3)],
            map: Vec::new(),
            rr_idx: 0,
            chash_last: None,
            queue: VecDeque::new(),
            dequeued: 0,
            next_ticket: 0,
            // HAProxy uses `timeout connect` when `timeout queue` is not set.
            queue_timeout: timeouts.queue.or(timeouts.connect),
            prng: if seed == 0 { 0x2545_f491 } else { seed },
            tally: Tally::default(),
        };
        match b.lookup {
            Lookup::RoundRobin => b.fwrr_init(),
            Lookup::Map => b.map_init(),
            Lookup::LeastConn | Lookup::First => b.tree_init(),
            Lookup::Chash => b.chash_init(),
        }
        Ok(b)
    }

    /// The backend's name.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub fn server_count(&self) -> usize {
        self.srvs.len()
    }

    pub fn server_name(&self, id: ServerId) -> &str {
        &self.srvs[id.0].name
    }

    /// The server called `name`.
    pub fn find(&self, name: &str) -> Option<ServerId> {
        self.srvs.iter().position(|s| s.name == name).map(ServerId)
    }

    pub fn is_backup(&self, id: ServerId) -> bool {
        self.srvs[id.0].backup
    }

    /// Can take traffic now (up or starting, weight above 0, not in maintenance).
    pub fn is_usable(&self, id: ServerId) -> bool {
        self.srvs[id.0].currently_usable()
    }

    pub fn state(&self, id: ServerId) -> ServerState {
        self.srvs[id.0].cur_state
    }

    /// Connections holding a slot on the server.
    pub fn served(&self, id: ServerId) -> u32 {
        self.srvs[id.0].served
    }

    /// The server's current user weight (0..=256) and effective weight as HAProxy's stats
    /// show it (the scaled weight brought back to the user's range).
    pub fn weight(&self, id: ServerId) -> (u32, u32) {
        let s = &self.srvs[id.0];
        let shown = (s.cur_eweight * self.prm.wmult).div_ceil(self.prm.wdiv);
        (s.uweight, shown)
    }

    /// Usable active and backup servers.
    pub fn usable_counts(&self) -> (u32, u32) {
        (self.prm.srv_act, self.prm.srv_bck)
    }

    /// Connections waiting in the backend queue and in server queues.
    /// Server `id`'s stats-page figures at `now` (`lastchg` from its last state
    /// change; `downtime` counts the current down period, maintenance included, as
    /// `srv_downtime()`).
    pub fn server_tallies(&self, id: ServerId, now: Duration) -> Tallies {
        let srv = &self.srvs[id.0];
        let now_s = now.as_secs();
        let stopped = srv.cur_maint || srv.next_state == ServerState::Stopped;
        let downtime = if !stopped || srv.last_change >= now_s {
            srv.tally.down_time
        } else {
            now_s - srv.last_change + srv.tally.down_time
        };
        Tallies {
            lbtot: srv.tally.lb_picks,
            smax: srv.tally.most_sessions,
            qmax: srv.tally.most_queued,
            lastchg: secs32(now_s.saturating_sub(srv.last_change)),
            downtime: secs32(downtime),
            down_transitions: 0,
        }
    }

    /// The backend's stats-page figures at `now` (`be_downtime()`: the current down
    /// period counts while no server is usable).
    pub fn backend_tallies(&self, now: Duration) -> Tallies {
        let now_s = now.as_secs();
        let t = &self.tally;
        let downtime = if self.prm.tot_weight > 0 && t.last_change < now_s {
            t.down_time
        } else {
            now_s.saturating_sub(t.last_change) + t.down_time
        };
        Tallies {
            lbtot: t.lb_picks,
            smax: t.most_sessions,
            qmax: t.most_queued,
            lastchg: secs32(now_s.saturating_sub(t.last_change)),
            downtime: secs32(downtime),
            down_transitions: t.down_transitions,
        }
    }

    pub fn queued(&self) -> usize {
        self.queue.len() + self.srvs.iter().map(|s| s.queue.len()).sum::<usize>()
    }

    /// Connections waiting in the backend's own queue (HAProxy's `px->queue.length`).
    pub fn backend_queued(&self) -> usize {
        self.queue.len()
    }

    /// Connections waiting in server `id`'s queue (`srv->queue.length`).
    pub fn server_queued(&self, id: ServerId) -> usize {
        self.srvs[id.0].queue.len()
    }

    /// HAProxy's `cur_sess` of server `id`: connections being made or established.
    pub fn current_sessions(&self, id: ServerId) -> u32 {
        self.srvs[id.0].cur_sess
    }

    /// `balance hdr(name)`: the header whose value goes in [`RequestInfo::header`].
    pub fn hash_header(&self) -> Option<&str> {
        match &self.method {
            Method::Hdr { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The algorithm hashes something of the request (`BE_LB_KIND_HI`: source, uri,
    /// url_param, hdr): a retry must not move the session on its own.
    pub fn hash_based(&self) -> bool {
        matches!(
            self.method,
            Method::Source | Method::Uri { .. } | Method::UrlParam { .. } | Method::Hdr { .. }
        )
    }

    /// Chooses the server for a new connection (`assign_server_and_queue()`). `avoid` is
    /// the server a retry comes from (HAProxy takes it only when nothing else is left).
    pub fn pick(&mut self, req: &RequestInfo<'_>, avoid: Option<ServerId>, now: Duration) -> Pick {
        let avoid = avoid.map(|a| a.0);
        if self.prm.tot_weight == 0 {
            return Pick::NoServer;
        }
        let beconn = self.beconn();
        // With these algorithms a non-empty backend queue means every server is full.
        let queue_means_full = matches!(
            self.method,
            Method::RoundRobin | Method::StaticRr | Method::First
        );
        let chosen = if queue_means_full && !self.queue.is_empty() && self.queue.len() != beconn {
            None
        } else {
            self.lookup_server(req, avoid, now)
        };
        let Some(s) = chosen else {
            let queued = Pick::Queued(self.enqueue(None, now));
            self.note_backend_sessions();
            return queued;
        };
        // `assign_server()`: a choice of the algorithm, unless it is the server the
        // retry comes from.
        if Some(s) != avoid {
            self.tally.lb_picks += 1;
            self.srvs[s].tally.lb_picks += 1;
        }
        let pick = self.take_slot(s, now);
        self.note_backend_sessions();
        pick
    }

    /// `conn_max` of the backend: its streams, served or queued.
    fn note_backend_sessions(&mut self) {
        let beconn = u32::try_from(self.beconn()).unwrap_or(u32::MAX);
        self.tally.most_sessions = self.tally.most_sessions.max(beconn);
    }

    /// A session sent to `id` by its persistence cookie (`SF_DIRECT`): no balancing,
    /// but the server's `maxconn` and queue apply as to any session.
    pub fn pick_direct(&mut self, id: ServerId, now: Duration) -> Pick {
        if id.0 >= self.srvs.len() {
            return Pick::NoServer;
        }
        let pick = self.take_slot(id.0, now);
        self.note_backend_sessions();
        pick
    }

    /// A slot on server `s`, or a place in its queue when it is full.
    fn take_slot(&mut self, s: usize, now: Duration) -> Pick {
        let srv = &self.srvs[s];
        if srv.maxconn > 0 && (!srv.queue.is_empty() || srv.served >= self.dynamic_maxconn(s, now))
        {
            if srv.maxqueue > 0 && srv.queue.len() as u32 >= srv.maxqueue {
                return Pick::QueueFull(ServerId(s));
            }
            return Pick::Queued(self.enqueue(Some(s), now));
        }
        self.srvs[s].served += 1;
        self.take_conn(s);
        Pick::Server(ServerId(s))
    }

    /// A connection on `id` ended: its slot goes to the oldest connection waiting for
    /// this server or, if this server may serve it, for the backend.
    pub fn release(&mut self, id: ServerId, now: Duration) -> Vec<Dequeued> {
        let s = id.0;
        self.srvs[s].served = self.srvs[s].served.saturating_sub(1);
        self.drop_conn(s);
        self.process_server_queue(s, now)
    }

    /// A connection attempt to `id` starts (`cur_sess` + 1, as `connect_server()`).
    pub fn connection_opened(&mut self, id: ServerId) {
        let srv = &mut self.srvs[id.0];
        srv.cur_sess += 1;
        srv.tally.most_sessions = srv.tally.most_sessions.max(srv.cur_sess);
    }

    /// A connection to `id` failed or ended (`cur_sess` - 1).
    pub fn connection_closed(&mut self, id: ServerId) {
        let srv = &mut self.srvs[id.0];
        srv.cur_sess = srv.cur_sess.saturating_sub(1);
    }

    /// The server whose own queue holds `ticket` (`None`: the backend queue, or not
    /// queued).
    pub fn queued_on(&self, ticket: QueueTicket) -> Option<ServerId> {
        self.srvs
            .iter()
            .position(|s| s.queue.iter().any(|p| p.ticket == ticket))
            .map(ServerId)
    }

    /// A queued connection gave up (client closed) before getting a slot: where it
    /// stood (`pendconn_unlink()`).
    pub fn cancel(&mut self, ticket: QueueTicket) -> QueuePosition {
        let mut position = QueuePosition::default();
        let dequeued = self.dequeued;
        self.queue.retain(|p| {
            let keep = p.ticket != ticket;
            if !keep {
                position.backend_queue = p.position(dequeued);
            }
            keep
        });
        for s in &mut self.srvs {
            let dequeued = s.dequeued;
            s.queue.retain(|p| {
                let keep = p.ticket != ticket;
                if !keep {
                    position.server_queue = p.position(dequeued);
                }
                keep
            });
        }
        position
    }

    /// Removes and returns the queued connections whose `timeout queue` (or, unset,
    /// `timeout connect`) has run out, with where they stood: HAProxy answers them 503
    /// with `sQ`.
    pub fn expire_queue(&mut self, now: Duration) -> Vec<(QueueTicket, QueuePosition)> {
        let Some(timeout) = self.queue_timeout else {
            return Vec::new();
        };
        let mut expired = Vec::new();
        let mut sweep = |q: &mut VecDeque<Pending>, dequeued: u64, in_server: bool| {
            q.retain(|p| {
                let keep = p.since + timeout > now;
                if !keep {
                    let at = p.position(dequeued);
                    expired.push((
                        p.ticket,
                        if in_server {
                            QueuePosition {
                                server_queue: at,
                                backend_queue: 0,
                            }
                        } else {
                            QueuePosition {
                                server_queue: 0,
                                backend_queue: at,
                            }
                        },
                    ));
                }
                keep
            })
        };
        sweep(&mut self.queue, self.dequeued, false);
        for s in &mut self.srvs {
            sweep(&mut s.queue, s.dequeued, true);
        }
        expired.sort_by_key(|(t, _)| *t);
        expired
    }

    /// When to call [`Balancer::expire_queue`] or [`Balancer::refresh`] next.
    pub fn next_deadline(&self, now: Duration) -> Option<Duration> {
        let queue = self.queue_timeout.and_then(|t| {
            self.queue
                .iter()
                .chain(self.srvs.iter().flat_map(|s| s.queue.iter()))
                .map(|p| p.since + t)
                .min()
        });
        // HAProxy's warmup task runs every max(1000 ms, slowstart/20) with slowstart in
        // seconds, that is every second.
        let warmup = self
            .srvs
            .iter()
            .any(|s| s.next_state == ServerState::Starting)
            .then(|| now + Duration::from_secs(1));
        match (queue, warmup) {
            (Some(q), Some(w)) => Some(q.min(w)),
            (q, w) => q.or(w),
        }
    }

    /// The slowstart ramp (`server_warmup()`): recomputes the weight of servers that are
    /// starting. Call it every second while [`Balancer::next_deadline`] asks.
    pub fn refresh(&mut self, now: Duration) {
        for s in 0..self.srvs.len() {
            if self.srvs[s].next_state != ServerState::Starting {
                continue;
            }
            self.recalc_eweight(s, now);
            if self.srvs[s].cur_eweight != self.srvs[s].next_eweight {
                self.apply_weight_change(s);
            } else {
                // The ramp ended without a weight change: only the state moves on.
                self.srvs[s].cur_state = self.srvs[s].next_state;
            }
        }
    }

    /// A health check marked the server up (`srv_set_running()`). `None` when it was
    /// already up or is in maintenance.
    pub fn set_running(&mut self, id: ServerId, now: Duration) -> Option<StateChange> {
        let s = id.0;
        let srv = &self.srvs[s];
        if srv.cur_maint || matches!(srv.next_state, ServerState::Starting | ServerState::Running) {
            return None;
        }
        let had_servers = self.prm.srv_act + self.prm.srv_bck > 0;
        let now_s = now.as_secs();
        let (was_stopped, last_change) = (srv.next_state == ServerState::Stopped, srv.last_change);
        if was_stopped && last_change < now_s {
            self.srvs[s].tally.down_time += now_s - last_change;
        }
        self.srvs[s].next_state = if self.srvs[s].slowstart > 0 {
            ServerState::Starting
        } else {
            ServerState::Running
        };
        self.srvs[s].last_change = now_s;
        self.recalc_eweight(s, now);
        self.apply_up(s);
        let dequeued = self.grab_from_backend_queue(s, now);
        Some(self.report(
            s,
            had_servers,
            dequeued.len() as u32,
            Vec::new(),
            dequeued,
            now,
        ))
    }

    /// A health check marked the server down (`srv_set_stopped()`). `None` when it was
    /// already down or is in maintenance.
    pub fn set_stopped(&mut self, id: ServerId, now: Duration) -> Option<StateChange> {
        self.leave_balancing(id, ServerState::Stopped, now)
    }

    /// `srv_set_stopped()` / `srv_set_stopping()`: the server moves to `state` (down,
    /// or NOLB) and out of load balancing. `None` when it already was, or is in
    /// maintenance.
    fn leave_balancing(
        &mut self,
        id: ServerId,
        state: ServerState,
        now: Duration,
    ) -> Option<StateChange> {
        let s = id.0;
        if self.srvs[s].cur_maint || self.srvs[s].next_state == state {
            return None;
        }
        let had_servers = self.prm.srv_act + self.prm.srv_bck > 0;
        self.srvs[s].next_state = state;
        self.srvs[s].last_change = now.as_secs();
        Some(self.take_out(s, had_servers, now))
    }

    /// Out of the lookup structures, queued sessions redispatched: the report of a
    /// server going down, NOLB, into maintenance or into drain.
    fn take_out(&mut self, s: usize, had_servers: bool, now: Duration) -> StateChange {
        self.lb_set_down(s);
        let redispatch = self.redistribute(s);
        self.report(
            s,
            had_servers,
            redispatch.len() as u32,
            redispatch,
            Vec::new(),
            now,
        )
    }

    /// `disable server` / `enable server` (or `set server state maint|ready`). Leaving
    /// maintenance brings the server back up at once, as HAProxy does when its checks
    /// are fine (the health-check machine restarts from `rise`).
    pub fn set_maintenance(
        &mut self,
        id: ServerId,
        on: bool,
        now: Duration,
    ) -> Option<StateChange> {
        let s = id.0;
        if self.srvs[s].cur_maint == on {
            return None;
        }
        let had_servers = self.prm.srv_act + self.prm.srv_bck > 0;
        self.srvs[s].next_maint = on;
        self.srvs[s].last_change = now.as_secs();
        if on {
            Some(self.take_out(s, had_servers, now))
        } else {
            self.srvs[s].next_state = if self.srvs[s].slowstart > 0 {
                ServerState::Starting
            } else {
                ServerState::Running
            };
            self.recalc_eweight(s, now);
            self.apply_up(s);
            let dequeued = self.grab_from_backend_queue(s, now);
            Some(self.report(
                s,
                had_servers,
                dequeued.len() as u32,
                Vec::new(),
                dequeued,
                now,
            ))
        }
    }

    /// Whether the server is in maintenance / drain (the stats page's admin state).
    pub fn admin_state(&self, id: ServerId) -> (bool, bool) {
        let srv = &self.srvs[id.0];
        (srv.cur_maint, srv.cur_drain)
    }

    /// The server was marked NOLB (`srv_set_stopping()`, the stats page's "force
    /// NOLB"): up, but out of load balancing. `None` when it already was, or is in
    /// maintenance.
    pub fn set_stopping(&mut self, id: ServerId, now: Duration) -> Option<StateChange> {
        self.leave_balancing(id, ServerState::Stopping, now)
    }

    /// Drain mode on or off (`SRV_ADMF_FDRAIN`). Outside maintenance, entering takes
    /// the server out of load balancing (queued connections redispatched, as HAProxy
    /// does) and leaving puts it back at its weight without taking from the backend
    /// queue (`srv_update_status()`'s drain branches). In maintenance only the flag
    /// changes, and the return is `None`, as when nothing changes.
    pub fn set_drain(&mut self, id: ServerId, on: bool, now: Duration) -> Option<StateChange> {
        let s = id.0;
        if self.srvs[s].next_drain == on {
            return None;
        }
        if self.srvs[s].cur_maint {
            self.srvs[s].next_drain = on;
            self.srvs[s].cur_drain = on;
            return None;
        }
        let had_servers = self.prm.srv_act + self.prm.srv_bck > 0;
        self.srvs[s].next_drain = on;
        let now_s = now.as_secs();
        // Leaving drain counts the drained time as down time (`srv_update_status()`).
        if !on && self.srvs[s].last_change < now_s {
            self.srvs[s].tally.down_time += now_s - self.srvs[s].last_change;
        }
        self.srvs[s].last_change = now_s;
        if on {
            Some(self.take_out(s, had_servers, now))
        } else {
            self.recalc_eweight(s, now);
            self.apply_up(s);
            Some(self.report(s, had_servers, 0, Vec::new(), Vec::new(), now))
        }
    }

    /// `option allbackups`.
    pub fn all_backups(&self) -> bool {
        self.all_backups
    }

    /// The weight the server was configured with (`iweight`).
    pub fn initial_weight(&self, id: ServerId) -> u32 {
        self.srvs[id.0].iweight
    }

    /// The server's `maxconn` (0: none).
    pub fn maxconn(&self, id: ServerId) -> u32 {
        self.srvs[id.0].maxconn
    }

    /// `set maxconn server` (`server_parse_maxconn_change_request()`): the new limit,
    /// then the sessions its queue may now serve (`process_srv_queue()`).
    pub fn set_maxconn(&mut self, id: ServerId, maxconn: u32, now: Duration) -> Vec<Dequeued> {
        self.srvs[id.0].maxconn = maxconn;
        self.process_server_queue(id.0, now)
    }

    /// `set weight be/srv W` (`server_parse_weight_change_request()`): 0..=256 for the
    /// dynamic algorithms; static ones (`static-rr`, map-based hashing) only take 0 or the
    /// configured weight.
    pub fn set_weight(
        &mut self,
        id: ServerId,
        weight: u32,
        now: Duration,
    ) -> Result<(), ProxyError> {
        let s = id.0;
        if weight > MAX_WEIGHT {
            return Err(ProxyError::Weight(
                "Absolute weight can only be between 0 and 256 inclusive.\n".into(),
            ));
        }
        if !self.dynamic && weight != 0 && weight != self.srvs[s].iweight {
            return Err(ProxyError::Weight(
                "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
                    .into(),
            ));
        }
        self.srvs[s].uweight = weight;
        self.recalc_eweight(s, now);
        if self.srvs[s].cur_eweight != self.srvs[s].next_eweight {
            self.apply_weight_change(s);
        }
        Ok(())
    }

    // ------------------------------------------------------------ internals

    fn report(
        &mut self,
        s: usize,
        had_servers: bool,
        requeued: u32,
        redispatch: Vec<(QueueTicket, QueuePosition)>,
        dequeued: Vec<Dequeued>,
        now: Duration,
    ) -> StateChange {
        // The backend's own state: `set_backend_down()` when its last server left,
        // `down_time` grows when one comes back (`srv_update_status()`).
        let has_servers = self.prm.srv_act + self.prm.srv_bck > 0;
        let now_s = now.as_secs();
        if had_servers && !has_servers {
            self.tally.last_change = now_s;
            self.tally.down_transitions += 1;
        } else if !had_servers && has_servers {
            if self.tally.last_change < now_s {
                self.tally.down_time += now_s - self.tally.last_change;
            }
            self.tally.last_change = now_s;
        }
        let srv = &self.srvs[s];
        StateChange {
            server: ServerId(s),
            backup: srv.backup,
            active_servers: self.prm.srv_act,
            backup_servers: self.prm.srv_bck,
            sessions_active: srv.cur_sess,
            requeued,
            remaining_in_queue: srv.queue.len() as u32,
            backend_down: had_servers && self.prm.srv_act == 0 && self.prm.srv_bck == 0,
            redispatch,
            dequeued,
        }
    }

    /// `server_recalc_eweight()` without the propagation.
    fn recalc_eweight(&mut self, s: usize, now: Duration) {
        let now_s = now.as_secs();
        let (dynamic, wdiv, wmult) = (self.dynamic, self.prm.wdiv, self.prm.wmult);
        let srv = &mut self.srvs[s];
        if (now_s < srv.last_change || now_s >= srv.last_change + srv.slowstart)
            && srv.next_state == ServerState::Starting
        {
            srv.next_state = ServerState::Running;
        }
        let w = if srv.next_state == ServerState::Starting && dynamic {
            // slowstart > 0 here: a server only starts when it has one.
            ((wdiv as u64 * (now_s - srv.last_change) + srv.slowstart) / srv.slowstart) as u32
        } else {
            wdiv
        };
        srv.next_eweight = (srv.uweight * w).div_ceil(wmult);
    }

    /// The "coming up" branch of `srv_update_status()`.
    fn apply_up(&mut self, s: usize) {
        if self.lookup == Lookup::Map {
            if self.srvs[s].willbe_usable() {
                self.map_set_up(s);
            } else {
                self.map_set_down(s);
            }
        } else {
            self.lb_update_weight(s);
        }
    }

    /// The "weight changed" branch of `srv_update_status()`.
    fn apply_weight_change(&mut self, s: usize) {
        self.apply_up(s);
    }

    fn lb_set_down(&mut self, s: usize) {
        match self.lookup {
            Lookup::RoundRobin => self.fwrr_set_down(s),
            Lookup::Map => self.map_set_down(s),
            _ => self.tree_set_down(s),
        }
    }

    fn lb_set_up(&mut self, s: usize) {
        match self.lookup {
            Lookup::RoundRobin => self.fwrr_set_up(s),
            Lookup::Map => self.map_set_up(s),
            _ => self.tree_set_up(s),
        }
    }

    fn lb_update_weight(&mut self, s: usize) {
        if !self.srvs[s].status_changed() {
            return;
        }
        let old = self.srvs[s].currently_usable();
        let new = self.srvs[s].willbe_usable();
        match (old, new) {
            (false, false) => self.srvs[s].commit(),
            (false, true) => self.lb_set_up(s),
            (true, false) => self.lb_set_down(s),
            (true, true) => match self.lookup {
                Lookup::RoundRobin => self.fwrr_reweight(s),
                Lookup::Map => self.map_set_up(s),
                _ => self.tree_reweight(s),
            },
        }
    }

    /// `recount_servers()`.
    fn recount_servers(&mut self) {
        let p = &mut self.prm;
        p.srv_act = 0;
        p.srv_bck = 0;
        p.tot_wact = 0;
        p.tot_wbck = 0;
        p.fbck = None;
        for (i, srv) in self.srvs.iter_mut().enumerate() {
            if !srv.willbe_usable() {
                continue;
            }
            if srv.backup {
                if p.srv_bck == 0 && !self.all_backups {
                    p.fbck = Some(i);
                }
                p.srv_bck += 1;
                srv.cumulative_weight = p.tot_wbck;
                p.tot_wbck += srv.next_eweight;
            } else {
                p.srv_act += 1;
                srv.cumulative_weight = p.tot_wact;
                p.tot_wact += srv.next_eweight;
            }
        }
    }

    /// `update_backend_weight()`.
    fn update_backend_weight(&mut self) {
        let p = &mut self.prm;
        if p.srv_act > 0 {
            p.tot_weight = p.tot_wact;
            p.tot_used = p.srv_act;
        } else if let Some(f) = p.fbck {
            p.tot_weight = self.srvs[f].next_eweight;
            p.tot_used = 1;
        } else {
            p.tot_weight = p.tot_wbck;
            p.tot_used = p.srv_bck;
        }
    }

    /// The backup server to use first after `s` went down (the next usable backup in
    /// configuration order), as every `*_set_server_status_down()` computes it.
    fn fbck_after_loss(&self, s: usize) -> Option<usize> {
        (s + 1..self.srvs.len()).find(|&i| self.srvs[i].backup && self.srvs[i].willbe_usable())
    }

    /// The `fbck` update of every `*_set_server_status_up()` for a backup server.
    fn fbck_after_gain(&mut self, s: usize) {
        if self.all_backups {
            return;
        }
        match self.prm.fbck {
            None => self.prm.fbck = Some(s),
            Some(f) if f > s => self.prm.fbck = Some(s),
            Some(_) => {}
        }
    }

    /// `srv_dynamic_maxconn()`: `maxconn`, reduced during `slowstart`. (`minconn` with
    /// `fullconn` is not modelled: the limit stays `maxconn`.)
    fn dynamic_maxconn(&self, s: usize, now: Duration) -> u32 {
        let srv = &self.srvs[s];
        let mut max = srv.maxconn;
        let now_s = now.as_secs();
        if srv.cur_state == ServerState::Starting
            && now_s < srv.last_change + srv.slowstart
            && now_s >= srv.last_change
        {
            let ratio = 100 * (now_s - srv.last_change) / srv.slowstart;
            max = ((max as u64 * ratio / 100) as u32).max(1);
        }
        max
    }

    fn beconn(&self) -> usize {
        self.queued() + self.srvs.iter().map(|s| s.served as usize).sum::<usize>()
    }

    fn lookup_server(
        &mut self,
        req: &RequestInfo<'_>,
        avoid: Option<usize>,
        now: Duration,
    ) -> Option<usize> {
        match self.method.clone() {
            Method::RoundRobin => self.fwrr_next(avoid, now),
            Method::StaticRr => self.map_next_rr(avoid, now),
            Method::LeastConn => self.fwlc_next(avoid, now),
            Method::First => self.fas_next(avoid, now),
            Method::Random { draws } => self.random_next(draws, avoid, now),
            method => {
                let hashed = self.hash_key(&method, req);
                let found = match hashed {
                    Some(h) => self.server_by_hash(h, avoid),
                    None => None,
                };
                // No key (or no server for it): round robin on the same structure.
                found.or_else(|| match self.lookup {
                    Lookup::Chash => self.chash_next(avoid, now),
                    _ => self.map_next_rr(avoid, now),
                })
            }
        }
    }

    fn server_by_hash(&mut self, hash: u32, avoid: Option<usize>) -> Option<usize> {
        match self.lookup {
            Lookup::Chash => self.chash_by_hash(hash, avoid),
            _ => self.map_by_hash(hash),
        }
    }

    /// The hash the request selects, `None` when the key is missing (HAProxy then falls
    /// back to round robin). With one usable server HAProxy skips hashing (hash 0).
    fn hash_key(&self, method: &Method, req: &RequestInfo<'_>) -> Option<u32> {
        let single = self.prm.tot_used == 1;
        let finish = |h: u32| {
            if self.avalanche {
                hash::full_hash(h)
            } else {
                h
            }
        };
        match method {
            Method::Source => {
                let src = req.source?;
                Some(if single {
                    0
                } else {
                    finish(hash::source_key(src))
                })
            }
            Method::Uri {
                whole,
                len,
                depth,
                path_only,
            } => {
                let uri = req.uri?;
                if single {
                    return Some(0);
                }
                let part = hash::uri_part(uri, *whole, *len, *depth, *path_only);
                Some(finish(self.hash_fn.hash(part)))
            }
            Method::UrlParam { name, check_post } => {
                let from_uri = req.uri.and_then(|u| hash::url_param(u, name.as_bytes()));
                let value = match from_uri {
                    Some(v) => Some(v),
                    None if *check_post => req
                        .post_body
                        .and_then(|b| hash::body_param(b, name.as_bytes())),
                    None => None,
                }?;
                Some(finish(self.hash_fn.hash(value)))
            }
            Method::Hdr { domain_only, .. } => {
                if single {
                    return Some(0);
                }
                let value = req.header.filter(|v| !v.is_empty())?;
                let part = if *domain_only {
                    hash::domain_only(value)
                } else {
                    value
                };
                Some(finish(self.hash_fn.hash(part)))
            }
            _ => None,
        }
    }

    fn take_conn(&mut self, s: usize) {
        match self.lookup {
            Lookup::LeastConn => self.fwlc_reposition(s),
            Lookup::First => self.fas_reposition(s),
            _ => {}
        }
    }

    fn drop_conn(&mut self, s: usize) {
        self.take_conn(s);
    }

    fn enqueue(&mut self, server: Option<usize>, now: Duration) -> QueueTicket {
        self.next_ticket += 1;
        let ticket = QueueTicket(self.next_ticket);
        match server {
            Some(s) => {
                let srv = &mut self.srvs[s];
                srv.queue.push_back(Pending {
                    ticket,
                    since: now,
                    joined_at: srv.dequeued,
                });
                let queued = u32::try_from(srv.queue.len()).unwrap_or(u32::MAX);
                srv.tally.most_queued = srv.tally.most_queued.max(queued);
            }
            None => {
                self.queue.push_back(Pending {
                    ticket,
                    since: now,
                    joined_at: self.dequeued,
                });
                let queued = u32::try_from(self.queue.len()).unwrap_or(u32::MAX);
                self.tally.most_queued = self.tally.most_queued.max(queued);
            }
        }
        ticket
    }

    /// `process_srv_queue()`: fills the server's free slots from its own queue and, when
    /// it may serve the backend's queue, from there, oldest first (the server's queue
    /// wins a tie).
    fn process_server_queue(&mut self, s: usize, now: Duration) -> Vec<Dequeued> {
        let srv = &self.srvs[s];
        let backend_ok = srv.currently_usable()
            && (!srv.backup
                || (self.prm.srv_act == 0 && (self.prm.fbck == Some(s) || self.all_backups)));
        let max = if srv.maxconn == 0 {
            u32::MAX
        } else {
            self.dynamic_maxconn(s, now)
        };
        let mut out = Vec::new();
        while self.srvs[s].served < max {
            let own = self.srvs[s].queue.front().map(|p| p.since);
            let shared = if backend_ok {
                self.queue.front().map(|p| p.since)
            } else {
                None
            };
            let take_own = match (own, shared) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(a), Some(b)) => a <= b,
            };
            // `pendconn_process_next_strm()`: the position is taken before the queue's
            // count moves on.
            let left = if take_own {
                let srv = &mut self.srvs[s];
                srv.queue.pop_front().map(|p| {
                    let at = p.position(srv.dequeued);
                    srv.dequeued += 1;
                    (
                        p.ticket,
                        QueuePosition {
                            server_queue: at,
                            backend_queue: 0,
                        },
                    )
                })
            } else {
                self.queue.pop_front().map(|p| {
                    let at = p.position(self.dequeued);
                    self.dequeued += 1;
                    (
                        p.ticket,
                        QueuePosition {
                            server_queue: 0,
                            backend_queue: at,
                        },
                    )
                })
            };
            let Some((ticket, position)) = left else {
                break;
            };
            self.srvs[s].served += 1;
            out.push(Dequeued {
                ticket,
                server: ServerId(s),
                position,
            });
        }
        if !out.is_empty() {
            self.take_conn(s);
        }
        out
    }

    /// `pendconn_redistribute()`: with `option redispatch`, the server's queue is handed
    /// back for a new pick.
    fn redistribute(&mut self, s: usize) -> Vec<(QueueTicket, QueuePosition)> {
        if !self.redispatch {
            return Vec::new();
        }
        let srv = &mut self.srvs[s];
        let dequeued = srv.dequeued;
        srv.queue
            .drain(..)
            .map(|p| {
                let position = QueuePosition {
                    server_queue: p.position(dequeued),
                    backend_queue: 0,
                };
                (p.ticket, position)
            })
            .collect()
    }

    /// `pendconn_grab_from_px()`: a server coming up takes connections from the backend
    /// queue up to its `maxconn`.
    fn grab_from_backend_queue(&mut self, s: usize, now: Duration) -> Vec<Dequeued> {
        let srv = &self.srvs[s];
        if !srv.currently_usable() {
            return Vec::new();
        }
        if srv.backup && (self.prm.srv_act > 0 || (self.prm.fbck != Some(s) && !self.all_backups)) {
            return Vec::new();
        }
        let max = self.dynamic_maxconn(s, now);
        let mut out = Vec::new();
        while !self.queue.is_empty() {
            if self.srvs[s].maxconn > 0 && self.srvs[s].served >= max {
                break;
            }
            let Some(p) = self.queue.pop_front() else {
                break;
            };
            self.srvs[s].served += 1;
            // `pendconn_grab_from_px()` does not move the queue's count on.
            out.push(Dequeued {
                ticket: p.ticket,
                server: ServerId(s),
                position: QueuePosition {
                    server_queue: 0,
                    backend_queue: p.position(self.dequeued),
                },
            });
        }
        out
    }

    /// HAProxy's `statistical_prng()` (xorshift32).
    fn prng_next(&mut self) -> u32 {
        let mut x = self.prng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.prng = x;
        x
    }
}

fn unreachable_method() -> Method {
    // Only reached for the variants matched in the arm above; kept total without a panic.
    Method::RoundRobin
}

/// Server ids (`puid`) as HAProxy numbers them (`check_config_validity()`): a server
/// without an explicit `id` takes the first free number from a counter that starts at 1
/// and moves one step past every server, numbered or not.
fn assign_puids(proxy: &Proxy) -> Vec<(u32, &haproxy_conf::model::Server)> {
    let mut used: std::collections::BTreeSet<u32> =
        proxy.servers.iter().filter_map(|s| s.options.id).collect();
    let mut next = 1u32;
    let mut out = Vec::with_capacity(proxy.servers.len());
    for s in &proxy.servers {
        let id = match s.options.id {
            Some(id) => id,
            None => {
                while used.contains(&next) {
                    next += 1;
                }
                used.insert(next);
                next
            }
        };
        next += 1;
        out.push((id, s));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
