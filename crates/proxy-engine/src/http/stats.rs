//! The stats page (`stats enable` / `stats uri` ...) as HAProxy 2.6.12 serves it, pure:
//! the runtime hands a request head ([`match_request`]) and, for a page, a
//! [`StatsSnapshot`] of its counters ([`respond`]); it gets the exact response bytes.
//!
//! What is ported, from haproxy 2.6.12 `src/stats.c` and `src/http_ana.c`:
//! - the URI test (`http_stats_check_uri`): GET/HEAD/POST whose path-with-query (or
//!   whole URI when the configured URI does not start with `/`) *starts with* the
//!   configured URI; the `;csv`, `;up`, `;no-maint`, `;norefresh`, `;st=`, `scope=`
//!   options searched anywhere after that prefix (`http_handle_stats`);
//! - `stats auth`: HAProxy turns it into `http-request auth [realm R] unless
//!   { http_auth(...) }`: Basic credentials (with HAProxy's quirks: the scheme matches
//!   when it is a case-insensitive *prefix* of `Basic`, the header value stops at the
//!   first comma, the decoded text stops at a NUL) else a 401 with
//!   `www-authenticate: Basic realm="..."` (default realm `HAProxy Statistics`);
//! - the CSV export (`stats_dump_csv_header`, `stats_fill_{fe,sv,be}_stats`, the
//!   ssl/h2/h1 module columns after the `-` delimiter), byte for byte;
//! - the HTML page: head and CSS verbatim (`stats_head.html`, extracted from
//!   `stats_dump_html_head`), the process block, one table per proxy with the same
//!   rows, cells and state classes (`active_up`, `backup_going_down`, `maintain`...),
//!   `stats show-legends` / `show-node` / `show-desc` / `hide-version`. Most hover
//!   tooltips of the cells are left out (the visible values are the same).
//! - POST without `stats admin` rights: the 303 to `<uri>;st=DENY` HAProxy answers.
//!
//! Not here: `stats admin` actions (a POST is always answered DENY), `stats
//! http-request` rules, `;json`/`;typed`, listener rows (`option socket-stats`),
//! `errorfile 401` overriding the 401 body. The body is sent as one chunk where
//! HAProxy cuts it per buffer (same bytes once de-chunked).

use std::fmt::Write as _;

use haproxy_conf::model::Stats;

use super::head::{serialize_response, Header, Headers, HttpVersion, RequestHead, ResponseHead};
use crate::health::CheckStatus;

// ------------------------------------------------------------------ snapshot types

/// `mode` of a proxy as the `mode` column prints it (`proxy_mode_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    Tcp,
    Http,
}

impl ProxyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Tcp => "tcp",
            ProxyMode::Http => "http",
        }
    }
}

/// A frontend's `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrontendState {
    #[default]
    Open,
    Paused,
    Stopped,
}

/// HTTP responses by class (`hrsp_1xx`..`hrsp_5xx`, `hrsp_other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpResponses {
    pub r1xx: u64,
    pub r2xx: u64,
    pub r3xx: u64,
    pub r4xx: u64,
    pub r5xx: u64,
    pub other: u64,
}

/// The `h1` stats module's counters (frontend and backend rows only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct H1Counters {
    pub open_connections: u64,
    pub open_streams: u64,
    pub total_connections: u64,
    pub total_streams: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub spliced_bytes_in: u64,
    pub spliced_bytes_out: u64,
}

/// A proxy's FRONTEND row. Rates are per second over the last second, as the
/// engine measures them; `*_max` are the highest seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FrontendRow {
    pub state: FrontendState,
    pub scur: u32,
    pub smax: u32,
    /// The frontend's `maxconn`.
    pub slim: u32,
    pub stot: u64,
    pub bin: u64,
    pub bout: u64,
    pub dreq: u64,
    pub dresp: u64,
    pub ereq: u64,
    pub dcon: u64,
    pub dses: u64,
    pub rate: u32,
    /// `rate-limit sessions` (0: none).
    pub rate_lim: u32,
    pub rate_max: u32,
    pub wrew: u64,
    pub eint: u64,
    pub http: HttpResponses,
    pub intercepted: u64,
    pub cache_lookups: u64,
    pub cache_hits: u64,
    pub req_rate: u32,
    pub req_rate_max: u32,
    pub req_tot: u64,
    pub comp_in: u64,
    pub comp_out: u64,
    pub comp_byp: u64,
    pub comp_rsp: u64,
    pub conn_rate: u32,
    pub conn_rate_max: u32,
    pub conn_tot: u64,
    pub h1: H1Counters,
}

/// A server's administrative state (`SRV_ADMF_*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ServerAdmin {
    #[default]
    Ready,
    Drain,
    /// `MAINT` set on this server.
    Maint,
    /// Maintenance inherited from the tracked server `proxy/server`.
    MaintVia(String),
}

/// A server's operational state (`SRV_ST_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerRunState {
    #[default]
    Running,
    /// Up, in its `slowstart` ramp.
    Starting,
    /// Up with load balancing disabled (NOLB).
    Stopping,
    Stopped,
}

/// A server's health check, when it has one (`check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCheck {
    pub rise: u32,
    pub fall: u32,
    /// 0..rise+fall-1; `>= rise` means up.
    pub health: u32,
    /// A check is running now (the status shows `* ` before it).
    pub in_progress: bool,
    /// The last check's status; `None` before the first one (`INI`).
    pub status: Option<CheckStatus>,
    /// The L7 response code of the last check, when it had one.
    pub code: Option<u32>,
    /// How long the last check took, in milliseconds.
    pub duration_ms: u64,
    /// The last check's `info:` text (`last_chk`), e.g. `Connection refused`.
    pub info: String,
    pub failed_checks: u64,
    pub down_transitions: u64,
    /// Seconds spent down in total (`srv_downtime`).
    pub downtime: u32,
}

/// One server row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerRow {
    pub name: String,
    /// The server's numeric id (`sid`, `id` keyword or position).
    pub sid: u32,
    pub qcur: u32,
    pub qmax: u32,
    pub scur: u32,
    pub smax: u32,
    /// `maxconn` (0: none).
    pub maxconn: u32,
    /// `maxqueue` (0: none).
    pub maxqueue: u32,
    pub idle_cur: u32,
    /// `pool-max-conn` when set (`-1`, the default, prints nothing).
    pub pool_max_conn: Option<u32>,
    pub stot: u64,
    pub bin: u64,
    pub bout: u64,
    pub dresp: u64,
    pub econ: u64,
    pub eresp: u64,
    pub wretr: u64,
    pub wredis: u64,
    pub wrew: u64,
    pub eint: u64,
    pub connect: u64,
    pub reuse: u64,
    pub idle_conn_cur: u32,
    pub safe_conn_cur: u32,
    pub used_conn_cur: u32,
    pub need_conn_est: u32,
    pub admin: ServerAdmin,
    pub run: ServerRunState,
    /// Seconds since the last state change.
    pub lastchg: u32,
    /// Effective weight as the page shows it (scaled back to the configured range).
    pub weight: u32,
    /// The user-set weight.
    pub uweight: u32,
    pub backup: bool,
    pub check: Option<ServerCheck>,
    /// The configured check while `disable health` has turned it off (`check` is then
    /// `None`, as the page shows it); `show servers state` still reports it.
    pub disabled_check: Option<ServerCheck>,
    /// `check.health` of a server without `check` (`rise` at start, or what the server
    /// state file gave back); `None` where unknown (`show servers state` then assumes
    /// `rise` 2).
    pub health_without_check: Option<u32>,
    /// `slowstart` ramp in percent while [`ServerRunState::Starting`].
    pub throttle: Option<u32>,
    pub lbtot: u64,
    /// `track proxy/server`.
    pub tracked: Option<String>,
    pub rate: u32,
    pub rate_max: u32,
    pub req_tot: u64,
    pub http: HttpResponses,
    pub cli_abrt: u64,
    pub srv_abrt: u64,
    /// Seconds since the last session, -1 for never.
    pub lastsess: i32,
    pub qtime: u32,
    pub ctime: u32,
    pub rtime: u32,
    pub ttime: u32,
    pub qtime_max: u32,
    pub ctime_max: u32,
    pub rtime_max: u32,
    pub ttime_max: u32,
    /// `ip:port` (`[ip6]:port`), shown with `stats show-legends`.
    pub addr: String,
    pub cookie: Option<String>,
}

/// A proxy's BACKEND row (the server-derived columns are computed from the servers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackendRow {
    pub qcur: u32,
    pub qmax: u32,
    pub scur: u32,
    pub smax: u32,
    /// `fullconn`.
    pub slim: u32,
    pub stot: u64,
    pub bin: u64,
    pub bout: u64,
    pub dreq: u64,
    pub dresp: u64,
    pub econ: u64,
    pub eresp: u64,
    pub wretr: u64,
    pub wredis: u64,
    pub wrew: u64,
    pub eint: u64,
    pub connect: u64,
    pub reuse: u64,
    /// The balancer's total effective weight (`lbprm.tot_weight`, scaled back):
    /// 0 with servers means DOWN.
    pub weight: u32,
    /// Usable active / backup servers (`srv_act`, `srv_bck`).
    pub act: u32,
    pub bck: u32,
    pub chkdown: u64,
    pub lastchg: u32,
    pub downtime: u32,
    pub lbtot: u64,
    pub rate: u32,
    pub rate_max: u32,
    /// `balance` algorithm as `backend_lb_algo_str` names it (`roundrobin`...).
    pub algo: String,
    pub cookie_name: Option<String>,
    pub req_tot: u64,
    pub http: HttpResponses,
    pub cache_lookups: u64,
    pub cache_hits: u64,
    pub cli_abrt: u64,
    pub srv_abrt: u64,
    pub comp_in: u64,
    pub comp_out: u64,
    pub comp_byp: u64,
    pub comp_rsp: u64,
    pub lastsess: i32,
    pub qtime: u32,
    pub ctime: u32,
    pub rtime: u32,
    pub ttime: u32,
    pub qtime_max: u32,
    pub ctime_max: u32,
    pub rtime_max: u32,
    pub ttime_max: u32,
    pub h1: H1Counters,
}

/// The backend side of a proxy: its servers (config order) and its BACKEND row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackendSide {
    pub servers: Vec<ServerRow>,
    pub row: BackendRow,
}

/// One proxy: a `frontend` has only `frontend`, a `backend` only `backend`, a
/// `listen` both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyStats {
    pub name: String,
    /// The proxy's numeric id (`iid`).
    pub iid: u32,
    pub mode: ProxyMode,
    /// `description`, shown in the proxy's title bar.
    pub description: Option<String>,
    pub frontend: Option<FrontendRow>,
    pub backend: Option<BackendSide>,
}

impl ProxyStats {
    /// `proxy_cap_str`.
    fn cap_str(&self) -> &'static str {
        match (self.frontend.is_some(), self.backend.is_some()) {
            (true, false) => "frontend",
            (false, true) => "backend",
            _ => "proxy",
        }
    }
}

