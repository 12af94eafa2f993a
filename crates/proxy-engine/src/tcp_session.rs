//! One `mode tcp` session: optional PROXY header from the client, server choice with
//! HAProxy's connect retries and redispatch, the bidirectional pump with per-side idle
//! timeouts and half-close, and the record the tcplog line is written from.
//!
//! HAProxy 2.6 semantics copied (src/backend.c `back_handle_st_cer()`,
//! include/haproxy/stream.h `stream_choose_redispatch()`, src/stconn.c, src/stream.c):
//! - `retries N` (default 3) more attempts after a failed connect. After a connection
//!   *error* (refused, unreachable) the next attempt waits MIN(1 s, `timeout connect`)
//!   when it goes to the same server or the backend has at most one active server;
//!   after a connect *timeout* it retries at once.
//! - `option redispatch [N]` (N defaults to -1: the last retry) moves the session to
//!   another server every N retries (or on the last one), and on every retry when the
//!   backend has more than one active server and a non-hash algorithm.
//! - A client that closes while the connection is being set up, having sent nothing,
//!   aborts it (`CC`); one that sent data and half-closed waits for the server.
//! - Each side has its own idle timer (`timeout client` / `timeout server`, both
//!   replaced by `timeout tunnel` once connected), refreshed by a read from that side or
//!   a write to it. A FIN is forwarded as a shutdown of the other side; once we have shut
//!   a side's write, its timer becomes `timeout client-fin` / `server-fin` if set.
//! - Termination flags: `--` both sides closed cleanly, `CD`/`SD` a reset or error on the
//!   client/server side, `cD`/`sD` a side's timer expired, `SC` connection refused after
//!   the retries (`sC` if the last attempt timed out), `CC` client abort while connecting.
//! - `option splice-*`: a direction may forward through a kernel pipe
//!   (`splice_pipe.rs`) instead of its buffer; the pump's timers, FIN forwarding and
//!   byte counts are the same either way (src/stream.c decides when, see [`SplicePolicy`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpSocket, TcpStream};

use crate::balance::QueuePosition;
use crate::client_stream::ClientStream;
use crate::proxy_protocol::{self, Decoded, ProxyHeader, ProxyHeaderError};
use crate::splice_pipe::SplicePipe;
use crate::traffic_log::{TerminationCause, TerminationPhase, TerminationState};

/// The buffer of each direction.
pub const BUFFER_SIZE: usize = 32 * 1024;

/// HAProxy's `CONN_RETRIES` default.
pub const DEFAULT_RETRIES: u32 = 3;

/// `option redispatch [interval]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redispatch {
    /// No `option redispatch` (or `no option redispatch`).
    Off,
    /// `option redispatch N`, N > 0: every N retries.
    Every(u32),
    /// `option redispatch` (-1) or a negative N: the Nth retry before the end, counted
    /// as HAProxy does (`retries % (retries + 1 + N) == 0`).
    BeforeEnd(u32),
}

/// What the balancer says about the backend when a retry is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendView {
    /// Usable (running, non-backup) servers: HAProxy's `srv_act`.
    pub active_servers: u32,
    /// The algorithm hashes (source, uri, hdr...): a retry must not move such a
    /// session on its own (`BE_LB_KIND_HI`).
    pub hash_based: bool,
    /// The server of the failed attempt is still up.
    pub server_running: bool,
}

/// Why an attempt to reach a server failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Refused, unreachable, reset: HAProxy's `STRM_ET_CONN_ERR`.
    Error,
    /// `timeout connect` expired: `STRM_ET_CONN_TO`.
    Timeout,
}

/// What to do after a failed attempt (`back_handle_st_cer()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// No retry left: the session ends (`SC` / `sC`).
    GiveUp,
    /// Try again, after `pause` (zero: at once); `redispatch` asks the balancer for a
    /// server anew.
    Retry { redispatch: bool, pause: Duration },
}

/// The pure retry rule. `retries_done` is the number of retries already made (0 after
/// the first attempt failed).
pub fn after_connect_failure(
    failure: ConnectFailure,
    retries_done: u32,
    retries: u32,
    redispatch: Redispatch,
    connect_timeout: Option<Duration>,
    backend: BackendView,
) -> RetryDecision {
    if retries_done >= retries {
        return RetryDecision::GiveUp;
    }
    let n = retries_done + 1; // s->conn_retries after the increment
    let on_interval = match redispatch {
        Redispatch::Off => false,
        // checked_rem: a zero interval never matches (and `is_multiple_of` is past MSRV).
        Redispatch::Every(every) => n.checked_rem(every) == Some(0),
        Redispatch::BeforeEnd(before) => {
            // C's `%` with HAProxy's signed modulus (`retries + 1 + N`, N < 0): a modulus
            // below zero still matches its multiples; zero never matches here (HAProxy
            // would divide by zero).
            let modulo = i64::from(retries) + 1 - i64::from(before);
            i64::from(n).checked_rem(modulo) == Some(0)
        }
    };
    let redispatch = redispatch != Redispatch::Off
        && (!backend.server_running
            || on_interval
            || (backend.active_servers > 1 && !backend.hash_based));
    let pause = if failure == ConnectFailure::Error && (!redispatch || backend.active_servers <= 1)
    {
        let second = Duration::from_secs(1);
        connect_timeout.map_or(second, |t| if t.is_zero() { second } else { t.min(second) })
    } else {
        Duration::ZERO
    };
    RetryDecision::Retry { redispatch, pause }
}

/// The timeouts a TCP session runs with (`None`: not set, no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub connect: Option<Duration>,
    pub client: Option<Duration>,
    pub server: Option<Duration>,
    pub tunnel: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server_fin: Option<Duration>,
}

