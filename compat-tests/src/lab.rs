//! A lab: one switch namespace with a bridge, and node namespaces plugged into it with veth
//! pairs, each node with its own PID, mount and UTS namespace and its own `/etc/keepalived`,
//! `/etc/haproxy` and `/run`. *Test-support* (root only): errors panic with what failed.
//!
//! ```text
//!   switch ns (hacl-PID-N):  br0 ── lb1-eth1 ── veth ── eth1 in node ns lb1 (192.168.56.21/24)
//!                                ── lb2-eth1 ── veth ── eth1 in node ns lb2 ...
//! ```
//!
//! A node is a network namespace (`ip netns add`) in which a *holder* runs:
//! `ip netns exec NS setpriv --pdeathsig SIGKILL unshare --pid --fork --mount-proc --uts
//! --kill-child sh -c 'mount tmpfs /run; hostname NAME; exec REAPER'`. `ip netns exec`
//! bind-mounts `/etc/netns/NS/keepalived` over `/etc/keepalived` (and `haproxy`, `hosts`), so
//! seed configs that read `/etc/keepalived/keepalived.conf` run unchanged; the new PID
//! namespace makes `killall -0 haproxy` on one node see that node only; the private `/run`
//! keeps pid files (`/run/keepalived.pid`, `/run/haproxy/admin.sock`) apart. Commands run in
//! the node through `nsenter` into all of the holder's namespaces.
//!
//! Teardown, in order of what can go wrong:
//! - normal end and panics: [`Lab`]'s `Drop` kills every node (SIGKILL to the holder, whose
//!   `--kill-child` takes the PID namespace's init and with it every process of the node),
//!   kills what is left in each network namespace (`ip netns pids`), deletes the namespaces
//!   and the `/etc/netns/NS` directories;
//! - the test process killed (SIGKILL, SIGINT): `--pdeathsig` kills the holders, and a
//!   watchdog started with the first lab (a detached `sh` that waits for this process to
//!   end) deletes this process's namespaces and `/etc/netns` directories;
//! - anything still left: [`crate::Netns::create`] sweeps namespaces of dead processes, and
//!   [`leftovers`] lists what is left so a run can fail on it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::netns::{exit_code, Netns, CLEAN_PATH};

/// Prefix of every namespace a lab creates (`hacl-PID-N`), short because Linux interface and
/// namespace names are read in error messages.
pub const PREFIX: &str = "hacl";

/// One node of a lab: its name, the interface name the seed configs use, and its address.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Short name (`lb1`, `web2`, `client`); also the node's hostname.
    pub name: String,
    /// The interface inside the node (`eth1` for seed 000, `eth0` for 002).
    pub iface: String,
    /// The node's address on the lab network.
    pub addr: Ipv4Addr,
    /// Extra `/etc/hosts` lines for this node (seed 002 names its server by DNS name).
    pub hosts: Vec<(Ipv4Addr, String)>,
}

/// A lab's shape: one /`prefix_len` network and its nodes.
#[derive(Debug, Clone)]
pub struct LabSpec {
    /// The lab's name in paths and messages (`seed000`).
    pub name: String,
    /// Prefix length of the lab network (24 for the seeds).
    pub prefix_len: u8,
    /// The nodes; their names must be distinct and at most 8 characters (veth names).
    pub nodes: Vec<NodeSpec>,
}

/// A running lab. Dropping it tears everything down.
#[derive(Debug)]
pub struct Lab {
    spec: LabSpec,
    dir: PathBuf,
    switch: Option<Netns>,
    nodes: BTreeMap<String, Node>,
    captures: Vec<Child>,
}

/// A node of a running lab.
#[derive(Debug)]
pub struct Node {
    spec: NodeSpec,
    ns: Option<Netns>,
    etc: PathBuf,
    holder: Option<Child>,
    init_pid: u32,
    spawned: Vec<(String, Child)>,
}

