//! Traffic logs: the `option tcplog` line and the syslog framing of every `log` target,
//! as HAProxy 2.6 writes them (`sess_build_logline()` and `build_log_header()` in
//! src/log.c), pure; plus [`LogSender`], the thin part that sends the datagrams.
//!
//! Measured on haproxy 2.6.12 (tests/reference_io.rs re-checks each against the binary):
//! - a target without `format` writes `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG\n` (HAProxy's
//!   "local" format: no host name), or with `log-send-hostname` the RFC 3164 form with the
//!   host after the time; `format rfc3164` without a host name writes `localhost`;
//! - `format rfc5424`: `<PRI>1 ISO-TIME-µs HOST|- TAG PID - - MSG\n`;
//! - `format raw`: `MSG\n`;
//! - `len N` cuts header + message to N bytes, then adds the `\n`;
//! - traffic lines are sent at `info`; a target with a lower max level gets none.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use haproxy_conf::model::{LogAddress, LogTarget};

use crate::error::ProxyError;

/// Syslog severity of traffic lines (`LOG_INFO`).
pub const LEVEL_INFO: u8 = 6;
/// Severity of sessions with errors under `option log-separate-errors` (`LOG_ERR`).
pub const LEVEL_ERR: u8 = 3;
/// HAProxy's default `len` (`MAX_SYSLOG_LEN`).
pub const DEFAULT_MAX_LENGTH: usize = 1024;

/// The first character of `%ts`: what ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationCause {
    /// `-`: ended normally.
    Normal,
    /// `C`: the client aborted (reset, or closed while the server was being reached).
    ClientAbort,
    /// `S`: the server aborted or refused the connection.
    ServerAbort,
    /// `c`: `timeout client` (or `client-fin`/`tunnel`) expired.
    ClientTimeout,
    /// `s`: `timeout server`/`connect` (or `server-fin`/`tunnel`) expired.
    ServerTimeout,
    /// `P`: the proxy refused (bad PROXY header, deny rule...).
    Proxy,
    /// `R`: a resource ran out (sockets, memory).
    Resource,
    /// `I`: an internal error.
    Internal,
    /// `D`: the server went down (`on-marked-down shutdown-sessions`).
    Down,
    /// `K`: killed by the administrator.
    Killed,
    /// `L`: processed locally by HAProxy (stats page, redirects, `return`).
    Local,
}

impl TerminationCause {
    pub fn flag(self) -> char {
        match self {
            TerminationCause::Normal => '-',
            TerminationCause::ClientAbort => 'C',
            TerminationCause::ServerAbort => 'S',
            TerminationCause::ClientTimeout => 'c',
            TerminationCause::ServerTimeout => 's',
            TerminationCause::Proxy => 'P',
            TerminationCause::Resource => 'R',
            TerminationCause::Internal => 'I',
            TerminationCause::Down => 'D',
            TerminationCause::Killed => 'K',
            TerminationCause::Local => 'L',
        }
    }
}

/// The second character of `%ts`: where the session was when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationPhase {
    /// `-`: normal end.
    None,
    /// `R`: waiting for the request (the PROXY header in TCP mode).
    Request,
    /// `Q`: waiting in a queue.
    Queue,
    /// `C`: connecting to the server (retries included).
    Connect,
    /// `H`: waiting for the server's response headers (HTTP).
    Headers,
    /// `D`: data transfer.
    Data,
    /// `L`: the proxy was sending the last data (its own answer) to the client (HTTP).
    LastData,
    /// `T`: tarpitted (HTTP).
    Tarpit,
}

impl TerminationPhase {
    pub fn flag(self) -> char {
        match self {
            TerminationPhase::None => '-',
            TerminationPhase::Request => 'R',
            TerminationPhase::Queue => 'Q',
            TerminationPhase::Connect => 'C',
            TerminationPhase::Headers => 'H',
            TerminationPhase::Data => 'D',
            TerminationPhase::LastData => 'L',
            TerminationPhase::Tarpit => 'T',
        }
    }
}

/// `%ts`: the two termination flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminationState {
    pub cause: TerminationCause,
    pub phase: TerminationPhase,
}

impl std::fmt::Display for TerminationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.cause.flag(), self.phase.flag())
    }
}

/// `%ac/%fc/%bc/%sc/%rc %sq/%bq` as sampled when the line is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounters {
    /// Connections in the whole process (this one included).
    pub process: u32,
    /// Connections on the frontend (this one included).
    pub frontend: u32,
    /// Connections on the backend (this one already released, as HAProxy logs it).
    pub backend: u32,
    /// Connections on the server (this one already released).
    pub server: u32,
    /// Connection retries made.
    pub retries: u32,
    /// The session was redispatched to another server (`+` before `%rc`).
    pub redispatched: bool,
    pub server_queue: u32,
    pub backend_queue: u32,
}