/// What the page's process block shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessInfo {
    /// As `haproxy -v` prints it, e.g. `2.6.12-1+deb12u4`.
    pub version: String,
    /// e.g. `2023/03/28`.
    pub release_date: String,
    pub pid: u32,
    pub uptime_secs: u64,
    /// `global node` (default: the host name), for `stats show-node` without a value.
    pub node: String,
    /// `global description`, for `stats show-desc` without a value.
    pub description: Option<String>,
    pub nbthread: u32,
    /// 0: unlimited.
    pub memmax_mb: u64,
    pub ulimit_n: u64,
    pub maxsock: u64,
    pub maxconn: u64,
    pub maxpipes: u64,
    pub current_conns: u64,
    pub pipes_used: u64,
    pub pipes_free: u64,
    pub conn_rate: u64,
    /// Outgoing bytes per second.
    pub bytes_out_rate: u64,
    pub run_queue: u64,
    pub tasks: u64,
    pub idle_pct: u32,
    /// The process start, in seconds since the Unix epoch (`start_date`).
    pub start_time_secs: u64,
    /// A soft stop is under way.
    pub stopping: bool,
}

/// Everything the page shows, proxies in configuration order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub process: ProcessInfo,
    pub proxies: Vec<ProxyStats>,
}

// ------------------------------------------------------------------ request matching

/// The default `stats uri`.
pub const DEFAULT_URI: &str = "/haproxy?stats";
/// The default `stats realm`.
pub const DEFAULT_REALM: &str = "HAProxy Statistics";

/// The page's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Csv,
}

/// What a request for the stats page asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub format: Format,
    /// `;up`: hide servers that are down and not changing state.
    pub hide_down: bool,
    /// `;no-maint`: hide servers in maintenance.
    pub hide_maint: bool,
    /// `;norefresh` (only honoured when `stats refresh` is set).
    pub no_refresh: bool,
    /// `;st=XXXX`: the result box of an earlier POST.
    pub status_code: Option<String>,
    /// `scope=TEXT`: only proxies whose name contains it (case-insensitive).
    pub scope: Option<String>,
    /// HEAD: the head only.
    pub head_only: bool,
    /// `stats admin` holds for this request (`STAT_ADMIN`): the page carries the
    /// admin forms, and a POST is processed.
    pub admin: bool,
}

/// What the stats page answers to a request that is for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAction {
    /// 200 with the page (build it with [`respond`] and a snapshot).
    Page(PageRequest),
    /// 401: `stats auth` is set and the credentials are missing or wrong.
    Unauthorized { realm: String },
    /// A POST with `stats admin` rights: the runtime reads the form body, hands it to
    /// [`process_admin_post`] and answers [`StatsRequest::posted`]'s 303.
    AdminPost { redirect: PostRedirect },
    /// The 303 after a POST, to `<uri>;st=CODE[;up][;norefresh][?scope=TEXT]`
    /// (`DENY` for a POST without `stats admin` rights).
    PostRedirect { location: String },
}

/// Where the 303 after a POST points, but its result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRedirect {
    prefix: String,
    suffix: String,
}

impl PostRedirect {
    /// `stats_send_http_redirect()`'s `Location`.
    pub fn location(&self, code: &str) -> String {
        format!("{};st={code}{}", self.prefix, self.suffix)
    }
}

/// A request the stats page takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRequest {
    pub action: StatsAction,
    /// The client asked to close (HTTP/1.0 without keep-alive, or `Connection: close`):
    /// the response says `connection: close` and the runtime closes after it.
    pub close: bool,
    /// How the response must frame `connection: close` (see [`respond`]).
    version: HttpVersion,
}

impl StatsRequest {
    /// The status code [`respond`] answers with (for the log line).
    pub fn status(&self) -> u16 {
        match self.action {
            StatsAction::Page(_) => 200,
            StatsAction::Unauthorized { .. } => 401,
            StatsAction::AdminPost { .. } | StatsAction::PostRedirect { .. } => 303,
        }
    }

    /// What `%B` logs for this answer, `sent` bytes long. The 303 after a POST is
    /// counted as HTX holds it (measured on haproxy 2.6.12: 118 for
    /// `location: /st;st=DONE`): the start line's 20-byte block header and its three
    /// parts, each header's name and value, and the end-of-headers block's byte.
    pub fn logged_bytes(&self, sent: usize) -> u64 {
        match &self.action {
            StatsAction::PostRedirect { location } => {
                let start = 20 + "HTTP/1.1".len() + "303".len() + "See Other".len();
                let headers = "cache-control".len()
                    + "no-cache".len()
                    + "content-type".len()
                    + "text/plain".len()
                    + "content-length".len()
                    + "0".len()
                    + "location".len()
                    + location.len();
                (start + headers + 1) as u64
            }
            _ => sent as u64,
        }
    }

    /// The answer to an admin POST once processed: the 303 with its result `code`.
    pub fn posted(self, code: &str) -> StatsRequest {
        let action = match self.action {
            StatsAction::AdminPost { redirect } => StatsAction::PostRedirect {
                location: redirect.location(code),
            },
            other => other,
        };
        StatsRequest { action, ..self }
    }
}

/// The configured `stats uri`, or the default.
pub fn stats_uri(settings: &Stats) -> &str {
    settings.uri.as_deref().unwrap_or(DEFAULT_URI)
}

/// Whether `req` is for the stats page of a proxy with these `stats` settings, and
/// what it gets: `None` when the request goes on to the proxy's normal processing.
/// `admin` evaluates the `stats admin` conditions (asked only once the request is
/// authorized, as HAProxy evaluates them in `http_handle_stats()`).
pub fn match_request(
    settings: &Stats,
    req: &RequestHead,
    admin: impl FnOnce() -> bool,
) -> Option<StatsRequest> {
    if !settings.enabled {
        return None;
    }
    let method = req.method.as_str();
    if method != "GET" && method != "HEAD" && method != "POST" {
        return None;
    }
    let prefix = stats_uri(settings);
    let target: &str = if prefix.starts_with('/') {
        path_with_query(&req.uri)
    } else {
        &req.uri
    };
    if !target.as_bytes().starts_with(prefix.as_bytes()) {
        return None;
    }
    let close = wants_close(req);
    let version = req.version;
    let realm = settings
        .realm
        .as_deref()
        .unwrap_or(DEFAULT_REALM)
        .to_string();
    if !settings.auth.is_empty() && !authorized(settings, req) {
        return Some(StatsRequest {
            action: StatsAction::Unauthorized { realm },
            close,
            version,
        });
    }
    // The options are searched in the raw URI from the prefix's length on, as HAProxy
    // does (for an absolute URI that offset is not the end of the matched prefix).
    let lookup = req.uri.as_bytes().get(prefix.len()..).unwrap_or(&[]);
    let has = |needle: &[u8]| lookup.windows(needle.len()).any(|w| w == needle);
    let page = PageRequest {
        format: if has(b";csv") {
            Format::Csv
        } else {
            Format::Html
        },
        hide_down: has(b";up"),
        hide_maint: has(b";no-maint"),
        no_refresh: settings.refresh.is_some_and(|r| !r.is_zero()) && has(b";norefresh"),
        status_code: status_code(lookup),
        scope: scope_param(lookup),
        head_only: method == "HEAD",
        admin: admin(),
    };
    if method == "POST" {
        let mut suffix = String::new();
        if page.hide_down {
            suffix.push_str(";up");
        }
        if page.no_refresh {
            suffix.push_str(";norefresh");
        }
        if let Some(scope) = &page.scope {
            suffix.push_str("?scope=");
            suffix.push_str(scope);
        }
        let redirect = PostRedirect {
            prefix: prefix.to_string(),
            suffix,
        };
        let action = if page.admin {
            StatsAction::AdminPost { redirect }
        } else {
            StatsAction::PostRedirect {
                location: redirect.location("DENY"),
            }
        };
        return Some(StatsRequest {
            action,
            close,
            version,
        });
    }
    Some(StatsRequest {
        action: StatsAction::Page(page),
        close,
        version,
    })
}

/// `http_parse_path`: from the first `/` after `scheme://authority` to the end
/// (query included); empty for `*` and authority forms.
pub(crate) fn path_with_query(uri: &str) -> &str {
    if uri.starts_with('/') {
        return uri;
    }
    match uri.find("://") {
        Some(i) => {
            let rest = &uri[i + 3..];
            rest.find('/').map_or("", |j| &rest[j..])
        }
        None => "",
    }
}

fn wants_close(req: &RequestHead) -> bool {
    let has_token = |t: &str| {
        req.headers
            .values("connection")
            .any(|v| v.eq_ignore_ascii_case(t))
    };
    match req.version {
        HttpVersion::Http10 => !has_token("keep-alive"),
        HttpVersion::Http11 => has_token("close"),
    }
}

/// `;st=` followed by one of HAProxy's four-letter result codes (else `UNKN`).
fn status_code(lookup: &[u8]) -> Option<String> {
    const CODES: [&str; 8] = [
        "DENY", "DONE", "ERRP", "EXCD", "NONE", "PART", "UNKN", "IVAL",
    ];
    // HAProxy scans while 8 bytes remain, so `;st=` needs 4 bytes after it.
    let at = (0..lookup.len().saturating_sub(7)).find(|&i| lookup[i..].starts_with(b";st="))?;
    let code = &lookup[at + 4..at + 8];
    Some(
        CODES
            .iter()
            .find(|c| c.as_bytes() == code)
            .map_or("UNKN", |c| c)
            .to_string(),
    )
}

/// `scope=TEXT` up to `;`, `&` or a space, at most 20 bytes, only `[A-Za-z0-9._:-]`.
fn scope_param(lookup: &[u8]) -> Option<String> {
    const MAXLEN: usize = 20;
    let at = (0..lookup.len().saturating_sub(7)).find(|&i| lookup[i..].starts_with(b"scope="))?;
    let rest = &lookup[at + 6..];
    let len = rest
        .iter()
        .position(|&b| b == b';' || b == b'&' || b == b' ')
        .unwrap_or(rest.len())
        .min(MAXLEN);
    let text = &rest[..len];
    let valid = text
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-' || b == b':');
    if len == 0 || !valid {
        return None;
    }
    Some(String::from_utf8_lossy(text).into_owned())
}

// ------------------------------------------------------------------ admin POST

/// What the admin form's POST acts on: the engine's backends and servers.
pub trait AdminTarget {
    /// `proxy_be_by_name()`: `#ID` or a name, of a proxy with a backend.
    fn backend(&mut self, name: &str) -> Option<usize>;
    /// Applies `action` to the server `name` of `backend`: `None` when it has no such
    /// server, else whether it was altered.
    fn apply(
        &mut self,
        backend: usize,
        server: &str,
        action: crate::admin::AdminAction,
    ) -> Option<bool>;
}

/// `LINESIZE`: the longest `key=value` parameter HAProxy takes.
const ADMIN_PARAM_MAX: usize = 2048;

/// `url_decode(.., 1)`: `+` is a space, `%XX` a byte; a bad escape is an error. The
/// result is then read as a C string (cut at a NUL).
fn form_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let hi = raw.get(i + 1).copied().and_then(hex)?;
                let lo = raw.get(i + 2).copied().and_then(hex)?;
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    if let Some(nul) = out.iter().position(|&b| b == 0) {
        out.truncate(nul);
    }
    Some(out)
}

