//! `server-state-file` / `load-server-state-from-file`: HAProxy 2.6's state file (the
//! version-1 format `show servers state` prints) read at start and turned into what each
//! server gets back (`apply_server_state()`, `srv_state_srv_update()`), pure.
//!
//! [`parse`] reads a file as HAProxy's `fgets()` loop does (512-byte lines, a version
//! line, 20 to 25 fields); [`plan`] decides, for a configuration and the files it
//! names, the warnings HAProxy prints and one [`ServerStateApply`] per server found.
//! Measured against haproxy 2.6.12 (`server_state_reference.rs`): a missing or empty
//! file and a bad version are WARNINGs there (the newer NOTICEs came later).

use serde::Serialize;

use crate::model::{HaproxyConfig, Proxy};

/// The keywords this module acts on (no "does not act on it yet" notice for them).
pub const KEYWORDS: &[&str] = &[
    "server-state-file",
    "server-state-base",
    "load-server-state-from-file",
    "server-state-file-name",
];

/// The keyword table's status for them (docs/compatibility.md, generated).
pub const KEYWORD_STATUS: &str = "supported: the state file is read at start and applied to servers (maintenance, drain, weight, DOWN, `disable health`), with HAProxy 2.6.12's warnings (`server_state_reference.rs`); see the server-state rows";

/// `SRV_STATE_LINE_MAXLEN`: `fgets()`'s buffer; a longer line arrives cut, without its
/// `\n`, and is "corrupted".
pub const LINE_MAXLEN: usize = 512;
const MIN_FIELDS: usize = 20;
const MAX_FIELDS: usize = 25;
/// `HCHK_STATUS_SIZE` in 2.6 (measured: 20 accepted, 21 refused).
const CHECK_STATUS_SIZE: i16 = 21;

/// A state file as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    /// The version line said `1`; otherwise nothing of the file is used.
    pub version_ok: bool,
    /// Every server line (comments and blank lines skipped), its fields.
    pub rows: Vec<Vec<String>>,
    /// The first line that was cut or had too few fields, counted from the line after
    /// the version (as HAProxy counts); the file is then not used at all.
    pub corrupted_at: Option<u32>,
}

/// `fgets()` with a [`LINE_MAXLEN`] buffer: each chunk, its `\n` included when it has
/// one, cut at a NUL as `strlen()` sees it.
fn chunks(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let limit = rest.len().min(LINE_MAXLEN - 1);
        let end = rest[..limit]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(limit, |i| i + 1);
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        let visible = chunk.iter().position(|b| *b == 0).unwrap_or(chunk.len());
        Some(&chunk[..visible])
    })
}

/// C's `strtol(s, &end, 10)`: `None` when no digit was read or on overflow (`ERANGE`),
/// else the value and what follows it.
fn strtol(s: &[u8]) -> Option<(i64, &[u8])> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut value: i64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        let digit = i64::from(d - b'0');
        value = match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
            Some(v) => v,
            None => {
                overflow = true;
                0
            }
        };
        i += 1;
    }
    if i == start || overflow {
        return None;
    }
    Some((if negative { -value } else { value }, &s[i..]))
}

fn number(field: &str) -> Option<i64> {
    strtol(field.as_bytes()).map(|(v, _)| v)
}

/// Reads a state file (`srv_state_get_version()` then `srv_state_parse_line()` per line).
pub fn parse(bytes: &[u8]) -> StateFile {
    let mut lines = chunks(bytes);
    let version_ok = lines
        .next()
        .and_then(strtol)
        .is_some_and(|(v, rest)| v == 1 && rest.first() == Some(&b'\n'));
    let mut file = StateFile {
        version_ok,
        rows: Vec::new(),
        corrupted_at: None,
    };
    if !version_ok {
        return file;
    }
    for (n, chunk) in lines.enumerate() {
        let linenum = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let Some(body) = chunk.strip_suffix(b"\n") else {
            file.corrupted_at = Some(linenum);
            break;
        };
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<String> = trimmed
            .split([' ', '\t'])
            .filter(|f| !f.is_empty())
            .take(MAX_FIELDS)
            .map(str::to_string)
            .collect();
        if fields.len() < MIN_FIELDS {
            file.corrupted_at = Some(linenum);
            break;
        }
        file.rows.push(fields);
    }
    file
}

