//! Network namespaces the tests make (`hapio-<pid>-<n>`) and delete on drop, and a way
//! to run code inside one: a thread that entered it (`setns`), so every socket it
//! creates, including a current-thread tokio runtime's, belongs to the namespace.
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::CloneFlags;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether namespace tests can run here; prints why not.
pub fn can_run(what: &str) -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP {what}: needs root (network namespaces)");
        return false;
    }
    true
}

/// Whether the reference haproxy is installed; prints why not.
pub fn have_haproxy(what: &str) -> bool {
    let ok = Command::new("haproxy").arg("-v").output().is_ok();
    if !ok {
        eprintln!("SKIP {what}: haproxy not installed (apt-get install -y haproxy)");
    }
    ok
}

pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with `lo` up, deleted on drop (with everything in it).
pub struct Ns {
    pub name: String,
}

impl Ns {
    pub fn new() -> Ns {
        let name = format!(
            "hapio-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        run(&["ip", "netns", "add", &name]);
        let ns = Ns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NS args...`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Enters the namespace on the current thread (for threads made for that).
    pub fn enter_this_thread(&self) {
        let fd = std::fs::File::open(format!("/run/netns/{}", self.name)).expect("netns file");
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
    }

    /// Runs `f` on a new thread inside the namespace and waits for it.
    pub fn enter<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter_this_thread();
                f()
            })
            .join()
            .expect("thread in namespace")
        })
    }

    /// Starts `f` on a detached thread inside the namespace.
    pub fn spawn(&self, f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(path).expect("netns file");
            nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