impl SessionTimeouts {
    /// From the model's timeouts (frontend's client side, backend's server side, as
    /// HAProxy takes them).
    pub fn from_model(
        frontend: &haproxy_conf::model::Timeouts,
        backend: &haproxy_conf::model::Timeouts,
    ) -> SessionTimeouts {
        SessionTimeouts {
            connect: backend.connect,
            client: frontend.client,
            server: backend.server,
            tunnel: backend.tunnel,
            client_fin: frontend.client_fin,
            server_fin: backend.server_fin,
        }
    }
}

/// `send-proxy` / `send-proxy-v2` on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendProxy {
    V1,
    V2,
}

/// A server to connect to, as the balancer chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTarget {
    pub name: String,
    pub address: SocketAddr,
    pub send_proxy: Option<SendProxy>,
    /// The stats page's "Kill Sessions" on this server.
    pub kill: KillSwitch,
}

/// A server's "Kill Sessions" signal (`srv_shutdown_streams()`): a generation the
/// engine bumps; a session watching it ends when it moves after the session started.
#[derive(Debug, Clone, Default)]
pub struct KillSwitch(Option<tokio::sync::watch::Receiver<u64>>);

/// The signal is not part of what a target is: any two compare equal.
impl PartialEq for KillSwitch {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for KillSwitch {}

impl KillSwitch {
    /// The engine's side (bump with `send_modify`) and the switch sessions clone.
    pub fn channel() -> (tokio::sync::watch::Sender<u64>, KillSwitch) {
        let (tx, rx) = tokio::sync::watch::channel(0);
        (tx, KillSwitch(Some(rx)))
    }

    /// Watching from now on: kills before this call do not count.
    pub(crate) fn armed(&self) -> KillSwitch {
        let mut rx = self.0.clone();
        if let Some(rx) = &mut rx {
            rx.borrow_and_update();
        }
        KillSwitch(rx)
    }

    /// Resolves when the server's sessions are killed (never, without an engine).
    pub(crate) async fn killed(&mut self) {
        match &mut self.0 {
            Some(rx) => {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// How a connection left its queue: with a slot on `target`, or without one (`None`:
/// `timeout queue` ran out first, or its server went down with nowhere else to go), and
/// where it stood.
#[derive(Debug)]
pub struct QueueExit {
    pub target: Option<ServerTarget>,
    pub position: QueuePosition,
}

/// A connection waiting in a backend or server queue (`maxconn` reached): how it
/// leaves arrives on `exit`.
#[derive(Debug)]
pub struct QueueWait {
    pub ticket: u64,
    /// The server whose own queue it waits in (the balancer chose it first: hashing);
    /// `None` for the backend queue. HAProxy logs it even if no slot comes.
    pub server: Option<String>,
    pub exit: tokio::sync::oneshot::Receiver<QueueExit>,
}

/// What a session gets when it asks for a server.
#[derive(Debug)]
pub enum Picked {
    /// Connect to this server (its connection slot is taken).
    Server(ServerTarget),
    /// Every usable server is full: wait for a slot.
    Queued(QueueWait),
    /// The queue of the chosen server (named) holds `maxqueue` connections (`SQ`).
    QueueFull(String),
    /// No usable server (`SC`).
    NoServer,
}

impl From<Option<ServerTarget>> for Picked {
    fn from(target: Option<ServerTarget>) -> Picked {
        target.map_or(Picked::NoServer, Picked::Server)
    }
}

/// The balancer as a session sees it: the engine's balancers implement this.
pub trait ServerPicker: Send {
    /// A server for a new attempt; `previous` is the server of the failed attempt when
    /// redispatching (its slot has been released already).
    fn pick(&mut self, client: SocketAddr, previous: Option<&str>) -> Picked;
    /// [`ServerPicker::pick`] for an HTTP request whose parts the backend hashes on
    /// (`balance uri`, `url_param`, `hdr`).
    fn pick_for_request(
        &mut self,
        client: SocketAddr,
        _request: &RequestHint,
        previous: Option<&str>,
    ) -> Picked {
        self.pick(client, previous)
    }
    /// A queued connection gave up (client gone) before getting its slot: where it
    /// stood.
    fn cancel(&mut self, _ticket: u64) -> QueuePosition {
        QueuePosition::default()
    }
    /// The backend as it is now, for the retry rule.
    fn view(&self, server: &str) -> BackendView;
    /// The backend's name (for `show sess`).
    fn backend_name(&self) -> Option<String> {
        None
    }
    /// A connection attempt to `server` starts (HAProxy's `cur_sess`).
    fn connection_opened(&mut self, _server: &str) {}
    /// A connection attempt to `server` failed, or the session gave up during it.
    fn connection_failed(&mut self, _server: &str) {}
    /// A connection to `server` was established (for `%sc`).
    fn connected(&mut self, _server: &str) {}
    /// The session no longer uses the slot it was given on `server`: after the data
    /// phase (`was_connected`: its connection is closed too), or after failed attempts it
    /// gives up on or redispatches away from.
    fn released(&mut self, _server: &str, _was_connected: bool) {}
}

/// Where [`connect_with_retries`] looks for an idle connection to a server before
/// connecting (`mode http` keep-alive).
pub(crate) type IdleConnections<'a> = &'a mut (dyn FnMut(&str) -> Option<TcpStream> + Send);

/// The parts of an HTTP request a backend's `balance` hashes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHint {
    /// The URI as the backend's rules left it (`balance uri`, `url_param`).
    pub uri: Option<Vec<u8>>,
    /// The first value of the hashed header (`balance hdr(name)`).
    pub header: Option<Vec<u8>>,
    /// The server the request's persistence cookie names (`SF_DIRECT`): taken without
    /// balancing on the first attempt.
    pub server: Option<String>,
}

/// How a session behaves, from the frontend and backend settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    pub timeouts: SessionTimeouts,
    pub retries: u32,
    pub redispatch: Redispatch,
    /// `option tcpka` (or `clitcpka`): SO_KEEPALIVE on the client connection.
    pub client_keepalive: bool,
    /// The client closing while a server is being reached aborts the session (`CC`):
    /// always in `mode tcp`; in `mode http` only with `option abortonclose` (the request
    /// is complete, HAProxy goes on and answers a closed connection).
    pub abort_on_close: bool,
    /// `option tcpka` (or `srvtcpka`): SO_KEEPALIVE on server connections.
    pub server_keepalive: bool,
    /// `option splice-*`: which directions forward through a kernel pipe.
    pub splice: Splicing,
}

/// When one direction forwards through a kernel pipe (`splice(2)`) rather than through
/// its buffer (src/stream.c, "check if it is wise to enable kernel splicing").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SplicePolicy {
    /// Copy through the buffer (no `option splice-*`, or `global nosplice`).
    #[default]
    Never,
    /// `option splice-request` (`splice-response`): from the first byte the pump reads.
    Always,
    /// `option splice-auto`: once the direction looks like a fast stream, HAProxy's
    /// `CF_STREAMER_FAST` (three reads in a row that fill the buffer).
    Auto,
}

/// The splice policy of each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Splicing {
    /// Client to server.
    pub request: SplicePolicy,
    /// Server to client.
    pub response: SplicePolicy,
    pub pipes: PipeLimits,
}

/// The kernel pipes splicing may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipeLimits {
    /// `maxpipes`: pipes open at once in the process (`None`: no limit); a direction
    /// that finds none left copies instead.
    pub max_pipes: Option<usize>,
    /// `tune.pipesize` (`None`: the kernel's default, 64 KiB).
    pub pipe_size: Option<usize>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            timeouts: SessionTimeouts::default(),
            retries: DEFAULT_RETRIES,
            redispatch: Redispatch::Off,
            client_keepalive: false,
            abort_on_close: true,
            server_keepalive: false,
            splice: Splicing::default(),
        }
    }
}