/// Everything an `option tcplog` line says about one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpLogRecord {
    pub client: SocketAddr,
    pub accepted_at: SystemTime,
    pub frontend: String,
    pub backend: String,
    /// `None` when no server was chosen (`<NOSRV>`).
    pub server: Option<String>,
    /// `%Tw`: queue wait in ms, `None` (-1) if the session never got that far.
    pub queue_ms: Option<u64>,
    /// `%Tc`: connect time in ms, `None` (-1) if never connected.
    pub connect_ms: Option<u64>,
    /// `%Tt`: accept to close, in ms.
    pub total_ms: u64,
    /// `%B`: bytes sent from the server to the client.
    pub bytes_to_client: u64,
    /// Bytes received from the client (what `dontlognull` looks at).
    pub bytes_from_client: u64,
    pub termination: TerminationState,
    pub counters: LogCounters,
}

/// Local time as the log lines show it: HAProxy formats them with `localtime()`, so in the
/// zone of `TZ`, else `/etc/localtime` (daylight saving included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogClock {
    zone: Zone,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Zone {
    #[default]
    Utc,
    /// Seconds east of UTC, all year.
    Fixed(i32),
    /// A zone read from the time-zone database (`None`: it could not be read, UTC).
    Tz(Option<&'static tz::TimeZone>),
}

/// The zone glibc's `tzset()` takes for a `TZ` of `tz_var` (`None`: unset): a zone name,
/// `:name`, a file or a POSIX rule such as `EST5EDT,M3.2.0,M11.1.0`; empty means UTC; unset
/// means `/etc/localtime`. `None` (UTC) when it cannot be read, as glibc falls back to UTC.
fn zone_for(tz_var: Option<&str>) -> Option<tz::TimeZone> {
    match tz_var {
        Some("") => None,
        Some(name) => tz::TimeZone::from_posix_tz(name).ok(),
        None => tz::TimeZone::local().ok(),
    }
}

/// A broken-down local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CivilTime {
    year: i64,
    month: u32, // 1..=12
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl LogClock {
    /// Dates in the host's time zone, as HAProxy's: `TZ`, else `/etc/localtime`, read once
    /// (glibc reads it once too, at the first `localtime()`).
    pub fn host() -> LogClock {
        static HOST: std::sync::OnceLock<Option<tz::TimeZone>> = std::sync::OnceLock::new();
        let zone = HOST.get_or_init(|| zone_for(std::env::var("TZ").ok().as_deref()));
        LogClock {
            zone: Zone::Tz(zone.as_ref()),
        }
    }

    /// Dates in the zone a `TZ` of `tz_var` names (`None`: unset). The zone is leaked so the
    /// clock stays `Copy`: for tests and one-off uses, not per connection.
    pub fn for_tz(tz_var: Option<&str>) -> LogClock {
        let zone = zone_for(tz_var).map(|z| &*Box::leak(Box::new(z)));
        LogClock {
            zone: Zone::Tz(zone),
        }
    }

    /// Dates at a fixed offset from UTC (seconds east).
    pub fn fixed(utc_offset_secs: i32) -> LogClock {
        LogClock {
            zone: Zone::Fixed(utc_offset_secs),
        }
    }

    /// Seconds east of UTC at `epoch_secs`.
    fn offset_at(self, epoch_secs: i64) -> i32 {
        match self.zone {
            Zone::Utc => 0,
            Zone::Fixed(offset) => offset,
            Zone::Tz(zone) => zone
                .and_then(|zone| zone.find_local_time_type(epoch_secs).ok())
                .map_or(0, tz::LocalTimeType::ut_offset),
        }
    }

    fn civil(self, at: SystemTime) -> CivilTime {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = since.as_secs() as i64 + i64::from(self.offset_at(since.as_secs() as i64));
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's days_from_civil inverse.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        CivilTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            micros: since.subsec_micros(),
        }
    }

    /// `%t`: `22/Nov/2026:03:41:12.528`.
    pub fn accept_date(self, at: SystemTime) -> String {
        AcceptDate(self.civil(at)).to_string()
    }

    /// RFC 3164's `Nov 22 03:41:12` (day padded with a space).
    pub fn legacy(self, at: SystemTime) -> String {
        Legacy(self.civil(at)).to_string()
    }

    /// `2026-11-22T03:41:12.529713+00:00`, as `timeofday_as_iso_us()`.
    pub fn iso(self, at: SystemTime) -> String {
        let t = self.civil(at);
        let epoch = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let offset = self.offset_at(epoch.as_secs() as i64);
        let sign = if offset < 0 { '-' } else { '+' };
        let off = offset.unsigned_abs();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}{:02}:{:02}",
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            t.micros,
            sign,
            off / 3600,
            off % 3600 / 60
        )
    }
}

// The log line's fields as `Display`s, so that a line is written into one `String`
// (one allocation per line instead of one per field: this runs for every request).

/// `%t`.
struct AcceptDate(CivilTime);

impl std::fmt::Display for AcceptDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.0;
        write!(
            f,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
            t.day,
            MONTHS[(t.month - 1) as usize],
            t.year,
            t.hour,
            t.minute,
            t.second,
            t.micros / 1000
        )
    }
}

/// RFC 3164's date.
struct Legacy(CivilTime);

