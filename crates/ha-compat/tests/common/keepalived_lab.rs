//! What the keepalived reference tests share: one network namespace and one directory
//! (the configuration, scripts, pid files and the daemon's log), both removed on drop,
//! and the daemon under test (`PROGRAM -n -l -D ... -f CONF -p k.pid -r v.pid`, stopped
//! with SIGTERM, killed 5 s later).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// Root and the reference keepalived are there; otherwise says why `test` is skipped.
pub fn can_run(test: &str) -> Option<PathBuf> {
    let ok = nix::unistd::geteuid().is_root() && Path::new(KEEPALIVED).exists();
    if !ok {
        eprintln!(
            "SKIP {test}: needs root (network namespaces) and {KEEPALIVED} (apt-get install -y keepalived)"
        );
    }
    ok.then(|| PathBuf::from(KEEPALIVED))
}

/// Runs a command that must succeed.
pub fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct KeepalivedLab {
    pub ns: String,
    pub dir: PathBuf,
    daemon: Option<Child>,
}

impl KeepalivedLab {
    /// Namespace and directory `NAME` (loopback up); the directory is mode 0755, as
    /// `enable_script_security` wants every directory on a script's path.
    pub fn new(name: String) -> KeepalivedLab {
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let lab = KeepalivedLab {
            ns: name,
            dir,
            daemon: None,
        };
        run(&["ip", "netns", "add", &lab.ns]);
        lab.ip(&["link", "set", "lo", "up"]);
        lab
    }

    /// `ip -n NS ARGS...`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["ip", "-n", &self.ns];
        all.extend_from_slice(args);
        run(&all);
    }

    /// A veth pair `a`/`b` in the namespace.
    pub fn veth(&self, a: &str, b: &str) {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
    }

    /// An executable (0755) file `name` in the directory.
    pub fn script(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Writes `conf` as keepalived.conf and starts `program -n -l -D EXTRA... -f CONF -p
    /// k.pid -r v.pid` in the namespace, stdout and stderr to `daemon.log`.
    pub fn start(&mut self, program: &Path, conf: &str, extra: &[&str]) {
        let path = self.dir.join("keepalived.conf");
        std::fs::write(&path, conf).unwrap();
        let log = std::fs::File::create(self.dir.join("daemon.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(program)
            .args(["-n", "-l", "-D"])
            .args(extra)
            .arg("-f")
            .arg(&path)
            .arg("-p")
            .arg(self.dir.join("k.pid"))
            .arg("-r")
            .arg(self.dir.join("v.pid"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.daemon = Some(child);
    }

    /// Sends `signal` to the daemon (`ip netns exec` execs it: the child is the daemon).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = self.daemon.as_ref().unwrap().id();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            stop_child(&mut child);
        }
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// ha-compat as `keepalived` (the name selects its keepalived personality): a symlink
    /// in the directory.
    pub fn ours(&self) -> PathBuf {
        let link = self.dir.join("keepalived");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
        link
    }
}

/// SIGTERM, then SIGKILL if the child still runs 5 s later.
pub fn stop_child(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for KeepalivedLab {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
