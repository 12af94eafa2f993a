//! The global notify FIFOs as keepalived 2.2.7's VRRP process keeps them (`lib/notify.c`
//! `fifo_open()`, `notify_fifo_close()`, `script_killall()`; `vrrp_daemon.c`): `notify_fifo`
//! then `vrrp_notify_fifo`, each created if missing (mode 0600: keepalived's umask 0177 on
//! `mkfifo(0644)`; given to the FIFO's user if that is not us), its `*_fifo_script` started
//! with the FIFO's path as last argument *before* the FIFO is opened (read-write,
//! non-blocking, so writing never blocks and the reader never sees end of file while we
//! run), and every state line written to each open FIFO.
//!
//! Reload and shut-down, as keepalived does them:
//! - the FIFO scripts' process groups get SIGTERM, and SIGKILL one second later if still
//!   there ([`NotifyFifos::terminate_scripts`]); at shut-down that comes before the `STOP`
//!   lines, which are therefore written to a FIFO whose reader has been told to go;
//! - at a reload both FIFOs are closed and those we created removed, before the new
//!   configuration's are opened (and their scripts started);
//! - at shut-down the FIFOs are closed, and those we created removed, only when a
//!   `vrrp_notify_fifo` is open: with only a `notify_fifo`, keepalived 2.2.7 leaves it in
//!   place (`vrrp_terminate_phase2()` tests the VRRP FIFO's descriptor).
//!
//! A FIFO script that ends by itself logs `vrrp notify fifo script terminated`; one we
//! terminate does not (keepalived swaps the child's callback when it kills it).
//!
//! Differences: keepalived's script also dies with it through `PR_SET_PDEATHSIG`, which
//! needs `unsafe` here; [`NotifyFifos`] ends its scripts when dropped instead, so a crash
//! of ha-compat leaves the reader running. A `notify_fifo` with a user that does not exist
//! is reported when the FIFO is opened, not while reading, so a second `notify_fifo` line
//! does not replace it (see `keepalived_conf`'s `global_defs`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use keepalived_conf::model::{GlobalDefs, NotifyFifo};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{killpg, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{chown, getegid, geteuid, mkfifo, Gid, Pid, Uid};

use crate::platform::Input;
use crate::script_exec::{resolve_user, ScriptKind, ScriptSecurity};

/// How long a terminated FIFO script has before SIGKILL (keepalived's `TIMER_HZ` given to
/// `child_killed_thread` / `child_killed_reload`).
const KILL_AFTER: Duration = Duration::from_secs(1);

/// Which of the two FIFOs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Global,
    Vrrp,
}

impl Kind {
    /// keepalived's `type` in its messages.
    fn prefix(self) -> &'static str {
        match self {
            Kind::Global => "",
            Kind::Vrrp => "vrrp_",
        }
    }
}

#[derive(Debug)]
struct OpenFifo {
    kind: Kind,
    path: String,
    file: File,
    /// We made it (`created_fifo`): removed when closed.
    created: bool,
}

/// A running `*_fifo_script`.
#[derive(Debug)]
struct FifoScript {
    /// Its pid, which is also its process group (it is started in its own).
    pid: Pid,
    /// Set by its reaper once it has exited and been waited for.
    exited: Arc<AtomicBool>,
    /// Set when we terminate it: its end is then not logged.
    terminated: Arc<AtomicBool>,
    /// The thread that sends SIGKILL if SIGTERM was not enough.
    killer: Option<JoinHandle<()>>,
}

/// The open notify FIFOs of one configuration and their scripts.
#[derive(Debug, Default)]
pub struct NotifyFifos {
    open: Vec<OpenFifo>,
    scripts: Vec<FifoScript>,
    /// Shut-down has begun ([`NotifyFifos::stopping`]): the drop closes as keepalived's
    /// exit does, not as its reload does.
    stopping: bool,
}

impl NotifyFifos {
    /// Opens the FIFOs of `global` in keepalived's order, starting their scripts. `reload`:
    /// the configuration replaces a running one, so a `vrrp_notify_fifo` naming the
    /// `notify_fifo` is ignored (keepalived checks that only when it reloads).
    pub fn open(
        global: &GlobalDefs,
        reload: bool,
        sec: &mut ScriptSecurity,
        tx: &Sender<Input>,
    ) -> NotifyFifos {
        let mut fifos = NotifyFifos::default();
        let mut logs = Vec::new();
        let mut vrrp = global.vrrp_notify_fifo.as_ref();
        if let (true, Some(g), Some(v)) = (reload, &global.notify_fifo, vrrp) {
            if g.path == v.path {
                logs.push(format!(
                    "notify FIFO {} has been specified for global and vrrp FIFO - ignoring vrrp FIFO",
                    v.path
                ));
                vrrp = None;
            }
        }
        for (kind, fifo) in [
            (Kind::Global, global.notify_fifo.as_ref()),
            (Kind::Vrrp, vrrp),
        ] {
            if let Some(fifo) = fifo {
                fifos.open_one(kind, fifo, sec, &mut logs, tx);
            }
        }
        for l in logs {
            let _ = tx.send(Input::Log(l));
        }
        fifos
    }