/// Why a connection with `accept-proxy` never became a session (`conn_err_code_str()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbryonicError {
    /// The client closed before sending anything (`CO_ER_PRX_EMPTY`).
    Empty,
    /// A receive error (`CO_ER_PRX_ABORT`).
    Abort,
    /// Nothing within `timeout client` (`CO_ER_PRX_TIMEOUT`).
    Timeout,
    /// The first bytes received were not a whole header (`CO_ER_PRX_TRUNCATED`).
    Truncated,
    /// Not a PROXY header, an invalid one, or an unhandled protocol.
    Header(ProxyHeaderError),
}

impl std::fmt::Display for EmbryonicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EmbryonicError::Empty => "Connection closed while waiting for PROXY protocol header",
            EmbryonicError::Abort => "Connection error while waiting for PROXY protocol header",
            EmbryonicError::Timeout => "Timeout while waiting for PROXY protocol header",
            EmbryonicError::Truncated => "Truncated PROXY protocol header received",
            EmbryonicError::Header(e) => return write!(f, "{e}"),
        })
    }
}

impl EmbryonicError {
    /// `option dontlognull` drops these: nothing was received (a timeout too, because
    /// HAProxy tests its error code before setting it to "timeout").
    pub fn is_null(self) -> bool {
        matches!(
            self,
            EmbryonicError::Empty | EmbryonicError::Abort | EmbryonicError::Timeout
        )
    }
}

/// What happened in a session: everything the tcplog line needs, except the process,
/// frontend and backend counters the engine samples when it writes the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The client (the PROXY header's source with `accept-proxy`).
    pub client: SocketAddr,
    /// The address the client reached (the PROXY header's destination with
    /// `accept-proxy`).
    pub destination: SocketAddr,
    pub accepted_at: SystemTime,
    /// The last server tried (`None`: `<NOSRV>`).
    pub server: Option<String>,
    pub queue_ms: Option<u64>,
    /// Where it stood in the queues it waited in (`%sq/%bq`).
    pub queue_position: QueuePosition,
    pub connect_ms: Option<u64>,
    pub total_ms: u64,
    pub bytes_from_client: u64,
    pub bytes_to_client: u64,
    /// Of the bytes forwarded (both directions), those that went through a kernel pipe
    /// (`option splice-*`) rather than a buffer. Not logged: it says which path ran.
    pub bytes_spliced: u64,
    pub retries: u32,
    pub redispatched: bool,
    pub termination: TerminationState,
    /// Set when the connection ended before the session started (bad PROXY header):
    /// HAProxy logs `CLIENT [DATE] FRONTEND/LISTENER: REASON` instead of the tcplog line.
    pub embryonic: Option<EmbryonicError>,
}