/// `stats_process_http_post()`: the form body (`s=SRV&...&action=ACT&b=BACKEND`)
/// applied to `target`; returns the result code for the 303 (`DONE`, `PART`, `NONE`,
/// `ERRP`).
///
/// As HAProxy: parameters are read from the end (so the last `b` and `action` win);
/// servers named before both are known are processed again once they are; an unknown
/// backend or action stops at once with `ERRP`; a bad `%` escape stops the parsing and
/// the servers so far decide; then no server named -> `NONE`, none altered -> `ERRP`,
/// all -> `DONE`, some -> `PART`.
pub fn process_admin_post(body: &[u8], target: &mut dyn AdminTarget) -> &'static str {
    use crate::admin::AdminAction;
    // The body is a C string for HAProxy.
    let body = match body.iter().position(|&b| b == 0) {
        Some(nul) => &body[..nul],
        None => body,
    };
    let mut backend: Option<usize> = None;
    let mut action: Option<AdminAction> = None;
    let (mut total, mut altered) = (0u32, 0u32);
    // The first server parameter met while the backend or action was unknown.
    let mut replay: Option<(usize, usize)> = None;
    let mut next = body.len();
    let mut cur = body.len();
    'params: while cur > 0 {
        cur -= 1;
        if body[cur] != b'&' && cur != 0 {
            continue;
        }
        loop {
            // `poffset`: the `&` is skipped, except at the very start of the body.
            let start = if cur != 0 { cur + 1 } else { 0 };
            let param = &body[start..next];
            if param.len() + 1 > ADMIN_PARAM_MAX {
                return "ERRP";
            }
            let (key, value) = match param.iter().position(|&b| b == b'=') {
                Some(eq) => (&param[..eq], &param[eq + 1..]),
                None => (param, &b""[..]),
            };
            let (Some(key), Some(value)) = (form_decode(key), form_decode(value)) else {
                break 'params;
            };
            if backend.is_none() && key == b"b" {
                match target.backend(&String::from_utf8_lossy(&value)) {
                    Some(b) => backend = Some(b),
                    None => return "ERRP",
                }
            } else if action.is_none() && key == b"action" {
                match AdminAction::from_form(&value) {
                    Some(a) => action = Some(a),
                    None => return "ERRP",
                }
            } else if key == b"s" {
                match (backend, action) {
                    (Some(b), Some(a)) => {
                        match target.apply(b, &String::from_utf8_lossy(&value), a) {
                            Some(true) => {
                                total += 1;
                                altered += 1;
                            }
                            Some(false) => {}
                            None => total += 1,
                        }
                    }
                    _ => {
                        replay.get_or_insert((cur, next));
                    }
                }
            }
            if backend.is_some() && action.is_some() {
                if let Some((c, n)) = replay.take() {
                    cur = c;
                    next = n;
                    continue;
                }
            }
            break;
        }
        next = cur;
    }
    if total == 0 {
        "NONE"
    } else if altered == 0 {
        "ERRP"
    } else if altered == total {
        "DONE"
    } else {
        "PART"
    }
}

// ------------------------------------------------------------------ basic auth

/// Basic credentials as HAProxy's `get_http_auth` takes them from `Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub user: Vec<u8>,
    pub password: Vec<u8>,
}

/// The first `Authorization` value (HAProxy cuts header values at commas), parsed
/// as HAProxy does; `None` when it is absent or not valid Basic credentials.
pub fn basic_credentials(headers: &Headers) -> Option<BasicCredentials> {
    let value = headers.values("authorization").next()?;
    let space = value.find(' ')?;
    if space == 0 {
        return None;
    }
    let scheme = &value[..space];
    // strncasecmp("Basic", scheme, len(scheme)): any case-insensitive prefix matches.
    let basic = b"Basic";
    if scheme.len() > basic.len() || !basic[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
    {
        return None;
    }
    let data = value[space..].trim_start_matches(' ');
    let mut decoded = base64_decode(data.as_bytes())?;
    // HAProxy NUL-terminates the decoded text and works on it as a C string.
    if let Some(nul) = decoded.iter().position(|&b| b == 0) {
        decoded.truncate(nul);
    }
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(BasicCredentials {
        password: decoded[colon + 1..].to_vec(),
        user: decoded[..colon].to_vec(),
    })
}

/// HAProxy's `base64dec`: length a multiple of 4, padding only at a group's end
/// (`XX==`, `XXX=`), a group after a padded one allowed (its bytes overwrite the
/// padding positions). `None` where HAProxy returns an error, and for empty input.
pub fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    const PAD: u8 = 64;
    // `& 3`, not `%`: `is_multiple_of` is past the MSRV and clippy asks for it.
    if input.is_empty() || input.len() & 3 != 0 {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(input.len() / 4 * 3);
    let mut len = 0usize;
    for group in input.chunks(4) {
        let mut t = [0u8; 4];
        let mut pad = 0usize;
        for (i, &c) in group.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => PAD,
                _ => return None,
            };
            // Padding has to be continuous, and never in a group's first two places
            // once started (the C checks, in its order).
            if pad > 0 && v != PAD {
                return None;
            }
            if pad > 0 && i < 2 {
                return None;
            }
            if v == PAD {
                pad += 1;
            }
            t[i] = v;
        }
        // C writes three bytes at the current length (unsigned char arithmetic) and
        // advances by 3 - pad: bytes past the new length are overwritten or dropped.
        out.truncate(len);
        out.push((t[0] << 2).wrapping_add(t[1] >> 4));
        out.push((t[1] << 4).wrapping_add(t[2] >> 2));
        out.push((t[2] << 6).wrapping_add(t[3]));
        len += 3 - pad;
    }
    out.truncate(len);
    Some(out)
}

fn authorized(settings: &Stats, req: &RequestHead) -> bool {
    let Some(creds) = basic_credentials(&req.headers) else {
        return false;
    };
    settings
        .auth
        .iter()
        .any(|a| a.user.as_bytes() == creds.user && a.password.as_bytes() == creds.password)
}

// ------------------------------------------------------------------ responses

/// The 401 body HAProxy sends (`http_err_msgs[HTTP_ERR_401]`).
const BODY_401: &str = "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// The complete response bytes for a request [`match_request`] took. `own_proxy` is
/// the name of the proxy serving the page (for `stats scope .`); `snapshot` is only
/// read for a page.
pub fn respond(
    settings: &Stats,
    request: &StatsRequest,
    own_proxy: &str,
    snapshot: &StatsSnapshot,
) -> Vec<u8> {
    let close_header = || header("connection", "close");
    match &request.action {
        StatsAction::Unauthorized { realm } => {
            let mut headers = vec![
                header("content-length", &BODY_401.len().to_string()),
                header("cache-control", "no-cache"),
                header("content-type", "text/html"),
                header("www-authenticate", &format!("Basic realm=\"{realm}\"")),
            ];
            if request.close {
                headers.push(close_header());
            }
            let mut out = serialize_response(&ResponseHead {
                version: HttpVersion::Http11,
                status: 401,
                reason: "Unauthorized".into(),
                headers: Headers(headers),
            });
            out.extend_from_slice(BODY_401.as_bytes());
            out
        }
        // Not processed (the runtime answers `posted()`): DENY rather than nothing.
        StatsAction::AdminPost { redirect } => respond(
            settings,
            &StatsRequest {
                action: StatsAction::PostRedirect {
                    location: redirect.location("DENY"),
                },
                ..request.clone()
            },
            own_proxy,
            snapshot,
        ),
        StatsAction::PostRedirect { location } => {
            let mut headers = vec![
                header("cache-control", "no-cache"),
                header("content-type", "text/plain"),
                header("content-length", "0"),
                header("location", location),
            ];
            if request.close {
                headers.push(close_header());
            }
            serialize_response(&ResponseHead {
                version: HttpVersion::Http11,
                status: 303,
                reason: "See Other".into(),
                headers: Headers(headers),
            })
        }
        StatsAction::Page(page) => {
            let mut headers = vec![
                header("cache-control", "no-cache"),
                header(
                    "content-type",
                    match page.format {
                        Format::Html => "text/html",
                        Format::Csv => "text/plain",
                    },
                ),
            ];
            let refresh = settings.refresh.map_or(0, |d| d.as_secs());
            if refresh > 0 && !page.no_refresh {
                headers.push(header("refresh", &refresh.to_string()));
            }
            // The H1 multiplexer's order: for HTTP/1.0 it adds `connection: close`
            // before the transfer-encoding it appends; for HTTP/1.1 the applet's own
            // transfer-encoding comes first (measured on haproxy 2.6.12).
            let chunked = !page.head_only;
            match request.version {
                HttpVersion::Http10 => {
                    if request.close {
                        headers.push(close_header());
                    }
                    if chunked {
                        headers.push(header("transfer-encoding", "chunked"));
                    }
                }
                HttpVersion::Http11 => {
                    if chunked {
                        headers.push(header("transfer-encoding", "chunked"));
                    }
                    if request.close {
                        headers.push(close_header());
                    }
                }
            }
            let mut out = serialize_response(&ResponseHead {
                version: HttpVersion::Http11,
                status: 200,
                reason: "OK".into(),
                headers: Headers(headers),
            });
            if page.head_only {
                return out;
            }
            let body = match page.format {
                Format::Csv => csv(settings, page, own_proxy, snapshot),
                Format::Html => html(settings, page, own_proxy, snapshot),
            };
            if !body.is_empty() {
                out.extend_from_slice(format!("{:X}\r\n", body.len()).as_bytes());
                out.extend_from_slice(body.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            out
        }
    }
}

// ------------------------------------------------------------------ fields

/// The 2.6.12 proxy-domain column names (`stat_fields`), recorded from the real
/// daemon's `;csv` header.
pub const FIELD_NAMES: [&str; 103] = [
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "agent_status",
    "agent_code",
    "agent_duration",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "addr",
    "cookie",
    "mode",
    "algo",
    "conn_rate",
    "conn_rate_max",
    "conn_tot",
    "intercepted",
    "dcon",
    "dses",
    "wrew",
    "connect",
    "reuse",
    "cache_lookups",
    "cache_hits",
    "srv_icur",
    "src_ilim",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
    "eint",
    "idle_conn_cur",
    "safe_conn_cur",
    "used_conn_cur",
    "need_conn_est",
    "uweight",
    "agg_server_status",
    "agg_server_check_status",
    "agg_check_status",
];

/// The stats modules' columns after the `-` delimiter (ssl, h2, h1 in the order the
/// Debian build registers them).
pub const MODULE_FIELD_NAMES: [&str; 24] = [
    "ssl_sess",
    "ssl_reused_sess",
    "ssl_failed_handshake",
    "h2_headers_rcvd",
    "h2_data_rcvd",
    "h2_settings_rcvd",
    "h2_rst_stream_rcvd",
    "h2_goaway_rcvd",
    "h2_detected_conn_protocol_errors",
    "h2_detected_strm_protocol_errors",
    "h2_rst_stream_resp",
    "h2_goaway_resp",
    "h2_open_connections",
    "h2_backend_open_streams",
    "h2_total_connections",
    "h2_backend_total_streams",
    "h1_open_connections",
    "h1_open_streams",
    "h1_total_connections",
    "h1_total_streams",
    "h1_bytes_in",
    "h1_bytes_out",
    "h1_spliced_bytes_in",
    "h1_spliced_bytes_out",
];

/// Positions in [`FIELD_NAMES`] (`ST_F_*`). Every position is named so the
/// discriminants are the indices; the agent and health-analysis ones stay empty.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub(crate) enum F {
    Pxname,
    Svname,
    Qcur,
    Qmax,
    Scur,
    Smax,
    Slim,
    Stot,
    Bin,
    Bout,
    Dreq,
    Dresp,
    Ereq,
    Econ,
    Eresp,
    Wretr,
    Wredis,
    Status,
    Weight,
    Act,
    Bck,
    Chkfail,
    Chkdown,
    Lastchg,
    Downtime,
    Qlimit,
    Pid,
    Iid,
    Sid,
    Throttle,
    Lbtot,
    Tracked,
    Type,
    Rate,
    RateLim,
    RateMax,
    CheckStatus,
    CheckCode,
    CheckDuration,
    Hrsp1xx,
    Hrsp2xx,
    Hrsp3xx,
    Hrsp4xx,
    Hrsp5xx,
    HrspOther,
    Hanafail,
    ReqRate,
    ReqRateMax,
    ReqTot,
    CliAbrt,
    SrvAbrt,
    CompIn,
    CompOut,
    CompByp,
    CompRsp,
    Lastsess,
    LastChk,
    LastAgt,
    Qtime,
    Ctime,
    Rtime,
    Ttime,
    AgentStatus,
    AgentCode,
    AgentDuration,
    CheckDesc,
    AgentDesc,
    CheckRise,
    CheckFall,
    CheckHealth,
    AgentRise,
    AgentFall,
    AgentHealth,
    Addr,
    Cookie,
    Mode,
    Algo,
    ConnRate,
    ConnRateMax,
    ConnTot,
    Intercepted,
    Dcon,
    Dses,
    Wrew,
    Connect,
    Reuse,
    CacheLookups,
    CacheHits,
    SrvIcur,
    SrvIlim,
    QtimeMax,
    CtimeMax,
    RtimeMax,
    TtimeMax,
    Eint,
    IdleConnCur,
    SafeConnCur,
    UsedConnCur,
    NeedConnEst,
    Uweight,
    AggServerStatus,
    AggServerCheckStatus,
    AggCheckStatus,
}

/// One cell's value (`struct field`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Field {
    #[default]
    Empty,
    U(u64),
    S(i64),
    Str(String),
}