    /// `fifo_open()`.
    fn open_one(
        &mut self,
        kind: Kind,
        fifo: &NotifyFifo,
        sec: &mut ScriptSecurity,
        logs: &mut Vec<String>,
        tx: &Sender<Input>,
    ) {
        let prefix = kind.prefix();
        // keepalived resolves these while reading; it names the FIFO before setting it.
        let owner = match &fifo.owner {
            Some(u) => match resolve_user(u, logs) {
                Some(ids) => ids,
                None => {
                    logs.push(format!(
                        "Invalid user/group for {prefix} fifo (null) - ignoring"
                    ));
                    return;
                }
            },
            None => match sec.default_user(logs) {
                Some(ids) => ids,
                None => {
                    logs.push(format!(
                        "Failed to set default user for {prefix} fifo (null) - ignoring"
                    ));
                    return;
                }
            },
        };
        let script = fifo.script.as_ref().and_then(|c| {
            sec.prepare(
                ScriptKind::NotifyFifo(prefix),
                &c.argv,
                c.user.as_ref(),
                logs,
            )
        });
        let path = fifo.path.as_str();
        let created = match mkfifo(path, Mode::from_bits_truncate(0o600)) {
            Ok(()) => {
                // The mode keepalived's umask gives, whatever ours is.
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
                let (our_uid, our_gid) = (geteuid().as_raw(), getegid().as_raw());
                if owner != (our_uid, our_gid)
                    && chown(
                        path,
                        (owner.0 != our_uid).then(|| Uid::from_raw(owner.0)),
                        (owner.1 != our_gid).then(|| Gid::from_raw(owner.1)),
                    )
                    .is_err()
                {
                    logs.push(format!("Failed to set uid:gid for fifo {path}"));
                }
                true
            }
            Err(Errno::EEXIST) => false,
            Err(_) => {
                logs.push(format!("Unable to create {prefix}notify fifo {path}"));
                return;
            }
        };
        if let Some(script) = script {
            match script.command(&[path.to_string()]).spawn() {
                Ok(child) => self.scripts.push(watch(child, tx.clone())),
                // keepalived's child logs this and exits 0.
                Err(e) => logs.push(script.exec_error(&e)),
            }
        }
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW).bits())
            .open(path)
        {
            Ok(file) => self.open.push(OpenFifo {
                kind,
                path: path.to_string(),
                file,
                created,
            }),
            Err(e) => {
                logs.push(format!(
                    "Unable to open {prefix}notify fifo {path} - errno {}",
                    e.raw_os_error().unwrap_or(0)
                ));
                if created {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }

    /// Opens an existing or new FIFO as a `notify_fifo` without script or owner (for a
    /// caller that manages its own reader).
    pub fn add(&mut self, path: &str, tx: &Sender<Input>) {
        if self.open.iter().any(|f| f.path == path) {
            return;
        }
        let mut logs = Vec::new();
        let mut sec = ScriptSecurity::new(&GlobalDefs::default());
        let fifo = NotifyFifo {
            path: path.to_string(),
            owner: None,
            script: None,
        };
        self.open_one(Kind::Global, &fifo, &mut sec, &mut logs, tx);
        // The default user is ours when `keepalived_script` does not exist: not news.
        for l in logs.into_iter().filter(|l| !l.starts_with("Script user")) {
            let _ = tx.send(Input::Log(l));
        }
    }

    /// Writes `line` to every open FIFO (`notify_fifo()`: non-blocking, errors ignored).
    pub fn write_line(&mut self, line: &str) {
        for f in &mut self.open {
            let _ = f.file.write_all(line.as_bytes());
        }
    }

    /// `script_killall(SIGTERM)`: each running FIFO script's process group is told to go,
    /// and killed one second later if it has not.
    pub fn terminate_scripts(&mut self) {
        for s in &mut self.scripts {
            if s.terminated.swap(true, Ordering::SeqCst) || s.exited.load(Ordering::SeqCst) {
                continue;
            }
            let _ = killpg(s.pid, Signal::SIGTERM);
            let (pid, exited) = (s.pid, s.exited.clone());
            let started = Instant::now();
            s.killer = std::thread::Builder::new()
                .name("fifo script kill".to_string())
                .spawn(move || {
                    while started.elapsed() < KILL_AFTER {
                        if exited.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    if !exited.load(Ordering::SeqCst) {
                        let _ = killpg(pid, Signal::SIGKILL);
                    }
                })
                .ok();
        }
    }

    /// Shut-down begins (keepalived's `vrrp_terminate_phase1()`): the scripts are
    /// terminated before the `STOP` lines are written.
    pub fn stopping(&mut self) {
        self.stopping = true;
        self.terminate_scripts();
    }
}

impl Drop for NotifyFifos {
    fn drop(&mut self) {
        self.terminate_scripts();
        if self.stopping {
            // keepalived exits once its children are gone (SIGKILL a second after SIGTERM
            // for a script that stays), with the FIFOs still open: a reader that stays
            // after SIGTERM is killed, it does not see the end of the file.
            for s in &mut self.scripts {
                if let Some(k) = s.killer.take() {
                    let _ = k.join();
                }
            }
        }
        let vrrp_open = self.open.iter().any(|f| f.kind == Kind::Vrrp);
        // At a reload (`notify_fifo_close()`) a FIFO we created is removed first, so that a
        // reader that reopens it cannot; at shut-down only when the VRRP FIFO is open.
        if !self.stopping || vrrp_open {
            for f in &self.open {
                if f.created {
                    let _ = std::fs::remove_file(&f.path);
                }
            }
        }
        self.open.clear();
    }
}

/// Reaps `child` on a thread; logs keepalived's line if it ends without being terminated.
fn watch(mut child: std::process::Child, tx: Sender<Input>) -> FifoScript {
    // Linux pids fit in an i32 (pid_max <= 2^22); a failed conversion would only make the
    // signals miss.
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let exited = Arc::new(AtomicBool::new(false));
    let terminated = Arc::new(AtomicBool::new(false));
    let (e, t) = (exited.clone(), terminated.clone());
    let reaper = move || {
        let _ = child.wait();
        e.store(true, Ordering::SeqCst);
        if !t.load(Ordering::SeqCst) {
            let _ = tx.send(Input::Log("vrrp notify fifo script terminated".to_string()));
        }
    };
    if std::thread::Builder::new()
        .name("fifo script reaper".to_string())
        .spawn(reaper)
        .is_err()
    {
        // Without a reaper nothing would tell us it ended: treat it as gone.
        exited.store(true, Ordering::SeqCst);
    }
    FifoScript {
        pid,
        exited,
        terminated,
        killer: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn global(dir: &Path, vrrp: bool) -> GlobalDefs {
        let fifo = |name: &str| NotifyFifo {
            path: dir.join(name).display().to_string(),
            owner: None,
            script: None,
        };
        GlobalDefs {
            notify_fifo: Some(fifo("fifo")),
            vrrp_notify_fifo: vrrp.then(|| fifo("vfifo")),
            ..GlobalDefs::default()
        }
    }

    /// A fresh directory, removed on drop.
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let d = std::env::temp_dir().join(format!("hafifo-unit-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn open(g: &GlobalDefs) -> NotifyFifos {
        let (tx, _rx) = std::sync::mpsc::channel();
        NotifyFifos::open(g, false, &mut ScriptSecurity::new(g), &tx)
    }

    // What keepalived 2.2.7 leaves, as measured by crates/ha-compat/tests/
    // notify_fifo_reference.rs: a created FIFO is mode 0600; shut-down with only a
    // `notify_fifo` leaves it, with a `vrrp_notify_fifo` too removes both; a reload removes.
    #[test]
    fn created_mode_and_what_each_end_leaves() {
        let dir = Dir::new("ends");
        let (f, v) = (dir.path().join("fifo"), dir.path().join("vfifo"));

        let fifos = open(&global(dir.path(), false));
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        drop(fifos);
        assert!(!f.exists(), "a reload removes what it created");

        let mut fifos = open(&global(dir.path(), false));
        fifos.stopping();
        drop(fifos);
        assert!(f.exists(), "a lone notify_fifo stays at shut-down");
        std::fs::remove_file(&f).unwrap();

        let mut fifos = open(&global(dir.path(), true));
        fifos.stopping();
        drop(fifos);
        assert!(
            !f.exists() && !v.exists(),
            "both go with a vrrp_notify_fifo"
        );
    }

    #[test]
    fn existing_fifo_is_used_and_kept() {
        let dir = Dir::new("existing");
        let f = dir.path().join("fifo");
        mkfifo(&f, Mode::from_bits_truncate(0o644)).unwrap();
        let mut reader = OpenOptions::new()
            .read(true)
            .custom_flags(OFlag::O_NONBLOCK.bits())
            .open(&f)
            .unwrap();
        let mut fifos = open(&global(dir.path(), false));
        fifos.write_line("INSTANCE \"VI_1\" MASTER 100\n");
        let mut got = String::new();
        std::io::Read::read_to_string(&mut reader, &mut got).ok();
        assert_eq!(got, "INSTANCE \"VI_1\" MASTER 100\n");
        drop(fifos);
        assert!(f.exists(), "not ours to remove");
    }
}