pub(crate) fn state(cause: TerminationCause, phase: TerminationPhase) -> TerminationState {
    TerminationState { cause, phase }
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A connection as the listener gave it.
#[derive(Debug)]
pub struct ClientConnection {
    pub stream: ClientStream,
    pub client: SocketAddr,
    pub local: SocketAddr,
    pub accept_proxy: bool,
    pub accepted_at: SystemTime,
    pub accepted: Instant,
}

/// Runs one session to its end and says what happened. Never fails: every error is a
/// termination state in the record.
pub async fn run_session(
    connection: ClientConnection,
    settings: SessionSettings,
    picker: &mut dyn ServerPicker,
) -> SessionRecord {
    let ClientConnection {
        mut stream,
        client,
        local,
        accept_proxy,
        accepted_at,
        accepted,
    } = connection;
    let mut record = SessionRecord {
        client,
        destination: local,
        accepted_at,
        server: None,
        queue_ms: None,
        queue_position: QueuePosition::default(),
        connect_ms: None,
        total_ms: 0,
        bytes_from_client: 0,
        bytes_to_client: 0,
        bytes_spliced: 0,
        retries: 0,
        redispatched: false,
        termination: state(TerminationCause::Normal, TerminationPhase::None),
        embryonic: None,
    };
    let _ = stream.set_nodelay(true);
    if settings.client_keepalive {
        let _ = socket2::SockRef::from(&stream).set_keepalive(true);
    }
    // Bytes from the client not yet forwarded (payload after a PROXY header, data sent
    // while the server is being reached).
    let mut pending = Vec::with_capacity(BUFFER_SIZE);
    if accept_proxy {
        match read_proxy_header(&mut stream, &mut pending, settings.timeouts.client).await {
            Ok(Some((src, dst))) => {
                record.client = src;
                record.destination = dst;
            }
            Ok(None) => {}
            Err(error) => {
                record.termination = match error {
                    EmbryonicError::Timeout => {
                        state(TerminationCause::ClientTimeout, TerminationPhase::Request)
                    }
                    EmbryonicError::Empty | EmbryonicError::Abort => {
                        state(TerminationCause::ClientAbort, TerminationPhase::Request)
                    }
                    _ => state(TerminationCause::Proxy, TerminationPhase::Request),
                };
                record.embryonic = Some(error);
                record.total_ms = ms(accepted.elapsed());
                if !matches!(error, EmbryonicError::Timeout | EmbryonicError::Empty) {
                    // HAProxy closes with the bytes unread, so the kernel resets.
                    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                }
                return record;
            }
        }
    }
    let connected = connect_with_retries(
        &mut stream,
        &mut pending,
        &settings,
        picker,
        &mut record,
        accepted,
        None,
    )
    .await;
    let Some((server_stream, target)) = connected else {
        record.bytes_from_client = pending.len() as u64;
        record.total_ms = ms(accepted.elapsed());
        if !stream.is_tls() {
            // HAProxy has read what the client sent by then, so its close is an end of
            // stream; a socket closed with unread bytes would reset (2.6.12, measured:
            // a frontend without backend, client data sent at once).
            let mut sink = [0u8; 4096];
            while matches!(stream.tcp().try_read(&mut sink), Ok(n) if n > 0) {}
        }
        return record;
    };
    picker.connected(&target.name);
    let header = match target.send_proxy {
        None => Vec::new(),
        Some(SendProxy::V1) => proxy_protocol::encode_v1(Some((record.client, record.destination))),
        Some(SendProxy::V2) => proxy_protocol::encode_v2(Some((record.client, record.destination))),
    };
    record.bytes_from_client = pending.len() as u64;
    let mut first = header;
    first.extend_from_slice(&pending);
    let pump = Pump::new(&settings.timeouts).killed_by(target.kill.armed());
    let outcome = pump
        .run(stream, server_stream, first, settings.splice)
        .await;
    picker.released(&target.name, true);
    record.bytes_from_client += outcome.bytes_from_client;
    record.bytes_to_client = outcome.bytes_to_client;
    record.bytes_spliced = outcome.bytes_spliced;
    record.termination = outcome.termination;
    record.total_ms = ms(accepted.elapsed());
    record
}

/// Reads the PROXY header (`accept-proxy`) as HAProxy does: from the first bytes that
/// arrive within `timeout client`, once (a header split over two reads is "truncated");
/// bytes after it stay in `pending`.
async fn read_proxy_header(
    stream: &mut ClientStream,
    pending: &mut Vec<u8>,
    timeout: Option<Duration>,
) -> Result<Option<(SocketAddr, SocketAddr)>, EmbryonicError> {
    let mut buf = vec![0u8; BUFFER_SIZE];
    let read = stream.read(&mut buf);
    let n = match timeout {
        Some(t) => tokio::time::timeout(t, read)
            .await
            .map_err(|_| EmbryonicError::Timeout)?,
        None => read.await,
    };
    let n = match n {
        Ok(0) => return Err(EmbryonicError::Empty),
        Ok(n) => n,
        Err(_) => return Err(EmbryonicError::Abort),
    };
    match proxy_protocol::decode(&buf[..n]) {
        Ok(Decoded::Complete { header, consumed }) => {
            pending.extend_from_slice(&buf[consumed..n]);
            Ok(match header {
                ProxyHeader::Proxied {
                    source,
                    destination,
                } => Some((source, destination)),
                ProxyHeader::Unknown => None,
            })
        }
        Ok(Decoded::Incomplete) => Err(EmbryonicError::Truncated),
        Err(e) => Err(EmbryonicError::Header(e)),
    }
}

/// The client closed with nothing to forward while we were reaching a server (`CC`).
struct ClientAborted;

/// Reads what the client sends while `until` runs; an abort stops waiting.
async fn watch_client<F: std::future::Future>(
    stream: &mut ClientStream,
    pending: &mut Vec<u8>,
    client_closed: &mut bool,
    until: F,
) -> Result<F::Output, ClientAborted> {
    tokio::pin!(until);
    let mut buf = [0u8; 4096];
    loop {
        let room = BUFFER_SIZE.saturating_sub(pending.len()).min(buf.len());
        tokio::select! {
            out = &mut until => return Ok(out),
            r = stream.read(&mut buf[..room]), if !*client_closed && room > 0 => match r {
                Ok(0) => {
                    *client_closed = true;
                    if pending.is_empty() {
                        return Err(ClientAborted);
                    }
                }
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(_) => return Err(ClientAborted),
            },
        }
    }
}

async fn connect_once(
    target: &ServerTarget,
    keepalive: bool,
    timeout: Option<Duration>,
) -> Result<TcpStream, ConnectFailure> {
    let socket = if target.address.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|_| ConnectFailure::Error)?;
    if keepalive {
        let _ = socket.set_keepalive(true);
    }
    let _ = socket.set_nodelay(true);
    let connect = socket.connect(target.address);
    let result = match timeout {
        Some(t) => tokio::time::timeout(t, connect)
            .await
            .map_err(|_| ConnectFailure::Timeout)?,
        None => connect.await,
    };
    result.map_err(|_| ConnectFailure::Error)
}

