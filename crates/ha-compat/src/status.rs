//! `ha-compat status [--json] [--status-dir DIR] [-f FILE]...`: one view of the running
//! daemon: each VRRP instance (from the VRRP child's `vrrp.sock`, request `json`) and
//! each backend's servers (HAProxy's `show stat` CSV, from `DIR/haproxy.sock` or else the
//! first unix `stats socket` of the haproxy.cfg, so a real HAProxy answers too).
//!
//! Pure parts first ([`parse_show_stat`], [`backends_from_stat`], [`render_table`],
//! [`render_json`]); the socket I/O ([`gather`]) is thin.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

/// The supervisor's default status directory (`--status-dir`).
pub const DEFAULT_STATUS_DIR: &str = "/run/ha-compat";

/// The proxy child's stats socket in the status directory.
pub const HAPROXY_SOCKET_NAME: &str = "haproxy.sock";

/// Where `-f` is not given: HAProxy's usual file.
pub const DEFAULT_HAPROXY_CFG: &str = "/etc/haproxy/haproxy.cfg";

/// Version of `--json`'s layout (`"schema"`).
pub const SCHEMA: u32 = 1;

/// How long a socket may take to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// One part of the status: read from `socket`, or why not.
#[derive(Debug, Clone, PartialEq)]
pub struct Part<T> {
    /// The socket asked (or that would have been: `None` when there is none to ask).
    pub socket: Option<PathBuf>,
    pub result: Result<T, String>,
}

/// One server (or the backend's own row) of `show stat`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Server {
    pub name: String,
    /// `status`: `UP`, `DOWN`, `MAINT`, `no check`, `UP 1/3`...
    pub status: String,
    /// `check_status` (`L4OK`, `L7STS`...; empty without checks).
    pub check_status: String,
    /// `check_desc`: what `check_status` means (`Layer4 check passed`).
    pub check_desc: String,
    /// `last_chk`: the last check's detail (`Connection refused`; often empty).
    pub last_check: String,
    /// `lastchg`: seconds since the last status change.
    pub last_change_secs: Option<u64>,
    pub weight: Option<u64>,
    /// `scur` and `stot`.
    pub current_sessions: Option<u64>,
    pub total_sessions: Option<u64>,
}

/// A backend with its servers, in `show stat`'s order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Backend {
    pub name: String,
    /// The `BACKEND` row's status (`UP`, `DOWN`).
    pub status: String,
    pub servers: Vec<Server>,
}

/// Why a `show stat` answer is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatError(pub String);

/// One CSV record as HAProxy writes it (`csv_enc`: a field with `,` or `"` is quoted,
/// inner quotes doubled).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// `show stat`'s CSV: the header `# pxname,svname,...` names the columns; every other
/// non-empty line is a row, read as column name -> value.
pub fn parse_show_stat(text: &str) -> Result<Vec<Vec<(String, String)>>, StatError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .ok_or_else(|| {
            let first: String = text.lines().next().unwrap_or("").chars().take(80).collect();
            StatError(format!("not a `show stat` answer: {first:?}"))
        })?;
    let names = csv_fields(header);
    if !names.iter().any(|n| n == "pxname") || !names.iter().any(|n| n == "svname") {
        return Err(StatError("`show stat` header without pxname/svname".into()));
    }
    Ok(lines
        .map(|l| names.iter().cloned().zip(csv_fields(l)).collect())
        .collect())
}