impl std::fmt::Display for Legacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.0;
        write!(
            f,
            "{} {:2} {:02}:{:02}:{:02}",
            MONTHS[(t.month - 1) as usize],
            t.day,
            t.hour,
            t.minute,
            t.second
        )
    }
}

/// `%ci:%cp`: IPv6 without brackets, as `lf_ip()`.
struct ClientText(SocketAddr);

impl std::fmt::Display for ClientText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0.ip(), self.0.port())
    }
}

/// A timer or status, `-1` when unset.
struct OrMinusOne<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for OrMinusOne<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-1"),
        }
    }
}

/// The `option tcplog` message:
/// `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`.
pub fn format_tcplog(record: &TcpLogRecord, clock: LogClock) -> String {
    let c = &record.counters;
    format!(
        "{} [{}] {} {}/{} {}/{}/{} {} {} {}/{}/{}/{}/{}{} {}/{}",
        ClientText(record.client),
        AcceptDate(clock.civil(record.accepted_at)),
        record.frontend,
        record.backend,
        record.server.as_deref().unwrap_or("<NOSRV>"),
        OrMinusOne(record.queue_ms),
        OrMinusOne(record.connect_ms),
        record.total_ms,
        record.bytes_to_client,
        record.termination,
        c.process,
        c.frontend,
        c.backend,
        c.server,
        if c.redispatched { "+" } else { "" },
        c.retries,
        c.server_queue,
        c.backend_queue,
    )
}

/// Everything an `option httplog` line says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLogRecord {
    pub client: SocketAddr,
    /// `%tr`: when the request began (accept date, plus the idle time before it).
    pub request_at: SystemTime,
    pub frontend: String,
    pub backend: String,
    pub server: Option<String>,
    /// `%TR`: first byte to end of the request head, `None` if it never completed.
    pub request_ms: Option<u64>,
    pub queue_ms: Option<u64>,
    pub connect_ms: Option<u64>,
    /// `%Tr`: request sent to response head received.
    pub response_ms: Option<u64>,
    /// `%Ta`: the request's active time (first byte to the end of the response).
    pub active_ms: u64,
    /// `%Th` + `%Ti`: from the stream's start (the accept, or the end of the previous
    /// request on the connection) to the request's first byte; with `%Ta` it makes
    /// `%Tt`, which the stats page's `ttime` averages. Not logged by `httplog`.
    pub idle_ms: u64,
    /// `%ST`; `None` logs -1 (no answer at all).
    pub status: Option<u16>,
    /// `%B`, counted as HAProxy's HTX does (see `http::h1::htx_head_size`).
    pub bytes_to_client: u64,
    pub termination: TerminationState,
    pub counters: LogCounters,
    /// `%r` as received, `None` for `<BADREQ>`.
    pub request_line: Option<String>,
    /// Nothing at all came from the client (`option dontlognull` drops the line).
    pub null: bool,
    /// Counted but never logged: a `monitor-uri` request (`SF_MONITOR`), a plain
    /// connection closed before sending anything.
    pub unlogged: bool,
    /// `%tsc`'s persistence cookie characters (client side, server side) when the
    /// backend has a `cookie`; `--` otherwise.
    pub cookie_flags: Option<[char; 2]>,
    /// `%hr` / `%hs`: the frontend's `capture request/response header` values in
    /// configuration order (`None` when that header was absent); empty when the
    /// frontend captures none.
    pub request_captures: Vec<Option<String>>,
    pub response_captures: Vec<Option<String>>,
    /// `%CC` / `%CS`: the frontend's `capture cookie` of the request's `Cookie` lines and
    /// of the response's `Set-Cookie` lines (`name=value`, cut to its length); `-` when
    /// none was captured.
    pub captured_cookies: [Option<String>; 2],
    /// The status of each response head the server sent (1xx included), for its
    /// stats counters; not logged.
    pub server_statuses: Vec<u16>,
    /// What the stats page's error and denial counters count of this request.
    pub events: RequestEvents,
    /// The request as HTX holds it (the head without its connection and framing
    /// headers, the body payload): the stats page's `bin`; not logged.
    pub bytes_from_client: u64,
}

/// A request's part in the stats page's `ereq`, `eresp`, `dreq`, `dresp` counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestEvents {
    /// Refused or timed out before it was whole (`failed_req`: the multiplexer's
    /// 400/408, a broken body).
    pub failed_request: bool,
    /// The server's answer failed (`failed_resp`: no response, a timeout, an invalid
    /// one).
    pub failed_response: bool,
    /// An `http-request deny` (`denied_req`).
    pub denied_request: bool,
    /// An `http-response deny` (`denied_resp`).
    pub denied_response: bool,
    /// It got past the backend's rules to its connect phase, where the backend's
    /// `stot` and rate were counted.
    pub entered_backend: bool,
    /// Its head arrived, and the frontend's `req_tot` and rate counted it then.
    pub counted_on_arrival: bool,
}

/// `%{+Q}r`: the request line in double quotes, with HAProxy's default `#XX` encoding of
/// control bytes, `"`, `#` and bytes above 0x7e (`http_encode_map`).
struct QuotedRequestLine<'a>(Option<&'a str>);

