//! What the reference tests share (the keepalived ones: [`keepalived_lab`]): a network namespace of their own, toy servers
//! in it, the daemon under test killed on drop.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses its own subset

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub mod keepalived_lab;

pub const HAPROXY: &str = "/usr/sbin/haproxy";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A namespace `PREFIX-PID-N` with loopback up; deleted on drop.
pub struct Ns(pub String);

impl Ns {
    pub fn new(prefix: &str) -> Ns {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip netns add {name}");
        let ns = Ns(name);
        let ok = Command::new("ip")
            .args(["-n", &ns.0, "link", "set", "lo", "up"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        ns
    }

    /// Runs `f` on a new thread that has entered the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// What a [`Web`] does with each connection after writing `name\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterGreeting {
    /// Close at once.
    Close,
    /// Hold it until the peer closes (then close too): the session's slot stays taken for
    /// as long as the test's client wants.
    Hold,
}

/// A server on 127.0.0.1:`port` in the namespace that writes `name\n` to each
/// connection, until stopped (then the port refuses).
pub struct Web {
    running: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Web {
    pub fn start(ns: &Ns, port: u16, name: &'static str, after: AfterGreeting) -> Web {
        let running = Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = ns.spawn(move || {
            let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
            listener.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            while flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let mut greet = move || {
                            let _ = s.set_nonblocking(false);
                            // Bounded, so a stuck peer cannot keep the thread forever.
                            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                            let _ = s.write_all(format!("{name}\n").as_bytes());
                            if after == AfterGreeting::Hold {
                                let mut sink = [0u8; 256];
                                while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                            }
                        };
                        match after {
                            AfterGreeting::Close => greet(),
                            AfterGreeting::Hold => {
                                std::thread::spawn(greet);
                            }
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ready_rx.recv().unwrap();
        Web {
            running,
            thread: Some(thread),
        }
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The daemon, killed on drop if the test did not stop it.
pub struct Daemon(pub Child);

impl Daemon {
    /// `PROGRAM -db -f CFG` inside `ns`, its stdout and stderr where given.
    pub fn haproxy_db(
        ns: &Ns,
        program: &Path,
        cfg: &Path,
        stdout: std::process::Stdio,
        stderr: std::process::Stdio,
    ) -> Daemon {
        Daemon(
            Command::new("ip")
                .args(["netns", "exec", &ns.0])
                .arg(program)
                .args(["-db", "-f"])
                .arg(cfg)
                .stdin(std::process::Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Ns {
    /// Waits (10 s at most) until something in the namespace accepts on `addr`.
    pub fn wait_for_port(&self, addr: &'static str) {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let up = self
                .spawn(move || std::net::TcpStream::connect(addr).is_ok())
                .join()
                .unwrap();
            if up {
                return;
            }
            sleep_ms(50);
        }
    }
}

pub fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Root and the reference haproxy are there; otherwise says why `test` is skipped.
pub fn can_run(test: &str) -> bool {
    let ok = nix::unistd::geteuid().is_root() && Path::new(HAPROXY).exists();
    if !ok {
        eprintln!("SKIP {test}: needs root and {HAPROXY}");
    }
    ok
}

/// The live (not zombie) children of `parent`.
pub fn children_of(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = rest.split(' ');
        let state = fields.next().unwrap_or("");
        let ppid: i32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == parent && state != "Z" {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// `echo COMMAND | socat -t2 stdio UNIX-CONNECT:PATH`: what a runtime API socket answers,
/// driven by the tool operators use.
pub fn socat(path: &Path, command: &str) -> String {
    let mut child = Command::new("socat")
        .args(["-t2", "stdio"])
        .arg(format!("UNIX-CONNECT:{}", path.display()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // socat exits at once when nothing listens yet: its stdin is then closed.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(format!("{command}\n").as_bytes());
    }
    String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned()
}

/// Whether `socat` can be run (the runtime API tests drive the sockets with it).
pub fn has_socat(test: &str) -> bool {
    let ok = Command::new("socat").arg("-V").output().is_ok();
    if !ok {
        eprintln!("{test}: socat missing (apt-get install socat); skipped");
    }
    ok
}

/// A namespace `PREFIX-PID-N` with `veth0` (`address`, e.g. `10.99.0.1/24`, the
/// keepalived configs' interface) and its peer `veth1`, both up; deleted on drop.
pub fn veth_ns(prefix: &str, address: &str) -> Ns {
    let ns = Ns::new(prefix);
    let add = format!("addr add {address} dev veth0");
    for cmd in [
        "link add veth0 type veth peer name veth1",
        add.as_str(),
        "link set veth0 up",
        "link set veth1 up",
    ] {
        let ok = Command::new("ip")
            .args(["-n", &ns.0])
            .args(cmd.split(' '))
            .status()
            .unwrap()
            .success();
        assert!(ok, "{cmd}");
    }
    ns
}
