//! The live sessions, for the runtime API's `show sess`: each accepted connection (proxy
//! or CLI) is registered while it lasts, with the backend and server it reached last.
//! Sessions note their server through a task-local handle set around the connection's
//! task ([`scoped`], [`note_server`]), so the session code needs no extra parameter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cli::SessionLine;

/// One live session.
#[derive(Debug)]
pub struct LiveSession {
    id: u64,
    proto: &'static str,
    src: String,
    frontend: String,
    started: Instant,
    /// (backend, server) last reached.
    target: Mutex<(Option<String>, Option<String>)>,
}

/// Every live session of the process.
#[derive(Debug, Default)]
pub struct SessionRegistry {
    next: AtomicU64,
    live: Mutex<BTreeMap<u64, Arc<LiveSession>>>,
}

/// A session's place in the registry: removed when dropped.
#[derive(Debug)]
pub struct Registered {
    session: Arc<LiveSession>,
    registry: Arc<SessionRegistry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut live) = self.registry.live.lock() {
            live.remove(&self.session.id);
        }
    }
}

impl SessionRegistry {
    /// Registers a session (`proto`: `tcpv4`, `tcpv6`, `unix_stream`).
    pub fn register(
        self: &Arc<Self>,
        proto: &'static str,
        src: String,
        frontend: &str,
        backend: Option<&str>,
    ) -> Registered {
        // Ids look like HAProxy's stream pointers; they only need to be unique.
        let id = 0x5000_0000 + self.next.fetch_add(1, Ordering::Relaxed) * 0x100;
        let session = Arc::new(LiveSession {
            id,
            proto,
            src,
            frontend: frontend.to_string(),
            started: Instant::now(),
            target: Mutex::new((backend.map(str::to_string), None)),
        });
        if let Ok(mut live) = self.live.lock() {
            live.insert(id, session.clone());
        }
        Registered {
            session,
            registry: self.clone(),
        }
    }

    /// The sessions, oldest first.
    pub fn lines(&self) -> Vec<SessionLine> {
        let Ok(live) = self.live.lock() else {
            return Vec::new();
        };
        live.values()
            .map(|s| {
                let (backend, server) = s.target.lock().map(|t| t.clone()).unwrap_or_default();
                SessionLine {
                    id: s.id,
                    proto: s.proto,
                    src: s.src.clone(),
                    frontend: s.frontend.clone(),
                    backend,
                    server,
                    age: s.started.elapsed(),
                }
            })
            .collect()
    }
}

tokio::task_local! {
    static CURRENT: Arc<LiveSession>;
}

/// Runs `fut` (a connection's task) with `registered` as its session.
pub async fn scoped<F: std::future::Future>(registered: &Registered, fut: F) -> F::Output {
    CURRENT.scope(registered.session.clone(), fut).await
}

/// The current task's session reached `server` of the backend `backend` names (asked
/// only inside a registered session).
pub fn note_server(backend: impl FnOnce() -> Option<String>, server: &str) {
    let _ = CURRENT.try_with(|s| {
        let backend = backend();
        if let Ok(mut t) = s.target.lock() {
            if backend.is_some() {
                t.0 = backend;
            }
            t.1 = Some(server.to_string());
        }
    });
}

/// `tcpv4` / `tcpv6` for an address.
pub fn proto_of(addr: &std::net::SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "tcpv4"
    } else {
        "tcpv6"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_are_listed_while_they_last_with_their_server() {
        let registry = Arc::new(SessionRegistry::default());
        let a = registry.register("tcpv4", "10.0.0.1:1234".into(), "fe", Some("be"));
        scoped(&a, async { note_server(|| None, "s1") }).await;
        let b = registry.register("unix_stream", "unix:1".into(), "GLOBAL", None);
        let lines = registry.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].backend.as_deref(), Some("be"));
        assert_eq!(lines[0].server.as_deref(), Some("s1"));
        assert_eq!(lines[1].frontend, "GLOBAL");
        drop(a);
        assert_eq!(registry.lines().len(), 1);
        drop(b);
        assert!(registry.lines().is_empty());
        // Outside a session's task nothing happens.
        note_server(|| Some("be".into()), "s2");
    }
}