impl std::fmt::Display for QuotedRequestLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(line) = self.0 else {
            return f.write_str("\"<BADREQ>\"");
        };
        f.write_str("\"")?;
        let bytes = line.as_bytes();
        let mut plain_from = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if !(0x20..=0x7e).contains(&b) || b == b'"' || b == b'#' {
                // Runs of plain bytes are ASCII, so they end on char boundaries.
                f.write_str(&line[plain_from..i])?;
                write!(f, "#{b:02X}")?;
                plain_from = i + 1;
            }
        }
        f.write_str(&line[plain_from..])?;
        f.write_str("\"")
    }
}

#[cfg(test)]
fn quoted_request_line(line: Option<&str>) -> String {
    QuotedRequestLine(line).to_string()
}

/// `%hr`/`%hs`: ` {v1|v2}` with `lf_encode_string()`'s `#XX` for control bytes, bytes
/// above 0x7e and `"#{|}` (`hdr_encode_map`); nothing without captures (the space
/// before it goes too).
fn captures_text(captures: &[Option<String>]) -> String {
    if captures.is_empty() {
        return String::new();
    }
    let mut out = String::from(" {");
    for (i, value) in captures.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        for b in value.as_deref().unwrap_or("").bytes() {
            if !(0x20..=0x7e).contains(&b) || b"\"#{|}".contains(&b) {
                out.push_str(&format!("#{b:02X}"));
            } else {
                out.push(b as char);
            }
        }
    }
    out.push('}');
    out
}

/// The `option httplog` message: `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC
/// %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r` (`%hr`/`%hs` print nothing
/// without captures, and their separators go with them; `%CC`/`%CS` are copied as they
/// are, without encoding, as `lf_text()` does).
pub fn format_httplog(record: &HttpLogRecord, clock: LogClock) -> String {
    let c = &record.counters;
    format!(
        "{} [{}] {} {}/{} {}/{}/{}/{}/{} {} {} {} {} {}{}{} {}/{}/{}/{}/{}{} {}/{}{}{} {}",
        ClientText(record.client),
        AcceptDate(clock.civil(record.request_at)),
        record.frontend,
        record.backend,
        record.server.as_deref().unwrap_or("<NOSRV>"),
        OrMinusOne(record.request_ms),
        OrMinusOne(record.queue_ms),
        OrMinusOne(record.connect_ms),
        OrMinusOne(record.response_ms),
        record.active_ms,
        OrMinusOne(record.status),
        record.bytes_to_client,
        record.captured_cookies[0].as_deref().unwrap_or("-"),
        record.captured_cookies[1].as_deref().unwrap_or("-"),
        record.termination,
        record.cookie_flags.map_or('-', |f| f[0]),
        record.cookie_flags.map_or('-', |f| f[1]),
        c.process,
        c.frontend,
        c.backend,
        c.server,
        if c.redispatched { "+" } else { "" },
        c.retries,
        c.server_queue,
        c.backend_queue,
        captures_text(&record.request_captures),
        captures_text(&record.response_captures),
        QuotedRequestLine(record.request_line.as_deref()),
    )
}

/// Whether `option dontlognull` drops this session: nothing came from the client.
pub fn is_null_session(record: &TcpLogRecord) -> bool {
    record.bytes_from_client == 0
}

/// Whether the session counts as an error for `option log-separate-errors` and
/// `option dontlog-normal` (`strm_log()`): redispatched, ended by anything but a normal
/// close, or retried.
pub fn is_error_session(record: &TcpLogRecord) -> bool {
    is_error(record.termination, &record.counters)
}

/// The same for an HTTP request, which also counts as an error with a 5xx status.
pub fn is_error_request(record: &HttpLogRecord) -> bool {
    is_error(record.termination, &record.counters) || record.status.is_some_and(|s| s >= 500)
}

fn is_error(termination: TerminationState, counters: &LogCounters) -> bool {
    counters.redispatched || termination.cause != TerminationCause::Normal || counters.retries > 0
}

/// A `log ... format NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFormat {
    /// No `format`: HAProxy picks "local" (`<PRI>time tag[pid]: `), or RFC 3164 with
    /// the host name when `log-send-hostname` is set.
    Default,
    Local,
    Rfc3164,
    Rfc5424,
    Priority,
    Short,
    Timed,
    Iso,
    Raw,
}

impl SyslogFormat {
    pub fn from_name(name: &str) -> Option<SyslogFormat> {
        Some(match name {
            "local" => SyslogFormat::Local,
            "rfc3164" => SyslogFormat::Rfc3164,
            "rfc5424" => SyslogFormat::Rfc5424,
            "priority" => SyslogFormat::Priority,
            "short" => SyslogFormat::Short,
            "timed" => SyslogFormat::Timed,
            "iso" => SyslogFormat::Iso,
            "raw" => SyslogFormat::Raw,
            _ => return None,
        })
    }
}

/// Who writes the lines: what the syslog header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogIdentity {
    /// `log-tag` (default `haproxy`).
    pub tag: String,
    pub pid: u32,
    /// `log-send-hostname`.
    pub hostname: Option<String>,
    pub clock: LogClock,
}