impl Field {
    fn u(&self) -> u64 {
        match self {
            Field::U(v) => *v,
            _ => 0,
        }
    }

    fn str(&self) -> &str {
        match self {
            Field::Str(s) => s,
            _ => "",
        }
    }
}

/// A row: the 103 standard fields and the 24 module fields.
struct Row {
    std: Vec<Field>,
    modules: Vec<Field>,
}

impl Row {
    fn new() -> Row {
        Row {
            std: vec![Field::Empty; FIELD_NAMES.len()],
            modules: vec![Field::Empty; MODULE_FIELD_NAMES.len()],
        }
    }

    fn set(&mut self, f: F, v: Field) {
        self.std[f as usize] = v;
    }

    fn u(&mut self, f: F, v: impl Into<u64>) {
        self.set(f, Field::U(v.into()));
    }

    fn s(&mut self, f: F, v: &str) {
        self.set(f, Field::Str(v.to_string()));
    }

    fn get(&self, f: F) -> &Field {
        &self.std[f as usize]
    }

    fn http(&mut self, r: &HttpResponses) {
        self.u(F::Hrsp1xx, r.r1xx);
        self.u(F::Hrsp2xx, r.r2xx);
        self.u(F::Hrsp3xx, r.r3xx);
        self.u(F::Hrsp4xx, r.r4xx);
        self.u(F::Hrsp5xx, r.r5xx);
        self.u(F::HrspOther, r.other);
    }

    /// ssl (3) and, for frontends and backends, h2 (13, we serve no h2: zeros) and h1.
    fn modules(&mut self, h1: Option<&H1Counters>) {
        for f in &mut self.modules[..3] {
            *f = Field::U(0);
        }
        if let Some(h1) = h1 {
            for f in &mut self.modules[3..16] {
                *f = Field::U(0);
            }
            let v = [
                h1.open_connections,
                h1.open_streams,
                h1.total_connections,
                h1.total_streams,
                h1.bytes_in,
                h1.bytes_out,
                h1.spliced_bytes_in,
                h1.spliced_bytes_out,
            ];
            for (f, v) in self.modules[16..].iter_mut().zip(v) {
                *f = Field::U(v);
            }
        }
    }
}

const TYPE_FE: u64 = 0;
const TYPE_BE: u64 = 1;
const TYPE_SV: u64 = 2;

fn frontend_row(px: &ProxyStats, fe: &FrontendRow) -> Row {
    let mut r = Row::new();
    r.s(F::Pxname, &px.name);
    r.s(F::Svname, "FRONTEND");
    r.s(F::Mode, px.mode.as_str());
    r.u(F::Scur, fe.scur);
    r.u(F::Smax, fe.smax);
    r.u(F::Slim, fe.slim);
    r.u(F::Stot, fe.stot);
    r.u(F::Bin, fe.bin);
    r.u(F::Bout, fe.bout);
    r.u(F::Dreq, fe.dreq);
    r.u(F::Dresp, fe.dresp);
    r.u(F::Ereq, fe.ereq);
    r.u(F::Dcon, fe.dcon);
    r.u(F::Dses, fe.dses);
    r.s(
        F::Status,
        match fe.state {
            FrontendState::Open => "OPEN",
            FrontendState::Paused => "PAUSED",
            FrontendState::Stopped => "STOP",
        },
    );
    r.u(F::Pid, 1u32);
    r.u(F::Iid, px.iid);
    r.u(F::Sid, 0u32);
    r.u(F::Type, TYPE_FE);
    r.u(F::Rate, fe.rate);
    r.u(F::RateLim, fe.rate_lim);
    r.u(F::RateMax, fe.rate_max);
    r.u(F::Wrew, fe.wrew);
    r.u(F::Eint, fe.eint);
    if px.mode == ProxyMode::Http {
        r.http(&fe.http);
        r.u(F::Intercepted, fe.intercepted);
        r.u(F::CacheLookups, fe.cache_lookups);
        r.u(F::CacheHits, fe.cache_hits);
    }
    r.u(F::ReqRate, fe.req_rate);
    r.u(F::ReqRateMax, fe.req_rate_max);
    r.u(F::ReqTot, fe.req_tot);
    r.u(F::CompIn, fe.comp_in);
    r.u(F::CompOut, fe.comp_out);
    r.u(F::CompByp, fe.comp_byp);
    r.u(F::CompRsp, fe.comp_rsp);
    r.u(F::ConnRate, fe.conn_rate);
    r.u(F::ConnRateMax, fe.conn_rate_max);
    r.u(F::ConnTot, fe.conn_tot);
    r.modules(Some(&fe.h1));
    r
}

/// `srv_hlt_st` after `stats_fill_sv_stats_computestate`, with the tracked server's
/// state already folded into `sv` by the engine.
fn server_status(sv: &ServerRow) -> String {
    match &sv.admin {
        ServerAdmin::Maint => return "MAINT".into(),
        ServerAdmin::MaintVia(via) => return format!("MAINT (via {via})"),
        ServerAdmin::Ready | ServerAdmin::Drain => {}
    }
    let drain = sv.admin == ServerAdmin::Drain;
    let chk = sv.check.as_ref();
    let (health, rise, fall) = chk.map_or((0, 0, 0), |c| (c.health, c.rise, c.fall));
    let full = rise + fall;
    let ratio_up = || format!("{}/{}", (health + 1).saturating_sub(rise), fall);
    match sv.run {
        ServerRunState::Running | ServerRunState::Starting => {
            let going_down = chk.is_some() && health + 1 < full;
            if drain {
                if going_down {
                    format!("DRAIN {}", ratio_up())
                } else {
                    "DRAIN".into()
                }
            } else if going_down {
                format!("UP {}", ratio_up())
            } else if chk.is_none() {
                "no check".into()
            } else {
                "UP".into()
            }
        }
        ServerRunState::Stopping => {
            if chk.is_none() && sv.tracked.is_none() || chk.is_some() && health + 1 == full {
                "NOLB".into()
            } else {
                format!("NOLB {}", ratio_up())
            }
        }
        ServerRunState::Stopped => {
            if chk.is_some() && health > 0 {
                format!("DOWN {health}/{rise}")
            } else {
                "DOWN".into()
            }
        }
    }
}

/// `get_check_status_info` / `get_check_status_description` including `INI`.
fn check_tag(status: Option<CheckStatus>) -> (&'static str, &'static str) {
    match status {
        None => ("INI", "Initializing"),
        Some(s) => (s.tag(), s.description()),
    }
}

fn server_row(px: &ProxyStats, sv: &ServerRow, legends: bool) -> Row {
    let mut r = Row::new();
    r.s(F::Pxname, &px.name);
    r.s(F::Svname, &sv.name);
    r.s(F::Mode, px.mode.as_str());
    r.u(F::Qcur, sv.qcur);
    r.u(F::Qmax, sv.qmax);
    r.u(F::Scur, sv.scur);
    r.u(F::Smax, sv.smax);
    if sv.maxconn > 0 {
        r.u(F::Slim, sv.maxconn);
    }
    r.u(F::SrvIcur, sv.idle_cur);
    if let Some(max) = sv.pool_max_conn {
        r.u(F::SrvIlim, max);
    }
    r.u(F::Stot, sv.stot);
    r.u(F::Bin, sv.bin);
    r.u(F::Bout, sv.bout);
    r.u(F::Dresp, sv.dresp);
    r.u(F::Econ, sv.econ);
    r.u(F::Eresp, sv.eresp);
    r.u(F::Wretr, sv.wretr);
    r.u(F::Wredis, sv.wredis);
    r.u(F::Wrew, sv.wrew);
    r.u(F::Eint, sv.eint);
    r.u(F::Connect, sv.connect);
    r.u(F::Reuse, sv.reuse);
    r.u(F::IdleConnCur, sv.idle_conn_cur);
    r.u(F::SafeConnCur, sv.safe_conn_cur);
    r.u(F::UsedConnCur, sv.used_conn_cur);
    r.u(F::NeedConnEst, sv.need_conn_est);
    r.s(F::Status, &server_status(sv));
    r.u(F::Lastchg, sv.lastchg);
    r.u(F::Weight, sv.weight);
    r.u(F::Uweight, sv.uweight);
    r.u(F::Act, u32::from(!sv.backup));
    r.u(F::Bck, u32::from(sv.backup));
    if let Some(c) = &sv.check {
        r.u(F::Chkfail, c.failed_checks);
        r.u(F::Chkdown, c.down_transitions);
        r.u(F::Downtime, c.downtime);
        let (tag, desc) = check_tag(c.status);
        let shown = if c.in_progress {
            format!("* {tag}")
        } else {
            tag.to_string()
        };
        r.s(F::CheckStatus, &shown);
        if let (Some(code), true) = (c.code, shows_code(c.status)) {
            r.u(F::CheckCode, code);
        }
        if c.status.is_some() {
            r.u(F::CheckDuration, c.duration_ms);
        }
        r.s(F::CheckDesc, desc);
        r.s(F::LastChk, &c.info);
        r.u(F::CheckRise, c.rise);
        r.u(F::CheckFall, c.fall);
        r.u(F::CheckHealth, c.health);
    }
    if sv.maxqueue > 0 {
        r.u(F::Qlimit, sv.maxqueue);
    }
    r.u(F::Pid, 1u32);
    r.u(F::Iid, px.iid);
    r.u(F::Sid, sv.sid);
    if sv.run == ServerRunState::Starting && sv.admin != ServerAdmin::Drain {
        if let Some(t) = sv.throttle {
            r.u(F::Throttle, t);
        }
    }
    r.u(F::Lbtot, sv.lbtot);
    if let Some(t) = &sv.tracked {
        r.s(F::Tracked, t);
    }
    r.u(F::Type, TYPE_SV);
    r.u(F::Rate, sv.rate);
    r.u(F::RateMax, sv.rate_max);
    if px.mode == ProxyMode::Http {
        r.u(F::ReqTot, sv.req_tot);
        r.http(&sv.http);
    }
    r.u(F::CliAbrt, sv.cli_abrt);
    r.u(F::SrvAbrt, sv.srv_abrt);
    r.set(F::Lastsess, Field::S(i64::from(sv.lastsess)));
    r.u(F::Qtime, sv.qtime);
    r.u(F::Ctime, sv.ctime);
    r.u(F::Rtime, sv.rtime);
    r.u(F::Ttime, sv.ttime);
    r.u(F::QtimeMax, sv.qtime_max);
    r.u(F::CtimeMax, sv.ctime_max);
    r.u(F::RtimeMax, sv.rtime_max);
    r.u(F::TtimeMax, sv.ttime_max);
    if legends {
        r.s(F::Addr, &sv.addr);
        if let Some(c) = &sv.cookie {
            r.s(F::Cookie, c);
        }
    }
    r.modules(None);
    r
}