/// Asks the picker for a server and, when the connection is queued, waits for its
/// slot while watching the client. `Err` carries the termination state.
///
/// A queued session that leaves without a slot is logged as HAProxy's
/// `back_handle_st_que()` leaves it: `%Tw` up to that moment, its position, and the
/// server whose queue it waited in (none for the backend queue).
async fn obtain_server(
    client: &mut ClientStream,
    pending: &mut Vec<u8>,
    client_closed: &mut bool,
    picker: &mut dyn ServerPicker,
    record: &mut SessionRecord,
    accepted: Instant,
    previous: Option<&str>,
) -> Result<ServerTarget, TerminationState> {
    match picker.pick(record.client, previous) {
        Picked::Server(target) => Ok(target),
        Picked::NoServer => Err(state(
            TerminationCause::ServerAbort,
            TerminationPhase::Connect,
        )),
        // STRM_ET_QUEUE_ERR: `SQ`, on the server chosen (haproxy 2.6.12 logs
        // `be/web2 -1/-1/0 0 SQ`).
        Picked::QueueFull(server) => {
            record.server = Some(server);
            Err(state(
                TerminationCause::ServerAbort,
                TerminationPhase::Queue,
            ))
        }
        Picked::Queued(mut wait) => {
            let outcome = watch_client(client, pending, client_closed, &mut wait.exit).await;
            let (position, termination) = match outcome {
                Ok(Ok(QueueExit {
                    target: Some(target),
                    position,
                })) => {
                    record.queue_position = record.queue_position.then(position);
                    return Ok(target);
                }
                // STRM_ET_QUEUE_TO: `sQ`.
                Ok(Ok(QueueExit {
                    target: None,
                    position,
                })) => (
                    position,
                    state(TerminationCause::ServerTimeout, TerminationPhase::Queue),
                ),
                // The engine stopped.
                Ok(Err(_)) => (
                    QueuePosition::default(),
                    state(TerminationCause::ServerTimeout, TerminationPhase::Queue),
                ),
                // STRM_ET_QUEUE_ABRT: `CQ`.
                Err(ClientAborted) => {
                    let mut position = picker.cancel(wait.ticket);
                    // A slot handed over just before the cancel goes back.
                    if let Ok(exit) = wait.exit.try_recv() {
                        if let Some(target) = exit.target {
                            picker.released(&target.name, false);
                        }
                        position = exit.position;
                    }
                    (
                        position,
                        state(TerminationCause::ClientAbort, TerminationPhase::Queue),
                    )
                }
            };
            record.queue_position = record.queue_position.then(position);
            record.queue_ms = Some(ms(accepted.elapsed()));
            if wait.server.is_some() {
                record.server = wait.server;
            }
            Err(termination)
        }
    }
}

/// The connect loop with queueing, retries, pauses and redispatch; fills the record's
/// server, retries, timers and (on failure) termination.
pub(crate) async fn connect_with_retries(
    client: &mut ClientStream,
    pending: &mut Vec<u8>,
    settings: &SessionSettings,
    picker: &mut dyn ServerPicker,
    record: &mut SessionRecord,
    accepted: Instant,
    mut idle: Option<IdleConnections<'_>>,
) -> Option<(TcpStream, ServerTarget)> {
    // Not watching the client is the same as having seen it close with data pending:
    // nothing it does aborts the connect.
    let mut client_closed = !settings.abort_on_close;
    let first = obtain_server(
        client,
        pending,
        &mut client_closed,
        picker,
        record,
        accepted,
        None,
    )
    .await;
    let mut target = match first {
        Ok(t) => t,
        Err(termination) => {
            // No slot. `%Tw` stays -1 unless the session waited in a queue (as haproxy
            // 2.6.12 logs `be/<NOSRV> -1/-1/0 0 SC`, but `be/<NOSRV> 2001/-1/2001 0 sQ`).
            record.termination = termination;
            return None;
        }
    };
    // %Tw: until the slot was given; %Tc counts from here, retries included.
    let queued = Instant::now();
    record.queue_ms = Some(ms(queued - accepted));
    let abort = |record: &mut SessionRecord| {
        record.termination = state(TerminationCause::ClientAbort, TerminationPhase::Connect);
    };
    loop {
        record.server = Some(target.name.clone());
        crate::sessions::note_server(|| picker.backend_name(), &target.name);
        picker.connection_opened(&target.name);
        // An idle connection to this server (`mode http` keep-alive) is used as is.
        if let Some(stream) = idle.as_mut().and_then(|take| take(&target.name)) {
            record.connect_ms = Some(ms(queued.elapsed()));
            return Some((stream, target));
        }
        let attempt = connect_once(
            &target,
            settings.server_keepalive,
            settings.timeouts.connect,
        );
        let failure = match watch_client(client, pending, &mut client_closed, attempt).await {
            Err(ClientAborted) => {
                picker.connection_failed(&target.name);
                picker.released(&target.name, false);
                abort(record);
                return None;
            }
            Ok(Ok(stream)) => {
                record.connect_ms = Some(ms(queued.elapsed()));
                return Some((stream, target));
            }
            Ok(Err(failure)) => {
                picker.connection_failed(&target.name);
                failure
            }
        };
        let decision = after_connect_failure(
            failure,
            record.retries,
            settings.retries,
            settings.redispatch,
            settings.timeouts.connect,
            picker.view(&target.name),
        );
        match decision {
            RetryDecision::GiveUp => {
                picker.released(&target.name, false);
                let cause = match failure {
                    ConnectFailure::Error => TerminationCause::ServerAbort,
                    ConnectFailure::Timeout => TerminationCause::ServerTimeout,
                };
                record.termination = state(cause, TerminationPhase::Connect);
                return None;
            }
            RetryDecision::Retry { redispatch, pause } => {
                record.retries += 1;
                if !pause.is_zero() {
                    let sleep = tokio::time::sleep(pause);
                    if watch_client(client, pending, &mut client_closed, sleep)
                        .await
                        .is_err()
                    {
                        picker.released(&target.name, false);
                        abort(record);
                        return None;
                    }
                }
                if redispatch {
                    picker.released(&target.name, false);
                    let previous = target.name.clone();
                    match obtain_server(
                        client,
                        pending,
                        &mut client_closed,
                        picker,
                        record,
                        accepted,
                        Some(&previous),
                    )
                    .await
                    {
                        Ok(next) => {
                            if next.name != previous {
                                record.redispatched = true;
                            }
                            target = next;
                        }
                        Err(termination) => {
                            record.termination = termination;
                            return None;
                        }
                    }
                }
            }
        }
    }
}

