//! The five seed setups as lab scenarios: the tutorials' configs, unchanged, on a lab with
//! the tutorials' interface names and addresses, and checks of what each tutorial shows.
//!
//! - [`LB_SEEDS`] (000, 001, 004): two load-balancer nodes running keepalived and HAProxy in
//!   front of two web nodes. [`run_lb_seed`] walks the same story for each: the master holds
//!   the VIP, requests alternate, one web down, both down, restored, haproxy killed on the
//!   master, haproxy back (preemption), master node lost.
//! - [`run_seed002`]: HAProxy 1.4-era config with the bind address on the `listen` line, one
//!   server named by DNS (the lab's `/etc/hosts` names it), multicast VRRP.
//! - [`run_seed003`]: the nginx nodes run keepalived themselves (AH authentication, weight 4,
//!   the tutorial's 104 -> 100 vs 102 arithmetic), with and without `nopreempt`.
//! - `run_seed001_supervisor` (`seed001-supervisor`): seed 001 with each node's daemons
//!   under one parent (`ha-compat -f keepalived.conf -f haproxy.cfg`, or the reference's
//!   two daemons side by side): keepalived SIGKILLed, haproxy SIGKILLed, the node stopped.
//!
//! Every scenario records, per subject: checks ([`crate::scenario::Report::check`]), outages
//! measured from the client's timeline, and the VRRP adverts captured on the bridge.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::adverts::{self, Advert};
use crate::lab::{wait_for, Lab, LabSpec, NodeSpec};
use crate::scenario::{now_us, Expect, Impl, Report, Subject};
use crate::timeline::{self, Record};

/// How the client talks to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    /// `GET /`; the web nodes answer `web1` / `web2` (nginx).
    Http,
    /// `PING` -> `PONG web1` (seed 004's TCP service).
    Ping,
}

impl ClientMode {
    fn arg(self) -> &'static str {
        match self {
            ClientMode::Http => "http",
            ClientMode::Ping => "ping",
        }
    }
}

/// What a client sees when every server is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BothDown {
    /// HAProxy's 503 page (HTTP mode).
    Http503,
    /// The connection is accepted and closed without data (TCP mode).
    Closed,
}

/// The stats page a seed configures, and whether it asks for credentials.
#[derive(Debug, Clone, Copy)]
pub struct StatsPage {
    /// Port on the VIP.
    pub port: u16,
    /// `stats uri`.
    pub uri: &'static str,
    /// `stats auth USER:PASS`, if any.
    pub auth: Option<&'static str>,
}

/// A load-balancer seed: two LB nodes with keepalived + HAProxy, two webs, one client.
#[derive(Debug, Clone)]
pub struct LbSeed {
    /// Scenario name (`seed001`).
    pub name: &'static str,
    /// Fixture directory under `fixtures/seeds/`.
    pub fixtures: &'static str,
    /// keepalived.conf of lb1 and lb2 in the fixture directory.
    pub keepalived: [&'static str; 2],
    /// The VRRP instance names of lb1 and lb2, as keepalived logs them (`VI_1`).
    pub instances: [&'static str; 2],
    /// Extra keepalived flags from the tutorial (seed 004 starts it with `-D -P`).
    pub keepalived_flags: &'static [&'static str],
    /// Placeholders the tutorial asks the reader to fill in, and what the lab fills in.
    pub substitutions: &'static [(&'static str, &'static str)],
    /// Interface name in the configs.
    pub iface: &'static str,
    /// The /24 network's first three octets.
    pub net: [u8; 3],
    /// Host octets: lb1, lb2, web1, web2, client, VIP.
    pub hosts: [u8; 6],
    /// Service port on the VIP, and the web nodes' port.
    pub port: u16,
    /// The web nodes' port (server lines).
    pub web_port: u16,
    /// Client protocol.
    pub mode: ClientMode,
    /// Both webs down.
    pub both_down: BothDown,
    /// The stats page, if the seed has one.
    pub stats: Option<StatsPage>,
    /// Longest time between a web's death and HAProxy sending nothing more to it
    /// (`fall` x `inter` plus a margin), and for it to come back (`rise` x `inter`).
    pub check_down: Duration,
    /// See `check_down`.
    pub check_up: Duration,
    /// Configured priorities of lb1/lb2.
    pub priorities: [u8; 2],
    /// The `vrrp_script` weight added while haproxy runs (the adverts carry the sum).
    pub weight: u8,
    /// VRRP advert interval in seconds.
    pub advert_int: u8,
    /// VRRP router id.
    pub vrid: u8,
    /// The PASS auth data on the wire (8 bytes max), if any.
    pub auth_pass: Option<&'static str>,
    /// Unicast peers (seed 000) or multicast.
    pub unicast: bool,
    /// `None`: lb1 (the tutorial's master) must hold the VIP once both run. `Some(why)`:
    /// either may, whichever wins the start (equal priorities).
    pub master_race: Option<&'static str>,
    /// Why the reference keepalived does not track haproxy, if it does not.
    pub untracked: Option<&'static str>,
    /// Why the reference haproxy refuses the seed's haproxy.cfg, if it does.
    pub refused: Option<&'static str>,
    /// `option httpchk` and `option forwardfor`: the webs' access logs show `OPTIONS /
    /// HTTP/1.0` checks from both LBs and the client's address in `X-Forwarded-For`.
    pub httpchk_forwardfor: bool,
    /// The httplog/tcplog line HAProxy sends to `log 127.0.0.1` (UDP 514 on the node, where
    /// the lab listens) for a client request contains this (`None`: logs go to /dev/log,
    /// which the lab does not capture).
    pub syslog_contains: Option<&'static str>,
    /// Whether restarting haproxy on lb1 takes the VIP back (lb1's priority is higher).
    pub preempt_back: bool,
}

/// Seeds 000, 001 and 004, and seed 004 in HAProxy 2.6's L4 form (`seed004-l4`).
pub const LB_SEEDS: [LbSeed; 4] = [
    LbSeed {
        name: "seed000",
        fixtures: "000",
        keepalived: ["keepalived-master.conf", "keepalived-backup.conf"],
        instances: ["vi_1", "vi_1"],
        keepalived_flags: &[],
        substitutions: &[],
        iface: "eth1",
        net: [192, 168, 56],
        hosts: [21, 22, 11, 12, 100, 69],
        port: 80,
        web_port: 80,
        mode: ClientMode::Http,
        both_down: BothDown::Closed,
        stats: None,
        check_down: Duration::from_secs(9),
        check_up: Duration::from_secs(7),
        priorities: [101, 100],
        weight: 2,
        advert_int: 2,
        vrid: 101,
        auth_pass: Some("mylittle"),
        unicast: true,
        master_race: None,
        untracked: Some(
            "the script is written “killall -0 haproxy” with typographic quotes: keepalived \
             2.2.7 looks for a program named “killall and disables the tracker",
        ),
        refused: None,
        preempt_back: true,
        httpchk_forwardfor: false,
        syslog_contains: None,
    },
    LbSeed {
        name: "seed001",
        fixtures: "001",
        keepalived: ["keepalived-hap1.conf", "keepalived-hap2.conf"],
        instances: ["VI_1", "VI_1"],
        keepalived_flags: &[],
        substitutions: &[],
        iface: "eth1",
        net: [192, 168, 50],
        hosts: [11, 12, 21, 22, 100, 10],
        port: 80,
        web_port: 80,
        mode: ClientMode::Http,
        both_down: BothDown::Http503,
        stats: Some(StatsPage {
            port: 80,
            uri: "/haproxy?stats",
            auth: Some("admin:admin"),
        }),
        check_down: Duration::from_secs(9),
        check_up: Duration::from_secs(7),
        priorities: [101, 100],
        weight: 2,
        advert_int: 1,
        vrid: 51,
        auth_pass: None,
        unicast: false,
        master_race: None,
        untracked: None,
        refused: None,
        preempt_back: true,
        httpchk_forwardfor: true,
        syslog_contains: Some(" http-in webservers/web"),
    },
    LbSeed {
        name: "seed004",
        fixtures: "004",
        keepalived: ["keepalived-master.conf", "keepalived-backup-derived.conf"],
        instances: ["VI_1", "VI_2"],
        keepalived_flags: &["-P"],
        substitutions: &[
            ("xxx.xxx.xxx.xxx", "10.40.0.100"),
            ("xxx.xxx.xxx.001", "10.40.0.11"),
            ("xxx.xxx.xxx.002", "10.40.0.12"),
        ],
        iface: "eth0",
        net: [10, 40, 0],
        hosts: [1, 2, 11, 12, 200, 100],
        port: 14900,
        web_port: 4900,
        mode: ClientMode::Ping,
        both_down: BothDown::Closed,
        stats: Some(StatsPage {
            port: 80,
            uri: "/haproxy.stats",
            auth: None,
        }),
        check_down: Duration::from_secs(9),
        check_up: Duration::from_secs(7),
        priorities: [101, 101],
        weight: 2,
        advert_int: 1,
        vrid: 51,
        auth_pass: Some("myPassw0"),
        unicast: false,
        master_race: Some(
            "the tutorial's BACKUP fragment keeps `priority 101`, so both nodes have 101: \
             keepalived 2.2.7 lets the first to become master keep the VIP (a backup accepts \
             an equal-priority advert whatever the address), and when both time out together \
             the higher address (lb2) wins",
        ),
        untracked: None,
        refused: Some(
            "HAProxy 2.6 refuses seed 004's `listen tcp_service_a :14900` and `listen stats :80` \
             ('please use the bind keyword for listening addresses'), so haproxy never runs",
        ),
        preempt_back: false,
        httpchk_forwardfor: false,
        syslog_contains: Some(" tcp_service_a tcp_service_a/tcp_service_a_0"),
    },
    LbSeed {
        name: "seed004-l4",
        fixtures: "004",
        keepalived: ["keepalived-master.conf", "keepalived-backup-derived.conf"],
        instances: ["VI_1", "VI_2"],
        keepalived_flags: &["-P"],
        substitutions: &[
            ("xxx.xxx.xxx.xxx", "10.40.0.100"),
            ("xxx.xxx.xxx.001", "10.40.0.11"),
            ("xxx.xxx.xxx.002", "10.40.0.12"),
            // The variant: HAProxy 2.6's form of the L4 listener, and no HTTP stats
            // listener (ha-compat's engine runs `mode tcp` only until issue 7), so the
            // reference and ours run the same L4 service and are compared on it.
            (
                "listen tcp_service_a :14900\n",
                "listen tcp_service_a\n  bind :14900\n",
            ),
            (
                "listen stats :80\n  mode http\n  log global\n  maxconn 10\n  stats enable\n  \
                 stats refresh 30s\n  stats uri /haproxy.stats\n",
                "",
            ),
        ],
        iface: "eth0",
        net: [10, 40, 0],
        hosts: [1, 2, 11, 12, 200, 100],
        port: 14900,
        web_port: 4900,
        mode: ClientMode::Ping,
        both_down: BothDown::Closed,
        stats: None,
        check_down: Duration::from_secs(9),
        check_up: Duration::from_secs(7),
        priorities: [101, 101],
        weight: 2,
        advert_int: 1,
        vrid: 51,
        auth_pass: Some("myPassw0"),
        unicast: false,
        master_race: Some(
            "the tutorial's BACKUP fragment keeps `priority 101`, so both nodes have 101: \
             keepalived 2.2.7 lets the first to become master keep the VIP (a backup accepts \
             an equal-priority advert whatever the address), and when both time out together \
             the higher address (lb2) wins",
        ),
        untracked: None,
        refused: None,
        preempt_back: false,
        httpchk_forwardfor: false,
        syslog_contains: Some(" tcp_service_a tcp_service_a/tcp_service_a_0"),
    },
];

/// Every scenario name, in run order.
pub const SCENARIOS: [&str; 8] = [
    "seed000",
    "seed001",
    "seed001-supervisor",
    "seed002",
    "seed003",
    "seed003-nopreempt",
    "seed004",
    "seed004-l4",
];

/// What the reference did, kept for comparing later subjects with it in the same run.
#[derive(Debug, Default)]
pub struct ReferenceRecord {
    /// Raw responses by `scenario/what` (the 503 page, the stats page's 401).
    pub responses: BTreeMap<String, Vec<u8>>,
    /// A steady-state advert of the master by scenario.
    pub adverts: BTreeMap<String, Advert>,
    /// Takeover delays on the wire (the dead master's last advert -> the new master's
    /// first), µs, by `scenario/fault`.
    pub takeovers: BTreeMap<String, u64>,
}

/// Runs scenario `name` with `subject`; a panic inside (a broken lab) becomes a crashed
/// report, after the lab has been torn down.
pub fn run(name: &str, subject: Subject, reference: &mut ReferenceRecord) -> Report {
    let mut report = Report::new(name, subject);
    eprintln!("lab {name} with {subject}:");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match name {
        "seed002" => run_seed002(subject, &mut report, reference),
        "seed003" => run_seed003(subject, false, &mut report, reference),
        "seed003-nopreempt" => run_seed003(subject, true, &mut report, reference),
        "seed001-supervisor" => run_seed001_supervisor(subject, &mut report),
        other => {
            let seed = LB_SEEDS
                .iter()
                .find(|s| s.name == other)
                .unwrap_or_else(|| panic!("no scenario {other}"));
            run_lb_seed(seed, subject, &mut report, reference);
        }
    }));
    if let Err(panic) = result {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panic".to_owned());
        report.crashed = Some(msg);
    }
    report
}