/// The standard fields of a FRONTEND row as `stats_fill_fe_stats()` fills them (the
/// Prometheus exporter reads the same ones), indexed by [`F`].
pub(crate) fn frontend_fields(px: &ProxyStats, fe: &FrontendRow) -> Vec<Field> {
    frontend_row(px, fe).std
}

/// A BACKEND row's standard fields (`stats_fill_be_stats()`).
pub(crate) fn backend_fields(px: &ProxyStats, be: &BackendSide) -> Vec<Field> {
    backend_row(px, be, false, false).std
}

/// A server row's standard fields (`stats_fill_sv_stats()`).
pub(crate) fn server_fields(px: &ProxyStats, sv: &ServerRow) -> Vec<Field> {
    server_row(px, sv, false).std
}

/// Statuses past `HCHK_STATUS_L57DATA` carry a response code.
pub(crate) fn shows_code(status: Option<CheckStatus>) -> bool {
    matches!(
        status,
        Some(CheckStatus::L7Ok | CheckStatus::L7OkC | CheckStatus::L7Sts)
    )
}

fn backend_row(px: &ProxyStats, be: &BackendSide, legends: bool, show_counts: bool) -> Row {
    let b = &be.row;
    let mut r = Row::new();
    r.s(F::Pxname, &px.name);
    r.s(F::Svname, "BACKEND");
    r.s(F::Mode, px.mode.as_str());
    r.u(F::Qcur, b.qcur);
    r.u(F::Qmax, b.qmax);
    r.u(F::Scur, b.scur);
    r.u(F::Smax, b.smax);
    r.u(F::Slim, b.slim);
    r.u(F::Stot, b.stot);
    r.u(F::Bin, b.bin);
    r.u(F::Bout, b.bout);
    r.u(F::Dreq, b.dreq);
    r.u(F::Dresp, b.dresp);
    r.u(F::Econ, b.econ);
    r.u(F::Eresp, b.eresp);
    r.u(F::Wretr, b.wretr);
    r.u(F::Wredis, b.wredis);
    r.u(F::Wrew, b.wrew);
    r.u(F::Eint, b.eint);
    r.u(F::Connect, b.connect);
    r.u(F::Reuse, b.reuse);
    let mut status = if b.weight > 0 || be.servers.is_empty() {
        "UP".to_string()
    } else {
        "DOWN".to_string()
    };
    if show_counts {
        let up = be
            .servers
            .iter()
            .filter(|s| s.run != ServerRunState::Stopped)
            .count();
        let _ = write!(status, " ({up}/{})", be.servers.len());
    }
    r.s(F::Status, &status);
    r.u(F::AggServerStatus, 0u32);
    r.u(F::AggServerCheckStatus, 0u32);
    r.u(F::AggCheckStatus, 0u32);
    r.u(F::Weight, b.weight);
    r.u(F::Uweight, backend_uweight(be));
    r.u(F::Act, b.act);
    r.u(F::Bck, b.bck);
    r.u(F::Chkdown, b.chkdown);
    r.u(F::Lastchg, b.lastchg);
    if !be.servers.is_empty() {
        r.u(F::Downtime, b.downtime);
    }
    r.u(F::Pid, 1u32);
    r.u(F::Iid, px.iid);
    r.u(F::Sid, 0u32);
    r.u(F::Lbtot, b.lbtot);
    r.u(F::Type, TYPE_BE);
    r.u(F::Rate, b.rate);
    r.u(F::RateMax, b.rate_max);
    if legends {
        if let Some(c) = &b.cookie_name {
            r.s(F::Cookie, c);
        }
        r.s(F::Algo, &b.algo);
    }
    if px.mode == ProxyMode::Http {
        r.u(F::ReqTot, b.req_tot);
        r.http(&b.http);
        r.u(F::CacheLookups, b.cache_lookups);
        r.u(F::CacheHits, b.cache_hits);
    }
    r.u(F::CliAbrt, b.cli_abrt);
    r.u(F::SrvAbrt, b.srv_abrt);
    r.u(F::CompIn, b.comp_in);
    r.u(F::CompOut, b.comp_out);
    r.u(F::CompByp, b.comp_byp);
    r.u(F::CompRsp, b.comp_rsp);
    r.set(F::Lastsess, Field::S(i64::from(b.lastsess)));
    r.u(F::Qtime, b.qtime);
    r.u(F::Ctime, b.ctime);
    r.u(F::Rtime, b.rtime);
    r.u(F::Ttime, b.ttime);
    r.u(F::QtimeMax, b.qtime_max);
    r.u(F::CtimeMax, b.ctime_max);
    r.u(F::RtimeMax, b.rtime_max);
    r.u(F::TtimeMax, b.ttime_max);
    r.modules(Some(&b.h1));
    r
}

/// `stats_fill_be_stats_computesrv`'s total user weight: the usable servers of the
/// kind in use (active if any active is usable, else backup).
fn backend_uweight(be: &BackendSide) -> u32 {
    let usable = |s: &&ServerRow| {
        s.run != ServerRunState::Stopped
            && matches!(s.admin, ServerAdmin::Ready)
            && s.run != ServerRunState::Stopping
            && s.weight > 0
    };
    let use_backup = be.row.act == 0;
    be.servers
        .iter()
        .filter(usable)
        .filter(|s| s.backup == use_backup)
        .map(|s| s.uweight)
        .sum()
}

/// Whether a proxy is listed: `stats scope` (exact names, `.` for the page's own
/// proxy) and the request's `scope=` (case-insensitive substring).
fn in_scope(settings: &Stats, page: &PageRequest, own_proxy: &str, px: &ProxyStats) -> bool {
    if !settings.scope.is_empty()
        && !settings
            .scope
            .iter()
            .any(|s| s == &px.name || (s == "." && px.name == own_proxy))
    {
        return false;
    }
    match &page.scope {
        Some(s) => px
            .name
            .to_ascii_lowercase()
            .contains(&s.to_ascii_lowercase()),
        None => true,
    }
}

/// The servers a page lists (`;up`, `;no-maint`).
fn server_listed(page: &PageRequest, sv: &ServerRow) -> bool {
    let maint = matches!(sv.admin, ServerAdmin::Maint | ServerAdmin::MaintVia(_));
    if page.hide_maint && maint {
        return false;
    }
    if page.hide_down {
        let down_for_good = sv.run == ServerRunState::Stopped
            && sv.check.as_ref().map(|c| c.health).unwrap_or(0) == 0;
        if maint || down_for_good {
            return false;
        }
    }
    true
}

