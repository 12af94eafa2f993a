//! The demo's throwaway lab: network namespaces on a bridge, built and torn down with
//! iproute2's `ip` and util-linux's `unshare`/`nsenter`/`setpriv` (root only).
//!
//! Every namespace is named `hacdemo-*`; every link lives inside one of them (the switch's
//! ports and bridge in `hacdemo-sw`, each node's `eth1` in its own), so nothing outside the
//! namespaces is touched. [`Lab`]'s `Drop` kills every process and deletes every namespace
//! and the working directory, on success, on error and after Ctrl-C alike. If the demo is
//! killed outright, `setpriv --pdeathsig SIGKILL` takes the lab's processes with it and
//! [`leftovers`] finds the namespaces at the next start ([`remove_leftovers`] deletes them).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Prefix of every namespace and working directory the demo creates.
pub const PREFIX: &str = "hacdemo-";

/// The switch namespace (holds the bridge and the nodes' peer ends).
const SWITCH: &str = "hacdemo-sw";

/// The `PATH` the nodes' processes get (their environment is otherwise empty).
const CLEAN_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The interface name inside every node: seed 001's keepalived.conf says `interface eth1`.
pub const IFACE: &str = "eth1";

/// A running lab. Dropping it tears everything down.
#[derive(Debug)]
pub struct Lab {
    /// Namespaces created so far, in creation order (deleted in reverse).
    namespaces: Vec<String>,
    /// Long-running processes (holders, daemons, agents) with a label for messages.
    children: Vec<(String, Child)>,
    /// Working directory (configs, symlinks, logs): `/tmp/hacdemo-PID`.
    dir: PathBuf,
}

impl Lab {
    /// Creates the working directory and the switch namespace with its bridge.
    pub fn new() -> Result<Lab> {
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        let mut lab = Lab {
            namespaces: Vec::new(),
            children: Vec::new(),
            dir,
        };
        std::fs::create_dir_all(&lab.dir)
            .with_context(|| format!("cannot create {}", lab.dir.display()))?;
        lab.add_namespace(SWITCH)?;
        ip(&["-n", SWITCH, "link", "add", "hacdemo-br", "type", "bridge"])?;
        // No STP, no snooping, no forwarding delay: every frame (VRRP adverts are
        // multicast) reaches every port at once, as on the tutorials' flat network.
        ip(&[
            "-n",
            SWITCH,
            "link",
            "set",
            "hacdemo-br",
            "type",
            "bridge",
            "stp_state",
            "0",
            "mcast_snooping",
            "0",
            "forward_delay",
            "0",
        ])?;
        ip(&["-n", SWITCH, "link", "set", "hacdemo-br", "up"])?;
        Ok(lab)
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn add_namespace(&mut self, name: &str) -> Result<()> {
        ip(&["netns", "add", name])?;
        self.namespaces.push(name.to_owned());
        ip(&["-n", name, "link", "set", "lo", "up"])
    }

    /// Adds node `name` (namespace `hacdemo-NAME`) plugged into the bridge with `addr`/24
    /// on its `eth1`.
    pub fn add_node(&mut self, name: &str, addr: Ipv4Addr) -> Result<()> {
        let ns = netns(name);
        self.add_namespace(&ns)?;
        // The switch-side end is created in the switch namespace and the node's end moved
        // straight into the node: neither ever exists in the host's namespace.
        ip(&[
            "-n", SWITCH, "link", "add", &ns, "type", "veth", "peer", "name", IFACE, "netns", &ns,
        ])?;
        ip(&["-n", SWITCH, "link", "set", &ns, "master", "hacdemo-br"])?;
        ip(&["-n", SWITCH, "link", "set", &ns, "up"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            IFACE,
        ])?;
        ip(&["-n", &ns, "link", "set", IFACE, "up"])
    }

    /// Gives node `name` its own PID and mount namespaces (so `killall -0 haproxy` on one
    /// node sees that node's processes only) with a private `/run`, held by a reaping init;
    /// returns the init's pid for [`Lab::spawn_on_node`].
    pub fn isolate_node(&mut self, name: &str) -> Result<u32> {
        let ns = netns(name);
        // The init reaps (as PID 1 it adopts orphans), so a dead process never lingers as
        // a zombie that `killall -0` would still find.
        let script = "mount -t tmpfs tmpfs /run && touch /run/.hacdemo-ready && \
                      exec sh -c 'while :; do sleep 3600 & wait; done'";
        let mut holder = Command::new("ip");
        holder
            .args(["netns", "exec", &ns])
            .args(["setpriv", "--pdeathsig", "SIGKILL"])
            .args(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(["sh", "-c", script]);
        let holder = self.spawn(&format!("{name} node"), holder, Stdio::null(), None)?;
        // `ip netns exec`, `setpriv` exec in place: the holder's pid is unshare's, and its
        // one child is the node's init.
        let children = format!("/proc/{holder}/task/{holder}/children");
        let mut init = None;
        wait_for(Duration::from_secs(5), || {
            init = std::fs::read_to_string(&children)
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()));
            init.is_some_and(|pid: u32| {
                Path::new(&format!("/proc/{pid}/root/run/.hacdemo-ready")).exists()
            })
        });
        match init {
            Some(pid) if Path::new(&format!("/proc/{pid}/root/run/.hacdemo-ready")).exists() => {
                Ok(pid)
            }
            _ => bail!("node {name}: its PID namespace was not ready after 5 s"),
        }
    }