fn ip(net: [u8; 3], host: u8) -> Ipv4Addr {
    Ipv4Addr::new(net[0], net[1], net[2], host)
}

fn node(name: &str, iface: &str, addr: Ipv4Addr) -> NodeSpec {
    NodeSpec {
        name: name.to_owned(),
        iface: iface.to_owned(),
        addr,
        hosts: Vec::new(),
    }
}

fn lab_dir(scenario: &str, subject: Subject) -> PathBuf {
    crate::target_dir()
        .join("compat/labs")
        .join(format!("{scenario}-{}", subject.name()))
}

fn fixture(dir: &str, file: &str, substitutions: &[(&str, &str)]) -> Vec<u8> {
    let path = crate::workspace_root()
        .join("fixtures/seeds")
        .join(dir)
        .join(file);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if substitutions.is_empty() {
        return bytes;
    }
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    for (from, to) in substitutions {
        text = text.replace(from, to);
    }
    text.into_bytes()
}

/// The lab helper program (`lab-agent`), built with this crate.
pub fn agent() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // Integration tests live in target/PROFILE/deps; the bin in target/PROFILE.
    let candidates = [
        exe.parent()
            .and_then(Path::parent)
            .map(|d| d.join("lab-agent")),
        exe.parent().map(|d| d.join("lab-agent")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("lab-agent not built (cargo build -p compat-tests)"))
}

/// Writes the web node's nginx config and starts nginx serving `NAME\n` on `port`, with an
/// access log that shows the request line and `X-Forwarded-For`.
fn start_nginx(lab: &mut Lab, web: &str, port: u16) {
    let dir = lab.dir().to_path_buf();
    let conf = dir.join(format!("{web}-nginx.conf"));
    let text = format!(
        "daemon off;\nmaster_process on;\nworker_processes 1;\nuser www-data;\n\
         pid /run/nginx.pid;\nerror_log {dir}/{web}-nginx-error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  log_format lab '$remote_addr \"$request\" $status xff=\"$http_x_forwarded_for\"';\n\
         \x20 access_log {dir}/{web}-access.log lab;\n\
         \x20 server {{\n    listen {port};\n    location / {{ default_type text/plain; return 200 \"{web}\\n\"; }}\n  }}\n}}\n",
        dir = dir.display()
    );
    std::fs::write(&conf, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", conf.display()));
    let conf_s = conf.display().to_string();
    let log = dir.join(format!("{web}-nginx.out"));
    lab.node_mut(web).spawn(
        "nginx",
        Path::new("/usr/sbin/nginx"),
        &["-c", &conf_s],
        &log,
    );
    wait_listening(lab, web, port);
}

/// A syslog receiver on the node's 127.0.0.1:514, where the seeds' `log 127.0.0.1 local0`
/// sends (rsyslog's place in the tutorials).
fn start_syslog(lab: &mut Lab, node: &str) {
    let out = lab.dir().join(format!("{node}-syslog.log"));
    let out_s = out.display().to_string();
    let log = lab.dir().join(format!("{node}-syslog.out"));
    let agent = agent();
    lab.node_mut(node).spawn(
        "syslog",
        &agent,
        &["syslog", "--udp", "127.0.0.1:514", "--out", &out_s],
        &log,
    );
    let ready = wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .map(|s| s.contains("listening"))
            .unwrap_or(false)
    });
    assert!(ready, "{node}: syslog receiver did not start");
}

fn start_pong(lab: &mut Lab, web: &str, port: u16) {
    let listen = format!("0.0.0.0:{port}");
    let log = lab.dir().join(format!("{web}-pong.log"));
    let agent = agent();
    lab.node_mut(web).spawn(
        "pong",
        &agent,
        &["pong", "--listen", &listen, "--name", web],
        &log,
    );
    wait_listening(lab, web, port);
}

fn wait_listening(lab: &Lab, node: &str, port: u16) {
    let n = lab.node(node);
    let up = wait_for(Duration::from_secs(10), || {
        n.sh(&format!("ss -Hltn 'sport = :{port}' | grep -q .")) == 0
    });
    assert!(up, "{node}: nothing listens on port {port} after 10 s");
}

