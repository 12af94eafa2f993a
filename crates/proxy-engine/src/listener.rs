//! Listeners: what HAProxy 2.6 opens for each `bind` (pure planning) and the sockets
//! themselves, with the `maxconn` limits that make excess connections wait in the
//! kernel's accept backlog.
//!
//! HAProxy's behaviour copied here (src/sock_inet.c, src/proto_tcp.c, src/listener.c):
//! - one listener per address and per port of a range (`bind :8000-8002` is three);
//!   `*:P` and `:P` are 0.0.0.0; `:::P` and `[::]:P` are IPv6 any (dual stack unless
//!   `v6only`, which sets `IPV6_V6ONLY`; `v4v6` clears it);
//! - `SO_REUSEADDR` and `SO_REUSEPORT` on every bound socket, the backlog is the bind's
//!   `backlog`, else the frontend's, else the listener's `maxconn`, else the frontend's
//!   `maxconn`, else 1024 (`listener_backlog()`);
//! - a frontend without `maxconn` takes global `maxconn`; a listener stops accepting while
//!   its own, its frontend's or the process's count is at the limit and resumes when one
//!   ends, so the excess waits in the accept queue (`listener_full()`/`limit_listener()`);
//! - `fd@N` uses an inherited socket as is (no socket option, no bind).
//!
//! Reloads (HAProxy's `-x` / master-worker socket transfer): a new process is handed the
//! listening sockets of the one it replaces ([`adopt_handed_over`]), each named by its
//! [`ListenKey`]; a bind whose key matches takes that socket instead of binding a new
//! one, so connections waiting in its accept queue are taken by the new process instead
//! of being reset when the old one closes its copy.
//!
//! One deliberate difference: `IP_FREEBIND` / `IPV6_FREEBIND` is set on every bound
//! socket (HAProxy only with `transparent`/`freebind`), so a listener on a keepalived VIP
//! starts on the backup node without `net.ipv4.ip_nonlocal_bind=1`.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use haproxy_conf::model::{BindAddress, Proxy};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ProxyError;

/// `listener_backlog()`'s last resort.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Where a listener's socket comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenSource {
    /// Bind this address.
    Bind(SocketAddr),
    /// `fd@N`: a socket inherited from the parent, bound already.
    InheritedFd(i32),
}

/// Whether `IPV6_V6ONLY` is forced on, off, or left to the system default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum V6Only {
    SystemDefault,
    On,
    Off,
}

/// One socket to open, as planned from a `bind` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerPlan {
    /// `file:line` of the bind, for messages.
    pub at: String,
    pub source: ListenSource,
    pub backlog: u32,
    /// The bind's own `maxconn` (`None`: only the frontend's and global limits apply).
    pub maxconn: Option<u32>,
    pub v6only: V6Only,
    pub accept_proxy: bool,
    /// `interface NAME`: `SO_BINDTODEVICE`.
    pub interface: Option<String>,
    /// How log lines name the listener: the bind's `name`, else its number in the
    /// frontend counting from 1 (one per port of a range), as HAProxy's `luid`.
    pub label: String,
    /// The bind's index in the proxy's `binds` (its TLS settings with `ssl`).
    pub bind_index: usize,
    /// `ssl`: the handshake comes first ([`crate::tls`]).
    pub ssl: bool,
}