impl Lab {
    /// Builds the lab: switch, bridge, every node with its veth, address, `/etc` and holder.
    /// `dir` receives the artifacts (logs, captures, timelines); it is emptied first.
    pub fn start(spec: LabSpec, dir: &Path) -> Lab {
        start_watchdog();
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let switch = Netns::create(PREFIX).unwrap_or_else(|e| panic!("switch namespace: {e}"));
        let mut lab = Lab {
            spec: spec.clone(),
            dir: dir.to_path_buf(),
            switch: Some(switch),
            nodes: BTreeMap::new(),
            captures: Vec::new(),
        };
        let sw = lab.switch();
        ok(
            sw.ip(&["link", "add", "br0", "type", "bridge"]),
            "add bridge",
        );
        // No STP and no multicast snooping: a frame reaches every port at once, as on the
        // flat L2 segment of the tutorials (VRRP adverts are multicast).
        ok(
            sw.ip(&[
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "stp_state",
                "0",
                "mcast_snooping",
                "0",
                "forward_delay",
                "0",
            ]),
            "configure bridge",
        );
        ok(sw.set_up("br0"), "bridge up");
        for node in &spec.nodes {
            let n = Node::start(&lab, node);
            lab.nodes.insert(node.name.clone(), n);
        }
        lab
    }

    fn switch(&self) -> &Netns {
        // Only None while dropping.
        self.switch.as_ref().expect("switch namespace exists")
    }