/// Where one target's datagrams go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDestination {
    Udp(SocketAddr),
    Unix(PathBuf),
    Stdout,
    Stderr,
}

/// One `log` target, ready to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTargetSpec {
    pub destination: LogDestination,
    pub format: SyslogFormat,
    pub facility: u8,
    /// Lines more severe than or as severe as this are sent (`level > max` is dropped).
    pub max_level: u8,
    /// Lines are raised to at least this severity (`MAX(level, minlvl)` numerically).
    pub min_level: u8,
    /// `len`: header plus message, the `\n` excluded.
    pub max_length: usize,
}

impl LogTargetSpec {
    /// From the model (`log ADDR [len N] [format F] FACILITY [MAX [MIN]]`). TCP, ring and
    /// inherited-descriptor targets other than 1/2 are refused rather than ignored.
    pub fn from_model(target: &LogTarget) -> Result<LogTargetSpec, ProxyError> {
        let at = format!("{}:{}", target.at.file, target.at.line);
        let destination = match &target.address {
            LogAddress::Udp { host, port } => {
                let addr = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|source| ProxyError::Io {
                        what: format!("{at}: resolving log server {host}"),
                        source,
                    })?
                    .next()
                    .ok_or_else(|| {
                        ProxyError::Plan(format!("{at}: log server {host} has no address"))
                    })?;
                LogDestination::Udp(addr)
            }
            LogAddress::Unix(path) => LogDestination::Unix(path.clone()),
            LogAddress::Fd(1) => LogDestination::Stdout,
            LogAddress::Fd(2) => LogDestination::Stderr,
            other => {
                return Err(ProxyError::Plan(format!(
                    "{at}: log target {other:?} is not supported by ha-compat yet"
                )))
            }
        };
        let format = match &target.format {
            None => SyslogFormat::Default,
            Some(name) => SyslogFormat::from_name(name)
                .ok_or_else(|| ProxyError::Plan(format!("{at}: unknown log format '{name}'")))?,
        };
        Ok(LogTargetSpec {
            destination,
            format,
            facility: target.facility.0,
            max_level: target.max_level.map_or(7, |l| l.0),
            min_level: target.min_level.map_or(0, |l| l.0),
            max_length: target.max_length.map_or(DEFAULT_MAX_LENGTH, |l| l as usize),
        })
    }

    /// The bytes this target gets for `message` at `level`, or `None` when the level is
    /// filtered out. Header and message are cut to `len`, then `\n` is added.
    pub fn frame(
        &self,
        identity: &LogIdentity,
        level: u8,
        now: SystemTime,
        message: &str,
    ) -> Option<Vec<u8>> {
        if level > self.max_level {
            return None;
        }
        let level = level.max(self.min_level);
        let pri = u32::from(self.facility) * 8 + u32::from(level);
        use std::fmt::Write as _;
        let clock = identity.clock;
        let (tag, pid) = (&identity.tag, identity.pid);
        let format = match (self.format, &identity.hostname) {
            (SyslogFormat::Default, Some(_)) => SyslogFormat::Rfc3164,
            (SyslogFormat::Default, None) => SyslogFormat::Local,
            (f, _) => f,
        };
        let message = message.trim_end_matches(['\n', '\0']);
        // One buffer for header and message (this runs for every logged request).
        let mut out = String::with_capacity(64 + message.len() + 1);
        // Writing into a `String` cannot fail.
        let _ = match format {
            SyslogFormat::Default | SyslogFormat::Local => {
                write!(out, "<{pri}>{} {tag}[{pid}]: ", Legacy(clock.civil(now)))
            }
            SyslogFormat::Rfc3164 => write!(
                out,
                "<{pri}>{} {} {tag}[{pid}]: ",
                Legacy(clock.civil(now)),
                identity.hostname.as_deref().unwrap_or("localhost")
            ),
            SyslogFormat::Rfc5424 => write!(
                out,
                "<{pri}>1 {} {} {tag} {pid} - - ",
                clock.iso(now),
                identity.hostname.as_deref().unwrap_or("-"),
            ),
            SyslogFormat::Priority => write!(out, "<{pri}>"),
            SyslogFormat::Short => write!(out, "<{level}>"),
            SyslogFormat::Timed => write!(out, "<{level}>{} ", clock.iso(now)),
            SyslogFormat::Iso => write!(out, "{} ", clock.iso(now)),
            SyslogFormat::Raw => Ok(()),
        };
        out.push_str(message);
        let mut out = out.into_bytes();
        out.truncate(self.max_length);
        out.push(b'\n');
        Some(out)
    }
}

/// The targets a proxy logs to: its own, or global's for `log global`.
pub fn proxy_targets(
    global: &[LogTarget],
    proxy: &haproxy_conf::model::ProxyLogs,
) -> Result<Vec<LogTargetSpec>, ProxyError> {
    let mut out = Vec::new();
    if proxy.global {
        for target in global {
            out.push(LogTargetSpec::from_model(target)?);
        }
    }
    for target in &proxy.targets {
        out.push(LogTargetSpec::from_model(target)?);
    }
    Ok(out)
}