/// Every listener a frontend (or listen) section asks for, in bind order.
pub fn plan_listeners(
    proxy: &Proxy,
    global_maxconn: Option<u32>,
) -> Result<Vec<ListenerPlan>, ProxyError> {
    let frontend_maxconn = proxy.settings.maxconn.or(global_maxconn);
    let mut out: Vec<ListenerPlan> = Vec::new();
    for (bind_index, bind) in proxy.binds.iter().enumerate() {
        let at = format!("{}:{}", bind.at.file, bind.at.line);
        let o = &bind.options;
        if o.ssl && o.accept_proxy {
            return Err(ProxyError::Plan(format!(
                "{at}: 'accept-proxy' with 'ssl' on one bind is not supported by ha-compat's \
                 proxy engine yet"
            )));
        }
        let backlog = o
            .backlog
            .or(proxy.settings.backlog)
            .or(o.maxconn)
            .or(frontend_maxconn)
            .unwrap_or(DEFAULT_BACKLOG);
        let v6only = if o.v6only {
            V6Only::On
        } else if o.v4v6 {
            V6Only::Off
        } else {
            V6Only::SystemDefault
        };
        let plan = |source, luid: usize| ListenerPlan {
            at: at.clone(),
            source,
            backlog,
            maxconn: o.maxconn,
            v6only,
            accept_proxy: o.accept_proxy,
            interface: o.interface.clone(),
            label: o.name.clone().unwrap_or_else(|| luid.to_string()),
            bind_index,
            ssl: o.ssl,
        };
        match &bind.address {
            BindAddress::Inet { host, ports } => {
                let ip = host.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                for port in ports.first..=ports.last {
                    let luid = out.len() + 1;
                    out.push(plan(ListenSource::Bind(SocketAddr::new(ip, port)), luid));
                }
            }
            BindAddress::Fd(fd) => {
                let luid = out.len() + 1;
                out.push(plan(ListenSource::InheritedFd(*fd), luid));
            }
            other => {
                return Err(ProxyError::Plan(format!(
                    "{at}: bind address {other:?} is not supported by ha-compat's proxy engine yet"
                )))
            }
        }
    }
    Ok(out)
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> ProxyError {
    move |source| ProxyError::Io { what, source }
}

/// Opens a planned listener: a bound, listening, non-blocking socket.
pub fn open_listener(plan: &ListenerPlan) -> Result<std::net::TcpListener, ProxyError> {
    let socket = match plan.source {
        ListenSource::Bind(addr) => {
            let handed_over = ListenKey::of(plan).and_then(|key| take_handed_over(&key));
            match handed_over {
                Some(socket) => socket,
                None => bind_socket(plan, addr)?,
            }
        }
        ListenSource::InheritedFd(fd) => inherited_socket(fd)
            .map_err(|e| ProxyError::Plan(format!("{}: fd@{fd}: {e}", plan.at)))?,
    };
    let what = format!("{}: listen({:?})", plan.at, plan.source);
    let backlog = i32::try_from(plan.backlog).unwrap_or(i32::MAX);
    socket.listen(backlog).map_err(io_error(what.clone()))?;
    socket.set_nonblocking(true).map_err(io_error(what))?;
    Ok(socket.into())
}

fn bind_socket(plan: &ListenerPlan, addr: SocketAddr) -> Result<Socket, ProxyError> {
    let what = |op: &str| format!("{}: {op} for {addr}", plan.at);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(io_error(what("socket")))?;
    socket
        .set_reuse_address(true)
        .map_err(io_error(what("SO_REUSEADDR")))?;
    socket
        .set_reuse_port(true)
        .map_err(io_error(what("SO_REUSEPORT")))?;
    if addr.is_ipv6() {
        socket
            .set_freebind_v6(true)
            .map_err(io_error(what("IPV6_FREEBIND")))?;
        match plan.v6only {
            V6Only::On => socket.set_only_v6(true),
            V6Only::Off => socket.set_only_v6(false),
            V6Only::SystemDefault => Ok(()),
        }
        .map_err(io_error(what("IPV6_V6ONLY")))?;
    } else {
        socket
            .set_freebind_v4(true)
            .map_err(io_error(what("IP_FREEBIND")))?;
    }
    if let Some(name) = &plan.interface {
        socket
            .bind_device(Some(name.as_bytes()))
            .map_err(io_error(what("SO_BINDTODEVICE")))?;
    }
    socket
        .bind(&SockAddr::from(addr))
        .map_err(io_error(what("bind")))?;
    Ok(socket)
}

/// What makes a bound listening socket reusable by the next configuration: the address
/// and the options set before `bind()`. Everything else of a bind (backlog, `maxconn`,
/// `ssl`, `accept-proxy`) is applied by the process that accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenKey {
    pub addr: SocketAddr,
    pub v6only: V6Only,
    pub interface: Option<String>,
}