/// Every row of the page in order: per proxy, FRONTEND, servers, BACKEND.
fn rows<'a>(
    settings: &'a Stats,
    page: &'a PageRequest,
    own_proxy: &'a str,
    snapshot: &'a StatsSnapshot,
) -> impl Iterator<Item = (&'a ProxyStats, Vec<Row>)> + 'a {
    let legends = settings.show_legends;
    snapshot
        .proxies
        .iter()
        .filter(move |px| in_scope(settings, page, own_proxy, px))
        .map(move |px| {
            let mut out = Vec::new();
            if let Some(fe) = &px.frontend {
                out.push(frontend_row(px, fe));
            }
            if let Some(be) = &px.backend {
                for sv in be.servers.iter().filter(|sv| server_listed(page, sv)) {
                    out.push(server_row(px, sv, legends));
                }
                out.push(backend_row(
                    px,
                    be,
                    legends,
                    page.hide_down || page.hide_maint,
                ));
            }
            (px, out)
        })
}

// ------------------------------------------------------------------ CSV

/// `csv_enc_append` with automatic quoting.
fn csv_field(out: &mut String, f: &Field) {
    match f {
        Field::Empty => {}
        Field::U(v) => {
            let _ = write!(out, "{v}");
        }
        Field::S(v) => {
            let _ = write!(out, "{v}");
        }
        Field::Str(s) => {
            if s.contains(['\n', '\r', ',', '"']) {
                out.push('"');
                out.push_str(&s.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(s);
            }
        }
    }
}

/// The `# pxname,...,-,ssl_sess,...,` header line.
pub fn csv_header() -> String {
    let mut out = String::from("# ");
    for name in FIELD_NAMES {
        out.push_str(name);
        out.push(',');
    }
    out.push_str("-,");
    for name in MODULE_FIELD_NAMES {
        out.push_str(name);
        out.push(',');
    }
    out.push('\n');
    out
}

fn csv_row(out: &mut String, row: &Row) {
    for f in &row.std {
        csv_field(out, f);
        out.push(',');
    }
    out.push_str("-,");
    for f in &row.modules {
        csv_field(out, f);
        out.push(',');
    }
    out.push('\n');
}

/// The `;csv` body.
pub fn csv(
    settings: &Stats,
    page: &PageRequest,
    own_proxy: &str,
    snapshot: &StatsSnapshot,
) -> String {
    let mut out = csv_header();
    for (_, rows) in rows(settings, page, own_proxy, snapshot) {
        for row in &rows {
            csv_row(&mut out, row);
        }
    }
    out
}

/// What `show stat` on the runtime API selects: `<iid> <type> <sid>` (type bits: 1
/// frontends, 2 backends, 4 servers) and `up` / `no-maint`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliStatFilter {
    pub iid: Option<u32>,
    pub types: Option<u32>,
    pub sid: Option<u32>,
    pub hide_down: bool,
    pub hide_maint: bool,
}

/// `show stat` in CSV: the page's CSV with the legend columns (`addr`, `cookie`, `algo`),
/// as the CLI always shows them, filtered as asked.
pub fn csv_for_cli(snapshot: &StatsSnapshot, filter: &CliStatFilter) -> String {
    let page = PageRequest {
        format: Format::Csv,
        hide_down: filter.hide_down,
        hide_maint: filter.hide_maint,
        no_refresh: false,
        status_code: None,
        scope: None,
        head_only: false,
        admin: false,
    };
    let types = filter.types.unwrap_or(u32::MAX);
    let mut out = csv_header();
    for px in &snapshot.proxies {
        if filter.iid.is_some_and(|iid| iid != px.iid) {
            continue;
        }
        if let Some(fe) = &px.frontend {
            if types & 1 != 0 {
                csv_row(&mut out, &frontend_row(px, fe));
            }
        }
        if let Some(be) = &px.backend {
            if types & 4 != 0 {
                for sv in be.servers.iter().filter(|sv| server_listed(&page, sv)) {
                    if filter.sid.unwrap_or(sv.sid) == sv.sid {
                        csv_row(&mut out, &server_row(px, sv, true));
                    }
                }
            }
            if types & 2 != 0 {
                csv_row(
                    &mut out,
                    &backend_row(px, be, true, page.hide_down || page.hide_maint),
                );
            }
        }
    }
    out
}

// ------------------------------------------------------------------ HTML

const HTML_HEAD: &str = include_str!("stats_head.html");

/// `ulltoh`: digits with every third group's first digit spaced (`rls`).
fn u2h(n: u64) -> String {
    let digits = n.to_string();
    let len = digits.len();
    let mut out = String::with_capacity(len + 8);
    for (i, c) in digits.chars().enumerate() {
        let from_right = len - 1 - i;
        if from_right > 0 && from_right.checked_rem(3) == Some(0) {
            out.push_str("<span class=\"rls\">");
            out.push(c);
            out.push_str("</span>");
        } else {
            out.push(c);
        }
    }
    out
}

/// `LIM2A(n, "-")`.
fn lim(n: u64) -> String {
    if n == 0 {
        "-".into()
    } else {
        n.to_string()
    }
}

/// `chunk_htmlencode` for the texts operators set (names, descriptions).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `human_time(t, 1)`: the two most significant units (`1d2h`, `3h4m`, `5m6s`, `0s`),
/// `?` for a negative age (never).
fn human_time(t: i64) -> String {
    if t < 0 {
        return "?".into();
    }
    let mut out = String::new();
    let mut cnt = 2;
    if t >= 86400 {
        let _ = write!(out, "{}d", t / 86400);
        cnt -= 1;
    }
    if cnt > 0 && t % 86400 / 3600 > 0 {
        let _ = write!(out, "{}h", t % 86400 / 3600);
        cnt -= 1;
    }
    if cnt > 0 && t % 3600 / 60 > 0 {
        let _ = write!(out, "{}m", t % 3600 / 60);
        cnt -= 1;
    }
    if (cnt > 0 && t % 60 > 0) || t == 0 {
        let _ = write!(out, "{}s", t % 60);
    }
    out
}

fn node_text<'a>(settings: &'a Stats, process: &'a ProcessInfo) -> &'a str {
    match settings.show_node.as_deref() {
        Some(n) if !n.is_empty() => n,
        _ => &process.node,
    }
}

/// The page's links keep `;up` / `;norefresh` / scope as HAProxy's do.
fn link(settings: &Stats, page: &PageRequest, up: bool, norefresh: bool) -> String {
    let mut s = stats_uri(settings).to_string();
    if up {
        s.push_str(";up");
    }
    if norefresh {
        s.push_str(";norefresh");
    }
    if let Some(scope) = &page.scope {
        s.push_str(";scope=");
        s.push_str(scope);
    }
    s
}

fn html_info(out: &mut String, settings: &Stats, page: &PageRequest, p: &ProcessInfo) {
    let version = if settings.hide_version {
        String::new()
    } else {
        format!(" version {}, released {}", p.version, p.release_date)
    };
    let (on, node) = if settings.show_node.is_some() {
        (" on ", esc(node_text(settings, p)))
    } else {
        ("", String::new())
    };
    let (colon, desc) = match &settings.show_desc {
        Some(d) => (
            ": ",
            esc(if d.is_empty() {
                p.description.as_deref().unwrap_or("")
            } else {
                d
            }),
        ),
        None => ("", String::new()),
    };
    let up = p.uptime_secs;
    let bps = p.bytes_out_rate * 8 * 1538 / 1448;
    let (rate, unit) = if bps >= 1_000_000_000 {
        (bps as f64 / 1e9, 'G')
    } else if bps >= 1_000_000 {
        (bps as f64 / 1e6, 'M')
    } else {
        (bps as f64 / 1e3, 'k')
    };
    let (memmax, mb) = if p.memmax_mb > 0 {
        (p.memmax_mb.to_string(), " MB")
    } else {
        ("unlimited".to_string(), "")
    };
    let _ = write!(
        out,
        "<body><h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy{version}</a></h1>\n\
<h2>Statistics Report for pid {pid}{on}{node}{colon}{desc}</h2>\n\
<hr width=\"100%\" class=\"hr\">\n\
<h3>&gt; General process information</h3>\n\
<table border=0><tr><td align=\"left\" nowrap width=\"1%\">\n\
<p><b>pid = </b> {pid} (process #1, nbproc = 1, nbthread = {nbthread})<br>\n\
<b>uptime = </b> {d}d {h}h{m:02}m{s:02}s<br>\n\
<b>system limits:</b> memmax = {memmax}{mb}; ulimit-n = {ulimit}<br>\n\
<b>maxsock = </b> {maxsock}; <b>maxconn = </b> {maxconn}; <b>maxpipes = </b> {maxpipes}<br>\n\
current conns = {conns}; current pipes = {pu}/{pt}; conn rate = {cr}/sec; bit rate = {rate:.3} {unit}bps<br>\n\
Running tasks: {rq}/{tasks}; idle = {idle} %<br>\n\
</td><td align=\"center\" nowrap>\n\
<table class=\"lgd\"><tr>\n\
<td class=\"active_up\">&nbsp;</td><td class=\"noborder\">active UP </td><td class=\"backup_up\">&nbsp;</td><td class=\"noborder\">backup UP </td></tr><tr>\n\
<td class=\"active_going_down\"></td><td class=\"noborder\">active UP, going down </td><td class=\"backup_going_down\"></td><td class=\"noborder\">backup UP, going down </td></tr><tr>\n\
<td class=\"active_going_up\"></td><td class=\"noborder\">active DOWN, going up </td><td class=\"backup_going_up\"></td><td class=\"noborder\">backup DOWN, going up </td></tr><tr>\n\
<td class=\"active_down\"></td><td class=\"noborder\">active or backup DOWN &nbsp;</td><td class=\"active_no_check\"></td><td class=\"noborder\">not checked </td></tr><tr>\n\
<td class=\"maintain\"></td><td class=\"noborder\" colspan=\"3\">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr><tr>\n\
<td class=\"active_draining\"></td><td class=\"noborder\" colspan=\"3\">active or backup SOFT STOPPED for maintenance &nbsp;</td></tr></table>\n\
Note: \"NOLB\"/\"DRAIN\" = UP with load-balancing disabled.</td><td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>Display option:</b><ul style=\"margin-top: 0.25em;\">",
        pid = p.pid,
        nbthread = p.nbthread,
        d = up / 86400,
        h = up % 86400 / 3600,
        m = up % 3600 / 60,
        s = up % 60,
        ulimit = p.ulimit_n,
        maxsock = p.maxsock,
        maxconn = p.maxconn,
        maxpipes = p.maxpipes,
        conns = p.current_conns,
        pu = p.pipes_used,
        pt = p.pipes_used + p.pipes_free,
        cr = p.conn_rate,
        rq = p.run_queue,
        tasks = p.tasks,
        idle = p.idle_pct,
    );
    let _ = writeln!(
        out,
        "<li><form method=\"GET\">Scope : <input value=\"{}\" name=\"scope\" size=\"8\" maxlength=\"20\" tabindex=\"1\"/></form>",
        page.scope.as_deref().unwrap_or("")
    );
    let refresh_on = settings.refresh.is_some_and(|r| r.as_secs() > 0);
    if page.hide_down {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\">Show all servers</a><br>",
            link(settings, page, false, page.no_refresh)
        );
    } else {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\">Hide 'DOWN' servers</a><br>",
            link(settings, page, true, page.no_refresh)
        );
    }
    if refresh_on {
        if page.no_refresh {
            let _ = writeln!(
                out,
                "<li><a href=\"{}\">Enable refresh</a><br>",
                link(settings, page, page.hide_down, false)
            );
        } else {
            let _ = writeln!(
                out,
                "<li><a href=\"{}\">Disable refresh</a><br>",
                link(settings, page, page.hide_down, true)
            );
        }
    }
    let _ = writeln!(
        out,
        "<li><a href=\"{}\">Refresh now</a><br>",
        link(settings, page, page.hide_down, page.no_refresh)
    );
    let uri = stats_uri(settings);
    let nr = if refresh_on { ";norefresh" } else { "" };
    let scope = page
        .scope
        .as_deref()
        .map_or(String::new(), |s| format!(";scope={s}"));
    let _ = writeln!(
        out,
        "<li><a href=\"{uri};csv{nr}{scope}\">CSV export</a><br>"
    );
    let _ = writeln!(
        out,
        "<li><a href=\"{uri};json{nr}{scope}\">JSON export</a> (<a href=\"{uri};json-schema\">schema</a>)<br>"
    );
    out.push_str(
        "</ul></td><td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>External resources:</b><ul style=\"margin-top: 0.25em;\">\n\
<li><a href=\"http://www.haproxy.org/\">Primary site</a><br>\n\
<li><a href=\"http://www.haproxy.org/#down\">Updates (v2.6)</a><br>\n\
<li><a href=\"http://www.haproxy.org/#docs\">Online manual</a><br>\n\
</ul></td></tr></table>\n",
    );
    if let Some(code) = &page.status_code {
        let (class, text) = match code.as_str() {
            "DONE" => ("active_up", "Action processed successfully."),
            "NONE" => ("active_going_down", "Nothing has changed."),
            "DENY" => ("active_down", "<b>Action denied.</b>"),
            "IVAL" => (
                "active_down",
                "<b>Invalid requests (unsupported method or chunked encoded request).</b>",
            ),
            _ => ("active_no_check", "Unexpected result."),
        };
        let _ = write!(
            out,
            "<p><div class={class}><a class=lfsb href=\"{}\" title=\"Remove this message\">[X]</a> {text}</div>\n<p>\n",
            link(settings, page, page.hide_down, page.no_refresh)
        );
    }
}

fn html_px_header(out: &mut String, settings: &Stats, px: &ProxyStats, admin: bool) {
    let name = esc(&px.name);
    let legends = settings.show_legends;
    if admin && has_servers(px) {
        out.push_str("<form method=\"post\">");
    }
    let _ = write!(
        out,
        "<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%\"><a name=\"{name}\"></a>{}<a class=px href=\"#{name}\">{name}</a>",
        if legends { "<u>" } else { "" }
    );
    if legends {
        let _ = write!(
            out,
            "<div class=tips>cap: {}, mode: {}, id: {}</div>",
            px.cap_str(),
            px.mode.as_str(),
            px.iid
        );
    }
    let (class, desc) = match &px.description {
        Some(d) => ("desc", esc(d)),
        None => ("empty", String::new()),
    };
    let _ = write!(
        out,
        "{}</th><th class=\"{class}\" width=\"90%\">{desc}</th></tr>\n</table>\n<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\">",
        if legends { "</u>" } else { "" }
    );
    if admin {
        if has_servers(px) {
            let _ = write!(
                out,
                "<th rowspan=2 width=1><input type=\"checkbox\" onclick=\"for(c in document.getElementsByClassName('{name}-checkbox')) document.getElementsByClassName('{name}-checkbox').item(c).checked = this.checked\"></th>"
            );
        } else {
            out.push_str("<th rowspan=2></th>");
        }
    }
    out.push_str(
        "<th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n\
<tr class=\"titre\"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th>\n</tr>",
    );
}

/// A proxy with a backend and servers (`px->cap & PR_CAP_BE && px->srv`): with admin
/// rights its table is a form.
fn has_servers(px: &ProxyStats) -> bool {
    px.backend.as_ref().is_some_and(|b| !b.servers.is_empty())
}

/// `stats_dump_html_px_end()`: the table's end, and the admin form's actions.
fn html_px_end(out: &mut String, px: &ProxyStats, admin: bool) {
    out.push_str("</table>");
    if admin && has_servers(px) {
        let _ = write!(
            out,
            "Choose the action to perform on the checked servers : <select name=action><option value=\"\"></option><option value=\"ready\">Set state to READY</option><option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option><option value=\"dhlth\">Health: disable checks</option><option value=\"ehlth\">Health: enable checks</option><option value=\"hrunn\">Health: force UP</option><option value=\"hnolb\">Health: force NOLB</option><option value=\"hdown\">Health: force DOWN</option><option value=\"dagent\">Agent: disable checks</option><option value=\"eagent\">Agent: enable checks</option><option value=\"arunn\">Agent: force UP</option><option value=\"adown\">Agent: force DOWN</option><option value=\"shutdown\">Kill Sessions</option></select><input type=\"hidden\" name=\"b\" value=\"#{}\">&nbsp;<input type=\"submit\" value=\"Apply\"></form>",
            px.iid
        );
    }
    out.push_str("<p>\n");
}