    /// The directory that receives this lab's artifacts.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node called `name`. Panics if there is none (a scenario bug).
    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .get(name)
            .unwrap_or_else(|| panic!("lab {} has no node {name}", self.spec.name))
    }

    /// The node called `name`, mutably.
    pub fn node_mut(&mut self, name: &str) -> &mut Node {
        let lab = self.spec.name.clone();
        self.nodes
            .get_mut(name)
            .unwrap_or_else(|| panic!("lab {lab} has no node {name}"))
    }

    /// Starts `tcpdump` on the bridge, writing packets that match `filter` (a pcap filter,
    /// e.g. `ip proto 112 or ip proto 51`) to `file` in the lab directory. Stopped (SIGTERM,
    /// so the file is complete) by [`Lab::stop_captures`] or at teardown.
    pub fn capture(&mut self, filter: &str, file: &str) -> PathBuf {
        let path = self.dir.join(file);
        let child = Command::new("ip")
            .args(["netns", "exec", self.switch().name()])
            // --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets to tcpdump
            // a block (or 1 s) at a time, and the packets of the last block before SIGTERM
            // are lost ("34 received by filter, 33 captured"): a node's final priority-0
            // advert went missing that way.
            .args([
                "tcpdump",
                "-i",
                "br0",
                "-U",
                "--immediate-mode",
                "-n",
                "-s",
                "512",
                "-w",
            ])
            .arg(&path)
            .arg(filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&self.dir.join(format!("{file}.tcpdump.log"))))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run tcpdump (apt-get install tcpdump): {e}"));
        // tcpdump opens the interface asynchronously; its "listening on" line on stderr
        // says when it is ready.
        let log = self.dir.join(format!("{file}.tcpdump.log"));
        wait_for(Duration::from_secs(5), || {
            std::fs::read_to_string(&log)
                .map(|s| s.contains("listening on"))
                .unwrap_or(false)
        });
        self.captures.push(child);
        path
    }

    /// Stops every capture (SIGTERM, then waits) so their files are complete.
    pub fn stop_captures(&mut self) {
        for mut child in self.captures.drain(..) {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Cuts a node's cable: its switch-side veth goes down, so the node neither sends nor
    /// receives (a node lost, together with [`Node::kill_all`]).
    pub fn unplug(&self, node: &str) {
        let n = self.node(node);
        ok(
            self.switch().ip(&["link", "set", &n.switch_port(), "down"]),
            "unplug",
        );
    }

    /// Plugs a node's cable back in.
    pub fn plug(&self, node: &str) {
        let n = self.node(node);
        ok(
            self.switch().ip(&["link", "set", &n.switch_port(), "up"]),
            "plug",
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_captures();
        for node in self.nodes.values_mut() {
            node.teardown();
        }
        self.nodes.clear();
        if let Some(sw) = self.switch.take() {
            kill_netns_pids(sw.name());
            drop(sw);
        }
    }
}

impl Node {
    fn start(lab: &Lab, spec: &NodeSpec) -> Node {
        let ns = Netns::create(PREFIX).unwrap_or_else(|e| panic!("node {}: {e}", spec.name));
        let etc = Path::new("/etc/netns").join(ns.name());
        for sub in ["keepalived", "haproxy"] {
            // `ip netns exec` bind-mounts each entry of /etc/netns/NS over /etc/ENTRY, which
            // must exist: the Debian packages create both.
            let host = Path::new("/etc").join(sub);
            if !host.is_dir() {
                std::fs::create_dir_all(&host)
                    .unwrap_or_else(|e| panic!("cannot create {}: {e}", host.display()));
            }
            std::fs::create_dir_all(etc.join(sub))
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", etc.join(sub).display()));
        }
        let mut hosts = String::from("127.0.0.1\tlocalhost\n");
        hosts.push_str(&format!("{}\t{}\n", spec.addr, spec.name));
        for (addr, name) in &spec.hosts {
            hosts.push_str(&format!("{addr}\t{name}\n"));
        }
        write_file(&etc.join("hosts"), hosts.as_bytes());
        let mut node = Node {
            spec: spec.clone(),
            ns: Some(ns),
            etc,
            holder: None,
            init_pid: 0,
            spawned: Vec::new(),
        };
        let port = node.switch_port();
        let ns_name = node.ns().name().to_owned();
        let sw = lab.switch();
        ok(
            sw.ip(&[
                "link",
                "add",
                &port,
                "type",
                "veth",
                "peer",
                "name",
                &spec.iface,
                "netns",
                &ns_name,
            ]),
            "add veth",
        );
        ok(
            sw.ip(&["link", "set", &port, "master", "br0"]),
            "attach port",
        );
        ok(sw.set_up(&port), "port up");
        let cidr = format!("{}/{}", spec.addr, lab.spec.prefix_len);
        ok(node.ns().add_addr(&spec.iface, &cidr), "address");
        ok(node.ns().set_up(&spec.iface), "interface up");

        // The node's init is a shell that reaps: as PID 1 it adopts orphans (nginx workers
        // whose master was killed), and `wait` collects them, so a dead process never lingers
        // as a zombie that `killall -0` would still find. `/run/.lab-ready` says the mounts
        // and the hostname are done.
        let script = format!(
            "mount -t tmpfs tmpfs /run && mkdir -p /run/haproxy /run/lock && hostname {} && \
             touch /run/.lab-ready && exec sh -c 'while :; do sleep 3600 & wait; done'",
            spec.name
        );
        let holder = Command::new("ip")
            .args(["netns", "exec", &ns_name])
            .args(["setpriv", "--pdeathsig", "SIGKILL"])
            .args(["unshare", "--pid", "--fork", "--mount-proc", "--uts"])
            .args(["--kill-child", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&lab.dir.join(format!("{}.holder.log", spec.name))))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node {}: {e}", spec.name));
        let holder_pid = holder.id();
        node.holder = Some(holder);
        // `ip netns exec` and `setpriv` exec in place, so the holder's pid is unshare's; its
        // one child is the node's init (pid 1 inside).
        let children = format!("/proc/{holder_pid}/task/{holder_pid}/children");
        wait_for(Duration::from_secs(5), || {
            std::fs::read_to_string(&children)
                .map(|s| !s.trim().is_empty())
                .unwrap_or(false)
        });
        node.init_pid = std::fs::read_to_string(&children)
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
            .unwrap_or_else(|| panic!("node {}: no init process", spec.name));
        // Ready once the init has mounted its /run (seen through its root) and named itself.
        let ready = format!("/proc/{}/root/run/.lab-ready", node.init_pid);
        let is_ready = wait_for(Duration::from_secs(5), || Path::new(&ready).exists());
        assert!(is_ready, "node {}: not ready after 5 s", spec.name);
        node
    }

    fn ns(&self) -> &Netns {
        // Only None after teardown.
        self.ns.as_ref().expect("node namespace exists")
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The node's address on the lab network.
    pub fn addr(&self) -> Ipv4Addr {
        self.spec.addr
    }

    /// The node's interface name.
    pub fn iface(&self) -> &str {
        &self.spec.iface
    }

    /// The network namespace's name (for `ip -n`).
    pub fn netns_name(&self) -> &str {
        self.ns().name()
    }

    fn switch_port(&self) -> String {
        format!("{}-{}", self.spec.name, self.spec.iface)
    }

    /// Writes `contents` to `/etc/SUB/NAME` as the node sees it (`SUB` is `keepalived` or
    /// `haproxy`; `NAME` may contain `/`).
    pub fn write_etc(&self, sub: &str, name: &str, contents: &[u8]) {
        write_file(&self.etc.join(sub).join(name), contents);
    }

    fn nsenter(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.init_pid.to_string()])
            .args(["--net", "--mount", "--pid", "--uts", "--"])
            .args(["env", "-i", &format!("PATH={CLEAN_PATH}")]);
        c
    }

    /// Runs `program args` in the node and waits (at most 60 s). The environment is empty
    /// but for `PATH`.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        let mut c = self.nsenter();
        c.args(["timeout", "--kill-after=5", "60", program])
            .args(args)
            .stdin(Stdio::null());
        c.output()
            .unwrap_or_else(|e| panic!("cannot run nsenter (util-linux): {e}"))
    }

    /// Runs a shell command line in the node and returns its exit code.
    pub fn sh(&self, line: &str) -> i32 {
        exit_code(&self.exec("sh", &["-c", line]).status)
    }

    /// Starts `program args` in the node in the background; stdout and stderr go to
    /// `log`. The process is tracked under `label` for [`Node::exited`].
    pub fn spawn(&mut self, label: &str, program: &Path, args: &[&str], log: &Path) {
        let mut c = self.nsenter();
        c.arg(program).args(args).stdin(Stdio::null());
        c.stdout(log_file(log)).stderr(log_file(log));
        let child = c.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} on {}: {e}",
                program.display(),
                self.spec.name
            )
        });
        self.spawned.retain(|(l, _)| l != label);
        self.spawned.push((label.to_owned(), child));
    }

    /// Whether a process was started under `label` (running or not).
    pub fn has_spawned(&self, label: &str) -> bool {
        self.spawned.iter().any(|(l, _)| l == label)
    }

    /// If the process started under `label` has ended: its exit code (128+N for a signal).
    pub fn exited(&mut self, label: &str) -> Option<i32> {
        let (_, child) = self.spawned.iter_mut().find(|(l, _)| l == label)?;
        match child.try_wait() {
            Ok(Some(status)) => Some(exit_code(&status)),
            _ => None,
        }
    }

    /// Sends `signal` (e.g. `KILL`, `TERM`) to every process of the node named `name`
    /// (`pkill -x`); true if one was signalled.
    pub fn signal(&self, signal: &str, name: &str) -> bool {
        self.sh(&format!("pkill -{signal} -x {name}")) == 0
    }

    /// Whether a process named `name` runs on the node (`pgrep -x`; sees this node only).
    pub fn running(&self, name: &str) -> bool {
        self.sh(&format!("pgrep -x {name} >/dev/null")) == 0
    }

    /// SIGKILLs every process of the node at once, as a power cut would: the PID
    /// namespace's init dies, and the kernel kills the rest. The node can run nothing after.
    pub fn kill_all(&mut self) {
        if let Some(mut holder) = self.holder.take() {
            let _ = holder.kill();
            let _ = holder.wait();
        }
        for (_, child) in &mut self.spawned {
            let _ = child.wait();
        }
    }

    /// The IPv4 addresses on the node's interface with their prefix length, as `ip addr`
    /// shows them (`192.168.56.69/32`).
    pub fn addresses(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-n", self.ns().name(), "-4", "-o", "addr", "show", "dev"])
            .arg(&self.spec.iface)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ip: {e}"));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet")?;
                words.next().map(str::to_owned)
            })
            .collect()
    }

    /// Whether the node holds `vip` as a /32 (how keepalived adds a VIP without `/len`).
    pub fn holds(&self, vip: Ipv4Addr) -> bool {
        self.addresses().iter().any(|a| *a == format!("{vip}/32"))
    }

    fn teardown(&mut self) {
        self.kill_all();
        if let Some(ns) = self.ns.take() {
            kill_netns_pids(ns.name());
            drop(ns);
        }
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Namespaces named `hacl-*`, `/etc/netns/hacl-*` directories and processes inside such
/// namespaces that exist now: empty after every lab has been dropped. A run ends by failing
/// if this is not empty.
pub fn leftovers() -> Vec<String> {
    let mut left = Vec::new();
    if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(name) = line.split_whitespace().next() {
                if name.starts_with(&format!("{PREFIX}-")) {
                    left.push(format!("network namespace {name}"));
                    for pid in netns_pids(name) {
                        left.push(format!("process {pid} in {name}"));
                    }
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir("/etc/netns") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{PREFIX}-")) {
                left.push(format!("directory /etc/netns/{name}"));
            }
        }
    }
    left
}

