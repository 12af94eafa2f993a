//! The VRRP child's status: the JSON `ha-compat status` reads ([`render_json`], pure,
//! from the same [`Snapshot`] as keepalived's dumps) and the unix socket that serves it
//! and the metrics ([`serve`], `$HA_COMPAT_STATUS_DIR/vrrp.sock`), with its client
//! ([`request`]).
//!
//! The socket answers one request line per connection, then closes: `metrics` (the text
//! of [`crate::metrics::render`]), `json` (this module's JSON); anything else gets one
//! `error: ...` line. The server runs on its own thread: it asks the runtime for a
//! snapshot through its input queue (the runtime answers between two events, as it does
//! for a signal dump) and does every read and write itself, so a slow or silent client
//! never holds the engine.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::dump::{InstanceDump, Snapshot};
use crate::platform::Input;

/// The environment variable naming the directory of the status sockets (the supervisor
/// sets it for its children).
pub const STATUS_DIR_ENV: &str = "HA_COMPAT_STATUS_DIR";

/// The VRRP child's socket in that directory.
pub const SOCKET_NAME: &str = "vrrp.sock";

/// Version of the JSON's layout (`"schema"`): raised when a field changes meaning or goes.
pub const SCHEMA: u32 = 1;

/// Where the runtime sends its answer to [`Input::Status`]. Two requests are equal only
/// when they are the same one (the queue's inputs compare; a channel does not).
#[derive(Debug, Clone)]
pub struct SnapshotReply(pub Arc<Sender<Snapshot>>);

impl PartialEq for SnapshotReply {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SnapshotReply {}

const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;

/// The status JSON (layout documented in docs/operations.md, "Status and metrics").
pub fn render_json(snapshot: &Snapshot) -> String {
    let instances: Vec<Value> = snapshot
        .instances
        .iter()
        .map(|i| instance_json(snapshot, i))
        .collect();
    let scripts: Vec<Value> = snapshot
        .scripts
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "status": script_status(s.good),
                "weight": s.weight,
                "rise": s.rise,
                "fall": s.fall,
                "interval_secs": s.interval_secs,
                "tracking": s.tracking.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            })
        })
        .collect();
    let groups: Vec<Value> = snapshot
        .groups
        .iter()
        .map(|g| json!({"name": g.name, "state": g.state.word(), "members": g.members}))
        .collect();
    let value = json!({
        "schema": SCHEMA,
        "router_id": snapshot.router_id,
        "instances": instances,
        "scripts": scripts,
        "sync_groups": groups,
    });
    let mut text = value.to_string();
    text.push('\n');
    text
}

fn script_status(good: Option<bool>) -> &'static str {
    match good {
        Some(true) => "GOOD",
        Some(false) => "BAD",
        None => "INIT",
    }
}

/// The first word of a VIP as keepalived formats it (`10.0.0.100/24 dev eth0 ...`).
fn vip_address(vip: &str) -> &str {
    vip.split(' ').next().unwrap_or(vip)
}

fn instance_json(snapshot: &Snapshot, i: &InstanceDump) -> Value {
    let split = i.vips.len().saturating_sub(i.excluded_vips);
    let mut trackers: Vec<Value> = i
        .scripts
        .iter()
        .map(|(name, weight)| {
            let good = snapshot
                .scripts
                .iter()
                .find(|s| &s.name == name)
                .and_then(|s| s.good);
            json!({"kind": "script", "name": name, "weight": weight,
                   "status": script_status(good)})
        })
        .collect();
    trackers.extend(i.tracked_interfaces.iter().map(|(name, weight)| {
        let status = match snapshot.interfaces.iter().find(|f| &f.name == name) {
            Some(f) if f.flags & IFF_UP != 0 && f.flags & IFF_RUNNING != 0 => "UP",
            Some(_) => "DOWN",
            None => "MISSING",
        };
        json!({"kind": "interface", "name": name, "weight": weight, "status": status})
    }));
    let c = &i.counters;
    json!({
        "name": i.name,
        "state": i.state.word(),
        "state_value": crate::metrics::state_value(i.state),
        "interface": i.interface,
        "vrid": i.vrid,
        "version": i.version,
        "priority": i.base_priority,
        "effective_priority": i.effective_priority,
        "master_address": i.master_addr.map(|a| a.to_string()),
        "sync_group": i.sync_group,
        "vips": i.vips[..split].iter().map(|v| vip_address(v)).collect::<Vec<_>>(),
        "excluded_vips": i.vips[split..].iter().map(|v| vip_address(v)).collect::<Vec<_>>(),
        "vips_set": i.vips_set,
        "last_transition": i.last_transition.secs,
        "trackers": trackers,
        "counters": {
            "advert_rcvd": c.advert_rcvd,
            "advert_sent": c.advert_sent,
            "become_master": c.become_master,
            "release_master": c.release_master,
            "packet_len_err": c.packet_len_err,
            "advert_interval_err": c.advert_interval_err,
            "ip_ttl_err": c.ip_ttl_err,
            "invalid_type_rcvd": c.invalid_type_rcvd,
            "addr_list_err": c.addr_list_err,
            "invalid_authtype": c.invalid_authtype,
            "authtype_mismatch": c.authtype_mismatch,
            "auth_failure": c.auth_failure,
            "pri_zero_rcvd": c.pri_zero_rcvd,
            "pri_zero_sent": c.pri_zero_sent,
        },
    })
}

