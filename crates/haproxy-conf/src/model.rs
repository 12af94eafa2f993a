//! The typed configuration: what a haproxy.cfg means once every keyword is parsed and
//! `defaults` are applied. Invalid states are unrepresentable where HAProxy would refuse
//! them (a server without an address, a weight above 256, a bind without a port…).
//!
//! Keywords HAProxy knows but ha-compat does not model are kept as [`Directive`]s in
//! `unmodelled` lists, with the warning the reader printed, so nothing is dropped silently.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// Where a keyword was written: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
}

/// A line kept as words: a keyword HAProxy accepts that ha-compat does not model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    pub at: Location,
    pub words: Vec<String>,
}

/// The whole configuration, every `-f` file merged in order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HaproxyConfig {
    pub global: Global,
    /// frontend, backend and listen sections, in file order.
    pub proxies: Vec<Proxy>,
    /// Named `defaults` sections (anonymous ones only live while parsing).
    pub named_defaults: Vec<Defaults>,
    pub userlists: Vec<Userlist>,
    pub http_errors: Vec<HttpErrors>,
    /// peers, resolvers, mailers, ring, cache and program sections, kept as lines.
    pub other_sections: Vec<OtherSection>,
    /// What `load-server-state-from-file` gives back to servers, read from the state
    /// files when the configuration was checked ([`crate::server_state::plan`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_state: Vec<crate::server_state::ServerStateApply>,
}

impl HaproxyConfig {
    pub fn proxy(&self, name: &str) -> Option<&Proxy> {
        self.proxies.iter().find(|p| p.name == name)
    }

    pub fn frontends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.has_frontend())
    }

    pub fn backends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.has_backend())
    }
}

// ---------------------------------------------------------------- global

#[derive(Debug, Clone, Default, Serialize)]
pub struct Global {
    pub logs: Vec<LogTarget>,
    pub log_tag: Option<String>,
    pub log_send_hostname: Option<String>,
    pub chroot: Option<PathBuf>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub daemon: bool,
    pub master_worker: bool,
    pub pidfile: Option<PathBuf>,
    pub maxconn: Option<u32>,
    pub nbthread: Option<u32>,
    pub stats_sockets: Vec<StatsSocket>,
    pub stats_timeout: Option<Duration>,
    pub stats_maxconn: Option<u32>,
    pub ca_base: Option<PathBuf>,
    pub crt_base: Option<PathBuf>,
    pub ssl_default_bind_ciphers: Option<String>,
    pub ssl_default_bind_ciphersuites: Option<String>,
    pub ssl_default_bind_options: Vec<String>,
    pub ssl_default_server_ciphers: Option<String>,
    pub ssl_default_server_ciphersuites: Option<String>,
    pub ssl_default_server_options: Vec<String>,
    pub ssl_dh_param_file: Option<PathBuf>,
    pub tune: BTreeMap<String, String>,
    pub hard_stop_after: Option<Duration>,
    pub spread_checks: Option<u32>,
    pub node: Option<String>,
    pub description: Option<String>,
    pub unmodelled: Vec<Directive>,
}

/// `stats socket ADDR [bind options]` in `global`.
#[derive(Debug, Clone, Serialize)]
pub struct StatsSocket {
    pub at: Location,
    pub address: BindAddress,
    pub options: BindOptions,
}

/// A syslog facility (`local0`…), by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Facility(pub u8);

pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// A syslog severity, `emerg` (0) to `debug` (7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LogLevel(pub u8);

pub const LOG_LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LogAddress {
    /// `IP[:port]` or `udp@…`, port 514 by default.
    Udp { host: String, port: u16 },
    /// `tcp@IP:port`.
    Tcp { host: String, port: u16 },
    /// A unix datagram socket path (`/dev/log`).
    Unix(PathBuf),
    /// `stdout` / `stderr`, or `fd@N`.
    Fd(i32),
    /// `ring@NAME`.
    Ring(String),
}

/// A `log` target with its facility and levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogTarget {
    pub at: Location,
    pub address: LogAddress,
    pub max_length: Option<u32>,
    pub format: Option<String>,
    pub sample: Option<String>,
    pub facility: Facility,
    pub max_level: Option<LogLevel>,
    pub min_level: Option<LogLevel>,
}

// ---------------------------------------------------------------- proxies

/// Which kind of section declared a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    Frontend,
    Backend,
    Listen,
}