    /// Starts `program args` on an isolated node (see [`Lab::isolate_node`]) with output
    /// appended to `log`; `label` names it in messages.
    pub fn spawn_on_node(
        &mut self,
        label: &str,
        init_pid: u32,
        program: &Path,
        args: &[&str],
        env: &[String],
        log: &Path,
    ) -> Result<u32> {
        let mut c = Command::new("nsenter");
        c.args(["-t", &init_pid.to_string()])
            .args(["--net", "--mount", "--pid", "--"])
            .args(["env", "-i", &format!("PATH={CLEAN_PATH}")])
            .args(env)
            .arg(program)
            .args(args);
        self.spawn(label, c, Stdio::null(), Some(log))
    }

    /// Starts `program args` in node `name`'s network namespace; its stdout is `stdout`,
    /// its stderr appended to `log`.
    pub fn spawn_in_netns(
        &mut self,
        label: &str,
        name: &str,
        program: &Path,
        args: &[&str],
        stdout: Stdio,
        log: &Path,
    ) -> Result<u32> {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &netns(name)])
            .args(["setpriv", "--pdeathsig", "SIGKILL"])
            .args(["env", "-i", &format!("PATH={CLEAN_PATH}")])
            .arg(program)
            .args(args);
        self.spawn(label, c, stdout, Some(log))
    }

    /// Takes the stdout of the process started under `label`.
    pub fn take_stdout(&mut self, label: &str) -> Option<std::process::ChildStdout> {
        self.children
            .iter_mut()
            .find(|(l, _)| l == label)
            .and_then(|(_, c)| c.stdout.take())
    }

    fn spawn(
        &mut self,
        label: &str,
        mut c: Command,
        stdout: Stdio,
        log: Option<&Path>,
    ) -> Result<u32> {
        use std::os::unix::process::CommandExt as _;
        c.stdin(Stdio::null()).stdout(stdout);
        match log {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                c.stderr(f);
            }
            None => {
                c.stderr(Stdio::null());
            }
        }
        // Their own process group: Ctrl-C reaches the demo only, which then tears the lab
        // down in order instead of racing its dying processes.
        c.process_group(0);
        let child = c
            .spawn()
            .with_context(|| format!("cannot start {label} ({:?})", c.get_program()))?;
        let pid = child.id();
        self.children.push((label.to_owned(), child));
        Ok(pid)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            kill_netns_pids(ns);
            if let Err(e) = ip(&["netns", "del", ns]) {
                // Drop cannot fail: say it loudly, `ha-compat demo --cleanup` removes it.
                eprintln!("ha-compat demo: could not delete namespace {ns}: {e:#}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The namespace of node `name`.
pub fn netns(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// Runs `ip ARGS`; the error carries its stderr.
pub fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `ip` (iproute2)")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(())
}

/// Whether node `name` holds `vip` on its `eth1` (as keepalived adds it: `/32`).
pub fn holds(name: &str, vip: Ipv4Addr) -> bool {
    Command::new("ip")
        .args(["-n", &netns(name), "-4", "-o", "addr", "show", "dev", IFACE])
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|w| w == format!("{vip}/32"))
        })
        .unwrap_or(false)
}

/// Pids (as the host sees them) of the processes in namespace `ns`.
fn netns_pids(ns: &str) -> Vec<i32> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Pids of the processes named `comm` (the kernel's process name, what `killall` matches)
/// in node `name`.
pub fn pids_named(name: &str, comm: &str) -> Vec<i32> {
    netns_pids(&netns(name))
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

/// SIGKILLs process `pid`.
pub fn kill(pid: i32) -> Result<()> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    kill(Pid::from_raw(pid), Signal::SIGKILL).with_context(|| format!("cannot kill {pid}"))
}

fn kill_netns_pids(ns: &str) {
    for _ in 0..40 {
        let pids = netns_pids(ns);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = kill(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a previous demo left: `hacdemo-*` namespaces (with their processes) and working
/// directories.
pub fn leftovers() -> Vec<String> {
    let mut left = Vec::new();
    for ns in demo_namespaces() {
        let pids = netns_pids(&ns);
        if pids.is_empty() {
            left.push(format!("network namespace {ns}"));
        } else {
            left.push(format!(
                "network namespace {ns} with {} process(es)",
                pids.len()
            ));
        }
    }
    for dir in demo_dirs() {
        left.push(format!("directory {}", dir.display()));
    }
    for (pid, cmdline) in demo_processes() {
        left.push(format!("process {pid} ({cmdline})"));
    }
    left
}

/// Processes of a demo, wherever they are (a deleted namespace lives on while a process
/// holds it): an argument naming `hacdemo-*` (the daemons' symlinks and configs, the nodes'
/// holders) or the agents (`ha-compat demo-agent …`). Not this process.
fn demo_processes() -> Vec<(i32, String)> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid: i32 = name.parse().ok()?;
            if name == me {
                return None;
            }
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let ours = args.iter().any(|a| a.contains(PREFIX))
                || args.get(1).is_some_and(|a| a == "demo-agent");
            ours.then(|| (pid, args.join(" ").trim_end().to_owned()))
        })
        .collect()
}

/// Deletes everything [`leftovers`] lists; returns what could not be deleted.
pub fn remove_leftovers() -> Vec<String> {
    for ns in demo_namespaces() {
        kill_netns_pids(&ns);
        let _ = ip(&["netns", "del", &ns]);
    }
    for (pid, _) in demo_processes() {
        let _ = kill(pid);
    }
    for dir in demo_dirs() {
        let _ = std::fs::remove_dir_all(dir);
    }
    // Killed processes take a moment to be gone from /proc.
    wait_for(Duration::from_secs(2), || demo_processes().is_empty());
    leftovers()
}

fn demo_namespaces() -> Vec<String> {
    Command::new("ip")
        .args(["netns", "list"])
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| n.starts_with(PREFIX))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn demo_dirs() -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
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