/// The server row's class (`stats_dump_fields_html`'s style choice).
fn server_class(r: &Row) -> String {
    let status = r.get(F::Status).str();
    if status.starts_with("MAINT") {
        return "maintain".into();
    }
    let style = if status == "DOWN" || status == "DOWN (agent)" {
        "down"
    } else if status.starts_with("DOWN ") {
        "going_up"
    } else if status == "DRAIN" {
        "draining"
    } else if status.starts_with("NOLB ") {
        "going_down"
    } else if status == "NOLB" {
        "nolb"
    } else if status == "no check" {
        "no_check"
    } else if *r.get(F::Chkfail) == Field::Empty
        || r.get(F::CheckHealth).u() == r.get(F::CheckRise).u() + r.get(F::CheckFall).u() - 1
    {
        if r.get(F::Weight).u() > 0 {
            "up"
        } else {
            "draining"
        }
    } else {
        "going_down"
    };
    let kind = if r.get(F::Bck).u() > 0 {
        "backup"
    } else {
        "active"
    };
    format!("{kind}_{style}")
}

/// One row of a proxy's table, cell for cell as `stats_dump_fields_html` lays it out
/// (hover tooltips reduced to the ones carrying identity: legends, check details).
fn html_row(out: &mut String, r: &Row, legends: bool, admin: bool) {
    // The admin column: empty, or a server's checkbox.
    let blank = if admin { "<td></td>" } else { "" };
    let n = |f: F| u2h(r.get(f).u());
    let px = esc(r.get(F::Pxname).str());
    let lastsess = match r.get(F::Lastsess) {
        Field::S(s) => human_time(*s),
        _ => "?".into(),
    };
    let ty = r.get(F::Type).u();
    if ty == TYPE_FE {
        let _ = write!(
            out,
            "<tr class=\"frontend\">{blank}<td class=ac><a name=\"{px}/Frontend\"></a><a class=lfsb href=\"#{px}/Frontend\">Frontend</a></td><td colspan=3></td>\
<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td><td></td><td>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td>{}</td><td></td><td></td><td></td><td></td><td class=ac>{}</td><td class=ac colspan=8></td></tr>",
            n(F::Rate),
            n(F::RateMax),
            lim(r.get(F::RateLim).u()),
            n(F::Scur),
            n(F::Smax),
            n(F::Slim),
            n(F::Stot),
            n(F::Bin),
            n(F::Bout),
            n(F::Dreq),
            n(F::Dresp),
            n(F::Ereq),
            esc(r.get(F::Status).str()),
        );
    } else if ty == TYPE_SV {
        let sv = esc(r.get(F::Svname).str());
        let _ = write!(
            out,
            "<tr class=\"{}\">{}<td class=ac><a name=\"{px}/{sv}\"></a>{}<a class=lfsb href=\"#{px}/{sv}\">{sv}</a>",
            server_class(r),
            if admin {
                format!("<td><input class='{px}-checkbox' type=\"checkbox\" name=\"s\" value=\"{sv}\"></td>")
            } else {
                String::new()
            },
            if legends { "<u>" } else { "" }
        );
        if legends {
            let addr = r.get(F::Addr).str();
            out.push_str("<div class=tips>");
            if addr.starts_with(|c: char| c.is_ascii_digit()) {
                let _ = write!(out, "IPv4: {addr}, ");
            } else if addr.starts_with('[') {
                let _ = write!(out, "IPv6: {addr}, ");
            } else if !addr.is_empty() {
                let _ = write!(out, "{addr}, ");
            }
            let _ = write!(out, "id: {}", r.get(F::Sid).u());
            if let Field::Str(c) = r.get(F::Cookie) {
                let _ = write!(out, ", cookie: '{}'", esc(c));
            }
            out.push_str("</div>");
        }
        let _ = write!(
            out,
            "{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td>\
<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td></td><td>{}</td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=ac>",
            if legends { "</u>" } else { "" },
            n(F::Qcur),
            n(F::Qmax),
            lim(r.get(F::Qlimit).u()),
            n(F::Rate),
            n(F::RateMax),
            n(F::Scur),
            n(F::Smax),
            lim(r.get(F::Slim).u()),
            n(F::Stot),
            n(F::Lbtot),
            lastsess,
            n(F::Bin),
            n(F::Bout),
            n(F::Dresp),
            n(F::Econ),
            n(F::Eresp),
            r.get(F::Wretr).u(),
            r.get(F::Wredis).u(),
        );
        let status = r.get(F::Status).str();
        let since = human_time(age(r.get(F::Lastchg).u()));
        let health = r.get(F::CheckHealth).u();
        let top = (r.get(F::CheckRise).u() + r.get(F::CheckFall).u()).saturating_sub(1);
        if status.starts_with("MAINT") {
            let _ = write!(out, "{since} MAINT");
        } else if status == "no check" {
            out.push_str("<i>no check</i>");
        } else {
            let _ = write!(out, "{since} {}", esc(status));
            if status.starts_with("DOWN") {
                if health > 0 {
                    out.push_str(" &uarr;");
                }
            } else if health < top {
                out.push_str(" &darr;");
            }
        }
        if let Field::Str(check) = r.get(F::CheckStatus) {
            let _ = write!(out, "</td><td class=ac><u> {}", esc(check));
            if let Field::U(code) = r.get(F::CheckCode) {
                let _ = write!(out, "/{code}");
            }
            if let Field::U(d) = r.get(F::CheckDuration) {
                let _ = write!(out, " in {d}ms");
            }
            let _ = write!(out, "<div class=tips>{}", esc(r.get(F::CheckDesc).str()));
            let info = r.get(F::LastChk).str();
            if !info.is_empty() {
                let _ = write!(out, ": {}", esc(info));
            }
            out.push_str("</div></u>");
        } else {
            out.push_str("</td><td>");
        }
        let backup = r.get(F::Bck).u() > 0;
        let _ = write!(
            out,
            "</td><td class=ac>{}/{}</td><td class=ac>{}</td><td class=ac>{}</td>",
            r.get(F::Weight).u(),
            r.get(F::Uweight).u(),
            if backup { "-" } else { "Y" },
            if backup { "Y" } else { "-" },
        );
        if let Field::U(fails) = r.get(F::Chkfail) {
            let downtime = human_time(age(r.get(F::Downtime).u()));
            let _ = write!(
                out,
                "<td><u>{fails}<div class=tips>Failed Health Checks</div></u></td><td>{}</td><td>{downtime}</td>",
                r.get(F::Chkdown).u()
            );
        } else if let (false, Field::Str(t)) = (status == "MAINT", r.get(F::Tracked)) {
            let t = esc(t);
            let _ = write!(
                out,
                "<td class=ac colspan=3><a class=lfsb href=\"#{t}\">via {t}</a></td>"
            );
        } else {
            out.push_str("<td colspan=3></td>");
        }
        match r.get(F::Throttle) {
            Field::U(t) => {
                let _ = writeln!(out, "<td class=ac>{t} %</td>");
            }
            _ => out.push_str("<td class=ac>-</td>"),
        }
        out.push_str("</tr>\n");
    } else {
        let _ = write!(
            out,
            "<tr class=\"backend\">{blank}<td class=ac>{}<a name=\"{px}/Backend\"></a><a class=lfsb href=\"#{px}/Backend\">Backend</a>",
            if legends { "<u>" } else { "" }
        );
        if legends {
            let _ = write!(
                out,
                "<div class=tips>balancing: {}",
                esc(r.get(F::Algo).str())
            );
            if let Field::Str(c) = r.get(F::Cookie) {
                let _ = write!(out, ", cookie: '{}'", esc(c));
            }
            out.push_str("</div>");
        }
        let status = r.get(F::Status).str();
        let status = if status == "DOWN" {
            "<font color=\"red\"><b>DOWN</b></font>".to_string()
        } else {
            esc(status)
        };
        let downtime = match r.get(F::Downtime) {
            Field::U(v) => human_time(age(*v)),
            _ => "&nbsp;".into(),
        };
        let _ = write!(
            out,
            "{}</td><td>{}</td><td>{}</td><td></td><td>{}</td><td>{}</td><td></td>\
<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td class=ac>{} {status}</td><td class=ac>&nbsp;</td><td class=ac>{}/{}</td><td class=ac>{}</td><td class=ac>{}</td>\
<td class=ac>&nbsp;</td><td>{}</td><td>{downtime}</td><td></td></tr>",
            if legends { "</u>" } else { "" },
            n(F::Qcur),
            n(F::Qmax),
            n(F::Rate),
            n(F::RateMax),
            n(F::Scur),
            n(F::Smax),
            n(F::Slim),
            n(F::Stot),
            n(F::Lbtot),
            lastsess,
            n(F::Bin),
            n(F::Bout),
            n(F::Dreq),
            n(F::Dresp),
            n(F::Econ),
            n(F::Eresp),
            r.get(F::Wretr).u(),
            r.get(F::Wredis).u(),
            human_time(age(r.get(F::Lastchg).u())),
            r.get(F::Weight).u(),
            r.get(F::Uweight).u(),
            r.get(F::Act).u(),
            r.get(F::Bck).u(),
            r.get(F::Chkdown).u(),
        );
    }
}

