//! Pid files as HAProxy 2.6 and keepalived 2.2.7 write them: the decimal pid and a
//! newline, mode 0644, the old file unlinked first (measured with strace on haproxy
//! 2.6.12: `unlink`, then `open(O_WRONLY|O_CREAT|O_TRUNC, 0644)`, then `"PID\n"`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replaces `path` with a file holding `pid`.
pub fn write(path: &Path, pid: u32) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(format!("{pid}\n").as_bytes())
}

/// The pid in `path` when it names a live process called `name` in our network
/// namespace (keepalived's "daemon is already running" test; see `keepalived_cli`).
/// keepalived 2.2.7 only asks whether the pid is alive; the name and namespace checks
/// keep a reused pid, or a keepalived serving another network namespace of the same
/// host (labs, the demo), from stopping a start.
pub fn live_pid(path: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    if pid == std::process::id() {
        return None;
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let ours = std::fs::read_link("/proc/self/ns/net").ok()?;
    (comm.trim_end() == name && theirs == ours).then_some(pid)
}

/// Removes `path` if it still holds `pid` (a newer instance may have replaced it).
pub fn remove_if_ours(path: &Path, pid: u32) {
    let holds_ours = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        == Some(pid);
    if holds_ours {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pid_and_newline_with_mode_0644() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hac-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pid");
        std::fs::write(&path, "a much longer previous content\n").unwrap();
        write(&path, 4242).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // The umask may only remove bits.
        assert_eq!(mode & !0o644, 0);
        remove_if_ours(&path, 1);
        assert!(path.exists());
        remove_if_ours(&path, 4242);
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
