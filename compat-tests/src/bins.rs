//! Where the programs under comparison are, and what the lab needs from the host.
//!
//! All functions here are *test-support*: when something is missing they panic with a message
//! that says how to get it, because a comparison test must never pass by skipping.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The workspace root (the directory above this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        // CARGO_MANIFEST_DIR is an absolute path of compat-tests/, so it has a parent.
        .unwrap_or_else(|| manifest.join(".."))
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root if relative)
/// or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// *Test-support.* The ha-compat binary: `$HA_COMPAT_BIN`, else
/// `<target>/<profile>/ha-compat` with the profile this crate was built with (debug/release).
///
/// Panics if it does not exist: it is not built by `cargo test -p compat-tests`.
pub fn ours() -> PathBuf {
    let path = match std::env::var_os("HA_COMPAT_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let profile = if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            };
            target_dir().join(profile).join("ha-compat")
        }
    };
    assert!(
        path.is_file(),
        "ha-compat binary not found at {}: run `cargo build -p ha-compat` first \
         (with --release for a release test run), or set HA_COMPAT_BIN",
        path.display()
    );
    path
}

/// *Test-support.* A path named `name` that runs the ha-compat binary ([`ours`]) with argv[0]
/// = that name, which selects its personality (`keepalived`, later `haproxy`).
///
/// The symlink lives in `<target>/compat/argv0/<name>` and is replaced atomically, so
/// concurrent test processes can call this at the same time.
pub fn ours_as(name: &str) -> PathBuf {
    assert!(
        !name.is_empty() && !name.contains('/'),
        "ours_as: '{name}' is not a file name"
    );
    let binary = ours();
    let dir = target_dir().join("compat").join("argv0");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let link = dir.join(name);
    let tmp = dir.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&binary, &tmp)
        .unwrap_or_else(|e| panic!("cannot create symlink {}: {e}", tmp.display()));
    std::fs::rename(&tmp, &link).unwrap_or_else(|e| {
        let _ = std::fs::remove_file(&tmp);
        panic!("cannot rename {} to {}: {e}", tmp.display(), link.display())
    });
    link
}

/// *Test-support.* The real keepalived: `$KEEPALIVED_BIN` if set, else `keepalived` in
/// /usr/sbin, /usr/local/sbin or /sbin. Panics if there is none.
pub fn reference_keepalived() -> PathBuf {
    if let Some(p) = std::env::var_os("KEEPALIVED_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "KEEPALIVED_BIN={} does not exist", p.display());
        return p;
    }
    ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join("keepalived"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("keepalived not installed: run scripts/test.sh which installs it")
        })
}

/// *Test-support.* The real haproxy: `$HAPROXY_BIN` if set, else `haproxy` in /usr/sbin,
/// /usr/local/sbin or /sbin. Panics if there is none.
pub fn reference_haproxy() -> PathBuf {
    if let Some(p) = std::env::var_os("HAPROXY_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "HAPROXY_BIN={} does not exist", p.display());
        return p;
    }
    ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join("haproxy"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("haproxy not installed: run scripts/test.sh which installs it"))
}

/// *Test-support.* Panics unless the process runs as root (effective uid 0), which network
/// namespaces need. The comparison tests must not skip silently: CI runs them as root.
pub fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|e| panic!("cannot read /proc/self/status to check for root: {e}"));
    // "Uid:\treal\teffective\tsaved\tfs"
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .unwrap_or("?");
    assert!(
        euid == "0",
        "the compat tests need root (network namespaces), running as uid {euid}: \
         run them as root, e.g. through scripts/test.sh"
    );
}