/// One side of the pump: its idle timer and whether each direction is still open.
#[derive(Debug)]
struct Side {
    /// We may still read from this side (no FIN received).
    reading: bool,
    /// We have not shut our write to this side yet.
    writing: bool,
    idle: Option<Duration>,
    fin_idle: Option<Duration>,
    last_activity: tokio::time::Instant,
}

impl Side {
    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.idle.map(|t| self.last_activity + t)
    }

    /// We shut our write to this side: HAProxy switches its read timeout to `*-fin`.
    fn shut_write(&mut self) {
        self.writing = false;
        if let Some(fin) = self.fin_idle {
            self.idle = Some(fin);
            self.last_activity = tokio::time::Instant::now();
        }
    }
}

pub(crate) struct PumpOutcome {
    pub(crate) bytes_from_client: u64,
    pub(crate) bytes_to_client: u64,
    pub(crate) bytes_spliced: u64,
    pub(crate) termination: TerminationState,
}

/// The data phase.
pub(crate) struct Pump {
    client: Side,
    server: Side,
    /// The server's "Kill Sessions" signal.
    kill: KillSwitch,
}

impl Pump {
    pub(crate) fn new(t: &SessionTimeouts) -> Pump {
        let now = tokio::time::Instant::now();
        let side = |idle: Option<Duration>, fin_idle| Side {
            reading: true,
            writing: true,
            idle: t.tunnel.or(idle),
            fin_idle,
            last_activity: now,
        };
        Pump {
            client: side(t.client, t.client_fin),
            server: side(t.server, t.server_fin),
            kill: KillSwitch::default(),
        }
    }

    /// Ends the session when `kill` fires (the stats page's "Kill Sessions").
    pub(crate) fn killed_by(mut self, kill: KillSwitch) -> Pump {
        self.kill = kill;
        self
    }

    /// `to_server_first` is sent before anything else (PROXY header, early data); the
    /// byte counters only count what the pump itself reads.
    pub(crate) async fn run(
        self,
        client: ClientStream,
        mut server: TcpStream,
        to_server_first: Vec<u8>,
        splicing: Splicing,
    ) -> PumpOutcome {
        let (sr, sw) = server.split();
        match client {
            ClientStream::Plain(mut client) => {
                let (cr, cw) = client.split();
                self.run_halves(cr, cw, sr, sw, to_server_first, splicing)
                    .await
            }
            // Bytes leave the kernel decrypted by us: no splicing (HAProxy neither
            // splices SSL connections). The halves share the TLS state behind a lock.
            ClientStream::Tls(client) => {
                let (cr, cw) = tokio::io::split(*client);
                let copy = Splicing {
                    request: SplicePolicy::Never,
                    response: SplicePolicy::Never,
                    ..splicing
                };
                self.run_halves(cr, cw, sr, sw, to_server_first, copy).await
            }
        }
    }