impl ProxyKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "listen",
        }
    }

    /// HAProxy's `proxy_type_str()`: how messages name this kind ("proxy" for listen).
    pub fn type_str(self) -> &'static str {
        match self {
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "proxy",
        }
    }

    pub fn has_frontend(self) -> bool {
        matches!(self, ProxyKind::Frontend | ProxyKind::Listen)
    }

    pub fn has_backend(self) -> bool {
        matches!(self, ProxyKind::Backend | ProxyKind::Listen)
    }
}

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Tcp,
    Http,
    Log,
}

/// A frontend, backend or listen section with its defaults applied.
#[derive(Debug, Clone, Serialize)]
pub struct Proxy {
    pub name: String,
    pub kind: ProxyKind,
    pub at: Location,
    /// The `defaults` section this proxy took its settings from (name, or `None` for an
    /// anonymous one, or no defaults at all).
    pub defaults_from: Option<String>,
    pub id: Option<u32>,
    pub disabled: bool,
    pub binds: Vec<Bind>,
    pub servers: Vec<Server>,
    pub acls: Vec<Acl>,
    pub use_backends: Vec<UseBackend>,
    pub settings: ProxySettings,
}

/// A named `defaults` section.
#[derive(Debug, Clone, Serialize)]
pub struct Defaults {
    pub name: String,
    pub at: Location,
    pub settings: ProxySettings,
}

/// Everything a proxy can inherit from `defaults`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxySettings {
    pub mode: Mode,
    pub balance: Option<Balance>,
    pub hash_type: Option<HashType>,
    pub options: Options,
    pub timeouts: Timeouts,
    pub retries: Option<u32>,
    pub maxconn: Option<u32>,
    pub fullconn: Option<u32>,
    pub backlog: Option<u32>,
    pub default_backend: Option<String>,
    pub default_server: ServerOptions,
    pub logs: ProxyLogs,
    pub log_format: Option<String>,
    pub log_tag: Option<String>,
    pub errorfiles: Vec<ErrorFile>,
    pub errorfiles_from: Vec<String>,
    pub stats: Stats,
    pub http_request: Vec<HttpRule>,
    pub http_response: Vec<HttpRule>,
    /// `http-after-response` rules: on every response, HAProxy's own answers included.
    pub http_after_response: Vec<HttpRule>,
    pub tcp_request: Vec<Directive>,
    pub tcp_check: Vec<TcpCheckRule>,
    pub http_check: Vec<HttpCheckRule>,
    pub cookie: Option<Cookie>,
    pub monitor_uri: Option<String>,
    pub http_reuse: Option<String>,
    pub redirects: Vec<HttpRule>,
    pub description: Option<String>,
    pub unmodelled: Vec<Directive>,
}

/// `log global`, explicit targets, or `no log`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyLogs {
    /// `log global` was given (copy of global's targets at startup).
    pub global: bool,
    pub targets: Vec<LogTarget>,
}

impl ProxyLogs {
    pub fn is_empty(&self) -> bool {
        !self.global && self.targets.is_empty()
    }
}

/// Every `timeout`, unset when `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    pub client: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server: Option<Duration>,
    pub server_fin: Option<Duration>,
    pub connect: Option<Duration>,
    pub queue: Option<Duration>,
    pub check: Option<Duration>,
    pub tunnel: Option<Duration>,
    pub http_request: Option<Duration>,
    pub http_keep_alive: Option<Duration>,
    pub tarpit: Option<Duration>,
}

/// `balance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    Roundrobin,
    StaticRr,
    Leastconn,
    First,
    Source,
    Random {
        draws: u32,
    },
    Uri {
        whole: bool,
        len: Option<u32>,
        depth: Option<u32>,
        path_only: bool,
    },
    UrlParam {
        param: String,
        check_post: Option<u32>,
    },
    Hdr {
        name: String,
        use_domain_only: bool,
    },
    RdpCookie {
        name: String,
    },
    Hash {
        expression: String,
    },
}

/// `hash-type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HashType {
    pub consistent: bool,
    pub function: String,
    pub avalanche: bool,
}