impl ListenKey {
    /// The key of a planned bind; `None` for `fd@N` (not ours to hand over).
    pub fn of(plan: &ListenerPlan) -> Option<ListenKey> {
        match plan.source {
            ListenSource::Bind(addr) => Some(ListenKey {
                addr,
                v6only: plan.v6only,
                interface: plan.interface.clone(),
            }),
            ListenSource::InheritedFd(_) => None,
        }
    }

    /// One line of text, for the hand-over between processes ([`ListenKey::parse`]).
    /// Interface names hold no whitespace (the kernel refuses them).
    pub fn to_text(&self) -> String {
        let v6only = match self.v6only {
            V6Only::SystemDefault => "default",
            V6Only::On => "v6only",
            V6Only::Off => "v4v6",
        };
        let interface = self.interface.as_deref().unwrap_or("-");
        format!("{} {v6only} {interface}", self.addr)
    }

    pub fn parse(text: &str) -> Option<ListenKey> {
        let mut words = text.split(' ');
        let addr = words.next()?.parse().ok()?;
        let v6only = match words.next()? {
            "default" => V6Only::SystemDefault,
            "v6only" => V6Only::On,
            "v4v6" => V6Only::Off,
            _ => return None,
        };
        let interface = match words.next()? {
            "-" => None,
            name => Some(name.to_string()),
        };
        if words.next().is_some() {
            return None;
        }
        Some(ListenKey {
            addr,
            v6only,
            interface,
        })
    }
}

/// Listening sockets handed over by the process this one replaces, not claimed yet.
static HANDED_OVER: Mutex<Vec<(ListenKey, Socket)>> = Mutex::new(Vec::new());

/// Takes the listening sockets a previous process handed over: `spec` is a list of
/// `FD KEY` lines ([`ListenKey::to_text`]), each FD inherited by this process. Returns
/// how many were taken; a line naming no open socket is an error (nothing taken).
pub fn adopt_handed_over(spec: &str) -> Result<usize, String> {
    let mut parsed = Vec::new();
    for line in spec.lines().filter(|l| !l.is_empty()) {
        let (fd, key) = line
            .split_once(' ')
            .ok_or_else(|| format!("hand-over line without a key: {line:?}"))?;
        let fd: i32 = fd
            .parse()
            .map_err(|_| format!("hand-over line without a descriptor: {line:?}"))?;
        let key = ListenKey::parse(key).ok_or_else(|| format!("bad hand-over key: {line:?}"))?;
        parsed.push((fd, key));
    }
    let mut sockets = Vec::new();
    for (fd, key) in parsed {
        let socket = inherited_socket(fd).map_err(|e| format!("handed-over fd {fd}: {e}"))?;
        sockets.push((key, socket));
    }
    let count = sockets.len();
    HANDED_OVER
        .lock()
        .map_err(|_| "hand-over registry poisoned".to_string())?
        .extend(sockets);
    Ok(count)
}

/// Closes the handed-over sockets no bind took (their addresses left the
/// configuration); returns how many.
pub fn release_unclaimed() -> usize {
    HANDED_OVER
        .lock()
        .map(|mut spare| std::mem::take(&mut *spare).len())
        .unwrap_or(0)
}

fn take_handed_over(key: &ListenKey) -> Option<Socket> {
    let mut spare = HANDED_OVER.lock().ok()?;
    let index = spare.iter().position(|(k, _)| k == key)?;
    Some(spare.swap_remove(index).1)
}