/// The servers of each backend (the rows other than `FRONTEND`, grouped by `pxname`;
/// a proxy without a `BACKEND` row, a frontend, is left out).
pub fn backends_from_stat(rows: &[Vec<(String, String)>]) -> Vec<Backend> {
    let get = |row: &[(String, String)], name: &str| -> String {
        row.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let number = |row: &[(String, String)], name: &str| get(row, name).parse::<u64>().ok();
    let mut backends: Vec<Backend> = Vec::new();
    for row in rows {
        let (proxy, sv) = (get(row, "pxname"), get(row, "svname"));
        if sv == "FRONTEND" {
            continue;
        }
        let at = match backends.iter().position(|b| b.name == proxy) {
            Some(at) => at,
            None => {
                backends.push(Backend {
                    name: proxy.clone(),
                    ..Backend::default()
                });
                backends.len() - 1
            }
        };
        if sv == "BACKEND" {
            backends[at].status = get(row, "status");
            continue;
        }
        backends[at].servers.push(Server {
            name: sv,
            status: get(row, "status"),
            // HAProxy marks a check running at this moment with `* ` before the last
            // result; the view shows the result.
            check_status: get(row, "check_status")
                .trim_start_matches("* ")
                .to_string(),
            check_desc: get(row, "check_desc"),
            last_check: get(row, "last_chk"),
            last_change_secs: number(row, "lastchg"),
            weight: number(row, "weight"),
            current_sessions: number(row, "scur"),
            total_sessions: number(row, "stot"),
        });
    }
    // A proxy that only had a FRONTEND row never got here; one without a BACKEND row
    // (impossible in `show stat`) would show an empty status.
    backends
}

/// Everything `ha-compat status` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The VRRP child's JSON (`vrrp_engine::status::render_json`).
    pub vrrp: Part<Value>,
    pub backends: Part<Vec<Backend>>,
}

fn part_json<T>(part: &Part<T>, value: impl FnOnce(&T) -> Value) -> Value {
    json!({
        "socket": part.socket.as_ref().map(|p| p.display().to_string()),
        "error": part.result.as_ref().err(),
        "data": part.result.as_ref().ok().map(value),
    })
}