/// Sends framed lines; failures are counted, never fatal (HAProxy drops them too).
#[derive(Debug)]
pub struct LogSender {
    identity: LogIdentity,
    targets: Vec<LogTargetSpec>,
    udp4: Option<UdpSocket>,
    udp6: Option<UdpSocket>,
    unix: Option<UnixDatagram>,
    dropped: u64,
}

impl LogSender {
    /// Opens the sockets the targets need (non-blocking: a full buffer drops the line as
    /// HAProxy's `MSG_DONTWAIT` does).
    pub fn new(identity: LogIdentity, targets: Vec<LogTargetSpec>) -> Result<Self, ProxyError> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| ProxyError::Io { what, source }
        };
        let needs = |f: fn(&LogDestination) -> bool| targets.iter().any(|t| f(&t.destination));
        let udp = |bind: &str| -> Result<UdpSocket, ProxyError> {
            let socket = UdpSocket::bind(bind).map_err(io("log socket"))?;
            socket.set_nonblocking(true).map_err(io("log socket"))?;
            Ok(socket)
        };
        let udp4 = if needs(|d| matches!(d, LogDestination::Udp(a) if a.is_ipv4())) {
            Some(udp("0.0.0.0:0")?)
        } else {
            None
        };
        let udp6 = if needs(|d| matches!(d, LogDestination::Udp(a) if a.is_ipv6())) {
            Some(udp("[::]:0")?)
        } else {
            None
        };
        let unix = if needs(|d| matches!(d, LogDestination::Unix(_))) {
            let socket = UnixDatagram::unbound().map_err(io("log socket"))?;
            socket.set_nonblocking(true).map_err(io("log socket"))?;
            Some(socket)
        } else {
            None
        };
        Ok(LogSender {
            identity,
            targets,
            udp4,
            udp6,
            unix,
            dropped: 0,
        })
    }

    /// Sends `message` at `level` to every target that takes it.
    pub fn send(&mut self, level: u8, now: SystemTime, message: &str) {
        for target in &self.targets {
            let Some(bytes) = target.frame(&self.identity, level, now, message) else {
                continue;
            };
            let sent = match &target.destination {
                LogDestination::Udp(addr) => {
                    let socket = if addr.is_ipv4() {
                        &self.udp4
                    } else {
                        &self.udp6
                    };
                    socket.as_ref().map(|s| s.send_to(&bytes, addr).map(|_| ()))
                }
                LogDestination::Unix(path) => self
                    .unix
                    .as_ref()
                    .map(|s| s.send_to(&bytes, path).map(|_| ())),
                LogDestination::Stdout => Some(std::io::stdout().lock().write_all(&bytes)),
                LogDestination::Stderr => Some(std::io::stderr().lock().write_all(&bytes)),
            };
            if !matches!(sent, Some(Ok(()))) {
                self.dropped += 1;
            }
        }
    }

    /// Lines that could not be sent.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
    }

    // 2026-11-22T03:41:12Z
    const T: u64 = 1_795_318_872;

    fn record() -> TcpLogRecord {
        TcpLogRecord {
            client: "127.0.0.1:48160".parse().unwrap(),
            accepted_at: at(T, 528_000),
            frontend: "fe".into(),
            backend: "be".into(),
            server: Some("s1".into()),
            queue_ms: Some(1),
            connect_ms: Some(0),
            total_ms: 0,
            bytes_to_client: 10,
            bytes_from_client: 8,
            termination: TerminationState {
                cause: TerminationCause::Normal,
                phase: TerminationPhase::None,
            },
            counters: LogCounters {
                process: 1,
                frontend: 1,
                ..LogCounters::default()
            },
        }
    }

    #[test]
    fn tcplog_line_is_haproxys() {
        // Lines haproxy 2.6.12 wrote in a namespace (the first two sessions of
        // tests/reference_io.rs's traffic), timers included since they are injected here.
        assert_eq!(
            format_tcplog(&record(), LogClock::default()),
            "127.0.0.1:48160 [22/Nov/2026:03:41:12.528] fe be/s1 1/0/0 10 -- 1/1/0/0/0 0/0"
        );
        let refused = TcpLogRecord {
            frontend: "fe2".into(),
            backend: "be2".into(),
            server: Some("s2".into()),
            client: "127.0.0.1:58606".parse().unwrap(),
            accepted_at: at(T, 730_400),
            connect_ms: None,
            total_ms: 3005,
            bytes_to_client: 0,
            termination: TerminationState {
                cause: TerminationCause::ServerAbort,
                phase: TerminationPhase::Connect,
            },
            counters: LogCounters {
                process: 1,
                frontend: 1,
                retries: 3,
                ..LogCounters::default()
            },
            ..record()
        };
        assert_eq!(
            format_tcplog(&refused, LogClock::default()),
            "127.0.0.1:58606 [22/Nov/2026:03:41:12.730] fe2 be2/s2 1/-1/3005 0 SC 1/1/0/0/3 0/0"
        );
    }

    #[test]
    fn httplog_lines_are_haproxys() {
        // Lines haproxy 2.6.12 wrote in a namespace (`option httplog`, no captures): a
        // 503 after three refused connects, and a request it could not parse.
        let unavailable = HttpLogRecord {
            client: "127.0.0.1:50984".parse().unwrap(),
            request_at: at(T, 330_000),
            frontend: "fe2".into(),
            backend: "be2".into(),
            server: Some("web2".into()),
            request_ms: Some(0),
            queue_ms: Some(0),
            connect_ms: None,
            response_ms: None,
            active_ms: 3004,
            idle_ms: 0,
            status: Some(503),
            bytes_to_client: 217,
            termination: TerminationState {
                cause: TerminationCause::ServerAbort,
                phase: TerminationPhase::Connect,
            },
            counters: LogCounters {
                process: 1,
                frontend: 1,
                retries: 3,
                ..LogCounters::default()
            },
            request_line: Some("GET / HTTP/1.1".into()),
            null: false,
            unlogged: false,
            cookie_flags: None,
            request_captures: Vec::new(),
            response_captures: Vec::new(),
            server_statuses: Vec::new(),
            events: RequestEvents::default(),
            bytes_from_client: 0,
            captured_cookies: [None, None],
        };
        assert_eq!(
            format_httplog(&unavailable, LogClock::default()),
            "127.0.0.1:50984 [22/Nov/2026:03:41:12.330] fe2 be2/web2 0/0/-1/-1/3004 503 217 - - \
             SC-- 1/1/0/0/3 0/0 \"GET / HTTP/1.1\""
        );
        let bad = HttpLogRecord {
            backend: "fe".into(),
            frontend: "fe".into(),
            server: None,
            request_ms: None,
            queue_ms: None,
            active_ms: 0,
            idle_ms: 0,
            status: Some(400),
            bytes_to_client: 0,
            termination: TerminationState {
                cause: TerminationCause::Proxy,
                phase: TerminationPhase::Request,
            },
            counters: LogCounters {
                process: 1,
                frontend: 1,
                ..LogCounters::default()
            },
            request_line: None,
            ..unavailable.clone()
        };
        assert_eq!(
            format_httplog(&bad, LogClock::default()),
            "127.0.0.1:50984 [22/Nov/2026:03:41:12.330] fe fe/<NOSRV> -1/-1/-1/-1/0 400 0 - - \
             PR-- 1/1/0/0/0 0/0 \"<BADREQ>\""
        );
        // `%CC`/`%CS` as the "capture cookie: set-cookie" reference case logged them:
        // copied without `#XX` encoding.
        let cookies = HttpLogRecord {
            captured_cookies: [Some("SESS=\"a b#{|".into()), Some("SESS=srv-val".into())],
            ..unavailable.clone()
        };
        assert!(format_httplog(&cookies, LogClock::default())
            .contains(" 503 217 SESS=\"a b#{| SESS=srv-val SC-- "));
        assert_eq!(
            quoted_request_line(Some("GET /a\"#\u{7f} HTTP/1.1")),
            "\"GET /a#22#23#7F HTTP/1.1\""
        );
    }

    #[test]
    fn errors_are_what_strm_log_calls_errors() {
        assert!(!is_error_session(&record()));
        let retried = TcpLogRecord {
            counters: LogCounters {
                retries: 1,
                ..LogCounters::default()
            },
            ..record()
        };
        assert!(is_error_session(&retried));
        let timed_out = TcpLogRecord {
            termination: TerminationState {
                cause: TerminationCause::ClientTimeout,
                phase: TerminationPhase::Data,
            },
            ..record()
        };
        assert!(is_error_session(&timed_out));
    }

    #[test]
    fn nosrv_ipv6_and_redispatch() {
        let r = TcpLogRecord {
            client: "[::1]:4000".parse().unwrap(),
            server: None,
            counters: LogCounters {
                retries: 1,
                redispatched: true,
                ..LogCounters::default()
            },
            ..record()
        };
        let line = format_tcplog(&r, LogClock::default());
        assert!(line.starts_with("::1:4000 ["), "{line}");
        assert!(line.contains(" be/<NOSRV> "), "{line}");
        assert!(line.ends_with(" 0/0/0/0/+1 0/0"), "{line}");
    }

    fn spec(format: SyslogFormat, facility: u8) -> LogTargetSpec {
        LogTargetSpec {
            destination: LogDestination::Stdout,
            format,
            facility,
            max_level: 7,
            min_level: 0,
            max_length: DEFAULT_MAX_LENGTH,
        }
    }

    fn identity() -> LogIdentity {
        LogIdentity {
            tag: "haproxy".into(),
            pid: 3693,
            hostname: None,
            clock: LogClock::default(),
        }
    }

    const MSG: &str =
        "127.0.0.1:48160 [22/Nov/2026:03:41:12.528] fe be/s1 1/0/0 10 -- 1/1/0/0/0 0/0";

    fn framed(spec: &LogTargetSpec, now: SystemTime) -> String {
        String::from_utf8(spec.frame(&identity(), LEVEL_INFO, now, MSG).unwrap()).unwrap()
    }

    #[test]
    fn syslog_headers_are_haproxys() {
        // Datagrams haproxy 2.6.12 sent for the line above (local0, local2 rfc5424,
        // local3 raw, local4 len 80).
        assert_eq!(
            framed(&spec(SyslogFormat::Default, 16), at(T, 0)),
            format!("<134>Nov 22 03:41:12 haproxy[3693]: {MSG}\n")
        );
        assert_eq!(
            framed(&spec(SyslogFormat::Rfc5424, 18), at(T, 529_713)),
            format!("<150>1 2026-11-22T03:41:12.529713+00:00 - haproxy 3693 - - {MSG}\n")
        );
        assert_eq!(
            framed(&spec(SyslogFormat::Raw, 19), at(T, 0)),
            format!("{MSG}\n")
        );
        let short = LogTargetSpec {
            max_length: 80,
            ..spec(SyslogFormat::Default, 20)
        };
        assert_eq!(
            framed(&short, at(T, 0)),
            "<166>Nov 22 03:41:12 haproxy[3693]: 127.0.0.1:48160 [22/Nov/2026:03:41:12.528] f\n"
        );
    }

    #[test]
    fn levels_filter_and_raise() {
        let notice_only = LogTargetSpec {
            max_level: 5,
            ..spec(SyslogFormat::Raw, 16)
        };
        assert_eq!(
            notice_only.frame(&identity(), LEVEL_INFO, at(T, 0), MSG),
            None
        );
        let raised = LogTargetSpec {
            min_level: 3,
            ..spec(SyslogFormat::Priority, 16)
        };
        let bytes = raised
            .frame(&identity(), LEVEL_INFO, at(T, 0), MSG)
            .unwrap();
        assert!(bytes.starts_with(b"<134>"), "info is less severe than err");
        let raised = LogTargetSpec {
            min_level: 7,
            ..spec(SyslogFormat::Priority, 16)
        };
        let bytes = raised
            .frame(&identity(), LEVEL_INFO, at(T, 0), MSG)
            .unwrap();
        assert!(bytes.starts_with(b"<135>"));
    }

    #[test]
    fn hostname_switches_default_to_rfc3164() {
        let id = LogIdentity {
            hostname: Some("lb1".into()),
            ..identity()
        };
        let bytes = spec(SyslogFormat::Default, 16)
            .frame(&id, LEVEL_INFO, at(T, 0), "m")
            .unwrap();
        assert_eq!(bytes, b"<134>Nov 22 03:41:12 lb1 haproxy[3693]: m\n");
        let bytes = spec(SyslogFormat::Rfc3164, 16)
            .frame(&identity(), LEVEL_INFO, at(T, 0), "m")
            .unwrap();
        assert_eq!(bytes, b"<134>Nov 22 03:41:12 localhost haproxy[3693]: m\n");
    }

    /// The dates against glibc's `localtime()` (what haproxy calls), through `date` with the
    /// same `TZ`: zones with daylight saving both ways, a half-hour zone, a POSIX rule, an
    /// empty and an unknown `TZ`; instants around the 2026 transitions.
    #[test]
    fn dates_are_glibc_local_time() {
        let zones = [
            "Europe/Paris",
            ":America/New_York",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
            "EST5EDT,M3.2.0,M11.1.0",
            "UTC",
            "",
            "No/Such_Zone",
        ];
        // 2026-03-29T00:59:59Z / 01:00:00Z (Paris), 2026-03-08T07:00:00Z (New York),
        // 2026-04-04T15:00:00Z (Lord Howe), a summer and a winter instant.
        let instants = [
            1_774_745_999,
            1_774_746_000,
            1_772_953_199,
            1_772_953_200,
            1_775_314_800,
            1_783_000_000,
            1_795_308_905,
        ];
        for zone in zones {
            let clock = LogClock::for_tz(Some(zone));
            for secs in instants {
                let out = std::process::Command::new("date")
                    .env("TZ", zone)
                    .arg("-d")
                    .arg(format!("@{secs}"))
                    .arg("+%d/%b/%Y:%H:%M:%S|%b %e %H:%M:%S|%Y-%m-%dT%H:%M:%S.000000%:z")
                    .output();
                let Ok(out) = out else {
                    eprintln!("no date(1): skipped");
                    return;
                };
                let glibc = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let t = at(secs, 0);
                let ours = format!(
                    "{}|{}|{}",
                    clock.accept_date(t).trim_end_matches(".000"),
                    clock.legacy(t),
                    clock.iso(t)
                );
                assert_eq!(ours, glibc, "TZ={zone:?} at {secs}");
            }
        }
    }

    #[test]
    fn dates_pad_and_roll() {
        let clock = LogClock::default();
        // 2024-02-29T23:59:59.999Z, a leap day; the legacy day is space padded.
        let t = at(1_709_251_199, 999_999);
        assert_eq!(clock.accept_date(t), "29/Feb/2024:23:59:59.999");
        assert_eq!(
            clock.legacy(at(1_709_251_199 - 28 * 86_400, 0)),
            "Feb  1 23:59:59"
        );
        let east = LogClock::fixed(3600);
        assert_eq!(east.iso(t), "2024-03-01T00:59:59.999999+01:00");
    }
}