/// The state of every `option`: `Some(true)` set, `Some(false)` cancelled by `no option`,
/// `None` never mentioned (HAProxy's default applies).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Options {
    /// Simple on/off options (`dontlognull`, `redispatch`, `tcpka`, `http-server-close`…),
    /// by name.
    pub flags: BTreeMap<String, bool>,
    pub httplog: Option<HttpLog>,
    pub tcplog: bool,
    pub httpchk: Option<HttpChk>,
    pub forwardfor: Option<ForwardFor>,
    pub originalto: Option<ForwardFor>,
    /// `option tcp-check` / `option ssl-hello-chk` / `option mysql-check`…: the check
    /// protocol, when not plain TCP connect.
    pub check_protocol: Option<String>,
    pub http_mode: Option<HttpConnectionMode>,
    /// `option redispatch [N]`'s N, as HAProxy's `redispatch_after`: -1 without N (the
    /// last retry), N > 0 every Nth retry, N < 0 the Nth retry before the last, 0 never
    /// on an interval. `None` unless `option redispatch` was given.
    pub redispatch_after: Option<i64>,
}

impl Options {
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.flags.get(name).copied()
    }
}

/// `option httplog [clf]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HttpLog {
    pub clf: bool,
}

/// `option httpchk [METHOD] [URI] [VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpChk {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub extra: Option<String>,
}

impl Default for HttpChk {
    fn default() -> Self {
        HttpChk {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
            extra: None,
        }
    }
}

/// `option forwardfor [except NET] [header NAME] [if-none]` (also `originalto`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardFor {
    pub except: Option<String>,
    pub header: String,
    pub if_none: bool,
}

/// The last of `option httpclose` / `http-server-close` / `http-keep-alive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpConnectionMode {
    KeepAlive,
    ServerClose,
    Close,
}

/// `errorfile CODE FILE`, the file read and checked at load.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorFile {
    pub at: Location,
    pub status: u16,
    pub path: PathBuf,
    /// The raw HTTP response from the file.
    #[serde(skip)]
    pub contents: Vec<u8>,
}

/// The stats page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub enabled: bool,
    pub uri: Option<String>,
    pub realm: Option<String>,
    pub auth: Vec<StatsAuth>,
    pub refresh: Option<Duration>,
    /// `stats admin if|unless COND` lines, in order: the page's admin actions are
    /// allowed when any holds.
    pub admin: Vec<StatsAdmin>,
    pub hide_version: bool,
    pub show_legends: bool,
    pub show_node: Option<String>,
    pub show_desc: Option<String>,
    pub scope: Vec<String>,
    pub http_request: Vec<HttpRule>,
}

/// One `stats admin` line.
#[derive(Debug, Clone, Serialize)]
pub struct StatsAdmin {
    pub at: Location,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsAuth {
    pub user: String,
    pub password: String,
}

/// `cookie NAME [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve] …`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cookie {
    pub name: String,
    pub method: Option<String>,
    pub flags: Vec<String>,
    pub domains: Vec<String>,
    pub maxidle: Option<Duration>,
    pub maxlife: Option<Duration>,
    pub dynamic: bool,
    pub attrs: Vec<String>,
}

// ---------------------------------------------------------------- addresses

/// A listening address as `bind` (and `stats socket`) take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BindAddress {
    /// IPv4/IPv6, `None` host = every address (`*`, `:::`, empty); a port range.
    Inet {
        host: Option<IpAddr>,
        ports: PortRange,
    },
    Unix(PathBuf),
    /// `abns@NAME`.
    Abstract(String),
    /// `fd@N`: an inherited file descriptor.
    Fd(i32),
    /// `sockpair@N`.
    Sockpair(i32),
}

/// An inclusive port range (`80` is 80..=80).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

/// `bind ADDR[,ADDR…] [options]`: one entry per address.
#[derive(Debug, Clone, Serialize)]
pub struct Bind {
    pub at: Location,
    pub address: BindAddress,
    pub options: BindOptions,
}

/// Bind options ha-compat models; the others are kept as words.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BindOptions {
    pub ssl: bool,
    pub crt: Vec<PathBuf>,
    pub crt_list: Vec<PathBuf>,
    pub alpn: Option<String>,
    pub accept_proxy: bool,
    pub name: Option<String>,
    pub interface: Option<String>,
    pub transparent: bool,
    pub v4v6: bool,
    pub v6only: bool,
    pub maxconn: Option<u32>,
    pub backlog: Option<u32>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub level: Option<String>,
    pub expose_fd_listeners: bool,
    pub ssl_min_ver: Option<String>,
    pub ssl_max_ver: Option<String>,
    pub ciphers: Option<String>,
    pub ciphersuites: Option<String>,
    pub verify: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub other: Vec<Vec<String>>,
}