fn netns_pids(ns: &str) -> Vec<String> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn kill_netns_pids(ns: &str) {
    for _ in 0..20 {
        let pids = netns_pids(ns);
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts, once per process, a detached watchdog that deletes this process's lab
/// namespaces, their processes and `/etc/netns` directories when this process ends without
/// cleaning up (killed, interrupted).
fn start_watchdog() {
    static WATCHDOG: Once = Once::new();
    WATCHDOG.call_once(|| {
        let pid = std::process::id();
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             for ns in $(ip netns list | awk '{{print $1}}' | grep '^{PREFIX}-{pid}-'); do \
               ip netns pids \"$ns\" | xargs -r kill -KILL; ip netns del \"$ns\"; \
               rm -rf \"/etc/netns/$ns\"; \
             done"
        );
        // setsid: a Ctrl-C to the test's process group must not reach the watchdog.
        let spawned = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Err(e) = spawned {
            eprintln!("compat-tests: no lab watchdog (setsid: {e}); an interrupted run may leave namespaces behind");
        }
    });
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ok(r: std::io::Result<()>, what: &str) {
    if let Err(e) = r {
        panic!("lab: {what}: {e}");
    }
}

fn write_file(path: &Path, contents: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(contents))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn log_file(path: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(Stdio::from)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_isolated_and_everything_is_torn_down() {
        crate::require_root();
        let spec = LabSpec {
            name: "selftest".into(),
            prefix_len: 24,
            nodes: vec![
                NodeSpec {
                    name: "a".into(),
                    iface: "eth1".into(),
                    addr: Ipv4Addr::new(10, 99, 0, 1),
                    hosts: vec![],
                },
                NodeSpec {
                    name: "b".into(),
                    iface: "eth1".into(),
                    addr: Ipv4Addr::new(10, 99, 0, 2),
                    hosts: vec![(Ipv4Addr::new(10, 99, 0, 1), "peer.example".into())],
                },
            ],
        };
        let dir = crate::target_dir().join("compat/labs/selftest");
        let names;
        {
            let mut lab = Lab::start(spec, &dir);
            names = [
                lab.node("a").netns_name().to_owned(),
                lab.node("b").netns_name().to_owned(),
            ];
            lab.node("a")
                .write_etc("keepalived", "keepalived.conf", b"node a\n");
            // The node sees its own /etc/keepalived, hostname and hosts file.
            let out = lab
                .node("a")
                .exec("cat", &["/etc/keepalived/keepalived.conf"]);
            assert_eq!(String::from_utf8_lossy(&out.stdout), "node a\n");
            let out = lab.node("b").exec("ls", &["/etc/keepalived"]);
            assert_eq!(String::from_utf8_lossy(&out.stdout), "");
            let out = lab.node("b").exec("hostname", &[]);
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "b");
            let out = lab.node("b").exec("getent", &["hosts", "peer.example"]);
            assert!(String::from_utf8_lossy(&out.stdout).starts_with("10.99.0.1"));
            // Across the bridge.
            assert_eq!(lab.node("a").sh("ping -c1 -W2 10.99.0.2 >/dev/null"), 0);
            // A process on b is invisible on a.
            let sleep = Path::new("/bin/sleep");
            let log = dir.join("b-sleep.log");
            lab.node_mut("b").spawn("sleep", sleep, &["300"], &log);
            assert!(wait_for(Duration::from_secs(5), || lab
                .node("b")
                .running("sleep")));
            assert_eq!(
                lab.node("a").sh("pgrep -x sleep | wc -l | grep -qx 1"),
                0,
                "only a's own init sleep"
            );
            // Unplugged: no traffic.
            lab.unplug("b");
            assert_ne!(lab.node("a").sh("ping -c1 -W1 10.99.0.2 >/dev/null"), 0);
            lab.plug("b");
            // Node lost: everything on it dies.
            lab.node_mut("b").kill_all();
            assert!(
                lab.node_mut("b").exited("sleep").is_some(),
                "the node's processes ended"
            );
        }
        let left = leftovers();
        for n in &names {
            assert!(
                !left.iter().any(|l| l.contains(n.as_str())),
                "left behind: {left:?}"
            );
        }
    }
}