    async fn run_halves<CR: PumpRead, CW: PumpWrite>(
        mut self,
        mut cr: CR,
        mut cw: CW,
        mut sr: ReadHalf<'_>,
        mut sw: WriteHalf<'_>,
        to_server_first: Vec<u8>,
        splicing: Splicing,
    ) -> PumpOutcome {
        let mut kill = std::mem::take(&mut self.kill);
        let mut c2s = Direction::new(to_server_first, splicing.request, splicing.pipes);
        let mut s2c = Direction::new(Vec::new(), splicing.response, splicing.pipes);
        let mut out = PumpOutcome {
            bytes_from_client: 0,
            bytes_to_client: 0,
            bytes_spliced: 0,
            termination: state(TerminationCause::Normal, TerminationPhase::None),
        };
        let end = |cause| state(cause, TerminationPhase::Data);
        let timer = tokio::time::sleep_until(far_future());
        tokio::pin!(timer);
        // An error after a timeout keeps the timeout's flag (the first one wins).
        let fail = |out: &mut PumpOutcome, cause| {
            if out.termination.cause == TerminationCause::Normal {
                out.termination = state(cause, TerminationPhase::Data);
            }
        };
        loop {
            // A FIN received and everything before it forwarded: forward the FIN.
            if !self.client.reading && c2s.is_empty() && self.server.writing {
                let _ = sw.shutdown().await;
                self.server.shut_write();
            }
            if !self.server.reading && s2c.is_empty() && self.client.writing {
                let _ = cw.shutdown().await;
                self.client.shut_write();
            }
            if !self.client.writing && !self.server.writing {
                return out;
            }
            // One timer for the session, moved lazily: activity only pushes deadlines
            // later, so the timer is re-armed when it fires early (or when a deadline
            // moved earlier, e.g. a `*-fin` timeout) rather than on every read.
            let deadline = [self.client.deadline(), self.server.deadline()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or_else(far_future);
            if deadline < timer.deadline() {
                timer.as_mut().reset(deadline);
            }
            let client_reading = self.client.reading;
            let server_reading = self.server.reading;
            tokio::select! {
                step = c2s.step(&mut cr, &mut sw, client_reading) => match step {
                    Step::Read(n) => {
                        self.client.last_activity = tokio::time::Instant::now();
                        out.bytes_from_client += n as u64;
                    }
                    Step::Eof => self.client.reading = false,
                    Step::Wrote { spliced, .. } => {
                        self.server.last_activity = tokio::time::Instant::now();
                        out.bytes_spliced += spliced;
                    }
                    Step::ReadFailed => {
                        fail(&mut out, TerminationCause::ClientAbort);
                        return out;
                    }
                    Step::WriteFailed => {
                        fail(&mut out, TerminationCause::ServerAbort);
                        return out;
                    }
                },
                step = s2c.step(&mut sr, &mut cw, server_reading) => match step {
                    Step::Read(_) => self.server.last_activity = tokio::time::Instant::now(),
                    Step::Eof => self.server.reading = false,
                    Step::Wrote { bytes, spliced } => {
                        self.client.last_activity = tokio::time::Instant::now();
                        out.bytes_to_client += bytes;
                        out.bytes_spliced += spliced;
                    }
                    Step::ReadFailed => {
                        fail(&mut out, TerminationCause::ServerAbort);
                        return out;
                    }
                    Step::WriteFailed => {
                        fail(&mut out, TerminationCause::ClientAbort);
                        return out;
                    }
                },
                // "Kill Sessions": both sides close at once, logged `K-` (measured on
                // haproxy 2.6.12 for a `mode tcp` session).
                () = kill.killed() => {
                    out.termination = state(TerminationCause::Killed, TerminationPhase::None);
                    return out;
                }
                () = &mut timer => {
                    timer.as_mut().reset(far_future());
                    // A side idle past its timeout is not cut off: HAProxy stops reading
                    // it and forwards a FIN to the other side (the first timeout names
                    // the session), then waits for that side to close under its own
                    // timer. Data still owed to the expired side ends it at once.
                    let now = tokio::time::Instant::now();
                    let expired = |side: &Side| side.deadline().is_some_and(|d| d <= now);
                    for (is_client, cause) in [
                        (true, TerminationCause::ClientTimeout),
                        (false, TerminationCause::ServerTimeout),
                    ] {
                        let (side, owed) = if is_client {
                            (&mut self.client, !s2c.is_empty())
                        } else {
                            (&mut self.server, !c2s.is_empty())
                        };
                        if !expired(side) {
                            continue;
                        }
                        if out.termination.cause == TerminationCause::Normal {
                            out.termination = end(cause);
                        }
                        if owed || !side.reading {
                            return out;
                        }
                        side.reading = false;
                        side.idle = None;
                    }
                }
            }
        }
    }
}

/// A deadline that never comes (about 30 years; tokio's timer caps it anyway).
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// What one direction did.
enum Step {
    Read(usize),
    Eof,
    /// `bytes` written to the destination, `spliced` of them from the pipe.
    Wrote {
        bytes: u64,
        spliced: u64,
    },
    ReadFailed,
    WriteFailed,
}

/// One direction's buffer: read when empty, write out what it holds.
struct Buffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buffer {
    fn with_first(first: Vec<u8>) -> Buffer {
        let end = first.len();
        let mut data = first;
        data.resize(BUFFER_SIZE.max(end), 0);
        Buffer {
            data,
            start: 0,
            end,
        }
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// HAProxy's "full read" for `CF_STREAMER_FAST`: the buffer filled but for the rewrite
/// reserve (`buf.size - maxrewrite`, MAXREWRITE 1024).
const FULL_READ: usize = BUFFER_SIZE - 1024;

/// How a direction forwards, given its [`SplicePolicy`].
#[derive(Debug)]
enum Forwarding {
    /// Through the buffer only.
    Copy,
    /// `splice-auto`, not yet a fast stream: through the buffer, counting full reads.
    Watching { full_reads: u8 },
    /// Through a kernel pipe, taken at the first read that needs it (once the buffer
    /// is empty).
    Splice(Option<SplicePipe>),
}

/// One direction of the pump: its buffer (which also carries the bytes sent before the
/// pump: PROXY header, early data) and, when splicing, its pipe. Reads only when both
/// are empty, so bytes leave in the order they came.
struct Direction {
    buffer: Buffer,
    forwarding: Forwarding,
    pipes: PipeLimits,
}

impl Direction {
    fn new(first: Vec<u8>, policy: SplicePolicy, pipes: PipeLimits) -> Direction {
        let forwarding = match policy {
            SplicePolicy::Never => Forwarding::Copy,
            SplicePolicy::Auto => Forwarding::Watching { full_reads: 0 },
            SplicePolicy::Always => Forwarding::Splice(None),
        };
        Direction {
            buffer: Buffer::with_first(first),
            forwarding,
            pipes,
        }
    }

    fn is_empty(&self) -> bool {
        self.buffer.is_empty()
            && match &self.forwarding {
                Forwarding::Splice(Some(pipe)) => pipe.held() == 0,
                _ => true,
            }
    }

    /// Writes what is buffered or piped, or reads when empty (and `reading`); never
    /// resolves when there is nothing to do. Cancel-safe: tokio's TCP read and write
    /// are, so are the pipe's fill and drain, and the indices only move once an
    /// operation has completed.
    async fn step<R: PumpRead, W: PumpWrite>(
        &mut self,
        from: &mut R,
        to: &mut W,
        reading: bool,
    ) -> Step {
        let buffer = &mut self.buffer;
        if !buffer.is_empty() {
            return match to.write(&buffer.data[buffer.start..buffer.end]).await {
                Ok(n) if n > 0 => {
                    buffer.start += n;
                    Step::Wrote {
                        bytes: n as u64,
                        spliced: 0,
                    }
                }
                _ => Step::WriteFailed,
            };
        }
        if let Forwarding::Splice(Some(pipe)) = &mut self.forwarding {
            if let (true, Some(socket)) = (pipe.held() > 0, to.socket()) {
                return match pipe.drain(socket).await {
                    Ok(n) => Step::Wrote {
                        bytes: n as u64,
                        spliced: n as u64,
                    },
                    Err(_) => Step::WriteFailed,
                };
            }
        }
        if !reading {
            return std::future::pending().await;
        }
        if let Forwarding::Splice(slot) = &mut self.forwarding {
            if slot.is_none() && from.socket().is_some() && to.socket().is_some() {
                *slot = SplicePipe::new(self.pipes);
            }
        }
        match (&mut self.forwarding, from.socket()) {
            // No pipe to be had (or a side is not a bare socket): copy from now on, as
            // HAProxy does.
            (Forwarding::Splice(None), _) | (Forwarding::Splice(Some(_)), None) => {
                self.forwarding = Forwarding::Copy
            }
            (Forwarding::Splice(Some(pipe)), Some(socket)) => {
                return match pipe.fill(socket).await {
                    Ok(0) => Step::Eof,
                    Ok(n) => Step::Read(n),
                    Err(_) => Step::ReadFailed,
                };
            }
            _ => {}
        }
        let capacity = buffer.data.len();
        match from.read(&mut buffer.data[..capacity]).await {
            Ok(0) => Step::Eof,
            Ok(n) => {
                (buffer.start, buffer.end) = (0, n);
                if let Forwarding::Watching { full_reads } = &mut self.forwarding {
                    *full_reads = if n >= FULL_READ { *full_reads + 1 } else { 0 };
                    if *full_reads >= 3 {
                        // The pipe takes over once this buffer is written out.
                        self.forwarding = Forwarding::Splice(None);
                    }
                }
                Step::Read(n)
            }
            Err(_) => Step::ReadFailed,
        }
    }
}

/// A source the pump reads: splicing needs the bare socket behind it.
pub(crate) trait PumpRead: AsyncRead + Unpin {
    fn socket(&self) -> Option<&TcpStream>;
}

/// A destination the pump writes to.
pub(crate) trait PumpWrite: AsyncWrite + Unpin {
    fn socket(&self) -> Option<&TcpStream>;
}

impl PumpRead for ReadHalf<'_> {
    fn socket(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
    }
}

impl PumpWrite for WriteHalf<'_> {
    fn socket(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
    }
}

impl PumpRead for tokio::io::ReadHalf<tokio_rustls::server::TlsStream<TcpStream>> {
    fn socket(&self) -> Option<&TcpStream> {
        None
    }
}

impl PumpWrite for tokio::io::WriteHalf<tokio_rustls::server::TlsStream<TcpStream>> {
    fn socket(&self) -> Option<&TcpStream> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: BackendView = BackendView {
        active_servers: 1,
        hash_based: false,
        server_running: true,
    };
    const TWO: BackendView = BackendView {
        active_servers: 2,
        hash_based: false,
        server_running: true,
    };