/// The answer to one request line, given a way to take a snapshot (`None`: the engine
/// did not answer).
pub fn answer(request: &str, snapshot: impl FnOnce() -> Option<Snapshot>) -> String {
    let render: fn(&Snapshot) -> String = match request.trim() {
        "metrics" => crate::metrics::render,
        "json" => render_json,
        other => {
            let shown: String = other.chars().take(40).collect();
            return format!("error: unknown request {shown:?}: expected metrics or json\n");
        }
    };
    match snapshot() {
        Some(s) => render(&s),
        None => "error: the VRRP engine did not answer\n".to_string(),
    }
}

/// How long the server waits for a client's line, a write, or the engine's snapshot.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The listening socket; removed when dropped (unless another process has replaced it
/// since: its file is then left alone).
#[derive(Debug)]
pub struct StatusSocket {
    path: PathBuf,
    /// Device and inode of the socket file bound.
    file: Option<(u64, u64)>,
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl StatusSocket {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StatusSocket {
    fn drop(&mut self) {
        if self.file.is_some() && file_id(&self.path) == self.file {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Listens on `dir/vrrp.sock` (the directory made if missing, a stale socket file
/// replaced, mode 0600) and serves it on a thread, asking `engine` for snapshots.
pub fn serve(dir: &Path, engine: Sender<Input>) -> std::io::Result<StatusSocket> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(SOCKET_NAME);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&path)?;
    let socket = StatusSocket {
        file: file_id(&path),
        path,
    };
    std::fs::set_permissions(&socket.path, std::fs::Permissions::from_mode(0o600))?;
    std::thread::Builder::new()
        .name("status".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if handle(stream, &engine).is_err() {
                    // A client that went away; the next one is served.
                }
            }
        })?;
    Ok(socket)
}

/// One connection: a line in, the answer out, closed.
fn handle(stream: UnixStream, engine: &Sender<Input>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut line = String::new();
    // At most a short line: a request is one word.
    BufReader::new((&stream).take(256)).read_line(&mut line)?;
    let text = answer(&line, || {
        let (tx, rx) = mpsc::channel();
        engine
            .send(Input::Status(SnapshotReply(Arc::new(tx))))
            .ok()?;
        rx.recv_timeout(IO_TIMEOUT).ok()
    });
    (&stream).write_all(text.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Both)
}

/// Sends `request` to the status socket at `path` and returns the whole answer (the
/// client of `ha-compat status`, and the hook for another exporter:
/// `request(&dir.join("vrrp.sock"), "metrics", timeout)`).
pub fn request(path: &Path, request: &str, timeout: Duration) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::State;

    #[test]
    fn json_has_the_instance_its_trackers_and_counters() {
        let mut s = crate::dump::tests::recorded();
        s.instances[0].tracked_interfaces = vec![("eth0".into(), 0), ("eth9".into(), -10)];
        s.instances[0].effective_priority = 130;
        let v: Value = serde_json::from_str(&render_json(&s)).unwrap();
        assert_eq!(v["schema"], 1);
        let i = &v["instances"][0];
        assert_eq!(i["name"], "VI_1");
        assert_eq!(i["state"], "MASTER");
        assert_eq!(i["state_value"], 2);
        assert_eq!(i["priority"], 150);
        assert_eq!(i["effective_priority"], 130);
        assert_eq!(i["vrid"], 51);
        assert_eq!(i["interface"], "eth0");
        assert_eq!(i["vips"], json!(["10.0.0.100/24"]));
        assert_eq!(i["excluded_vips"], json!([]));
        assert_eq!(
            i["trackers"],
            json!([
                {"kind": "script", "name": "chk_true", "weight": -20, "status": "GOOD"},
                {"kind": "interface", "name": "eth0", "weight": 0, "status": "UP"},
                {"kind": "interface", "name": "eth9", "weight": -10, "status": "MISSING"},
            ])
        );
        assert_eq!(i["counters"]["advert_sent"], 6);
        assert_eq!(i["counters"]["become_master"], 1);
        assert_eq!(v["scripts"][0]["status"], "GOOD");
    }

    #[test]
    fn requests_answered_or_refused_in_one_line() {
        let s = crate::dump::tests::recorded();
        assert!(answer("metrics\n", || Some(s.clone())).starts_with("# HELP "));
        assert!(answer("json", || Some(s.clone())).starts_with('{'));
        assert_eq!(
            answer("show stat\n", || Some(s.clone())),
            "error: unknown request \"show stat\": expected metrics or json\n"
        );
        assert_eq!(
            answer("json\n", || None),
            "error: the VRRP engine did not answer\n"
        );
    }

    #[test]
    fn socket_serves_snapshots_from_the_queue_and_goes_away() {
        let dir = std::env::temp_dir().join(format!("hac-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A stale file is replaced.
        std::fs::write(dir.join(SOCKET_NAME), "stale").unwrap();
        let (tx, rx) = mpsc::channel::<Input>();
        let engine = std::thread::spawn(move || {
            while let Ok(input) = rx.recv() {
                if let Input::Status(reply) = input {
                    let mut s = crate::dump::tests::recorded();
                    s.instances[0].state = State::Backup;
                    let _ = reply.0.send(s);
                }
            }
        });
        let socket = serve(&dir, tx).unwrap();
        let path = socket.path().to_path_buf();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let json = request(&path, "json", IO_TIMEOUT).unwrap();
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["instances"][0]["state"], "BACKUP");
        let metrics = request(&path, "metrics", IO_TIMEOUT).unwrap();
        assert!(
            metrics.contains("keepalived_vrrp_state{iname=\"VI_1\""),
            "{metrics}"
        );
        assert!(request(&path, "nope", IO_TIMEOUT)
            .unwrap()
            .starts_with("error: "));
        // A socket replaced by another server is not removed by the first one.
        let second = serve(&dir, mpsc::channel().0).unwrap();
        drop(socket);
        assert!(path.exists());
        drop(second);
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
        drop(engine);
    }
}