/// File descriptors already turned into sockets: each `fd@N` is owned once.
static CLAIMED_FDS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

/// Takes ownership of the inherited stream socket `fd`, after checking through
/// `/proc/self/fd` that it is open and is a socket.
fn inherited_socket(fd: i32) -> Result<Socket, String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|e| format!("not an open file descriptor ({e})"))?;
    if !link.to_string_lossy().starts_with("socket:") {
        return Err(format!("not a socket ({})", link.display()));
    }
    {
        let mut claimed = CLAIMED_FDS
            .lock()
            .map_err(|_| "descriptor registry poisoned".to_string())?;
        if !claimed.get_or_insert_with(HashSet::new).insert(fd) {
            return Err("used by two binds".into());
        }
    }
    let socket = Socket::from(own_inherited_fd(fd));
    match socket.r#type() {
        Ok(t) if t == Type::STREAM => Ok(socket),
        Ok(_) => Err("not a stream socket".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[allow(unsafe_code)]
fn own_inherited_fd(fd: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` is open and is a socket (checked through /proc/self/fd just before),
    // was handed to this process for this bind (`fd@N`), and CLAIMED_FDS guarantees no
    // other owner is ever created for it in this process.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// One connection limit (process, frontend or listener) and how many are in use.
#[derive(Debug, Clone)]
pub struct ConnLimit {
    semaphore: Arc<Semaphore>,
    /// The limit (`Semaphore::MAX_PERMITS`: none); changed by the runtime API's `set
    /// maxconn`.
    total: Arc<std::sync::atomic::AtomicUsize>,
    /// Every connection that ever held a slot (HAProxy's `cum_conn`).
    cumulated: Arc<std::sync::atomic::AtomicU64>,
    /// The most connections held at once (`conn_max`, the stats page's `smax`).
    most: Arc<std::sync::atomic::AtomicU32>,
    /// Connections accepted per second (`conn_rate`, and `rate`: every accepted
    /// connection becomes a session here).
    rate: Arc<crate::counters::Rate>,
}

impl ConnLimit {
    /// `None`: no limit (still counted, for `%ac`/`%fc`).
    pub fn new(max: Option<u32>) -> ConnLimit {
        let total = max.map_or(Semaphore::MAX_PERMITS, |m| m as usize);
        ConnLimit {
            semaphore: Arc::new(Semaphore::new(total)),
            total: Arc::new(std::sync::atomic::AtomicUsize::new(total)),
            cumulated: Arc::default(),
            most: Arc::default(),
            rate: Arc::default(),
        }
    }

    /// The limit, `None` when there is none.
    pub fn limit(&self) -> Option<u32> {
        let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
        (total < Semaphore::MAX_PERMITS).then(|| u32::try_from(total).unwrap_or(u32::MAX))
    }

    /// Changes the limit (`set maxconn frontend|global`). Lowering it below the
    /// connections in use takes the missing slots as those connections end.
    pub fn set_limit(&self, max: Option<u32>) {
        use std::sync::atomic::Ordering;
        let new = max.map_or(Semaphore::MAX_PERMITS, |m| m as usize);
        let old = self.total.swap(new, Ordering::Relaxed);
        if new > old {
            self.semaphore.add_permits(new - old);
        } else if new < old {
            let debt = old - new;
            let forgotten = self.semaphore.forget_permits(debt);
            if forgotten < debt {
                let semaphore = Arc::clone(&self.semaphore);
                let rest = u32::try_from(debt - forgotten).unwrap_or(u32::MAX);
                // Take the rest as connections give their slots back, and keep them.
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    handle.spawn(async move {
                        if let Ok(permits) = semaphore.acquire_many_owned(rest).await {
                            permits.forget();
                        }
                    });
                }
            }
        }
    }

    /// The most connections held at once.
    pub fn most(&self) -> u32 {
        self.most.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections accepted per second, and the highest that reached.
    pub fn rate(&self) -> &crate::counters::Rate {
        &self.rate
    }

    /// A connection was accepted with a slot in hand.
    fn accepted(&self) {
        self.cumulated
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.most
            .fetch_max(self.current(), std::sync::atomic::Ordering::Relaxed);
        self.rate.tick();
    }

    /// Connections that ever held a slot.
    pub fn cumulated(&self) -> u64 {
        self.cumulated.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections currently holding a slot.
    pub fn current(&self) -> u32 {
        let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
        u32::try_from(total.saturating_sub(self.semaphore.available_permits())).unwrap_or(u32::MAX)
    }

    async fn acquire(&self) -> OwnedSemaphorePermit {
        // The semaphore is never closed (this struct owns it and never calls close()),
        // so acquire_owned cannot fail; loop rather than unwrap to keep that local.
        loop {
            if let Ok(permit) = Arc::clone(&self.semaphore).acquire_owned().await {
                return permit;
            }
        }
    }
}

/// The slots a connection holds; released (and a waiting listener resumed) on drop.
#[derive(Debug)]
pub struct ConnSlots {
    _permits: Vec<OwnedSemaphorePermit>,
}

/// A connection as accepted.
#[derive(Debug)]
pub struct Accepted {
    pub stream: TcpStream,
    pub client: SocketAddr,
    /// The address the client connected to (for `send-proxy` and `ServerPort::Same`).
    pub local: SocketAddr,
    pub accept_proxy: bool,
    /// The listener's [`ListenerPlan::label`].
    pub listener: String,
    pub slots: ConnSlots,
}

/// A listening socket with the limits that gate its `accept()`.
#[derive(Debug)]
pub struct Listener {
    socket: AsyncFd<std::net::TcpListener>,
    plan: ListenerPlan,
    /// Listener, frontend and process limits, in that order.
    limits: Vec<ConnLimit>,
}

impl Listener {
    /// Wraps an opened socket (must be called inside a tokio runtime).
    pub fn new(
        socket: std::net::TcpListener,
        plan: ListenerPlan,
        frontend: ConnLimit,
        process: ConnLimit,
    ) -> Result<Listener, ProxyError> {
        socket
            .set_nonblocking(true)
            .map_err(io_error(format!("{}: registering listener", plan.at)))?;
        // AsyncFd::new is deprecated because a `T` that merely borrows a descriptor could
        // close it while registered; a std TcpListener owns its descriptor and AsyncFd
        // owns the listener, so that cannot happen here (and `register` is `unsafe`).
        #[allow(deprecated)]
        let socket =
            AsyncFd::new(socket).map_err(io_error(format!("{}: registering listener", plan.at)))?;
        let mut limits = Vec::new();
        if plan.maxconn.is_some() {
            limits.push(ConnLimit::new(plan.maxconn));
        }
        limits.push(frontend);
        limits.push(process);
        Ok(Listener {
            socket,
            plan,
            limits,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ProxyError> {
        self.socket
            .get_ref()
            .local_addr()
            .map_err(io_error(format!("{}: getsockname", self.plan.at)))
    }

    pub fn plan(&self) -> &ListenerPlan {
        &self.plan
    }

    /// The socket as a reload hands it to the next process (`None` for `fd@N`).
    pub fn handover(&self) -> Option<(ListenKey, std::os::fd::BorrowedFd<'_>)> {
        use std::os::fd::AsFd;
        Some((ListenKey::of(&self.plan)?, self.socket.get_ref().as_fd()))
    }

    /// Waits for a pending connection, then for a free slot in every limit, then
    /// accepts: while a limit is reached `accept()` is not called, so new clients wait in
    /// the kernel's backlog. Slots are only taken with a connection in hand, so listeners
    /// sharing a limit never hold one while idle.
    pub async fn accept(&self) -> std::io::Result<Accepted> {
        loop {
            let mut ready = self.socket.readable().await?;
            let mut permits = Vec::with_capacity(self.limits.len());
            for limit in &self.limits {
                permits.push(limit.acquire().await);
            }
            match ready.try_io(|socket| socket.get_ref().accept()) {
                Ok(Ok((stream, client))) => {
                    for limit in &self.limits {
                        limit.accepted();
                    }
                    stream.set_nonblocking(true)?;
                    let stream = TcpStream::from_std(stream)?;
                    let local = stream.local_addr()?;
                    return Ok(Accepted {
                        stream,
                        client,
                        local,
                        accept_proxy: self.plan.accept_proxy,
                        listener: self.plan.label.clone(),
                        slots: ConnSlots { _permits: permits },
                    });
                }
                Ok(Err(e)) => return Err(e),
                // Another task took it (or a spurious wake-up): slots go back, wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn listen_keys_travel_as_one_line_each() {
        let keys = [
            ListenKey {
                addr: "0.0.0.0:80".parse().unwrap(),
                v6only: V6Only::SystemDefault,
                interface: None,
            },
            ListenKey {
                addr: "[::]:443".parse().unwrap(),
                v6only: V6Only::On,
                interface: Some("eth0".into()),
            },
            ListenKey {
                addr: "[fe80::1]:8080".parse().unwrap(),
                v6only: V6Only::Off,
                interface: Some("veth-lb1".into()),
            },
        ];
        for key in keys {
            let text = key.to_text();
            assert!(!text.contains('\n'));
            assert_eq!(ListenKey::parse(&text), Some(key));
        }
        for bad in [
            "",
            "0.0.0.0:80",
            "0.0.0.0:80 maybe -",
            "x default -",
            "0.0.0.0:80 default - extra",
        ] {
            assert_eq!(ListenKey::parse(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn listen_key_parse_never_panics(text in ".{0,80}") {
            let _ = ListenKey::parse(&text);
        }

        #[test]
        fn hand_over_specs_that_are_not_ours_are_refused_without_panic(text in "[0-9a-z .:\n-]{0,60}") {
            // Descriptor numbers past any open one: nothing can be taken.
            let spec = text.replace(|c: char| c.is_ascii_digit(), "9");
            let _ = adopt_handed_over(&format!("99999{spec}"));
        }
    }

    #[tokio::test]
    async fn a_handed_over_socket_keeps_the_connections_waiting_in_its_queue() {
        use std::os::fd::{AsFd, IntoRawFd};
        let plan = |addr: &str| ListenerPlan {
            at: "test:1".into(),
            source: ListenSource::Bind(addr.parse().unwrap()),
            backlog: 16,
            maxconn: None,
            v6only: V6Only::SystemDefault,
            accept_proxy: false,
            interface: None,
            label: "1".into(),
            bind_index: 0,
            ssl: false,
        };
        let old = open_listener(&plan("127.0.0.1:0")).unwrap();
        let port = old.local_addr().unwrap().port();
        // A client waits in the accept queue of the old process's socket.
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        // The master's copy, inherited by the new process.
        let copy = old.as_fd().try_clone_to_owned().unwrap().into_raw_fd();
        let key = ListenKey::of(&plan(&format!("127.0.0.1:{port}"))).unwrap();
        assert_eq!(
            adopt_handed_over(&format!("{copy} {}\n", key.to_text())),
            Ok(1)
        );
        // The old process closes its copy; the new one opens the same bind.
        drop(old);
        let new = open_listener(&plan(&format!("127.0.0.1:{port}"))).unwrap();
        assert_eq!(
            release_unclaimed(),
            0,
            "the bind took the handed-over socket"
        );
        // A socket bound afresh would have no connection waiting (the old queue reset).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let peer = loop {
            match new.accept() {
                Ok((_, peer)) => break Some(peer),
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(_) => break None,
            }
        };
        assert_eq!(
            peer,
            Some(client.local_addr().unwrap()),
            "the waiting client"
        );
    }
    use haproxy_conf::model::{Bind, BindOptions, Location, PortRange, ProxyKind, ProxySettings};

    fn proxy(binds: Vec<(BindAddress, BindOptions)>, settings: ProxySettings) -> Proxy {
        let at = Location {
            file: "h.cfg".into(),
            line: 3,
        };
        Proxy {
            name: "fe".into(),
            kind: ProxyKind::Frontend,
            at: at.clone(),
            defaults_from: None,
            id: None,
            disabled: false,
            binds: binds
                .into_iter()
                .map(|(address, options)| Bind {
                    at: at.clone(),
                    address,
                    options,
                })
                .collect(),
            servers: vec![],
            acls: vec![],
            use_backends: vec![],
            settings,
        }
    }

    fn inet(host: Option<&str>, first: u16, last: u16) -> BindAddress {
        BindAddress::Inet {
            host: host.map(|h| h.parse().unwrap()),
            ports: PortRange { first, last },
        }
    }

    #[test]
    fn ranges_wildcards_and_ipv6_expand_as_haproxy() {
        let p = proxy(
            vec![
                (inet(None, 8000, 8002), BindOptions::default()),
                (inet(Some("::"), 443, 443), BindOptions::default()),
                (BindAddress::Fd(3), BindOptions::default()),
            ],
            ProxySettings::default(),
        );
        let plans = plan_listeners(&p, None).unwrap();
        let sources: Vec<_> = plans.iter().map(|p| p.source).collect();
        assert_eq!(
            sources,
            vec![
                ListenSource::Bind("0.0.0.0:8000".parse().unwrap()),
                ListenSource::Bind("0.0.0.0:8001".parse().unwrap()),
                ListenSource::Bind("0.0.0.0:8002".parse().unwrap()),
                ListenSource::Bind("[::]:443".parse().unwrap()),
                ListenSource::InheritedFd(3),
            ]
        );
        assert!(plans.iter().all(|p| p.backlog == DEFAULT_BACKLOG));
        let labels: Vec<&str> = plans.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["1", "2", "3", "4", "5"]);
    }

    #[test]
    fn backlog_follows_listener_backlog() {
        let with = |bind_backlog, bind_maxconn, fe_backlog, fe_maxconn, global| {
            let options = BindOptions {
                backlog: bind_backlog,
                maxconn: bind_maxconn,
                ..BindOptions::default()
            };
            let settings = ProxySettings {
                backlog: fe_backlog,
                maxconn: fe_maxconn,
                ..ProxySettings::default()
            };
            plan_listeners(
                &proxy(vec![(inet(None, 80, 80), options)], settings),
                global,
            )
            .unwrap()[0]
                .backlog
        };
        assert_eq!(with(Some(5), Some(6), Some(7), Some(8), Some(9)), 5);
        assert_eq!(with(None, Some(6), Some(7), Some(8), Some(9)), 7);
        assert_eq!(with(None, Some(6), None, Some(8), Some(9)), 6);
        assert_eq!(with(None, None, None, Some(8), Some(9)), 8);
        assert_eq!(with(None, None, None, None, Some(9)), 9);
        assert_eq!(with(None, None, None, None, None), 1024);
    }

    #[test]
    fn ssl_with_accept_proxy_and_unix_binds_are_refused_not_ignored() {
        let ssl = BindOptions {
            ssl: true,
            accept_proxy: true,
            ..BindOptions::default()
        };
        assert!(plan_listeners(
            &proxy(vec![(inet(None, 443, 443), ssl)], ProxySettings::default()),
            None
        )
        .is_err());
        assert!(plan_listeners(
            &proxy(
                vec![(BindAddress::Unix("/run/x".into()), BindOptions::default())],
                ProxySettings::default()
            ),
            None
        )
        .is_err());
    }
}