/// What one server gets back from the file (`srv_state_srv_update()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStateApply {
    pub backend: String,
    pub server: String,
    /// Operational state stopped (`SRV_ST_STOPPED`, or stopping with `fall 1`).
    pub down: bool,
    /// `check.health` after the load.
    pub health: u32,
    /// Forced maintenance (`SRV_ADMF_FMAINT`) kept.
    pub maint: bool,
    /// Forced drain (`SRV_ADMF_FDRAIN`) kept.
    pub drain: bool,
    /// `srv_uweight`, taken when the file's initial weight equals the configuration's.
    pub uweight: Option<u32>,
    /// `disable health` kept (the check configured on both sides, not enabled in the file).
    pub check_disabled: bool,
    /// `srv_time_since_last_change`.
    pub since_last_change: u64,
}

/// The fields of one line after HAProxy's checks, or the `, invalid ...` list.
struct Row {
    op_state: u8,
    admin: u8,
    uweight: u32,
    iweight: u32,
    last_change: u64,
    check_health: i64,
    check_state: i64,
}

const FMAINT: u8 = 0x01;
const CMAINT: u8 = 0x04;
const FDRAIN: u8 = 0x08;
const CHK_ST_CONFIGURED: i64 = 0x02;
const CHK_ST_ENABLED: i64 = 0x04;

fn invalid_domainchar(s: &str) -> bool {
    s.bytes()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_')))
}

/// `strl2uic()`: digits until the first non-digit, wrapping as an `unsigned int`.
fn strl2uic(s: &str) -> u32 {
    s.bytes().take_while(u8::is_ascii_digit).fold(0u32, |v, d| {
        v.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
    })
}

fn validate(f: &[String]) -> Result<Row, String> {
    let mut msg = String::new();
    let mut bad = |name: &str, value: &str| {
        msg.push_str(&format!(", invalid {name} value '{value}'"));
    };
    let p = |i: usize| f.get(i).map_or("", String::as_str);
    // Indices are the line's fields (srv_addr is 4); enums are packed (one byte), as
    // measured: 4294967298 is a valid op state (2), 256 a valid admin state (0).
    let op = number(p(5));
    let op_state = op.map_or(0, |v| v as u8);
    if op.is_none() || op_state > 3 {
        bad("srv_op_state", p(5));
    }
    let adm = number(p(6));
    let admin = adm.map_or(0, |v| v as u8) & !(0x10 | 0x02 | 0x20 | 0x40);
    if adm.is_none()
        || ![0, FMAINT, CMAINT, CMAINT | FMAINT, CMAINT | FDRAIN, FDRAIN].contains(&admin)
    {
        bad("srv_admin_state", p(6));
    }
    let uw = number(p(7));
    let uweight = uw.map_or(0, |v| v as u32);
    if uw.is_none() || uweight > 256 {
        bad("srv_uweight", p(7));
    }
    let iw = number(p(8));
    let iweight = iw.map_or(0, |v| v as u32);
    if iw.is_none() || iweight > 256 {
        bad("srv_iweight", p(8));
    }
    let lc = number(p(9));
    if lc.is_none() {
        bad("srv_last_time_change", p(9));
    }
    let cs = number(p(10));
    if cs.is_none() || cs.is_some_and(|v| (v as i16) >= CHECK_STATUS_SIZE) {
        bad("srv_check_status", p(10));
    }
    let cr = number(p(11));
    if cr.is_none() || cr.is_some_and(|v| (v as u32) > 4) {
        bad("srv_check_result", p(11));
    }
    let ch = number(p(12));
    if ch.is_none() {
        bad("srv_check_health", p(12));
    }
    for (i, name) in [(13, "srv_check_state"), (14, "srv_agent_state")] {
        let v = number(p(i));
        if v.is_none() || v.is_some_and(|v| (v as i32) & !0x1f != 0) {
            bad(name, p(i));
        }
    }
    for (i, name) in [(15, "bk_f_forced_id"), (16, "srv_f_forced_id")] {
        let v = number(p(i));
        if !matches!(v.map(|v| v as i32), Some(0 | 1)) {
            bad(name, p(i));
        }
    }
    let fqdn = p(17);
    if !fqdn.starts_with('-') && (fqdn.len() > 255 || invalid_domainchar(fqdn)) {
        bad("srv_fqdn", fqdn);
    }
    if strl2uic(p(18)) > u32::from(u16::MAX) {
        bad("srv_port", p(18));
    }
    if !msg.is_empty() {
        return Err(msg);
    }
    Ok(Row {
        op_state,
        admin,
        uweight,
        iweight,
        // A negative value is C's `unsigned long`, as far in the past as it gets.
        last_change: lc.map_or(0, |v| v as u64),
        check_health: ch.unwrap_or(0),
        check_state: number(p(13)).unwrap_or(0),
    })
}