/// `--json` (layout documented in docs/operations.md, "Status and metrics").
pub fn render_json(status: &Status) -> String {
    let backends = |list: &Vec<Backend>| {
        Value::Array(
            list.iter()
                .map(|b| {
                    json!({
                        "name": b.name,
                        "status": b.status,
                        "servers": b.servers.iter().map(|s| json!({
                            "name": s.name,
                            "status": s.status,
                            "check_status": s.check_status,
                            "check_desc": s.check_desc,
                            "last_check": s.last_check,
                            "last_change_secs": s.last_change_secs,
                            "weight": s.weight,
                            "current_sessions": s.current_sessions,
                            "total_sessions": s.total_sessions,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )
    };
    let value = json!({
        "schema": SCHEMA,
        "vrrp": part_json(&status.vrrp, Value::clone),
        "backends": part_json(&status.backends, backends),
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Columns padded to their widest cell, two spaces apart; the last one unpadded.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn socket_name(socket: &Option<PathBuf>) -> String {
    socket
        .as_ref()
        .map_or_else(|| "no socket".into(), |p| p.display().to_string())
}

/// The table of VRRP instances, then the table of backend servers.
pub fn render_table(status: &Status) -> String {
    let mut text = format!("VRRP ({})\n", socket_name(&status.vrrp.socket));
    match &status.vrrp.result {
        Err(e) => text.push_str(&format!("  unavailable: {e}\n")),
        Ok(v) => {
            let instances = v["instances"].as_array().cloned().unwrap_or_default();
            if instances.is_empty() {
                text.push_str("  no VRRP instance\n");
            } else {
                let mut rows = vec![[
                    "INSTANCE",
                    "STATE",
                    "PRIORITY",
                    "VRID",
                    "INTERFACE",
                    "VIPS",
                    "TRACKERS",
                ]
                .map(String::from)
                .to_vec()];
                for i in &instances {
                    let list = |key: &str| {
                        i[key]
                            .as_array()
                            .map(|a| a.iter().map(text_of).collect::<Vec<_>>().join(","))
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "-".into())
                    };
                    let trackers = i["trackers"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|t| {
                                    format!(
                                        "{} {} {} (weight {})",
                                        text_of(&t["kind"]),
                                        text_of(&t["name"]),
                                        text_of(&t["status"]),
                                        text_of(&t["weight"])
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "-".into());
                    rows.push(vec![
                        text_of(&i["name"]),
                        text_of(&i["state"]),
                        // Effective, then configured when they differ.
                        if i["priority"] == i["effective_priority"] {
                            text_of(&i["effective_priority"])
                        } else {
                            format!(
                                "{} (configured {})",
                                text_of(&i["effective_priority"]),
                                text_of(&i["priority"])
                            )
                        },
                        text_of(&i["vrid"]),
                        text_of(&i["interface"]),
                        list("vips"),
                        trackers,
                    ]);
                }
                for line in table(&rows).lines() {
                    text.push_str(&format!("  {line}\n"));
                }
            }
        }
    }
    text.push_str(&format!(
        "\nBACKENDS ({})\n",
        socket_name(&status.backends.socket)
    ));
    match &status.backends.result {
        Err(e) => text.push_str(&format!("  unavailable: {e}\n")),
        Ok(list) if list.is_empty() => text.push_str("  no backend\n"),
        Ok(list) => {
            let mut rows = vec![[
                "BACKEND",
                "SERVER",
                "STATUS",
                "CHECK",
                "WEIGHT",
                "CUR",
                "TOTAL",
                "LAST CHECK",
            ]
            .map(String::from)
            .to_vec()];
            let num = |n: Option<u64>| n.map_or_else(|| "-".into(), |n| n.to_string());
            let dash = |s: &str| {
                if s.is_empty() {
                    "-".into()
                } else {
                    s.to_string()
                }
            };
            for b in list {
                for s in &b.servers {
                    rows.push(vec![
                        b.name.clone(),
                        s.name.clone(),
                        dash(&s.status),
                        dash(&s.check_status),
                        num(s.weight),
                        num(s.current_sessions),
                        num(s.total_sessions),
                        match (s.check_desc.as_str(), s.last_check.as_str()) {
                            ("", "") => "-".into(),
                            (desc, "") => desc.to_string(),
                            ("", last) => last.to_string(),
                            (desc, last) => format!("{desc}: {last}"),
                        },
                    ]);
                }
                rows.push(vec![b.name.clone(), "(backend)".into(), dash(&b.status)]);
            }
            for line in table(&rows).lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
    }
    text
}

/// The exit status: 0 when at least one part could be read.
pub fn exit_code(status: &Status) -> i32 {
    if status.vrrp.result.is_ok() || status.backends.result.is_ok() {
        0
    } else {
        1
    }
}

/// Sends one line to a unix socket and reads the answer to the end.
fn ask(path: &Path, line: &str) -> Result<String, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot connect to {} ({e}): is the daemon running?",
            path.display()
        )
    })?;
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut text = String::new();
    stream.read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

/// The first unix `stats socket` of a haproxy.cfg.
pub fn stats_socket_of(cfg: &Path) -> Option<PathBuf> {
    use haproxy_conf::host::AnyAccounts;
    use haproxy_conf::lexer::ProcessEnv;
    let options = haproxy_conf::LoadOptions {
        env: &ProcessEnv,
        features: haproxy_conf::version::FEATURES,
        resolver: &haproxy_conf::NoResolver,
        accounts: &AnyAccounts,
        host_files: false,
    };
    let files = haproxy_conf::files::expand(&[cfg.to_path_buf()]).ok()?;
    let loaded = haproxy_conf::load(&files, &options);
    loaded
        .config
        .global
        .stats_sockets
        .iter()
        .find_map(|s| match &s.address {
            haproxy_conf::model::BindAddress::Unix(p) => Some(p.clone()),
            _ => None,
        })
}

/// Reads both parts from the running daemon.
pub fn gather(status_dir: &Path, haproxy_cfgs: &[PathBuf]) -> Status {
    let vrrp_socket = status_dir.join(vrrp_engine::status::SOCKET_NAME);
    let vrrp = Part {
        result: if vrrp_socket.exists() {
            ask(&vrrp_socket, "json\n").and_then(|text| {
                if let Some(e) = text.strip_prefix("error: ") {
                    return Err(e.trim_end().to_string());
                }
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| format!("{}: not the status JSON: {e}", vrrp_socket.display()))
            })
        } else {
            Err(format!(
                "no VRRP status socket at {} (no keepalived child, or not started by \
                 `ha-compat -f keepalived.conf` with this --status-dir)",
                vrrp_socket.display()
            ))
        },
        socket: Some(vrrp_socket),
    };
    // The supervisor's socket first; else the configuration's own `stats socket`.
    let own = status_dir.join(HAPROXY_SOCKET_NAME);
    let cfgs: Vec<PathBuf> = if haproxy_cfgs.is_empty() {
        vec![PathBuf::from(DEFAULT_HAPROXY_CFG)]
    } else {
        haproxy_cfgs.to_vec()
    };
    let socket = if own.exists() {
        Some(own.clone())
    } else {
        cfgs.iter().find_map(|c| stats_socket_of(c))
    };
    let backends = Part {
        result: match &socket {
            None => Err(format!(
                "no HAProxy stats socket: {} is missing and no `stats socket` (unix) in {}",
                own.display(),
                cfgs.iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(path) => ask(path, "show stat\n").and_then(|text| {
                parse_show_stat(&text)
                    .map(|rows| backends_from_stat(&rows))
                    .map_err(|e| format!("{}: {}", path.display(), e.0))
            }),
        },
        socket,
    };
    Status { vrrp, backends }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from HAProxy 2.6.12 (fixtures/haproxy/status/README.md): a frontend and
    /// a backend with web1 up (`L4OK`, two sessions) and web2 down (`L4CON`).
    const SHOW_STAT: &str = include_str!("../../../fixtures/haproxy/status/show_stat.csv");

    #[test]
    fn show_stat_read_by_column_names() {
        let rows = parse_show_stat(SHOW_STAT).unwrap();
        let backends = backends_from_stat(&rows);
        assert_eq!(backends.len(), 1);
        let be = &backends[0];
        assert_eq!((be.name.as_str(), be.status.as_str()), ("be", "UP"));
        assert_eq!(
            be.servers[0],
            Server {
                name: "web1".into(),
                status: "UP".into(),
                check_status: "L4OK".into(),
                check_desc: "Layer4 check passed".into(),
                last_check: String::new(),
                last_change_secs: Some(2),
                weight: Some(1),
                current_sessions: Some(0),
                total_sessions: Some(2),
            }
        );
        assert_eq!(be.servers[1].status, "DOWN");
        assert_eq!(be.servers[1].check_status, "L4CON");
        assert_eq!(be.servers[1].check_desc, "Layer4 connection problem");
        assert_eq!(be.servers[1].last_check, "Connection refused");
    }

    #[test]
    fn columns_in_another_order_and_quoted_fields() {
        let text = "# svname,pxname,status,last_chk\nweb1,be,UP,\"Layer4, \"\"ok\"\"\"\n";
        let b = backends_from_stat(&parse_show_stat(text).unwrap());
        assert_eq!(b[0].servers[0].name, "web1");
        assert_eq!(b[0].servers[0].last_check, "Layer4, \"ok\"");
        assert_eq!(b[0].servers[0].check_desc, "");
        assert_eq!(b[0].servers[0].weight, None);
    }

    #[test]
    fn not_show_stat() {
        assert!(parse_show_stat("Unknown command\n").is_err());
        assert!(parse_show_stat("").is_err());
        assert!(parse_show_stat("# a,b\n").is_err());
    }

    fn vrrp_json() -> Value {
        json!({"schema": 1, "instances": [{
            "name": "VI_1", "state": "MASTER", "priority": 150, "effective_priority": 130,
            "vrid": 51, "interface": "eth0", "vips": ["10.0.0.100/24"],
            "trackers": [{"kind": "script", "name": "chk", "status": "BAD", "weight": -20}],
        }]})
    }

    #[test]
    fn table_shows_instances_and_servers() {
        let status = Status {
            vrrp: Part {
                socket: Some("/run/ha-compat/vrrp.sock".into()),
                result: Ok(vrrp_json()),
            },
            backends: Part {
                socket: Some("/run/ha-compat/haproxy.sock".into()),
                result: Ok(backends_from_stat(&parse_show_stat(SHOW_STAT).unwrap())),
            },
        };
        let text = render_table(&status);
        assert_eq!(
            text,
            "VRRP (/run/ha-compat/vrrp.sock)\n\
             \x20 INSTANCE  STATE   PRIORITY              VRID  INTERFACE  VIPS           TRACKERS\n\
             \x20 VI_1      MASTER  130 (configured 150)  51    eth0       10.0.0.100/24  script chk BAD (weight -20)\n\
             \n\
             BACKENDS (/run/ha-compat/haproxy.sock)\n\
             \x20 BACKEND  SERVER     STATUS  CHECK  WEIGHT  CUR  TOTAL  LAST CHECK\n\
             \x20 be       web1       UP      L4OK   1       0    2      Layer4 check passed\n\
             \x20 be       web2       DOWN    L4CON  1       0    0      Layer4 connection problem: Connection refused\n\
             \x20 be       (backend)  UP\n"
        );
        assert_eq!(exit_code(&status), 0);
    }

    #[test]
    fn a_missing_part_is_said_and_only_both_missing_fail() {
        let mut status = Status {
            vrrp: Part {
                socket: Some("/x/vrrp.sock".into()),
                result: Err("no VRRP status socket at /x/vrrp.sock".into()),
            },
            backends: Part {
                socket: None,
                result: Ok(Vec::new()),
            },
        };
        let text = render_table(&status);
        assert!(text.contains("  unavailable: no VRRP status socket at /x/vrrp.sock\n"));
        assert!(text.contains("BACKENDS (no socket)\n  no backend\n"));
        assert_eq!(exit_code(&status), 0);
        status.backends.result = Err("gone".into());
        assert_eq!(exit_code(&status), 1);
        let v: Value = serde_json::from_str(&render_json(&status)).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["vrrp"]["error"], "no VRRP status socket at /x/vrrp.sock");
        assert_eq!(v["vrrp"]["data"], Value::Null);
        assert_eq!(v["backends"]["socket"], Value::Null);
    }

    #[test]
    fn json_has_both_parts() {
        let status = Status {
            vrrp: Part {
                socket: Some("/s/vrrp.sock".into()),
                result: Ok(vrrp_json()),
            },
            backends: Part {
                socket: Some("/s/haproxy.sock".into()),
                result: Ok(backends_from_stat(&parse_show_stat(SHOW_STAT).unwrap())),
            },
        };
        let v: Value = serde_json::from_str(&render_json(&status)).unwrap();
        assert_eq!(v["vrrp"]["data"]["instances"][0]["state"], "MASTER");
        assert_eq!(v["vrrp"]["error"], Value::Null);
        let web2 = &v["backends"]["data"][0]["servers"][1];
        assert_eq!(web2["name"], "web2");
        assert_eq!(web2["status"], "DOWN");
        assert_eq!(web2["total_sessions"], 0);
    }

    proptest::proptest! {
        #[test]
        fn any_answer_parses_or_is_refused(text in "\\PC{0,200}(\n\\PC{0,100}){0,4}") {
            if let Ok(rows) = parse_show_stat(&text) {
                let _ = backends_from_stat(&rows);
            }
        }
    }
}