/// A server's address: an IP or a name to resolve, and an optional port (absent = the
/// client's destination port; `+N`/`-N` = offset from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerAddress {
    pub host: ServerHost,
    pub port: ServerPort,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ServerHost {
    Ip(IpAddr),
    /// A host name, resolved at startup (and by `resolvers` later).
    Name(String),
    Unix(PathBuf),
    Abstract(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ServerPort {
    /// No port: the port the client connected to.
    Same,
    Fixed(u16),
    /// `+N` / `-N`: the client's port plus this offset.
    Offset(i32),
}

// ---------------------------------------------------------------- servers

/// `server NAME ADDR [options]`.
#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub at: Location,
    pub name: String,
    pub address: ServerAddress,
    pub options: ServerOptions,
    /// Set when the address could not be resolved at load: the server starts in
    /// maintenance (HAProxy 2.6 refuses the configuration; see docs/compatibility.md).
    pub unresolved: bool,
}

/// Server options (`server` and `default-server`). `None` = HAProxy's default.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerOptions {
    pub check: Option<bool>,
    pub inter: Option<Duration>,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
    pub weight: Option<u32>,
    pub maxconn: Option<u32>,
    pub minconn: Option<u32>,
    pub maxqueue: Option<u32>,
    pub backup: Option<bool>,
    pub disabled: Option<bool>,
    pub check_port: Option<u16>,
    pub check_addr: Option<String>,
    pub slowstart: Option<Duration>,
    pub send_proxy: Option<bool>,
    pub send_proxy_v2: Option<bool>,
    pub ssl: Option<bool>,
    pub check_ssl: Option<bool>,
    pub verify: Option<String>,
    pub sni: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub cookie: Option<String>,
    pub id: Option<u32>,
    pub init_addr: Option<String>,
    pub resolvers: Option<String>,
    pub agent_check: Option<bool>,
    pub other: Vec<Vec<String>>,
}

impl ServerOptions {
    /// HAProxy's defaults: inter 2s, rise 2, fall 3, weight 1.
    pub fn effective_inter(&self) -> Duration {
        self.inter.unwrap_or(Duration::from_millis(2000))
    }
    pub fn effective_rise(&self) -> u32 {
        self.rise.unwrap_or(2)
    }
    pub fn effective_fall(&self) -> u32 {
        self.fall.unwrap_or(3)
    }
    pub fn effective_weight(&self) -> u32 {
        self.weight.unwrap_or(1)
    }

    /// `default-server` options under this server's own (the server's win).
    pub fn inherit(&mut self, defaults: &ServerOptions) {
        macro_rules! take {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = defaults.$f.clone(); } )* };
        }
        take!(
            check,
            inter,
            fastinter,
            downinter,
            rise,
            fall,
            weight,
            maxconn,
            minconn,
            maxqueue,
            backup,
            disabled,
            check_port,
            check_addr,
            slowstart,
            send_proxy,
            send_proxy_v2,
            ssl,
            check_ssl,
            verify,
            sni,
            ca_file,
            init_addr,
            resolvers,
            agent_check
        );
        let mut other = defaults.other.clone();
        other.append(&mut self.other);
        self.other = other;
    }
}

// ---------------------------------------------------------------- checks

/// `tcp-check` rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpCheckRule {
    pub at: Location,
    pub action: TcpCheckAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TcpCheckAction {
    Connect {
        port: Option<u16>,
        options: Vec<String>,
    },
    Send {
        data: String,
        binary: bool,
    },
    SendLf {
        format: String,
        binary: bool,
    },
    Expect {
        negate: bool,
        kind: String,
        pattern: String,
        options: Vec<String>,
    },
    Comment(String),
    SetVar(Vec<String>),
    UnsetVar(Vec<String>),
}

/// `http-check` rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheckRule {
    pub at: Location,
    pub action: HttpCheckAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpCheckAction {
    Connect {
        options: Vec<String>,
    },
    Send {
        method: Option<String>,
        uri: Option<String>,
        version: Option<String>,
        headers: Vec<(String, String)>,
        body: Option<String>,
    },
    Expect {
        negate: bool,
        kind: String,
        pattern: String,
        options: Vec<String>,
    },
    DisableOn404,
    SendState,
    Comment(String),
    SetVar(Vec<String>),
    UnsetVar(Vec<String>),
}