/// `load-server-state-from-file`: the last one in the proxy (defaults included).
fn proxy_word<'a>(proxy: &'a Proxy, keyword: &str) -> Option<&'a str> {
    proxy
        .settings
        .unmodelled
        .iter()
        .rev()
        .find(|d| d.words.first().is_some_and(|w| w == keyword))
        .and_then(|d| d.words.get(1))
        .map(String::as_str)
}

fn global_word<'a>(config: &'a HaproxyConfig, keyword: &str) -> Option<&'a str> {
    config
        .global
        .unmodelled
        .iter()
        .rev()
        .find(|d| d.words.first().is_some_and(|w| w == keyword))
        .and_then(|d| d.words.get(1))
        .map(String::as_str)
}

/// `srv_state_get_filepath()`.
pub fn file_path(config: &HaproxyConfig, name: &str) -> String {
    match global_word(config, "server-state-base") {
        Some(base) if !name.starts_with('/') && !base.is_empty() => {
            let sep = if base.ends_with('/') { "" } else { "/" };
            format!("{base}{sep}{name}")
        }
        _ => name.to_string(),
    }
}

/// Every proxy's `uuid` (`be_id`), in configuration order: its `id`, or the next free
/// number.
pub fn proxy_uuids(config: &HaproxyConfig) -> Vec<u32> {
    let mut used: std::collections::BTreeSet<u32> =
        config.proxies.iter().filter_map(|p| p.id).collect();
    let mut next = 1u32;
    // A global `stats socket|timeout|maxconn` creates the CLI's `GLOBAL` frontend
    // first, and it takes the first free number (measured with 2.6.12: `fe` is 2 and
    // `be` 3 beside a stats socket).
    let g = &config.global;
    if !g.stats_sockets.is_empty() || g.stats_timeout.is_some() || g.stats_maxconn.is_some() {
        while used.contains(&next) {
            next += 1;
        }
        used.insert(next);
        next += 1;
    }
    config
        .proxies
        .iter()
        .map(|p| {
            let id = match p.id {
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
            id
        })
        .collect()
}

/// Why a file could not be read: `strerror(errno)`'s text.
pub type ReadFile<'a> = &'a dyn Fn(&str) -> Result<Vec<u8>, String>;

/// Which servers are usable (running, weight above 0, not in maintenance) while the
/// file is applied: the "N active and M backup servers left" of the lines.
struct Usable {
    backup: Vec<bool>,
    usable: Vec<bool>,
}

impl Usable {
    fn counts(&self) -> (usize, usize) {
        let act = self
            .usable
            .iter()
            .zip(&self.backup)
            .filter(|(u, b)| **u && !**b)
            .count();
        let bck = self
            .usable
            .iter()
            .zip(&self.backup)
            .filter(|(u, b)| **u && **b)
            .count();
        (act, bck)
    }
}

/// `apply_server_state()`: the warnings (in HAProxy's order, without the `config : `
/// prefix) and what each server found in its file gets back.
pub fn plan(config: &HaproxyConfig, read: ReadFile<'_>) -> (Vec<String>, Vec<ServerStateApply>) {
    let mut warnings = Vec::new();
    let mut applied = Vec::new();
    // The global file, keyed by "backend server" (the first line of a duplicate wins).
    let mut global_rows: Option<Vec<Vec<String>>> = None;
    if let Some(name) = global_word(config, "server-state-file") {
        let path = file_path(config, name);
        match read(&path) {
            Err(e) => warnings.push(format!(
                "config: Can't open global server state file '{path}': {e}"
            )),
            Ok(bytes) => {
                let file = parse(&bytes);
                if !file.version_ok {
                    warnings.push(format!(
                        "config: Can't get version of the global server state file '{path}'."
                    ));
                } else if let Some(line) = file.corrupted_at {
                    warnings.push(format!(
                        "config: corrupted global server state file '{path}' at line {line}."
                    ));
                } else {
                    global_rows = Some(file.rows);
                }
            }
        }
    }
    let uuids = proxy_uuids(config);
    for proxy in config
        .backends()
        .filter(|p| !p.disabled && !p.servers.is_empty())
    {
        let rows: Vec<Vec<String>> = match proxy_word(proxy, "load-server-state-from-file") {
            Some("global") => match &global_rows {
                Some(rows) => rows
                    .iter()
                    .filter(|r| r.get(1).is_some_and(|b| *b == proxy.name))
                    .cloned()
                    .collect(),
                None => continue,
            },
            Some("local") => {
                let name = match proxy_word(proxy, "server-state-file-name") {
                    None | Some("use-backend-name") => proxy.name.as_str(),
                    Some(n) => n,
                };
                let path = file_path(config, name);
                let px = &proxy.name;
                let bytes = match read(&path) {
                    Ok(b) => b,
                    Err(e) => {
                        warnings.push(format!(
                            "Proxy '{px}': Can't open server state file '{path}': {e}."
                        ));
                        continue;
                    }
                };
                let file = parse(&bytes);
                if !file.version_ok {
                    warnings.push(format!(
                        "Proxy '{px}': Can't get version of the server state file '{path}'."
                    ));
                    continue;
                }
                let uuid = config
                    .proxies
                    .iter()
                    .position(|p| p.name == proxy.name && p.kind.has_backend())
                    .and_then(|i| uuids.get(i).copied())
                    .unwrap_or(0);
                let mut kept = Vec::new();
                for row in &file.rows {
                    let check_id = number(&row[0]).is_some_and(|v| v as i32 == uuid as i32);
                    let check_name = row[1] == *px;
                    let forced = number(&row[15]).is_some_and(|v| v & 1 == 1);
                    if !check_id && !check_name {
                        continue;
                    } else if !check_id {
                        warnings.push(format!("Proxy '{px}': backend ID mismatch: from server state file: '{}', from running config '{uuid}'", row[0]));
                    } else if !check_name {
                        warnings.push(format!("Proxy '{px}': backend name mismatch: from server state file: '{}', from running config '{px}'", row[1]));
                        if !forced {
                            continue;
                        }
                    }
                    kept.push(row.clone());
                }
                if let Some(line) = file.corrupted_at {
                    warnings.push(format!(
                        "Proxy '{px}': corrupted server state file '{path}' at line {line}."
                    ));
                    continue;
                }
                kept
            }
            _ => continue,
        };
        // Duplicates: the first line of a server wins.
        let mut by_server: Vec<(String, Vec<String>)> = Vec::new();
        for row in rows {
            if !by_server.iter().any(|(s, _)| *s == row[3]) {
                by_server.push((row[3].clone(), row));
            }
        }
        let mut usable = Usable {
            backup: proxy
                .servers
                .iter()
                .map(|s| s.options.backup == Some(true))
                .collect(),
            usable: proxy
                .servers
                .iter()
                .map(|s| {
                    s.options.disabled != Some(true)
                        && !s.unresolved
                        && s.options.weight.unwrap_or(1) > 0
                })
                .collect(),
        };
        for (i, server) in proxy.servers.iter().enumerate() {
            let Some(pos) = by_server.iter().position(|(s, _)| *s == server.name) else {
                continue;
            };
            let (_, fields) = by_server.remove(pos);
            let who = format!("{}/{}", proxy.name, server.name);
            let row = match validate(&fields) {
                Ok(row) => row,
                Err(msg) => {
                    warnings.push(format!(
                        "server-state application failed for server '{who}'{msg}"
                    ));
                    continue;
                }
            };
            let o = &server.options;
            let (rise, fall) = (o.effective_rise().max(1), o.effective_fall().max(1));
            let config_maint = o.disabled == Some(true);
            let iweight = o.weight.unwrap_or(1);
            let mut health = row.check_health;
            let mut down = false;
            match row.op_state {
                0 => {
                    health = 0;
                    down = true;
                }
                1 if rise == 1 => health = i64::from(rise + fall - 1),
                1 => {
                    if health < 1 || health >= i64::from(rise) {
                        health = i64::from(rise) - 1;
                    }
                }
                3 if fall == 1 => {
                    health = 0;
                    down = true;
                }
                3 => {
                    if health < i64::from(rise) || health > i64::from(rise + fall) - 2 {
                        health = i64::from(rise);
                    }
                }
                _ => health = i64::from(rise + fall - 1),
            }
            if down && !config_maint && usable.usable[i] {
                usable.usable[i] = false;
                let (act, bck) = usable.counts();
                warnings.push(format!("Server {who} is DOWN, changed from server-state after a reload. {act} active and {bck} backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."));
            }
            let maint = if (row.admin & CMAINT != 0) != config_maint {
                config_maint
            } else {
                // `srv_adm_set_ready()` clears only FMAINT: `disabled` stays.
                row.admin & FMAINT != 0 || config_maint
            };
            if maint {
                usable.usable[i] = false;
            }
            let drain = !maint && row.admin & FDRAIN != 0 && (row.iweight > 0 || iweight == 0);
            if drain {
                usable.usable[i] = false;
                if !down {
                    warnings.push(format!("Server {who} remains in forced drain mode."));
                }
            }
            let uweight = (row.iweight == iweight).then_some(row.uweight);
            if uweight == Some(0) {
                usable.usable[i] = false;
            }
            let check_configured = o.check == Some(true);
            applied.push(ServerStateApply {
                backend: proxy.name.clone(),
                server: server.name.clone(),
                down,
                health: u32::try_from(health.max(0)).unwrap_or(u32::MAX),
                maint,
                drain,
                uweight,
                check_disabled: check_configured
                    && row.check_state & CHK_ST_CONFIGURED != 0
                    && row.check_state & CHK_ST_ENABLED == 0,
                since_last_change: row.last_change,
            });
        }
        for (name, _) in by_server {
            let px = &proxy.name;
            if proxy_word(proxy, "load-server-state-from-file") == Some("local") {
                warnings.push(format!(
                    "Proxy '{px}': can't find server '{name}' in backend '{px}'"
                ));
            }
        }
    }
    (warnings, applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_are_counted_after_the_version_line() {
        let f = parse(b"1\n# x\n\nshort line\n");
        assert!(f.version_ok);
        assert_eq!(f.corrupted_at, Some(3));
        assert!(!parse(b"2\n").version_ok);
        assert!(!parse(b"").version_ok);
        assert!(!parse(b"1").version_ok);
        let row = "2 be 1 s1 127.0.0.1 2 0 7 1 2 1 0 2 0 0 0 0 - 9001 - 0 0 - - 0";
        let f = parse(format!("1\n{row}\n{row} 1 2 3\n{row}").as_bytes());
        assert_eq!(f.rows.len(), 2);
        assert_eq!(f.rows[1].len(), MAX_FIELDS);
        assert_eq!(f.corrupted_at, Some(3));
    }

    #[test]
    fn invalid_values_are_listed_as_haproxy_lists_them() {
        // Measured with haproxy 2.6.12 (`haproxy -c` with this line in the file).
        let line = "2 be 1 s1 127.0.0.1 4294967298 0 -1 1 x 1 5 2 32 0 2 0 a!b 99999 - 0 0 - - 0";
        let fields: Vec<String> = line.split(' ').map(str::to_string).collect();
        let err = validate(&fields).err().unwrap_or_default();
        assert_eq!(err, ", invalid srv_uweight value '-1', invalid srv_last_time_change value 'x', invalid srv_check_result value '5', invalid srv_check_state value '32', invalid bk_f_forced_id value '2', invalid srv_fqdn value 'a!b', invalid srv_port value '99999'");
    }

    fn config(text: &str) -> HaproxyConfig {
        let path =
            std::env::temp_dir().join(format!("haproxy-conf-state-{}.cfg", std::process::id()));
        std::fs::write(&path, text).expect("write cfg");
        let env = std::collections::BTreeMap::<String, String>::new();
        let options = crate::LoadOptions {
            env: &env,
            features: crate::version::FEATURES,
            resolver: &crate::NoResolver,
            accounts: &crate::host::AnyAccounts,
            host_files: false,
        };
        let loaded = crate::load(std::slice::from_ref(&path), &options);
        let _ = std::fs::remove_file(&path);
        loaded.config
    }

    #[test]
    fn the_plan_follows_srv_state_srv_update() {
        let cfg = config(
            "global\n  server-state-file /nowhere\ndefaults\n  load-server-state-from-file global\n  \
             timeout connect 1s\n  timeout client 1s\n  timeout server 1s\nbackend be\n  \
             server s1 127.0.0.1:1 weight 3\n  server s2 127.0.0.1:2 disabled\n  \
             server s3 127.0.0.1:3 weight 5\n  server s4 127.0.0.1:4\n  server s5 127.0.0.1:5 backup\n",
        );
        // s1: weight saved 7 but configured 1 then, 3 now: the configuration's weight.
        // s2: saved ready, now `disabled`: the configuration wins. s3: drained when its
        // weight was 0, now 5: drain dropped. s4: down. The line measured with haproxy
        // 2.6.12 (`-c` on this configuration and file; its `show servers state` agrees:
        // s1 weight 3, s2 in maintenance, s3 ready, s4 down).
        let file = "1\n\
            1 be 1 s1 127.0.0.1 2 0 7 1 0 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n\
            1 be 2 s2 127.0.0.1 2 0 1 1 0 1 0 2 0 0 0 0 - 2 - 0 0 - - 0\n\
            1 be 3 s3 127.0.0.1 2 8 0 0 0 1 0 2 0 0 0 0 - 3 - 0 0 - - 0\n\
            1 be 4 s4 127.0.0.1 0 0 1 1 0 8 2 0 6 0 0 0 - 4 - 0 0 - - 0\n";
        let read = |_: &str| Ok(file.as_bytes().to_vec());
        let (warnings, applied) = plan(&cfg, &read);
        assert_eq!(
            warnings,
            vec!["Server be/s4 is DOWN, changed from server-state after a reload. 2 active and 1 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.".to_string()]
        );
        let get = |name: &str| {
            applied
                .iter()
                .find(|a| a.server == name)
                .cloned()
                .expect(name)
        };
        assert_eq!(get("s1").uweight, None);
        assert!(get("s2").maint);
        assert!(!get("s3").drain);
        assert!(get("s4").down && get("s4").health == 0);
        assert_eq!(get("s1").health, 4);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let f = parse(&bytes);
            for row in &f.rows {
                prop_assert!((MIN_FIELDS..=MAX_FIELDS).contains(&row.len()));
                let _ = validate(row);
            }
        }

        #[test]
        fn validate_never_panics(fields in proptest::collection::vec("[-0-9a-z!._]{0,12}", 0..=25)) {
            let _ = validate(&fields);
        }
    }
}