fn age(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The HTML page's body.
pub fn html(
    settings: &Stats,
    page: &PageRequest,
    own_proxy: &str,
    snapshot: &StatsSnapshot,
) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let (on, node) = if settings.show_node.is_some() {
        (" on ", esc(node_text(settings, &snapshot.process)))
    } else {
        ("", String::new())
    };
    match HTML_HEAD.split_once("%s%s") {
        Some((before, after)) => {
            out.push_str(before);
            out.push_str(on);
            out.push_str(&node);
            out.push_str(after);
        }
        // The file is part of the crate and has the placeholder; keep it whole if not.
        None => out.push_str(HTML_HEAD),
    }
    html_info(&mut out, settings, page, &snapshot.process);
    for (px, rows) in rows(settings, page, own_proxy, snapshot) {
        html_px_header(&mut out, settings, px, page.admin);
        for row in &rows {
            html_row(&mut out, row, settings.show_legends, page.admin);
        }
        html_px_end(&mut out, px, page.admin);
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: method.into(),
            uri: uri.into(),
            version: HttpVersion::Http11,
            headers: Headers(headers.iter().map(|(n, v)| header(n, v)).collect()),
        }
    }

    fn settings(uri: &str, auth: &[(&str, &str)]) -> Stats {
        Stats {
            enabled: true,
            uri: Some(uri.into()),
            auth: auth
                .iter()
                .map(|(u, p)| haproxy_conf::model::StatsAuth {
                    user: (*u).into(),
                    password: (*p).into(),
                })
                .collect(),
            ..Stats::default()
        }
    }

    #[test]
    fn base64_as_haproxy_decodes_it() {
        assert_eq!(base64_decode(b"YWRtaW46czNjcmV0").unwrap(), b"admin:s3cret");
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI=").unwrap(), b"ab");
        // Length not a multiple of 4, foreign characters, padding then data: errors.
        assert_eq!(base64_decode(b"YWI"), None);
        assert_eq!(base64_decode(b"Y!I="), None);
        assert_eq!(base64_decode(b"YQ=a"), None);
        assert_eq!(base64_decode(b"=AAA"), None);
        assert_eq!(base64_decode(b""), None);
        // base64dec quirks: "X===" decodes to nothing, a group after padding goes on
        // at the padded length.
        assert_eq!(base64_decode(b"Y===").unwrap(), b"");
        assert_eq!(base64_decode(b"YQ==YQ==").unwrap(), b"aa");
    }

    #[test]
    fn basic_credentials_with_haproxy_quirks() {
        let creds = |v: &str| basic_credentials(&Headers(vec![header("Authorization", v)]));
        let ok = Some(BasicCredentials {
            user: b"admin".to_vec(),
            password: b"s3cret".to_vec(),
        });
        assert_eq!(creds("Basic YWRtaW46czNjcmV0"), ok);
        // Scheme: any case-insensitive prefix of "Basic" (measured: "bas" is accepted).
        assert_eq!(creds("bas YWRtaW46czNjcmV0"), ok);
        assert_eq!(creds("BASIC   YWRtaW46czNjcmV0"), ok);
        assert_eq!(creds("Basics YWRtaW46czNjcmV0"), None);
        assert_eq!(creds("Bearer YWRtaW46czNjcmV0"), None);
        assert_eq!(creds(" YWRtaW46czNjcmV0"), None);
        assert_eq!(creds("YWRtaW46czNjcmV0"), None);
        // The value stops at a comma (measured: accepted with ",zz" after it).
        assert_eq!(creds("Basic YWRtaW46czNjcmV0,zz"), ok);
        // No ':' -> none; the decoded text stops at a NUL ("admin:s3\0x").
        assert_eq!(creds("Basic YWRtaW4="), None);
        assert_eq!(
            creds("Basic YWRtaW46czMAeA=="),
            Some(BasicCredentials {
                user: b"admin".to_vec(),
                password: b"s3".to_vec(),
            })
        );
    }

    #[test]
    fn uri_prefix_methods_and_options() {
        let s = settings("/st", &[]);
        assert!(match_request(&s, &req("GET", "/st", &[]), || false).is_some());
        assert!(
            match_request(&s, &req("GET", "/stats/x", &[]), || false).is_some(),
            "prefix"
        );
        assert!(match_request(&s, &req("GET", "http://h/st;csv", &[]), || false).is_some());
        assert!(match_request(&s, &req("GET", "/s", &[]), || false).is_none());
        assert!(match_request(&s, &req("DELETE", "/st", &[]), || false).is_none());
        assert!(match_request(&Stats::default(), &req("GET", "/st", &[]), || false).is_none());
        let d = Stats {
            enabled: true,
            ..Stats::default()
        };
        assert!(match_request(&d, &req("GET", "/haproxy?stats;csv", &[]), || false).is_some());
        assert!(match_request(&d, &req("GET", "/haproxy", &[]), || false).is_none());
        let Some(StatsRequest {
            action: StatsAction::Page(p),
            ..
        }) = match_request(
            &s,
            &req("GET", "/st;csv;up;no-maint;st=DONE;scope=we", &[]),
            || false,
        )
        else {
            panic!("a page")
        };
        assert_eq!(p.format, Format::Csv);
        assert!(p.hide_down && p.hide_maint && !p.no_refresh);
        assert_eq!(p.status_code.as_deref(), Some("DONE"));
        assert_eq!(p.scope.as_deref(), Some("we"));
    }

    #[test]
    fn auth_gates_the_page() {
        let s = settings("/st", &[("admin", "s3cret"), ("ro", "")]);
        let action = |h: &[(&str, &str)]| {
            match_request(&s, &req("GET", "/st", h), || false).map(|r| r.action)
        };
        assert!(
            matches!(action(&[]), Some(StatsAction::Unauthorized { realm }) if realm == DEFAULT_REALM)
        );
        assert!(matches!(
            action(&[("authorization", "Basic YWRtaW46czNjcmV0")]),
            Some(StatsAction::Page(_))
        ));
        // "ro:" -> user ro, empty password.
        assert!(matches!(
            action(&[("authorization", "Basic cm86")]),
            Some(StatsAction::Page(_))
        ));
        assert!(matches!(
            action(&[("authorization", "Basic cm86eA==")]),
            Some(StatsAction::Unauthorized { .. })
        ));
    }

    #[test]
    fn digits_times_and_states_as_the_page_prints_them() {
        assert_eq!(u2h(999), "999");
        assert_eq!(u2h(9990), "<span class=\"rls\">9</span>990");
        assert_eq!(
            u2h(1_234_567),
            "<span class=\"rls\">1</span>23<span class=\"rls\">4</span>567"
        );
        assert_eq!(human_time(-1), "?");
        assert_eq!(human_time(0), "0s");
        assert_eq!(human_time(137), "2m17s");
        assert_eq!(human_time(3600), "1h");
        assert_eq!(human_time(86400 + 300), "1d5m");
        let check = |health| ServerCheck {
            rise: 2,
            fall: 3,
            health,
            in_progress: false,
            status: Some(CheckStatus::L4Ok),
            code: None,
            duration_ms: 0,
            info: String::new(),
            failed_checks: 0,
            down_transitions: 0,
            downtime: 0,
        };
        let sv = |run, admin, health: Option<u32>| ServerRow {
            run,
            admin,
            check: health.map(check),
            ..ServerRow::default()
        };
        use ServerRunState::*;
        assert_eq!(
            server_status(&sv(Running, ServerAdmin::Ready, Some(4))),
            "UP"
        );
        assert_eq!(
            server_status(&sv(Running, ServerAdmin::Ready, Some(3))),
            "UP 2/3"
        );
        assert_eq!(
            server_status(&sv(Running, ServerAdmin::Ready, None)),
            "no check"
        );
        assert_eq!(
            server_status(&sv(Running, ServerAdmin::Drain, Some(4))),
            "DRAIN"
        );
        assert_eq!(
            server_status(&sv(Stopped, ServerAdmin::Ready, Some(0))),
            "DOWN"
        );
        assert_eq!(
            server_status(&sv(Stopped, ServerAdmin::Ready, Some(1))),
            "DOWN 1/2"
        );
        assert_eq!(
            server_status(&sv(Stopping, ServerAdmin::Ready, Some(4))),
            "NOLB"
        );
        assert_eq!(
            server_status(&sv(Running, ServerAdmin::Maint, Some(4))),
            "MAINT"
        );
        assert_eq!(
            server_status(&sv(Running, ServerAdmin::MaintVia("b/s".into()), None)),
            "MAINT (via b/s)"
        );
    }

    #[test]
    fn csv_strings_are_quoted_when_needed() {
        let mut out = String::new();
        csv_field(&mut out, &Field::Str("a,\"b\"".into()));
        assert_eq!(out, "\"a,\"\"b\"\"\"");
        let mut out = String::new();
        csv_field(&mut out, &Field::Str("Connection refused".into()));
        assert_eq!(out, "Connection refused");
    }

    proptest! {
        #[test]
        fn auth_decoding_never_panics(value in ".{0,80}", raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = basic_credentials(&Headers(vec![header("Authorization", &value)]));
            let _ = base64_decode(&raw);
            let b64: Vec<u8> = raw.iter().map(|b| b"ABCxyz019+/=!"[usize::from(*b) % 13]).collect();
            let _ = base64_decode(&b64);
        }

        #[test]
        fn any_request_gets_a_response_or_none(uri in "(/st)?.{0,40}", m in "(GET|HEAD|POST|PUT)", auth in ".{0,30}") {
            let s = settings("/st", &[]);
            let s = Stats { auth: settings("/st", &[("a", "b")]).auth, ..s };
            if let Some(r) = match_request(&s, &req(&m, &uri, &[("authorization", &auth)]), || false) {
                let snap = StatsSnapshot::default();
                let out = respond(&s, &r, "x", &snap);
                let status_line = format!("HTTP/1.1 {} ", r.status());
                prop_assert!(out.starts_with(status_line.as_bytes()));
            }
        }
    }

    /// Backend `web` (#2) with `s1` and `s2` (altered by every action) and `s3`
    /// (never altered); records the servers in the order they were acted on.
    struct FakeTarget(Vec<String>);

    impl AdminTarget for FakeTarget {
        fn backend(&mut self, name: &str) -> Option<usize> {
            (name == "web" || name == "#2").then_some(0)
        }
        fn apply(
            &mut self,
            _backend: usize,
            server: &str,
            _action: crate::admin::AdminAction,
        ) -> Option<bool> {
            self.0.push(server.to_string());
            match server {
                "s1" | "s2" => Some(true),
                "s3" => Some(false),
                _ => None,
            }
        }
    }

    fn post(body: &str) -> (&'static str, Vec<String>) {
        let mut t = FakeTarget(Vec::new());
        let code = process_admin_post(body.as_bytes(), &mut t);
        (code, t.0)
    }

    /// Each body and result as haproxy 2.6.12 answered it (curl POSTs to a `stats
    /// admin if TRUE` page; the order from its state lines).
    #[test]
    fn admin_post_results_are_haproxys() {
        assert_eq!(post("s=s1&action=maint&b=web"), ("DONE", vec!["s1".into()]));
        assert_eq!(post("s=s1&s=zz&action=maint&b=web").0, "PART");
        assert_eq!(post("s=zz&action=maint&b=web").0, "ERRP");
        assert_eq!(post("action=maint&b=web").0, "NONE");
        assert_eq!(post("s=s1&action=bogus&b=web"), ("ERRP", vec![]));
        assert_eq!(post("s=s1&action=maint&b=nob"), ("ERRP", vec![]));
        assert_eq!(post("s=s3&action=dhlth&b=web").0, "NONE");
        // From the end: the last server first.
        assert_eq!(
            post("s=s1&s=s2&action=ready&b=%232"),
            ("DONE", vec!["s2".into(), "s1".into()])
        );
        // Servers before the backend and action are known are replayed once they are.
        assert_eq!(
            post("b=web&s=s1&action=maint&s=s2"),
            ("DONE", vec!["s2".into(), "s1".into()])
        );
        // A bad escape stops the parsing: what was done so far decides.
        assert_eq!(post("s=s1&s=%zz&action=maint&b=web"), ("NONE", vec![]));
        // The last `b` is read first: unknown, stop.
        assert_eq!(post("action=maint&b=web&s=s1&b=nob"), ("ERRP", vec![]));
        assert_eq!(post("").0, "NONE");
    }

    #[test]
    fn admin_post_redirect_keeps_up_and_scope() {
        let mut s = settings("/st", &[]);
        s.admin.clear();
        let head = req("POST", "/st;up;norefresh?scope=we", &[]);
        let r = match_request(&s, &head, || true).expect("stats request");
        match &r.action {
            StatsAction::AdminPost { redirect } => {
                // `;norefresh` only counts with `stats refresh` (haproxy drops it here).
                assert_eq!(redirect.location("DONE"), "/st;st=DONE;up?scope=we");
            }
            other => panic!("{other:?}"),
        }
        let denied = match_request(&s, &head, || false).expect("stats request");
        assert_eq!(
            denied.action,
            StatsAction::PostRedirect {
                location: "/st;st=DENY;up?scope=we".into()
            }
        );
    }

    proptest! {
        #[test]
        fn admin_post_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut t = FakeTarget(Vec::new());
            let code = process_admin_post(&body, &mut t);
            prop_assert!(["DONE", "PART", "NONE", "ERRP"].contains(&code));
        }
    }
}