// ---------------------------------------------------------------- ACLs and rules

/// `acl NAME CRITERION [FLAGS] [--] [PATTERN…]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acl {
    pub at: Location,
    pub name: String,
    pub expression: AclExpression,
}

/// A criterion with its flags and patterns (also used for anonymous `{ … }` ACLs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclExpression {
    /// The fetch (`path_beg`, `hdr(host)`, `src`…), with its arguments and converters.
    pub fetch: Fetch,
    pub ignore_case: bool,
    /// `-m METHOD`, or the one implied by the ACL keyword (`path_beg` = `beg`).
    pub match_method: Option<String>,
    pub pattern_files: Vec<PathBuf>,
    pub other_flags: Vec<String>,
    pub patterns: Vec<String>,
}

/// `name(args),conv(args),…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fetch {
    pub name: String,
    pub args: Vec<String>,
    pub converters: Vec<(String, Vec<String>)>,
}

/// `if`/`unless` followed by ACL terms: an OR (`||`/`or`) of ANDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub unless: bool,
    pub any_of: Vec<Vec<ConditionTerm>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionTerm {
    pub negated: bool,
    pub acl: AclRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AclRef {
    Named(String),
    Anonymous(Box<AclExpression>),
}

/// `use_backend NAME [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UseBackend {
    pub at: Location,
    /// A backend name, or a log-format string (`%[…]`) resolved per request.
    pub backend: String,
    pub dynamic: bool,
    pub condition: Option<Condition>,
}

/// An `http-request` / `http-response` / `redirect` / `stats http-request` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRule {
    pub at: Location,
    pub action: HttpAction,
    pub condition: Option<Condition>,
}

/// The actions ha-compat models; any other action HAProxy knows is [`HttpAction::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpAction {
    Allow,
    Deny {
        status: Option<u16>,
        content: Vec<String>,
    },
    Tarpit {
        status: Option<u16>,
    },
    Auth {
        realm: Option<String>,
    },
    Redirect(Redirect),
    SetHeader {
        name: String,
        value: String,
    },
    AddHeader {
        name: String,
        value: String,
    },
    DelHeader {
        name: String,
        method: Option<String>,
    },
    ReplaceHeader {
        name: String,
        regex: String,
        replacement: String,
    },
    ReplaceValue {
        name: String,
        regex: String,
        replacement: String,
    },
    SetPath(String),
    SetPathq(String),
    ReplacePath {
        regex: String,
        replacement: String,
    },
    /// `replace-pathq`: as `replace-path` on the path with its query string.
    ReplacePathq {
        regex: String,
        replacement: String,
    },
    SetQuery(String),
    SetUri(String),
    SetMethod(String),
    SetStatus {
        status: u16,
        reason: Option<String>,
    },
    Return {
        status: u16,
        content: Vec<String>,
    },
    /// `http-request use-service NAME`: the request is answered by a service. HAProxy
    /// 2.6 (built with `USE_PROMEX`) registers one, `prometheus-exporter`; the parser
    /// refuses any other name.
    UseService {
        service: String,
    },
    Other {
        action: String,
        args: Vec<String>,
    },
}

/// `redirect location|prefix|scheme TARGET [code N] [options]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    pub kind: String,
    pub target: String,
    pub code: u16,
    pub options: Vec<String>,
}

// ---------------------------------------------------------------- other sections

/// `userlist NAME` with its groups and users.
#[derive(Debug, Clone, Serialize)]
pub struct Userlist {
    pub at: Location,
    pub name: String,
    pub groups: Vec<(String, Vec<String>)>,
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    /// `insecure-password` (true) or a crypt(3) hash.
    pub insecure: bool,
    #[serde(skip)]
    pub password: String,
    pub groups: Vec<String>,
}

/// `http-errors NAME` with its `errorfile` lines.
#[derive(Debug, Clone, Serialize)]
pub struct HttpErrors {
    pub at: Location,
    pub name: String,
    pub errorfiles: Vec<ErrorFile>,
}

/// The kinds of section kept as lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OtherSectionKind {
    Peers,
    Resolvers,
    Mailers,
    Ring,
    Cache,
    Program,
}

#[derive(Debug, Clone, Serialize)]
pub struct OtherSection {
    pub kind: OtherSectionKind,
    pub name: String,
    pub at: Location,
    pub lines: Vec<Directive>,
}