/// Starts the keepalived side (and HAProxy unless `keepalived_only`) on `node` with `imp`.
/// `Err` carries the reason when ha-compat cannot run it yet.
fn start_daemons(
    lab: &mut Lab,
    node: &str,
    imp: Impl,
    keepalived_flags: &[&str],
    keepalived_only: bool,
) -> Result<(), String> {
    let dir = lab.dir().to_path_buf();
    let mut ka_args: Vec<&str> = vec!["-n", "-l", "-D"];
    ka_args.extend_from_slice(keepalived_flags);
    ka_args.extend_from_slice(&["-f", "/etc/keepalived/keepalived.conf"]);
    match imp {
        Impl::Reference => {
            let ka = crate::reference_keepalived();
            let log = dir.join(format!("{node}-keepalived.log"));
            lab.node_mut(node).spawn("keepalived", &ka, &ka_args, &log);
            if !keepalived_only {
                start_reference_haproxy(lab, node);
            }
            Ok(())
        }
        Impl::Ours => {
            // Ours under the daemons' names, as the tutorials run them (`killall -0 haproxy`
            // must see the proxy); one `ha-compat` command for both is the supervisor's.
            let ka = crate::ours_as("keepalived");
            let ka_log = dir.join(format!("{node}-keepalived.log"));
            lab.node_mut(node)
                .spawn("keepalived", &ka, &ka_args, &ka_log);
            if !keepalived_only {
                start_our_haproxy(lab, node);
            }
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut proxy_checked = keepalived_only;
            while Instant::now() < deadline {
                if !proxy_checked {
                    if let Some(code) = lab.node_mut(node).exited(OUR_HAPROXY) {
                        proxy_checked = true;
                        if code != ha_compat::EXIT_ENGINE_NOT_BUILT {
                            let out =
                                std::fs::read_to_string(dir.join(format!("{node}-haproxy.log")))
                                    .unwrap_or_default();
                            panic!("{node}: our haproxy exited with {code} at start: {out}");
                        }
                        // Our proxy engine refuses what it cannot run yet (HTTP mode):
                        // the reference haproxy runs beside our VRRP engine, so the VRRP
                        // side is still ours and judged.
                        start_reference_haproxy(lab, node);
                    }
                }
                // Our haproxy is up once it listens (it binds within milliseconds, or
                // refuses as fast). No fixed wait: it would start the next node, and every
                // later step, later than with the reference, shifting faults against the
                // VRRP and check schedules (a fixed 2 s once added ~1.6 s to seed 003's
                // measured outage).
                if !proxy_checked && lab.node(node).sh("ss -Hltnp | grep -q '\"haproxy\"'") == 0 {
                    proxy_checked = true;
                }
                // keepalived is up once an instance has entered its first state.
                let entered =
                    std::fs::read_to_string(&ka_log).is_ok_and(|out| out.contains(") Entering "));
                if entered && proxy_checked {
                    return Ok(());
                }
                if let Some(code) = lab.node_mut(node).exited("keepalived") {
                    let out = std::fs::read_to_string(&ka_log).unwrap_or_default();
                    let last = out.lines().last().unwrap_or("").to_owned();
                    if code == ha_compat::EXIT_ENGINE_NOT_BUILT {
                        return Err(format!("{node}: {last}"));
                    }
                    panic!("{node}: keepalived (ours) exited with {code} at start: {last}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
    }
}

/// The label our haproxy runs under in the lab (the process name is `haproxy`).
const OUR_HAPROXY: &str = "haproxy-ours";

/// Our proxy engine as `haproxy -db -f /etc/haproxy/haproxy.cfg`, its output in
/// `NODE-haproxy.log` like the reference's.
fn start_our_haproxy(lab: &mut Lab, node: &str) {
    let log = lab.dir().join(format!("{node}-haproxy.log"));
    lab.node_mut(node).spawn(
        OUR_HAPROXY,
        &crate::ours_as("haproxy"),
        &["-db", "-f", "/etc/haproxy/haproxy.cfg"],
        &log,
    );
}

/// Which haproxy each node runs: ours, or the reference beside our VRRP engine while our
/// proxy engine is missing (see `start_daemons`).
fn proxy_impls(lab: &Lab, lbs: &[&str; 2], imps: [Impl; 2]) -> [Impl; 2] {
    [0, 1].map(|i| {
        if imps[i] == Impl::Ours && lab.node(lbs[i]).has_spawned("haproxy") {
            Impl::Reference
        } else {
            imps[i]
        }
    })
}

fn start_reference_haproxy(lab: &mut Lab, node: &str) {
    let hap = crate::bins::reference_haproxy();
    let log = lab.dir().join(format!("{node}-haproxy.log"));
    lab.node_mut(node).spawn(
        "haproxy",
        &hap,
        &["-db", "-f", "/etc/haproxy/haproxy.cfg"],
        &log,
    );
}

/// Which of `nodes` hold `vip` now.
fn holders(lab: &Lab, nodes: &[&str], vip: Ipv4Addr) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| lab.node(n).holds(vip))
        .map(|n| (*n).to_owned())
        .collect()
}

/// Waits until exactly `want` holds `vip` (and no other of `nodes`); the elapsed time, or
/// the holders seen at the deadline.
fn wait_holder(
    lab: &Lab,
    nodes: &[&str],
    vip: Ipv4Addr,
    want: &str,
    limit: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    let held = wait_for(limit, || holders(lab, nodes, vip) == [want.to_owned()]);
    if held {
        Ok(start.elapsed())
    } else {
        Err(format!(
            "after {} s the VIP {vip} is on {:?}, not on {want} alone",
            limit.as_secs(),
            holders(lab, nodes, vip)
        ))
    }
}

/// The running client: its timeline file.
struct Client {
    timeline: PathBuf,
}

fn start_client(lab: &mut Lab, target: &str, mode: ClientMode) -> Client {
    let timeline = lab.dir().join("timeline.tsv");
    let log = lab.dir().join("client.log");
    let out = timeline.display().to_string();
    let agent = agent();
    lab.node_mut("client").spawn(
        "client",
        &agent,
        &[
            "client",
            "--target",
            target,
            "--mode",
            mode.arg(),
            "--out",
            &out,
            "--interval-ms",
            "10",
            "--timeout-ms",
            "1000",
        ],
        &log,
    );
    Client { timeline }
}

impl Client {
    fn records(&self) -> Vec<Record> {
        timeline::read(&self.timeline)
            .unwrap_or_else(|e| panic!("timeline {}: {e}", self.timeline.display()))
    }

    /// Waits until a request that started after `after_us` succeeded, at most `limit`.
    fn wait_success_after(&self, after_us: u64, limit: Duration) -> bool {
        wait_for(limit, || {
            self.records()
                .iter()
                .any(|r| r.start_us > after_us && r.outcome.is_ok())
        })
    }
}

/// Requests that started in `[from, to)`.
fn window(records: &[Record], from_us: u64, to_us: u64) -> Vec<&Record> {
    records
        .iter()
        .filter(|r| r.start_us >= from_us && r.start_us < to_us)
        .collect()
}

/// `Ok` when every request in the window succeeded and the answers came from exactly
/// `backends`, alternating (no backend twice in a row more than twice, which allows one
/// reordering of requests that overlapped).
fn served_by(records: &[&Record], backends: &[&str], alternate: bool) -> Result<(), String> {
    if records.len() < 20 {
        return Err(format!("only {} requests in the window", records.len()));
    }
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut run = 0usize;
    let mut longest = 0usize;
    let mut last: Option<&str> = None;
    for r in records {
        *outcomes.entry(r.outcome.to_string()).or_default() += 1;
        if let Some(b) = r.backend.as_deref() {
            *seen.entry(b.to_owned()).or_default() += 1;
            run = if last == Some(b) { run + 1 } else { 1 };
            longest = longest.max(run);
            last = Some(b);
        }
    }
    let ok = outcomes.get("ok").copied().unwrap_or(0);
    if ok != records.len() {
        return Err(format!("outcomes {outcomes:?}"));
    }
    let names: Vec<&str> = seen.keys().map(String::as_str).collect();
    if names != backends {
        return Err(format!("answered by {seen:?}, expected {backends:?}"));
    }
    if alternate && longest > 2 {
        return Err(format!(
            "answers do not alternate: {seen:?}, longest run of one backend {longest}"
        ));
    }
    Ok(())
}

fn outcome_counts(records: &[&Record]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        *m.entry(r.outcome.to_string()).or_default() += 1;
    }
    m
}

/// Measures the outage that followed a fault at `fault_us` and records it.
fn measure_outage(report: &mut Report, client: &Client, what: &str, fault_us: u64) -> Option<u64> {
    measure(report, client, what, fault_us, false)
}

/// For a recovery event (a node taking the VIP back), the interruption it causes begins
/// at the switch, seconds after the event: measured from the first failed request.
fn measure_interruption(
    report: &mut Report,
    client: &Client,
    what: &str,
    event_us: u64,
) -> Option<u64> {
    measure(report, client, what, event_us, true)
}

fn measure(
    report: &mut Report,
    client: &Client,
    what: &str,
    fault_us: u64,
    from_first_failure: bool,
) -> Option<u64> {
    let records = client.records();
    match timeline::outage_after(&records, fault_us) {
        None => {
            report.measure(
                &format!("outage: {what}"),
                "no failed request".to_owned(),
                Some(0),
            );
            Some(0)
        }
        Some(o) => {
            let ms = if from_first_failure {
                o.recovered_us
                    .map(|rec| rec.saturating_sub(o.first_failure_us).div_ceil(1000))
            } else {
                o.duration_ms
            };
            let value = if from_first_failure {
                format!(
                    "interruption {} ({o})",
                    ms.map_or("unbounded".to_owned(), |m| format!("{m} ms"))
                )
            } else {
                o.to_string()
            };
            report.measure(&format!("outage: {what}"), value, ms);
            ms
        }
    }
}

/// How long after one of the master's adverts a node-loss fault is injected.
///
/// The backup takes over `3 x advert_int + skew` after the *last advert it received*, so
/// the client-side outage of a fault is that minus the time between that advert and the
/// fault: anywhere in the last interval if the fault is not aligned. Which phase an
/// unaligned fault hits depends on what the lab did before (seed 000's reference keeps the
/// VIP on lb1 through step 8 while ha-compat preempts it back, and the lab then injects the
/// fault ~40 ms after the new master's first advert: 6.56 s against the reference's 4.8 s).
/// A fixed phase makes the outage comparable between subjects and runs.
const FAULT_PHASE: Duration = Duration::from_millis(100);

/// A node-loss fault, as injected.
struct NodeLoss {
    /// When the fault was injected (µs since the epoch, the clock of the capture).
    fault_us: u64,
    /// The advert of the lost node the fault was timed after (µs), if one was seen in time.
    after_advert_us: Option<u64>,
}

/// The adverts in a capture tcpdump is still writing.
fn adverts_so_far(pcap: &Path) -> Vec<Advert> {
    let bytes = std::fs::read(pcap).unwrap_or_default();
    adverts::read_pcap_so_far(&bytes).unwrap_or_else(|e| panic!("{}: {e}", pcap.display()))
}

/// Loses `node` (every process SIGKILLed, cable cut) [`FAULT_PHASE`] after one of its
/// adverts as the capture `pcap` sees it. An advert seen too late to keep the phase (a
/// loaded machine) is skipped for the next; if none is seen within three intervals the
/// fault is injected unaligned (the takeover check measures from the wire either way).
fn lose_node(lab: &mut Lab, pcap: &Path, node: &str, advert_int: u8) -> NodeLoss {
    let src = std::net::IpAddr::V4(lab.node(node).addr());
    let phase_us = u64::try_from(FAULT_PHASE.as_micros()).unwrap_or(u64::MAX);
    let deadline = Instant::now() + Duration::from_secs(u64::from(advert_int) * 3);
    let mut after_advert_us = None;
    let mut skipped = 0u64;
    while Instant::now() < deadline {
        let last = adverts_so_far(pcap)
            .iter()
            .rev()
            .find(|a| a.src == src && a.timestamp_us > skipped)
            .map(|a| a.timestamp_us);
        if let Some(ts) = last {
            let now = now_us();
            if now < ts + phase_us {
                std::thread::sleep(Duration::from_micros(ts + phase_us - now));
                after_advert_us = Some(ts);
                break;
            }
            skipped = ts;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let fault_us = now_us();
    lab.node_mut(node).kill_all();
    lab.unplug(node);
    NodeLoss {
        fault_us,
        after_advert_us,
    }
}

/// The VRRPv2 master-down interval of a backup with (effective) priority `priority`, µs:
/// `3 x advert_int + (256 - priority) / 256 s` (RFC 3768 §6.1; keepalived 2.2.7's
/// `VRRP_MS_DOWN_TIMER` with `VRRP_TIMER_SKEW` on the effective priority, in whole µs).
fn master_down_us(advert_int: u8, priority: u16) -> u64 {
    3 * u64::from(advert_int) * 1_000_000 + (256 - u64::from(priority.min(255))) * 1_000_000 / 256
}

/// The takeover after a node loss as the wire shows it: from the lost master's last
/// advert to the new master's first, checked against the master-down interval of the new
/// master's priority (±100 ms) and, for the other subjects, against the reference's delay
/// in the same run (±10%). Independent of when the lab injected the fault.
#[allow(clippy::too_many_arguments)]
fn check_takeover(
    report: &mut Report,
    reference: &mut ReferenceRecord,
    (pcap, arp_pcap): (&Path, &Path),
    what: &str,
    (lost, new, vip): (Ipv4Addr, Ipv4Addr, Ipv4Addr),
    loss: &NodeLoss,
    advert_int: u8,
    new_priority: u16,
) {
    let (lost_ip, new_ip) = (std::net::IpAddr::V4(lost), std::net::IpAddr::V4(new));
    let mut adverts = Vec::new();
    // The new master's first packets as master: its advert and its gratuitous ARPs for the
    // VIP, sent together. Either may be missing from the wire: a unicast advert to the
    // dead peer waits for the peer's ARP resolution when the neighbour entry has expired
    // (and is dropped when it fails), the broadcast GARPs do not; no GARP for the VIP can
    // come from the dead node. The VIP has moved when this runs: wait only for tcpdump.
    let first_new = |adverts: &[Advert]| {
        let advert = adverts
            .iter()
            .find(|a| a.src == new_ip && a.timestamp_us > loss.fault_us && a.priority > 0)
            .map(|a| a.timestamp_us);
        let bytes = std::fs::read(arp_pcap).unwrap_or_default();
        let garp = adverts::read_garps_so_far(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", arp_pcap.display()))
            .into_iter()
            .find(|g| g.addr == vip && g.timestamp_us > loss.fault_us)
            .map(|g| g.timestamp_us);
        advert.into_iter().chain(garp).min()
    };
    wait_for(Duration::from_secs(2), || {
        adverts = adverts_so_far(pcap);
        first_new(&adverts).is_some()
    });
    let expected = master_down_us(advert_int, new_priority);
    let name = format!(
        "{what}: {new} takes over {} ms after {lost}'s last advert (3 x {advert_int} s + skew of priority {new_priority}, ±100 ms)",
        expected / 1000
    );
    let Some(first) = first_new(&adverts) else {
        report.check(
            &name,
            &Expect::Holds,
            Err(format!(
                "no advert from {new} nor GARP for {vip} after the fault in the capture"
            )),
        );
        return;
    };
    let Some(last) = adverts
        .iter()
        .filter(|a| a.src == lost_ip && a.timestamp_us < first)
        .map(|a| a.timestamp_us)
        .next_back()
    else {
        report.check(
            &name,
            &Expect::Holds,
            Err(format!("no advert from {lost} before the takeover")),
        );
        return;
    };
    let delay = first - last;
    let phase = loss.fault_us.saturating_sub(last);
    report.measure(
        &format!("takeover: {what}"),
        format!(
            "{} ms from the last advert to the new master's first advert or GARP (formula {} ms); fault {} ms after the last advert{}",
            delay.div_ceil(1000),
            expected / 1000,
            phase / 1000,
            if loss.after_advert_us.is_some() {
                ""
            } else {
                " (no advert seen in time to align the fault)"
            }
        ),
        None,
    );
    report.check(
        &name,
        &Expect::Holds,
        if delay.abs_diff(expected) <= 100_000 {
            Ok(())
        } else {
            Err(format!("{} ms", delay / 1000))
        },
    );
    let key = format!("{}/{what}", report.scenario);
    if report.subject == Subject::Reference {
        reference.takeovers.insert(key, delay);
    } else if let Some(&theirs) = reference.takeovers.get(&key) {
        report.check(
            &format!("{what}: takeover delay within 10% of the reference's in this run"),
            &Expect::Holds,
            if delay.abs_diff(theirs) * 10 <= theirs {
                Ok(())
            } else {
                Err(format!(
                    "{} ms, reference {} ms",
                    delay / 1000,
                    theirs / 1000
                ))
            },
        );
    }
}

/// One request from the client node; the raw response (empty when the connection failed).
fn request(lab: &Lab, target: &str, send: &str) -> Vec<u8> {
    let agent = agent();
    let agent_s = agent.display().to_string();
    let out = lab.node("client").exec(
        &agent_s,
        &[
            "request",
            "--target",
            target,
            "--send",
            send,
            "--timeout-ms",
            "3000",
        ],
    );
    out.stdout
}

fn head(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let first = text.lines().next().unwrap_or("").to_owned();
    if first.is_empty() {
        "(no response)".to_owned()
    } else {
        first
    }
}

fn has_header(bytes: &[u8], line: &str) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let headers = text.split("\r\n\r\n").next().unwrap_or("");
    headers.lines().any(|l| l.trim_end() == line)
}

fn log_has(lab: &Lab, file: &str, needle: &str) -> Result<(), String> {
    let path = lab.dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    if text.contains(needle) {
        Ok(())
    } else {
        Err(format!("{file} has no line with '{needle}'"))
    }
}

/// The log file a node's keepalived side writes to, by implementation.
fn keepalived_log(lab: &Lab, node: &str, imp: Impl, keepalived_only: bool) -> String {
    match (imp, keepalived_only) {
        // ha-compat ran as `keepalived` (proxy engine missing): see `start_daemons`.
        (Impl::Ours, false) if lab.node(node).has_spawned("keepalived") => {
            format!("{node}-keepalived.log")
        }
        (Impl::Ours, false) => format!("{node}-ha-compat.log"),
        _ => format!("{node}-keepalived.log"),
    }
}

fn decode_adverts(path: &Path) -> Vec<Advert> {
    let bytes = std::fs::read(path).unwrap_or_default();
    adverts::read_pcap(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Field-by-field checks of the adverts `from` sent while it was master with priority
/// `priority`, written to `adverts.txt`; one of them is kept for comparing subjects.
#[allow(clippy::too_many_arguments)]
fn check_adverts(
    lab: &Lab,
    report: &mut Report,
    reference: &mut ReferenceRecord,
    pcap: &Path,
    from: Ipv4Addr,
    want: &AdvertWant,
) {
    let all = decode_adverts(pcap);
    let listing: String = all.iter().map(|a| a.describe() + "\n").collect();
    let _ = std::fs::write(lab.dir().join("adverts.txt"), listing);
    let mine: Vec<&Advert> = all
        .iter()
        .filter(|a| a.src == std::net::IpAddr::V4(from) && a.priority == want.priority)
        .collect();
    let name = format!(
        "adverts from {from}: VRRPv2, vrid {}, priority {}, {}, interval {} s, TTL 255, valid checksum, VIP {}",
        want.vrid, want.priority, want.auth_text(), want.interval_s, want.vip
    );
    let Some(first) = mine.first() else {
        report.check(
            &name,
            &Expect::Holds,
            Err(format!(
                "no advert from {from} with priority {} among {} captured",
                want.priority,
                all.len()
            )),
        );
        return;
    };
    let mut problems = Vec::new();
    for a in &mine {
        problems.extend(want.mismatches(a));
    }
    problems.sort();
    problems.dedup();
    report.check(
        &name,
        &Expect::Holds,
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        },
    );
    let intervals = adverts::intervals_ms(&mine);
    if !intervals.is_empty() {
        let mut sorted = intervals.clone();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        report.measure(
            "advert interval (median)",
            format!("{median} ms over {} adverts", mine.len()),
            None,
        );
        let want_ms = u64::from(want.interval_s) * 1000;
        report.check(
            &format!("adverts are sent every {} s", want.interval_s),
            &Expect::Holds,
            if median.abs_diff(want_ms) <= want_ms / 10 {
                Ok(())
            } else {
                Err(format!("median interval {median} ms"))
            },
        );
    }
    let key = report.scenario.clone();
    if report.subject == Subject::Reference {
        reference.adverts.insert(key, (*first).clone());
    } else if let Some(theirs) = reference.adverts.get(&key) {
        // The priority each subject must advertise was checked above against what the
        // seed implies for that subject (seed 000: we track the curly-quoted script that
        // keepalived disables, so our priority includes its weight); compare the rest.
        // The destination too: a unicast master sends to its peer, and in a mixed pair the
        // master may be the other node (checked above against the wanted destination).
        let mut ours = (*first).clone();
        ours.priority = theirs.priority;
        ours.dst = theirs.dst;
        let diffs = adverts::diff(theirs, &ours);
        report.check(
            "adverts are the reference's, field by field",
            &Expect::Holds,
            if diffs.is_empty() {
                Ok(())
            } else {
                Err(diffs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "))
            },
        );
    }
}

/// What the master's adverts must carry.
#[derive(Debug)]
struct AdvertWant {
    vrid: u8,
    priority: u8,
    interval_s: u8,
    /// `None`: no authentication; `Some("AH")`: IPsec AH; else the PASS data.
    auth: Option<&'static str>,
    dst: Ipv4Addr,
    vip: Ipv4Addr,
}

impl AdvertWant {
    fn auth_text(&self) -> String {
        match self.auth {
            None => "no auth".to_owned(),
            Some("AH") => "AH".to_owned(),
            Some(p) => format!("PASS {p:?}"),
        }
    }

    fn mismatches(&self, a: &Advert) -> Vec<String> {
        let mut m = Vec::new();
        if a.version != 2 {
            m.push(format!("version {}", a.version));
        }
        if a.vrid != self.vrid {
            m.push(format!("vrid {}", a.vrid));
        }
        if a.ttl != 255 {
            m.push(format!("TTL {}", a.ttl));
        }
        if !a.checksum_valid {
            m.push("invalid checksum".to_owned());
        }
        if a.interval_centis() != u32::from(self.interval_s) * 100 {
            m.push(format!("interval {} cs", a.interval_centis()));
        }
        if a.dst != std::net::IpAddr::V4(self.dst) {
            m.push(format!("sent to {}", a.dst));
        }
        if a.addresses != [std::net::IpAddr::V4(self.vip)] {
            m.push(format!("addresses {:?}", a.addresses));
        }
        match self.auth {
            None => {
                if a.ip_protocol != 112 || a.auth_type != Some(0) {
                    m.push(format!("protocol {} auth {:?}", a.ip_protocol, a.auth_type));
                }
            }
            Some("AH") => {
                if a.ip_protocol != 51 {
                    m.push(format!("protocol {} (AH is 51)", a.ip_protocol));
                }
            }
            Some(pass) => {
                let mut want = [0u8; 8];
                for (w, b) in want.iter_mut().zip(pass.bytes()) {
                    *w = b;
                }
                if a.auth_type != Some(1) || a.auth_data != Some(want) {
                    m.push(format!("auth {:?} {:?}", a.auth_type, a.auth_data));
                }
            }
        }
        m
    }
}

/// Seeds 000, 001, 004.
pub fn run_lb_seed(
    seed: &LbSeed,
    subject: Subject,
    report: &mut Report,
    reference: &mut ReferenceRecord,
) {
    let [h_lb1, h_lb2, h_web1, h_web2, h_client, h_vip] = seed.hosts;
    let vip = ip(seed.net, h_vip);
    let spec = LabSpec {
        name: seed.name.to_owned(),
        prefix_len: 24,
        nodes: vec![
            node("lb1", seed.iface, ip(seed.net, h_lb1)),
            node("lb2", seed.iface, ip(seed.net, h_lb2)),
            node("web1", seed.iface, ip(seed.net, h_web1)),
            node("web2", seed.iface, ip(seed.net, h_web2)),
            node("client", seed.iface, ip(seed.net, h_client)),
        ],
    };
    let mut lab = Lab::start(spec, &lab_dir(seed.name, subject));
    let lbs = ["lb1", "lb2"];
    for (i, lb) in lbs.iter().enumerate() {
        let n = lab.node(lb);
        n.write_etc(
            "keepalived",
            "keepalived.conf",
            &fixture(seed.fixtures, seed.keepalived[i], seed.substitutions),
        );
        n.write_etc(
            "haproxy",
            "haproxy.cfg",
            &fixture(seed.fixtures, "haproxy.cfg", seed.substitutions),
        );
        copy_error_pages(n);
    }
    let start_web = |lab: &mut Lab, web: &str| match seed.mode {
        ClientMode::Http => start_nginx(lab, web, seed.web_port),
        ClientMode::Ping => start_pong(lab, web, seed.web_port),
    };
    let web_process = match seed.mode {
        ClientMode::Http => "nginx",
        ClientMode::Ping => "lab-agent",
    };
    start_web(&mut lab, "web1");
    start_web(&mut lab, "web2");
    let pcap = lab.capture("ip proto 112 or ip proto 51", "vrrp.pcap");
    let arp_pcap = lab.capture("arp", "arp.pcap");
    if seed.syslog_contains.is_some() {
        for lb in lbs {
            start_syslog(&mut lab, lb);
        }
    }

    let imps = [subject.on_node(0), subject.on_node(1)];
    for (i, lb) in lbs.iter().enumerate() {
        if let Err(why) = start_daemons(&mut lab, lb, imps[i], seed.keepalived_flags, false) {
            report.not_implemented = Some(why);
            return;
        }
    }
    let proxy_imps = proxy_impls(&lab, &lbs, imps);

    // 1. The master holds the VIP, the backup does not.
    let converge = Duration::from_secs(u64::from(seed.advert_int) * 4 + 6);
    // Which node must win: the higher priority once trackers are counted. A mixed pair
    // can differ from the tutorial here (seed 000: our engine tracks the curly-quoted
    // script the reference keepalived disables, so ours on lb2 reaches 102 > 101).
    let effective = |i: usize| {
        let untracked = (imps[i] == Impl::Reference && seed.untracked.is_some())
            || (proxy_imps[i] == Impl::Reference && seed.refused.is_some());
        u16::from(seed.priorities[i]) + if untracked { 0 } else { u16::from(seed.weight) }
    };
    let first = usize::from(effective(1) > effective(0));
    let race = match seed.master_race {
        Some(why) => Some(why),
        None if effective(0) == effective(1) => Some("equal effective priorities"),
        None => None,
    };
    let master_index = match race {
        None => {
            let took = wait_holder(&lab, &lbs, vip, lbs[first], converge);
            if let Ok(t) = &took {
                report.measure(
                    "start -> VIP on the master",
                    format!("{} ms", t.as_millis()),
                    None,
                );
            }
            report.check(
                &format!(
                    "{} holds {vip}/32 on {} and {} does not",
                    lbs[first],
                    seed.iface,
                    lbs[1 - first]
                ),
                &Expect::Holds,
                took.map(|_| ()),
            );
            first
        }
        Some(why) => {
            // Settle first: both may be master for an instant.
            std::thread::sleep(Duration::from_secs(u64::from(seed.advert_int) * 3));
            let one = wait_for(converge, || holders(&lab, &lbs, vip).len() == 1);
            let now = holders(&lab, &lbs, vip);
            report.check(
                &format!("exactly one of lb1/lb2 holds {vip}/32 on {}", seed.iface),
                &Expect::Holds,
                if one {
                    Ok(())
                } else {
                    Err(format!("VIP on {now:?}"))
                },
            );
            report.measure("node that won the start", format!("{now:?} ({why})"), None);
            usize::from(now.first().map(String::as_str) == Some("lb2"))
        }
    };
    let master = lbs[master_index];
    let backup = lbs[1 - master_index];
    let holder = holders(&lab, &lbs, vip)
        .first()
        .cloned()
        .unwrap_or_else(|| master.to_owned());
    for (i, lb) in lbs.iter().enumerate() {
        let file = keepalived_log(&lab, lb, imps[i], false);
        let want = if *lb == holder {
            "Entering MASTER STATE"
        } else {
            "Entering BACKUP STATE"
        };
        report.check(
            &format!("{lb}'s log says ({}) {want}", seed.instances[i]),
            &Expect::Holds,
            log_has(&lab, &file, &format!("({}) {want}", seed.instances[i])),
        );
    }

    // The service checks hold where the node holding the VIP runs a haproxy that accepted
    // the config.
    let service = |imp: Impl| match (imp, seed.refused) {
        (Impl::Reference, Some(why)) => Expect::Fails(why.to_owned()),
        _ => Expect::Holds,
    };
    // The service depends on which haproxy runs there.
    let imp_of = |node: &str| proxy_imps[usize::from(node == "lb2")];
    let serving = service(imp_of(&holder));

    // 2. Requests to the VIP alternate between the webs.
    let target = format!("{vip}:{}", seed.port);
    let client = start_client(&mut lab, &target, seed.mode);
    let t0 = now_us();
    std::thread::sleep(Duration::from_secs(3));
    let records = client.records();
    report.check(
        "requests to the VIP alternate between web1 and web2",
        &serving,
        served_by(
            &window(&records, t0 + 500_000, t0 + 3_000_000),
            &["web1", "web2"],
            true,
        ),
    );

    if seed.httpchk_forwardfor {
        let lb_addrs = [lab.node("lb1").addr(), lab.node("lb2").addr()];
        let client_addr = lab.node("client").addr();
        let log = std::fs::read_to_string(lab.dir().join("web1-access.log")).unwrap_or_default();
        let checks_from_both = lb_addrs.iter().all(|a| {
            log.lines()
                .any(|l| l.starts_with(&format!("{a} \"OPTIONS / HTTP/1.0\" 200")))
        });
        report.check(
            "option httpchk: web1 sees `OPTIONS / HTTP/1.0` health checks from both LBs",
            &serving,
            if checks_from_both {
                Ok(())
            } else {
                Err("no OPTIONS checks from both LBs in web1-access.log".to_owned())
            },
        );
        let xff = format!("\"GET / HTTP/1.1\" 200 xff=\"{client_addr}\"");
        report.check(
            &format!("option forwardfor: web1 sees X-Forwarded-For: {client_addr}"),
            &serving,
            if log.lines().any(|l| l.ends_with(&xff)) {
                Ok(())
            } else {
                Err(format!("no line ending with {xff}"))
            },
        );
    }
    if let Some(needle) = seed.syslog_contains {
        let file = format!("{holder}-syslog.log");
        let text = std::fs::read_to_string(lab.dir().join(&file)).unwrap_or_default();
        let client_addr = lab.node("client").addr().to_string();
        let found = text
            .lines()
            .find(|l| l.contains("haproxy[") && l.contains(needle) && l.contains(&client_addr));
        if let Some(line) = found {
            report.measure("a traffic log line", line.to_owned(), None);
            // Field for field against the reference's, but for the dates, the pid, the
            // client port and the timers. The most common form among the first 20 lines,
            // not the first line: a CPU stall on the 2-core machine can make the first few
            // sessions overlap (`3/3/2/1/0` instead of `1/1/0/0/0`) for either daemon.
            if proxy_imps[usize::from(holder == "lb2")] == Impl::Ours
                || subject == Subject::Reference
            {
                let mut forms = BTreeMap::<String, usize>::new();
                for l in text
                    .lines()
                    .filter(|l| {
                        l.contains("haproxy[") && l.contains(needle) && l.contains(&client_addr)
                    })
                    .take(20)
                {
                    *forms.entry(masked_traffic_line(l)).or_default() += 1;
                }
                let most = forms.values().copied().max().unwrap_or(0);
                let common = forms
                    .into_iter()
                    .find(|(_, n)| *n == most)
                    .map(|(form, _)| form)
                    .unwrap_or_default();
                compare_with_reference(
                    report,
                    reference,
                    "the usual traffic log line (dates, pid, port, timers masked)",
                    common.into_bytes(),
                );
            }
        }
        report.check(
            &format!("{holder}'s haproxy logs each request to 127.0.0.1:514 ('{}', client {client_addr})", needle.trim()),
            &serving,
            if found.is_some() { Ok(()) } else { Err(format!("{file} has no such line")) },
        );
    }

    // 3. The stats page.
    if let Some(stats) = seed.stats {
        let stats_target = format!("{vip}:{}", stats.port);
        let plain = format!(
            "GET {} HTTP/1.1\\r\\nHost: {vip}\\r\\nConnection: close\\r\\n\\r\\n",
            stats.uri
        );
        let raw = request(&lab, &stats_target, &plain);
        match stats.auth {
            Some(auth) => {
                report.check(
                    "stats page without credentials: 401 with www-authenticate: Basic realm=\"HAProxy Statistics\"",
                    &serving,
                    if head(&raw).starts_with("HTTP/1.1 401")
                        && has_header(&raw, "www-authenticate: Basic realm=\"HAProxy Statistics\"")
                    {
                        Ok(())
                    } else {
                        Err(head(&raw))
                    },
                );
                let authed = format!(
                    "GET {} HTTP/1.1\\r\\nHost: {vip}\\r\\nAuthorization: Basic {}\\r\\nConnection: close\\r\\n\\r\\n",
                    stats.uri,
                    base64(auth.as_bytes())
                );
                let raw = request(&lab, &stats_target, &authed);
                let _ = std::fs::write(lab.dir().join("stats-page.http"), &raw);
                report.check(
                    &format!("stats page with {auth}: 200 and the Statistics Report"),
                    &serving,
                    stats_ok(&raw),
                );
            }
            None => {
                let _ = std::fs::write(lab.dir().join("stats-page.http"), &raw);
                report.check(
                    "stats page without credentials: 200 and the Statistics Report",
                    &serving,
                    stats_ok(&raw),
                );
            }
        }
    }

    // 4. One web down: all requests go to the other.
    let t_web1 = now_us();
    lab.node("web1").signal("KILL", web_process);
    std::thread::sleep(seed.check_down);
    let t_check = now_us();
    std::thread::sleep(Duration::from_secs(2));
    let records = client.records();
    report.check(
        "web1 down: every request is answered by web2",
        &serving,
        served_by(
            &window(&records, t_check, t_check + 2_000_000),
            &["web2"],
            false,
        ),
    );
    let during = window(&records, t_web1, t_check);
    report.measure(
        "web1 down: requests until HAProxy stopped using it",
        format!("{:?}", outcome_counts(&during)),
        None,
    );

    // 5. Both down.
    lab.node("web2").signal("KILL", web_process);
    std::thread::sleep(seed.check_down);
    let t_both = now_us();
    std::thread::sleep(Duration::from_secs(1));
    let records = client.records();
    let both = window(&records, t_both, t_both + 1_000_000);
    match seed.both_down {
        BothDown::Http503 => {
            let raw = request(
                &lab,
                &target,
                &format!("GET / HTTP/1.1\\r\\nHost: {vip}\\r\\nConnection: close\\r\\n\\r\\n"),
            );
            let _ = std::fs::write(lab.dir().join("both-down.http"), &raw);
            let text = String::from_utf8_lossy(&raw);
            report.check(
                "both webs down: HAProxy's 503 page (No server is available to handle this request.)",
                &serving,
                if head(&raw) == "HTTP/1.1 503 Service Unavailable"
                    && text.contains("No server is available to handle this request.")
                    && outcome_counts(&both).keys().all(|k| k == "http-503")
                {
                    Ok(())
                } else {
                    Err(format!("{} / timeline {:?}", head(&raw), outcome_counts(&both)))
                },
            );
            compare_with_reference(report, reference, "503 page", raw);
        }
        BothDown::Closed => {
            let counts = outcome_counts(&both);
            report.check(
                "both servers down: the connection is closed without an answer",
                &serving,
                if !counts.is_empty() && counts.keys().all(|k| k == "closed" || k == "reset") {
                    Ok(())
                } else {
                    Err(format!("{counts:?}"))
                },
            );
        }
    }

    // 6. Restored.
    start_web(&mut lab, "web1");
    start_web(&mut lab, "web2");
    std::thread::sleep(seed.check_up);
    let t_up = now_us();
    std::thread::sleep(Duration::from_secs(2));
    let records = client.records();
    report.check(
        "webs restored: requests alternate again",
        &serving,
        served_by(
            &window(&records, t_up, t_up + 2_000_000),
            &["web1", "web2"],
            true,
        ),
    );

    // The server state lines each node's haproxy logged for steps 4-6 (web1 down, both
    // down, both back), pid masked, against the reference's for the same node. Only where
    // our proxy ran: a reference haproxy beside our VRRP engine proves nothing here; and
    // only where the reference haproxy runs the seed at all (seed 004's file it refuses).
    for (i, lb) in lbs.iter().enumerate() {
        if seed.refused.is_none() && (proxy_imps[i] == Impl::Ours || subject == Subject::Reference)
        {
            let text = std::fs::read_to_string(lab.dir().join(format!("{lb}-haproxy.log")))
                .unwrap_or_default();
            compare_with_reference(
                report,
                reference,
                &format!("{lb}'s server state lines"),
                server_state_lines(&text).into_bytes(),
            );
        }
    }

    // 7. haproxy killed on the master: the VIP moves and service resumes.
    let holder = holders(&lab, &lbs, vip)
        .first()
        .cloned()
        .unwrap_or_else(|| master.to_owned());
    let other = if holder == "lb1" { "lb2" } else { "lb1" };
    let holder_imp = imps[usize::from(holder == "lb2")];
    let holder_proxy = proxy_imps[usize::from(holder == "lb2")];
    // A refused haproxy.cfg is the haproxy's doing; an untracked script the keepalived's.
    let other_proxy = proxy_imps[usize::from(other == "lb2")];
    let tracked = match (holder_imp, holder_proxy, seed.refused, seed.untracked) {
        (_, Impl::Reference, Some(why), _) | (Impl::Reference, _, None, Some(why)) => {
            Expect::Fails(why.to_owned())
        }
        // Our haproxy runs the seed on the holder, the reference refuses it on the other
        // node (a mixed pair on seed 004): the other node's tracker never succeeded, so
        // its priority is no higher than the holder's after the kill, and it has no
        // haproxy to serve with anyway.
        _ if other_proxy == Impl::Reference && seed.refused.is_some() => Expect::Fails(format!(
            "{} on {other}, so there is nothing to fail over to",
            seed.refused.unwrap_or_default()
        )),
        _ => Expect::Holds,
    };
    let t_kill = now_us();
    lab.node(&holder).signal("KILL", "haproxy");
    let failover = Duration::from_secs(2 + u64::from(seed.advert_int) * 4 + 4);
    let moved = wait_holder(&lab, &lbs, vip, other, failover);
    let vip_moved = moved.is_ok();
    report.check(
        &format!("haproxy killed on {holder}: the VIP moves to {other}"),
        &tracked,
        moved.map(|_| ()),
    );
    let resumed = client.wait_success_after(t_kill + 100_000, Duration::from_secs(3));
    report.check(
        "haproxy killed on the master: service resumes",
        &tracked,
        if resumed {
            Ok(())
        } else {
            Err("no successful request since".to_owned())
        },
    );
    measure_outage(report, &client, "haproxy killed on the master", t_kill);

    // 8. haproxy back on the old master: it takes the VIP back if its priority is higher
    // (preemption), else the VIP stays where it is.
    let t_back = now_us();
    // The reference haproxy also runs beside our VRRP engine where our proxy engine
    // refused the configuration (see `start_daemons`).
    if holder_proxy == Impl::Reference {
        start_reference_haproxy(&mut lab, &holder);
    } else {
        start_our_haproxy(&mut lab, &holder);
    }
    // Running means still running a moment later: a haproxy that refuses its config is
    // visible for a few milliseconds while it parses.
    let back_running = wait_for(Duration::from_secs(5), || {
        lab.node(&holder).running("haproxy")
    }) && {
        std::thread::sleep(Duration::from_millis(1500));
        lab.node(&holder).running("haproxy")
    };
    report.check(
        &format!("haproxy runs again on {holder}"),
        &service(holder_proxy),
        if back_running {
            Ok(())
        } else {
            Err("no haproxy process".to_owned())
        },
    );
    let expected_after = if !vip_moved || seed.preempt_back {
        holder.clone()
    } else {
        other.to_owned()
    };
    std::thread::sleep(Duration::from_secs(2));
    let settled = wait_holder(&lab, &lbs, vip, &expected_after, failover);
    report.check(
        &format!(
            "haproxy back on {holder}: the VIP {} {expected_after}",
            if expected_after == holder {
                "is on"
            } else {
                "stays on"
            }
        ),
        &Expect::Holds,
        settled.map(|_| ()),
    );
    let resumed = client.wait_success_after(now_us(), Duration::from_secs(3));
    report.check(
        "haproxy back: service works",
        &service(imp_of(&expected_after)),
        if resumed {
            Ok(())
        } else {
            Err("no successful request".to_owned())
        },
    );
    measure_interruption(report, &client, "haproxy back on the old master", t_back);

    // 9. The master node is lost: the other takes over.
    let holder = holders(&lab, &lbs, vip)
        .first()
        .cloned()
        .unwrap_or_else(|| master.to_owned());
    let other = if holder == "lb1" { "lb2" } else { "lb1" };
    let loss = lose_node(&mut lab, &pcap, &holder, seed.advert_int);
    let t_lost = loss.fault_us;
    let took = wait_for(failover, || lab.node(other).holds(vip));
    report.check(
        &format!("{holder} lost (SIGKILL, cable cut): {other} takes the VIP"),
        &Expect::Holds,
        if took {
            Ok(())
        } else {
            Err(format!("{other} does not hold {vip}"))
        },
    );
    let resumed = client.wait_success_after(t_lost + 100_000, Duration::from_secs(3));
    report.check(
        "master node lost: service resumes",
        &service(imp_of(other)),
        if resumed {
            Ok(())
        } else {
            Err("no successful request since".to_owned())
        },
    );
    measure_outage(report, &client, "master node lost", t_lost);
    if took {
        let (lost_addr, new_addr) = (lab.node(&holder).addr(), lab.node(other).addr());
        check_takeover(
            report,
            reference,
            (&pcap, &arp_pcap),
            "master node lost",
            (lost_addr, new_addr, vip),
            &loss,
            seed.advert_int,
            effective(usize::from(other == "lb2")),
        );
    }
    report.check(
        &format!("{holder} lost: the dead node keeps the VIP on its interface (SIGKILL, nobody removes it)"),
        &Expect::Holds,
        if lab.node(&holder).holds(vip) { Ok(()) } else { Err("the VIP is gone from the dead node".to_owned()) },
    );

    // 10. The wire.
    lab.stop_captures();
    let master_addr = lab.node(master).addr();
    let want = AdvertWant {
        vrid: seed.vrid,
        priority: seed.priorities[master_index]
            + match (
                imps[master_index],
                proxy_imps[master_index],
                seed.untracked,
                seed.refused,
            ) {
                // No weight where the tracker is disabled (the reference keepalived) or
                // haproxy never runs (the reference haproxy refuses the seed).
                (Impl::Reference, _, Some(_), _) | (_, Impl::Reference, _, Some(_)) => 0,
                _ => seed.weight,
            },
        interval_s: seed.advert_int,
        auth: seed.auth_pass,
        dst: if seed.unicast {
            lab.node(backup).addr()
        } else {
            Ipv4Addr::new(224, 0, 0, 18)
        },
        vip,
    };
    check_adverts(&lab, report, reference, &pcap, master_addr, &want);
}

/// A syslog traffic line (`<134>Nov 22 09:03:25 haproxy[8]: 10.40.0.200:37068
/// [22/Nov/2026:09:03:25.847] fe be/srv 0/0/0 10 -- 1/1/0/0/0 0/0`, or its httplog form)
/// with what differs between runs masked: the dates, the pid, the client port and the
/// timers (the field after `be/srv`).
fn masked_traffic_line(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let masked = match i {
            0 => w
                .split_once('>')
                .map_or((*w).to_owned(), |(pri, _)| format!("{pri}>MMM")),
            1 => "DD".to_owned(),
            2 => "HH:MM:SS".to_owned(),
            3 => w
                .split_once('[')
                .map_or((*w).to_owned(), |(tag, _)| format!("{tag}[PID]:")),
            4 => w
                .rsplit_once(':')
                .map_or((*w).to_owned(), |(addr, _)| format!("{addr}:PORT")),
            5 => "[DATE]".to_owned(),
            8 => "TIMERS".to_owned(),
            _ => (*w).to_owned(),
        };
        out.push(masked);
    }
    out.join(" ")
}

/// The `Server be/srv is DOWN|UP ...` and `... has no server available!` lines of a
/// haproxy's stderr, in order, up to the first restart, with the pid, the check duration
/// and the sessions count masked.
fn server_state_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.contains("haproxy version is") && !out.is_empty() {
            break;
        }
        if !(line.contains(": Server ") || line.contains("has no server available")) {
            continue;
        }
        // `[WARNING]  (1234) : Server ...`
        let masked = match (line.find('('), line.find(") : ")) {
            (Some(a), Some(b)) if a < b => format!("{}(PID{}", &line[..a], &line[b..]),
            _ => line.to_owned(),
        };
        out.push_str(&mask_number_before(
            &mask_number_before(&masked, "ms. "),
            " sessions active",
        ));
        out.push('\n');
    }
    out
}

/// `text` with the number right before `marker` replaced by `N`. The check duration is a
/// timer, and `sessions active` (HAProxy's `cur_sess`: connections being made or
/// established) counts the clients' connect attempts in flight at that instant: the
/// reference logged 0 or 3 for the same lab step in two runs.
fn mask_number_before(text: &str, marker: &str) -> String {
    let Some(at) = text.find(marker) else {
        return text.to_owned();
    };
    let digits = text[..at]
        .bytes()
        .rev()
        .take_while(u8::is_ascii_digit)
        .count();
    format!("{}N{}", &text[..at - digits], &text[at..])
}

fn stats_ok(raw: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(raw);
    if head(raw).starts_with("HTTP/1.1 200") && text.contains("Statistics Report") {
        Ok(())
    } else {
        Err(head(raw))
    }
}

fn compare_with_reference(
    report: &mut Report,
    reference: &mut ReferenceRecord,
    what: &str,
    raw: Vec<u8>,
) {
    let key = format!("{}/{what}", report.scenario);
    if report.subject == Subject::Reference {
        reference.responses.insert(key, raw);
    } else if let Some(theirs) = reference.responses.get(&key) {
        report.check(
            &format!("{what} is byte-identical to the reference's"),
            &Expect::Holds,
            if *theirs == raw {
                Ok(())
            } else {
                // The first line that differs, which for a page is usually the status line.
                let (a, b) = (
                    String::from_utf8_lossy(theirs),
                    String::from_utf8_lossy(&raw),
                );
                let differ = a
                    .lines()
                    .map(Some)
                    .chain(std::iter::repeat(None))
                    .zip(b.lines().map(Some).chain(std::iter::repeat(None)))
                    .take(a.lines().count().max(b.lines().count()))
                    .find(|(x, y)| x != y);
                match differ {
                    Some((x, y)) => Err(format!("reference {x:?}, ours {y:?}")),
                    None => Err(format!(
                        "reference {:?}, ours {:?}",
                        head(theirs),
                        head(&raw)
                    )),
                }
            },
        );
    }
}

fn copy_error_pages(n: &crate::lab::Node) {
    let dir = Path::new("/etc/haproxy/errors");
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the haproxy package installs it)", dir.display()));
    for e in entries.flatten() {
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        n.write_etc(
            "haproxy",
            &format!("errors/{}", e.file_name().to_string_lossy()),
            &bytes,
        );
    }
}

/// Standard base64 (for `Authorization: Basic`).
pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Seed 002: `listen NAME VIP:7001` with 1.4-era timeouts; one WebLogic server by DNS name.
pub fn run_seed002(subject: Subject, report: &mut Report, reference: &mut ReferenceRecord) {
    let net = [192, 168, 0];
    let server = ip(net, 11);
    let vip = ip(net, 100);
    let mut lb1 = node("lb1", "eth0", ip(net, 1));
    let mut lb2 = node("lb2", "eth0", ip(net, 2));
    // The tutorial's server is a DNS name; the lab's hosts file gives it an address.
    for n in [&mut lb1, &mut lb2] {
        n.hosts
            .push((server, "blogadminvhn.nostratech.com".to_owned()));
    }
    let spec = LabSpec {
        name: "seed002".into(),
        prefix_len: 24,
        nodes: vec![
            lb1,
            lb2,
            node("web1", "eth0", server),
            node("client", "eth0", ip(net, 200)),
        ],
    };
    let mut lab = Lab::start(spec, &lab_dir("seed002", subject));
    let lbs = ["lb1", "lb2"];
    for (i, file) in ["keepalived-master.conf", "keepalived-backup.conf"]
        .iter()
        .enumerate()
    {
        let n = lab.node(lbs[i]);
        n.write_etc("keepalived", "keepalived.conf", &fixture("002", file, &[]));
        n.write_etc(
            "haproxy",
            "haproxy.cfg",
            &fixture("002", "haproxy.cfg", &[]),
        );
    }
    start_nginx(&mut lab, "web1", 7001);
    let pcap = lab.capture("ip proto 112 or ip proto 51", "vrrp.pcap");
    let arp_pcap = lab.capture("arp", "arp.pcap");
    let imps = [subject.on_node(0), subject.on_node(1)];
    for (i, lb) in lbs.iter().enumerate() {
        if let Err(why) = start_daemons(&mut lab, lb, imps[i], &[], false) {
            report.not_implemented = Some(why);
            return;
        }
    }
    let imps = proxy_impls(&lab, &lbs, imps);
    let refuses = |imp: Impl| match imp {
        Impl::Reference => Expect::Fails(
            "HAProxy 2.6 refuses the 1.4-era config: the address on the `listen` line \
             ('please use the bind keyword') and contimeout/clitimeout/srvtimeout (removed in 2.1)"
                .to_owned(),
        ),
        Impl::Ours => Expect::Holds,
    };
    std::thread::sleep(Duration::from_secs(2));
    let hap_exit = match imps[0] {
        Impl::Reference => lab.node_mut("lb1").exited("haproxy"),
        Impl::Ours => None,
    };
    let hap_log = std::fs::read_to_string(lab.dir().join("lb1-haproxy.log")).unwrap_or_default();
    report.check(
        "haproxy starts with the seed's haproxy.cfg on lb1",
        &refuses(imps[0]),
        match hap_exit {
            None if lab.node("lb1").running("haproxy") => Ok(()),
            code => Err(format!(
                "exit {code:?}: {}",
                hap_log
                    .lines()
                    .find(|l| l.contains("ALERT"))
                    .unwrap_or("")
                    .trim()
            )),
        },
    );
    // chk_haproxy adds its weight 2 only where a haproxy runs: ours accepts the config,
    // the reference refuses it. So a mixed pair's lb2 (ours, 102) outranks lb1 (101).
    let priorities = [0, 1].map(|i| [101u8, 100][i] + if imps[i] == Impl::Ours { 2 } else { 0 });
    let m = usize::from(priorities[1] > priorities[0]);
    let (master, backup) = (lbs[m], lbs[1 - m]);
    let took = wait_holder(&lab, &lbs, vip, master, Duration::from_secs(10));
    report.check(
        &format!(
            "{master} (priority {}) holds 192.168.0.100/32 on eth0 and {backup} (priority {}) does not",
            priorities[m],
            priorities[1 - m]
        ),
        &Expect::Holds,
        took.map(|_| ()),
    );
    let target = format!("{vip}:7001");
    let client = start_client(&mut lab, &target, ClientMode::Http);
    let t0 = now_us();
    std::thread::sleep(Duration::from_secs(2));
    let records = client.records();
    report.check(
        "requests to 192.168.0.100:7001 reach the server",
        &refuses(imps[m]),
        served_by(
            &window(&records, t0 + 300_000, t0 + 2_000_000),
            &["web1"],
            false,
        ),
    );
    // Failover by losing the master (the tutorial stops haproxy, which never ran here).
    let loss = lose_node(&mut lab, &pcap, master, 1);
    let t_lost = loss.fault_us;
    let took = wait_for(Duration::from_secs(10), || lab.node(backup).holds(vip));
    let moved_ms = (now_us() - t_lost) / 1000;
    report.check(
        &format!("{master} lost: {backup} takes 192.168.0.100"),
        &Expect::Holds,
        if took {
            Ok(())
        } else {
            Err(format!("{backup} does not hold the VIP"))
        },
    );
    if took {
        report.measure(
            &format!("{master} lost -> VIP on {backup}"),
            format!("{moved_ms} ms"),
            Some(moved_ms),
        );
        let (lost_addr, new_addr) = (lab.node(master).addr(), lab.node(backup).addr());
        check_takeover(
            report,
            reference,
            (&pcap, &arp_pcap),
            "master lost",
            (lost_addr, new_addr, vip),
            &loss,
            1,
            u16::from(priorities[1 - m]),
        );
    }
    let resumed = client.wait_success_after(t_lost, Duration::from_secs(3));
    report.check(
        &format!("{master} lost: service resumes through {backup}"),
        &refuses(imps[1 - m]),
        if resumed {
            Ok(())
        } else {
            Err("no successful request".to_owned())
        },
    );
    lab.stop_captures();
    let want = AdvertWant {
        vrid: 51,
        priority: priorities[m],
        interval_s: 1,
        auth: None,
        dst: Ipv4Addr::new(224, 0, 0, 18),
        vip,
    };
    let master_addr = lab.node(master).addr();
    check_adverts(&lab, report, reference, &pcap, master_addr, &want);
}

/// Seed 003: keepalived on the nginx nodes themselves (AH, weight 4), with and without
/// `nopreempt`.
pub fn run_seed003(
    subject: Subject,
    nopreempt: bool,
    report: &mut Report,
    reference: &mut ReferenceRecord,
) {
    let net = [10, 12, 166];
    let vip = ip(net, if nopreempt { 90 } else { 80 });
    let name = if nopreempt {
        "seed003-nopreempt"
    } else {
        "seed003"
    };
    let spec = LabSpec {
        name: name.into(),
        prefix_len: 24,
        nodes: vec![
            node("web1", "eth0", ip(net, 81)),
            node("web2", "eth0", ip(net, 82)),
            node("client", "eth0", ip(net, 100)),
        ],
    };
    let mut lab = Lab::start(spec, &lab_dir(name, subject));
    let webs = ["web1", "web2"];
    let files = if nopreempt {
        [
            "keepalived-nopreempt-node1.conf",
            "keepalived-nopreempt-node2.conf",
        ]
    } else {
        ["keepalived-node1.conf", "keepalived-node2.conf"]
    };
    for (i, w) in webs.iter().enumerate() {
        lab.node(w).write_etc(
            "keepalived",
            "keepalived.conf",
            &fixture("003", files[i], &[]),
        );
        start_nginx(&mut lab, w, 80);
    }
    let pcap = lab.capture("ip proto 112 or ip proto 51", "vrrp.pcap");
    let imps = [subject.on_node(0), subject.on_node(1)];
    for (i, w) in webs.iter().enumerate() {
        if let Err(why) = start_daemons(&mut lab, w, imps[i], &[], true) {
            report.not_implemented = Some(why);
            return;
        }
        if nopreempt && i == 0 {
            // With nopreempt on both, whoever becomes master first keeps the VIP, and
            // started together the two timers (3 s + skew of 55 vs 54) differ by 4 ms: a
            // race (seen both ways). The tutorial brings web1 up first, so the lab does.
            let _ = wait_holder(&lab, &webs, vip, "web1", Duration::from_secs(12));
        }
    }
    let logs = [
        keepalived_log(&lab, "web1", imps[0], true),
        keepalived_log(&lab, "web2", imps[1], true),
    ];
    let (p1, p2) = if nopreempt { (55u8, 54u8) } else { (104, 102) };
    let took = wait_holder(&lab, &webs, vip, "web1", Duration::from_secs(12));
    report.check(
        &format!(
            "web1 (priority {} + 4 = {p1}) holds {vip}/32, web2 ({p2}) does not",
            p1 - 4
        ),
        &Expect::Holds,
        took.map(|_| ()),
    );
    if !nopreempt {
        report.check(
            "web1's `state MASTER` is cleared because of AH (keepalived's message)",
            &Expect::Holds,
            log_has(
                &lab,
                &logs[0],
                "Initial state master is incompatible with AH authentication - clearing",
            ),
        );
    }
    let client = start_client(&mut lab, &format!("{vip}:80"), ClientMode::Http);
    let t0 = now_us();
    std::thread::sleep(Duration::from_secs(2));
    let records = client.records();
    report.check(
        "requests to the VIP are answered by web1",
        &Expect::Holds,
        served_by(
            &window(&records, t0 + 300_000, t0 + 2_000_000),
            &["web1"],
            false,
        ),
    );

    // nginx dies on web1.
    let t_kill = now_us();
    lab.node("web1").signal("KILL", "nginx");
    let failover = Duration::from_secs(10);
    if nopreempt {
        std::thread::sleep(failover);
        report.check(
            "nginx killed on web1: with nopreempt web2 (54) does not take the VIP from web1 (51)",
            &Expect::Holds,
            if holders(&lab, &webs, vip) == ["web1"] {
                Ok(())
            } else {
                Err(format!("VIP on {:?}", holders(&lab, &webs, vip)))
            },
        );
        report.check(
            "web1's log: Changing effective priority from 55 to 51",
            &Expect::Holds,
            log_has(
                &lab,
                &logs[0],
                "(VI_1) Changing effective priority from 55 to 51",
            ),
        );
        // The tutorial's failover for this variant: stop keepalived on web1.
        start_nginx(&mut lab, "web1", 80);
        let t_stop = now_us();
        // As `keepalived` (the reference, or ha-compat under that name on these nodes).
        let stopped = lab.node("web1").signal("TERM", "keepalived");
        assert!(stopped, "no keepalived on web1 to stop");
        let moved = wait_holder(&lab, &webs, vip, "web2", failover);
        report.check(
            "keepalived stopped on web1 (SIGTERM): web2 takes the VIP",
            &Expect::Holds,
            moved.map(|_| ()),
        );
        measure_outage(report, &client, "keepalived stopped on the master", t_stop);
        // web1 comes back: nopreempt keeps the VIP on web2.
        std::thread::sleep(Duration::from_millis(500));
        if let Err(why) = start_daemons(&mut lab, "web1", imps[0], &[], true) {
            report.not_implemented = Some(why);
            return;
        }
        std::thread::sleep(Duration::from_secs(8));
        report.check(
            "keepalived back on web1 (55 > 54): nopreempt keeps the VIP on web2",
            &Expect::Holds,
            if holders(&lab, &webs, vip) == ["web2"] {
                Ok(())
            } else {
                Err(format!("VIP on {:?}", holders(&lab, &webs, vip)))
            },
        );
    } else {
        let moved = wait_holder(&lab, &webs, vip, "web2", failover);
        report.check(
            "nginx killed on web1 (104 -> 100 < 102): web2 takes the VIP",
            &Expect::Holds,
            moved.map(|_| ()),
        );
        report.check(
            "web1's log: Changing effective priority from 104 to 100",
            &Expect::Holds,
            log_has(
                &lab,
                &logs[0],
                "(VI_1) Changing effective priority from 104 to 100",
            ),
        );
        report.check(
            "web1's log: VRRP_Script(chk_nginx) failed",
            &Expect::Holds,
            log_has(&lab, &logs[0], "VRRP_Script(chk_nginx) failed"),
        );
        let resumed = client.wait_success_after(t_kill + 100_000, Duration::from_secs(3));
        report.check(
            "nginx killed on web1: web2 answers",
            &Expect::Holds,
            if resumed {
                Ok(())
            } else {
                Err("no successful request".to_owned())
            },
        );
        measure_outage(report, &client, "nginx killed on the master", t_kill);
        // nginx back on web1: 104 > 102, web1 takes the VIP back.
        let t_back = now_us();
        start_nginx(&mut lab, "web1", 80);
        let back = wait_holder(&lab, &webs, vip, "web1", failover);
        report.check(
            "nginx back on web1 (100 -> 104 > 102): web1 takes the VIP back",
            &Expect::Holds,
            back.map(|_| ()),
        );
        report.check(
            "web2's log: Entering BACKUP STATE after web1 is back",
            &Expect::Holds,
            log_has(&lab, &logs[1], "(VI_1) Entering BACKUP STATE"),
        );
        std::thread::sleep(Duration::from_secs(1));
        measure_interruption(report, &client, "web1 taking the VIP back", t_back);
    }
    lab.stop_captures();
    let want = AdvertWant {
        vrid: 50,
        priority: p1,
        interval_s: 1,
        auth: Some("AH"),
        dst: Ipv4Addr::new(224, 0, 0, 18),
        vip,
    };
    let from = lab.node("web1").addr();
    check_adverts(&lab, report, reference, &pcap, from, &want);
}

/// Seed 001 with each load balancer's two daemons under one parent: `ha-compat -f
/// keepalived.conf -f haproxy.cfg` (the supervisor) for `ha-compat`, Debian's `keepalived
/// -n -l -D` and `haproxy -db` side by side for `reference`. The story is what a process
/// dying does to the node: keepalived killed with SIGKILL (its VIP, who takes over, who
/// restarts it), haproxy killed, the node stopped with SIGTERM. `mixed` is not run: the
/// scenario compares whole nodes.
fn run_seed001_supervisor(subject: Subject, report: &mut Report) {
    if subject == Subject::Mixed {
        report.not_implemented =
            Some("compares whole nodes: run with reference or ha-compat".into());
        return;
    }
    let seed = LB_SEEDS
        .iter()
        .find(|s| s.name == "seed001")
        .unwrap_or_else(|| panic!("no seed001"));
    let [h_lb1, h_lb2, h_web1, h_web2, h_client, h_vip] = seed.hosts;
    let vip = ip(seed.net, h_vip);
    let spec = LabSpec {
        name: "seed001-supervisor".to_owned(),
        prefix_len: 24,
        nodes: vec![
            node("lb1", seed.iface, ip(seed.net, h_lb1)),
            node("lb2", seed.iface, ip(seed.net, h_lb2)),
            node("web1", seed.iface, ip(seed.net, h_web1)),
            node("web2", seed.iface, ip(seed.net, h_web2)),
            node("client", seed.iface, ip(seed.net, h_client)),
        ],
    };
    let mut lab = Lab::start(spec, &lab_dir("seed001-supervisor", subject));
    let lbs = ["lb1", "lb2"];
    for (i, lb) in lbs.iter().enumerate() {
        let n = lab.node(lb);
        n.write_etc(
            "keepalived",
            "keepalived.conf",
            &fixture(seed.fixtures, seed.keepalived[i], seed.substitutions),
        );
        n.write_etc(
            "haproxy",
            "haproxy.cfg",
            &fixture(seed.fixtures, "haproxy.cfg", seed.substitutions),
        );
        copy_error_pages(n);
    }
    start_nginx(&mut lab, "web1", seed.web_port);
    start_nginx(&mut lab, "web2", seed.web_port);
    let ours = subject == Subject::HaCompat;
    let start_node = |lab: &mut Lab, lb: &str| {
        if ours {
            let log = lab.dir().join(format!("{lb}-ha-compat.log"));
            lab.node_mut(lb).spawn(
                "ha-compat",
                &crate::ours(),
                &[
                    "-f",
                    "/etc/keepalived/keepalived.conf",
                    "-f",
                    "/etc/haproxy/haproxy.cfg",
                ],
                &log,
            );
        } else {
            let ka = crate::reference_keepalived();
            let log = lab.dir().join(format!("{lb}-keepalived.log"));
            lab.node_mut(lb).spawn(
                "keepalived",
                &ka,
                &["-n", "-l", "-D", "-f", "/etc/keepalived/keepalived.conf"],
                &log,
            );
            start_reference_haproxy(lab, lb);
        }
    };
    for lb in lbs {
        start_node(&mut lab, lb);
    }
    let no_supervisor = |what: &str| {
        if ours {
            Expect::Holds
        } else {
            Expect::Fails(format!("nothing above keepalived and haproxy {what}"))
        }
    };

    // 1. lb1 (101 + 2) holds the VIP, and both daemons run under their names.
    let converge = Duration::from_secs(u64::from(seed.advert_int) * 4 + 6);
    report.check(
        &format!("lb1 holds {vip}/32 and lb2 does not"),
        &Expect::Holds,
        wait_holder(&lab, &lbs, vip, "lb1", converge).map(|_| ()),
    );
    for lb in lbs {
        for name in ["keepalived", "haproxy"] {
            report.check(
                &format!("{lb}: `pgrep -x {name}` finds it"),
                &Expect::Holds,
                if lab.node(lb).running(name) {
                    Ok(())
                } else {
                    Err("not running".into())
                },
            );
        }
    }
    let target = format!("{vip}:{}", seed.port);
    let client = start_client(&mut lab, &target, seed.mode);
    let t0 = now_us();
    // The client writes its timeline once it has something to say.
    std::thread::sleep(Duration::from_secs(2));
    report.check(
        "requests to the VIP succeed",
        &Expect::Holds,
        if client.wait_success_after(t0, Duration::from_secs(5)) {
            Ok(())
        } else {
            Err("no successful request".into())
        },
    );

    // 2. keepalived killed with SIGKILL on lb1.
    let t_kill = now_us();
    let start = Instant::now();
    lab.node("lb1").signal("KILL", "keepalived");
    let gone = wait_for(Duration::from_secs(1), || !lab.node("lb1").holds(vip));
    if gone {
        report.measure(
            "keepalived SIGKILLed -> VIP gone from lb1",
            format!("{} ms", start.elapsed().as_millis()),
            None,
        );
    }
    report.check(
        "keepalived SIGKILLed on lb1: lb1 no longer holds the VIP within 1 s",
        &if ours {
            Expect::Holds
        } else {
            Expect::Fails(
                "keepalived killed with SIGKILL cannot remove its VIP; nothing else does".into(),
            )
        },
        if gone {
            Ok(())
        } else {
            Err("the VIP stays on lb1".into())
        },
    );
    let lb2_took = wait_for(converge, || lab.node("lb2").holds(vip));
    report.check(
        "keepalived SIGKILLed on lb1: lb2 takes the VIP",
        &Expect::Holds,
        if lb2_took {
            Ok(())
        } else {
            Err("lb2 never held it".into())
        },
    );
    let back = wait_for(Duration::from_secs(3), || {
        lab.node("lb1").running("keepalived")
    });
    report.check(
        "keepalived SIGKILLed on lb1: it runs again",
        &no_supervisor("restarts it (systemd's unit would)"),
        if back {
            Ok(())
        } else {
            Err("not running".into())
        },
    );
    report.check(
        "keepalived back on lb1: lb1 (103) takes the VIP back from lb2 (102), lb2 lets it go",
        &no_supervisor("restarts keepalived, and the dead one's VIP stayed on lb1"),
        wait_holder(&lab, &lbs, vip, "lb1", converge).map(|_| ()),
    );
    let resumed = client.wait_success_after(now_us(), Duration::from_secs(3));
    report.check(
        "after keepalived's SIGKILL on lb1: requests succeed",
        &Expect::Holds,
        if resumed {
            Ok(())
        } else {
            Err("no successful request".into())
        },
    );
    measure_outage(
        report,
        &client,
        "keepalived SIGKILLed on the master",
        t_kill,
    );

    // 3. haproxy killed on lb1.
    let start = Instant::now();
    lab.node("lb1").signal("KILL", "haproxy");
    // Running means still running a moment later (a half-started one is not enough).
    let back = wait_for(Duration::from_secs(1), || {
        lab.node("lb1").running("haproxy")
    });
    if back {
        report.measure(
            "haproxy SIGKILLed -> `pgrep -x haproxy` finds a new one",
            format!("{} ms", start.elapsed().as_millis()),
            None,
        );
    }
    report.check(
        "haproxy SIGKILLed on lb1: it runs again within 1 s",
        &no_supervisor("restarts haproxy -db (systemd's unit would)"),
        if back {
            Ok(())
        } else {
            Err("not running".into())
        },
    );
    let holder = holders(&lab, &lbs, vip);
    report.measure(
        "VIP holder right after haproxy's restart on lb1",
        format!("{holder:?}"),
        None,
    );

    // 4. The node stopped with SIGTERM: nothing left, the VIP on lb2.
    if ours {
        lab.node("lb1").signal("TERM", "ha-compat");
    } else {
        lab.node("lb1").signal("TERM", "keepalived");
        lab.node("lb1").signal("TERM", "haproxy");
    }
    let stopped = wait_for(Duration::from_secs(6), || {
        !lab.node("lb1").running("keepalived")
            && !lab.node("lb1").running("haproxy")
            && !lab.node("lb1").running("ha-compat")
    });
    report.check(
        "SIGTERM on lb1: no keepalived, haproxy or ha-compat left",
        &Expect::Holds,
        if stopped {
            Ok(())
        } else {
            Err("still running".into())
        },
    );
    report.check(
        "SIGTERM on lb1: lb2 holds the VIP and lb1 does not",
        &if ours {
            Expect::Holds
        } else {
            Expect::Fails("the VIP of the keepalived SIGKILLed in step 2 is still on lb1".into())
        },
        wait_holder(&lab, &lbs, vip, "lb2", converge).map(|_| ()),
    );
    if ours {
        report.check(
            "SIGTERM on lb1: ha-compat exits 0",
            &Expect::Holds,
            match lab.node_mut("lb1").exited("ha-compat") {
                Some(0) => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b"admin:admin"), "YWRtaW46YWRtaW4=");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn master_down_interval_is_rfc3768s() {
        // RFC 3768 §6.1: Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time,
        // Skew_Time = (256 - Priority) / 256 s. keepalived 2.2.7 (reference, seed 000 lab:
        // lb2 at priority 100) took over 6.611 s after lb1's last advert.
        assert_eq!(master_down_us(2, 100), 6_609_375);
        assert_eq!(master_down_us(1, 100), 3_609_375);
        assert_eq!(master_down_us(1, 255), 3_003_906);
        // A priority beyond 255 (a tracker's weight added) is capped as keepalived caps it.
        assert_eq!(master_down_us(1, 300), master_down_us(1, 255));
    }
}
