//! Throwaway network namespaces, managed with iproute2's `ip` (root only).
//!
//! A [`Netns`] owns a namespace named `PREFIX-PID-COUNTER`; dropping it deletes the namespace,
//! also while a panicking test unwinds. Namespaces left behind by a process that was killed
//! outright (no unwinding) are swept by the next [`Netns::create`] with the same prefix.
//!
//! Nothing here touches the host's own interfaces: every link and address is created inside
//! the namespace (`ip -n NAME ...`), and a veth pair has both ends inside it.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The `PATH` a command run by [`Netns::exec`] gets (its environment is otherwise empty).
pub const CLEAN_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// How long [`Netns::exec`] lets a command run before `timeout` kills it (exit code 124).
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace that exists as long as this value does.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a new, empty namespace named `PREFIX-PID-COUNTER` and brings its `lo` up.
    ///
    /// First deletes namespaces named `PREFIX-PID-N` whose process PID no longer exists (left
    /// behind by a test run that was killed before it could clean up).
    pub fn create(prefix: &str) -> io::Result<Netns> {
        sweep_stale(prefix);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        run_ip(&["netns", "add", &name])?;
        // From here on the guard exists, so an error below still deletes the namespace.
        let ns = Netns { name };
        ns.set_up("lo")?;
        Ok(ns)
    }

    /// The namespace's name (as `ip netns list` shows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS...`; an error carries `ip`'s stderr.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_ip(&full)
    }

    /// Sets link `dev` up.
    pub fn set_up(&self, dev: &str) -> io::Result<()> {
        self.ip(&["link", "set", dev, "up"])
    }

    /// Adds a veth pair `dev` / `peer`, both inside the namespace and both up.
    ///
    /// veth rather than dummy links: the dummy module is not loadable in every container.
    pub fn add_veth(&self, dev: &str, peer: &str) -> io::Result<()> {
        self.ip(&["link", "add", dev, "type", "veth", "peer", "name", peer])?;
        self.set_up(dev)?;
        self.set_up(peer)
    }

    /// Adds address `cidr` (e.g. `10.0.0.1/24`) to `dev`.
    pub fn add_addr(&self, dev: &str, cidr: &str) -> io::Result<()> {
        self.ip(&["addr", "add", cidr, "dev", dev])
    }

    /// Runs `cmd` inside the namespace and collects its output.
    ///
    /// Only the program, arguments, working directory and explicitly set variables of `cmd`
    /// are used. The command runs as
    /// `ip netns exec NAME env -i PATH=CLEAN_PATH [K=V...] prlimit --core=0 timeout 60 PROGRAM ARGS...`
    /// with stdin from /dev/null: an empty environment (so results do not depend on the
    /// caller's), no core dumps (a crashing program must not litter the working directory),
    /// and a time limit (exit code 124 when it is hit). `ip netns exec` remounts /sys, so the
    /// program sees the namespace's interfaces in /sys/class/net.
    ///
    /// Use [`exit_code`] to turn the status into a shell-style number.
    pub fn exec(&self, cmd: &Command) -> io::Result<Output> {
        let mut full = Command::new("ip");
        full.args(["netns", "exec", &self.name, "env", "-i"]);
        full.arg(format!("PATH={CLEAN_PATH}"));
        for (key, value) in cmd.get_envs() {
            if let Some(value) = value {
                let mut kv = OsString::from(key);
                kv.push("=");
                kv.push(value);
                full.arg(kv);
            }
        }
        full.args(["prlimit", "--core=0", "timeout", "--kill-after=5"]);
        full.arg(EXEC_TIMEOUT.as_secs().to_string());
        full.arg(cmd.get_program()).args(cmd.get_args());
        if let Some(dir) = cmd.get_current_dir() {
            full.current_dir(dir);
        }
        full.stdin(Stdio::null());
        full.output()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run_ip(&["netns", "del", &self.name]) {
            // Drop cannot fail; say so loudly, the namespace is left behind.
            eprintln!(
                "compat-tests: could not delete network namespace {}: {e}",
                self.name
            );
        }
    }
}

/// The exit status as a shell reports it: the exit code, or 128 + N for death by signal N
/// (139 = SIGSEGV).
pub fn exit_code(status: &ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        // Unix: a status that has neither an exit code nor a signal is "stopped"/"continued",
        // which `output()` never returns; -1 makes such a surprise visible.
        (None, None) => -1,
    }
}

fn run_ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `ip` (iproute2): {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        )))
    }
}

/// Deletes namespaces `PREFIX-PID-N` whose process PID is gone. Best effort, silent.
fn sweep_stale(prefix: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // `ip netns list` prints `NAME` or `NAME (id: N)`.
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        let Some((pid, n)) = rest.split_once('-') else {
            continue;
        };
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !numeric(pid) || !numeric(n) || pid == std::process::id().to_string() {
            continue;
        }
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = run_ip(&["netns", "del", name]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str) -> bool {
        let out = Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("run ip netns list");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name))
    }

    #[test]
    fn runs_inside_and_is_deleted_even_when_a_test_panics() {
        crate::require_root();
        let name = std::sync::Mutex::new(String::new());
        let result = std::panic::catch_unwind(|| {
            let ns = Netns::create("hac-selftest").expect("create namespace");
            *name.lock().expect("lock") = ns.name().to_owned();
            ns.add_veth("eth0", "peth0").expect("add veth");
            ns.add_addr("eth0", "10.0.0.1/24").expect("add address");
            let out = ns
                .exec(Command::new("ls").arg("/sys/class/net"))
                .expect("exec ls");
            assert_eq!(exit_code(&out.status), 0);
            let mut links: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            links.sort();
            assert_eq!(links, ["eth0", "lo", "peth0"]);
            let out = ns
                .exec(Command::new("env").env("X", "1"))
                .expect("exec env");
            let mut env: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            env.sort();
            assert_eq!(env, [format!("PATH={CLEAN_PATH}"), "X=1".to_owned()]);
            let out = ns
                .exec(Command::new("sh").args(["-c", "kill -SEGV $$"]))
                .expect("exec sh");
            assert_eq!(exit_code(&out.status), 139);
            assert!(listed(ns.name()));
            panic!("deliberate");
        });
        assert!(result.is_err());
        let name = name.into_inner().expect("lock");
        assert!(!name.is_empty());
        assert!(!listed(&name), "namespace {name} was left behind");
    }
}