    fn retry(redispatch: bool, pause_ms: u64) -> RetryDecision {
        RetryDecision::Retry {
            redispatch,
            pause: Duration::from_millis(pause_ms),
        }
    }

    #[test]
    fn refused_connections_wait_a_second_on_the_same_server() {
        // haproxy 2.6.12, retries 3, timeout connect 2s, one server refusing: Tt 3005 ms,
        // %rc 3, SC (tests/reference_io.rs).
        let connect = Some(Duration::from_secs(2));
        for done in 0..3 {
            assert_eq!(
                after_connect_failure(
                    ConnectFailure::Error,
                    done,
                    3,
                    Redispatch::Off,
                    connect,
                    ONE
                ),
                retry(false, 1000)
            );
        }
        assert_eq!(
            after_connect_failure(ConnectFailure::Error, 3, 3, Redispatch::Off, connect, ONE),
            RetryDecision::GiveUp
        );
        // The pause is MIN(1 s, timeout connect); timeouts retry at once.
        assert_eq!(
            after_connect_failure(
                ConnectFailure::Error,
                0,
                3,
                Redispatch::Off,
                Some(Duration::from_millis(300)),
                ONE
            ),
            retry(false, 300)
        );
        assert_eq!(
            after_connect_failure(ConnectFailure::Timeout, 0, 3, Redispatch::Off, connect, ONE),
            retry(false, 0)
        );
    }

    #[test]
    fn redispatch_rules_follow_stream_choose_redispatch() {
        let c = Some(Duration::from_secs(5));
        let last = Redispatch::BeforeEnd(1);
        // One active server: only the last retry redispatches, and still pauses.
        assert_eq!(
            after_connect_failure(ConnectFailure::Error, 0, 3, last, c, ONE),
            retry(false, 1000)
        );
        assert_eq!(
            after_connect_failure(ConnectFailure::Error, 2, 3, last, c, ONE),
            retry(true, 1000)
        );
        // Several active servers, round robin: every retry moves, without pause.
        assert_eq!(
            after_connect_failure(ConnectFailure::Error, 0, 3, last, c, TWO),
            retry(true, 0)
        );
        // A hash algorithm keeps the server until the last retry.
        let hashed = BackendView {
            hash_based: true,
            ..TWO
        };
        assert_eq!(
            after_connect_failure(ConnectFailure::Error, 0, 3, last, c, hashed),
            retry(false, 1000)
        );
        assert_eq!(
            after_connect_failure(ConnectFailure::Error, 2, 3, last, c, hashed),
            retry(true, 0)
        );
        // A server known down is left at once.
        let down = BackendView {
            server_running: false,
            ..ONE
        };
        assert_eq!(
            after_connect_failure(ConnectFailure::Error, 0, 3, last, c, down),
            retry(true, 1000)
        );
        // `option redispatch 2`: retries 2 and 4.
        let every2 = Redispatch::Every(2);
        let hits: Vec<bool> = (0..4)
            .map(|d| {
                matches!(
                    after_connect_failure(ConnectFailure::Timeout, d, 5, every2, c, hashed),
                    RetryDecision::Retry {
                        redispatch: true,
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(hits, vec![false, true, false, true]);
    }
}
