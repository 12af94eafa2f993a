//! systemd's readiness protocol (`sd_notify(3)`): one datagram of `KEY=VALUE` lines to
//! the `AF_UNIX` socket named by `$NOTIFY_SOCKET` (a path, or `@name` for an abstract
//! socket). No libsystemd: the protocol is a stable interface and this is all of it.
//!
//! - [`send`]: one message to one socket.
//! - [`Notifier`]: the socket taken out of the environment once (so scripts and children
//!   started later do not inherit it, as keepalived's VRRP child unsets it), then used for
//!   each message.
//! - [`parent_is_systemd`]: keepalived 2.2.7's test for talking to systemd at all.

use std::ffi::{OsStr, OsString};
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Sends `text` as one datagram to `socket` (`/path` or `@abstract`).
pub fn send(socket: &OsStr, text: &str) -> std::io::Result<()> {
    let target = socket.to_string_lossy();
    let address = match target.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None => SocketAddr::from_pathname(socket)?,
    };
    UnixDatagram::unbound()?.send_to_addr(text.as_bytes(), &address)?;
    Ok(())
}

/// Where this process's notifications go, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<OsString>,
}

impl Notifier {
    /// Takes `$NOTIFY_SOCKET` out of the environment (the caller must still be
    /// single-threaded: changing the environment is sound only then) and keeps it when
    /// `keep` says so.
    pub fn take_from_env(keep: impl FnOnce() -> bool) -> Notifier {
        let socket = std::env::var_os(NOTIFY_SOCKET);
        if socket.is_some() {
            std::env::remove_var(NOTIFY_SOCKET);
        }
        Notifier {
            socket: socket.filter(|_| keep()),
        }
    }

    /// Whether messages go anywhere.
    pub fn enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends `text`; errors are dropped, as sd_notify's callers do (systemd gone or not
    /// listening changes nothing for the daemon).
    pub fn notify(&self, text: &str) {
        if let Some(socket) = &self.socket {
            let _ = send(socket, text);
        }
    }

    /// `READY=1\nMAINPID=<this process>`, as keepalived's `systemd_notify_running()` and
    /// HAProxy's `-Ws` master send it.
    pub fn ready(&self) {
        self.notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    }
}

/// keepalived 2.2.7's `check_parent_systemd()`: it talks to systemd only when its parent
/// is pid 1, pid 1 is `systemd` (`/proc/1/stat` starts `1 (systemd) `) and
/// `$NOTIFY_SOCKET` is set. So a keepalived started by hand, by a script or by another
/// supervisor never notifies, even with the variable inherited.
pub fn parent_is_systemd(parent_pid: i32, proc_1_stat: &[u8]) -> bool {
    parent_pid == 1 && proc_1_stat.starts_with(b"1 (systemd) ")
}

/// [`parent_is_systemd`] for this process.
pub fn this_parent_is_systemd() -> bool {
    let stat = std::fs::read("/proc/1/stat").unwrap_or_default();
    parent_is_systemd(nix::unistd::getppid().as_raw(), &stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_child_of_systemd_as_pid_1_talks_to_it() {
        assert!(parent_is_systemd(1, b"1 (systemd) S 0 1 1 0"));
        assert!(
            !parent_is_systemd(1, b"1 (sh) S 0 1 1 0"),
            "pid 1 is not systemd"
        );
        assert!(!parent_is_systemd(1, b"1 (systemd-journal) S"));
        assert!(!parent_is_systemd(1, b""), "/proc/1/stat unreadable");
        assert!(
            !parent_is_systemd(4242, b"1 (systemd) S 0 1 1 0"),
            "a supervisor's child"
        );
    }

    #[test]
    fn a_datagram_to_a_path_and_to_an_abstract_socket() {
        let dir = std::env::temp_dir().join(format!("ha-compat-sdnotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1\nMAINPID=7").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nMAINPID=7");
        let _ = std::fs::remove_dir_all(&dir);

        use std::os::linux::net::SocketAddrExt;
        let name = format!("ha-compat-sdnotify-{}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&address).unwrap();
        send(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
