//! What `keepalived -t` looks up on the machine: interfaces, programs, users.
//!
//! The model builder asks through [`Host`] so it stays free of I/O in tests; the binary
//! passes [`SystemHost`].

use std::path::{Path, PathBuf};

/// The facts about the machine a configuration check depends on.
pub trait Host {
    /// Does a network interface of this name exist (in this network namespace)?
    fn interface_exists(&self, name: &str) -> bool;
    /// Resolves a program as `execve` with a PATH search would: `Some(path)` if it exists
    /// and is executable.
    fn find_executable(&self, program: &str) -> Option<PathBuf>;
    /// Does this user exist?
    fn user_exists(&self, name: &str) -> bool;
    /// Does this host name resolve (keepalived's `domain_stosockaddr()`, a `getaddrinfo()`
    /// at parse time: `smtp_server NAME`)?
    fn resolves(&self, name: &str) -> bool;
}

/// The machine we run on: `/sys/class/net`, `$PATH`, `/etc/passwd`.
///
/// The interface list is read once, when the host is made: a file with thousands of
/// instances asks about the same few interfaces thousands of times.
#[derive(Debug, Clone, Default)]
pub struct SystemHost {
    interfaces: Vec<String>,
}

impl SystemHost {
    pub fn new() -> Self {
        let interfaces = std::fs::read_dir("/sys/class/net")
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        SystemHost { interfaces }
    }
}

/// keepalived's PATH for scripts when the environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Host for SystemHost {
    fn interface_exists(&self, name: &str) -> bool {
        self.interfaces.iter().any(|i| i == name)
    }

    fn find_executable(&self, program: &str) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let executable = |p: &Path| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        if program.contains('/') {
            let p = PathBuf::from(program);
            return executable(&p).then_some(p);
        }
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned());
        path.split(':')
            .map(|dir| Path::new(dir).join(program))
            .find(|p| executable(p))
    }

    fn user_exists(&self, name: &str) -> bool {
        std::fs::read_to_string("/etc/passwd")
            .map(|text| text.lines().any(|l| l.split(':').next() == Some(name)))
            .unwrap_or(false)
    }

    fn resolves(&self, name: &str) -> bool {
        use std::net::ToSocketAddrs;
        (name, 25)
            .to_socket_addrs()
            .is_ok_and(|mut addrs| addrs.next().is_some())
    }
}

/// A host described in memory, for tests and for checking a file meant for another machine.
#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    pub interfaces: Vec<String>,
    pub programs: Vec<String>,
    pub users: Vec<String>,
}

impl FakeHost {
    /// Knows every interface, program and user: nothing host-dependent is reported.
    pub fn permissive() -> PermissiveHost {
        PermissiveHost
    }
}

impl Host for FakeHost {
    fn interface_exists(&self, name: &str) -> bool {
        self.interfaces.iter().any(|i| i == name)
    }
    fn find_executable(&self, program: &str) -> Option<PathBuf> {
        let base = program.rsplit('/').next().unwrap_or(program);
        self.programs
            .iter()
            .any(|p| p == program || p == base)
            .then(|| PathBuf::from(program))
    }
    fn user_exists(&self, name: &str) -> bool {
        self.users.iter().any(|u| u == name)
    }
    /// A described host has no resolver: only addresses are valid (as keepalived 2.2.7
    /// reads the seeds where they were recorded, without DNS).
    fn resolves(&self, _: &str) -> bool {
        false
    }
}

/// A host on which everything exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct PermissiveHost;

impl Host for PermissiveHost {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn find_executable(&self, program: &str) -> Option<PathBuf> {
        Some(PathBuf::from(program))
    }
    fn user_exists(&self, _: &str) -> bool {
        true
    }
    fn resolves(&self, _: &str) -> bool {
        true
    }
}
