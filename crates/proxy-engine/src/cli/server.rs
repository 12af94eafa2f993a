//! The runtime API's sockets: each global `stats socket` (unix with `mode`, `uid`/`user`,
//! `gid`/`group`; or TCP) bound at start as HAProxy binds it (a unix socket is bound under
//! a temporary name, given its owner and mode, then renamed over the path, so a reload
//! never leaves the path missing), and served: one [`super::Session`] per connection,
//! closed after `stats timeout` (10 s by default) without a command, at most `stats
//! maxconn` (10) at once.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use haproxy_conf::model::{BindAddress, Global};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::{CliTarget, Level, Session};
use crate::ProxyError;

/// HAProxy's `stats timeout` default (`cli_alloc_fe()`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// HAProxy's `stats maxconn` default.
const DEFAULT_MAXCONN: usize = 10;

enum Socket {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
}

struct Bound {
    socket: Socket,
    level: Level,
}

/// The CLI's connections, as HAProxy counts them on its `GLOBAL` proxy (each one a
/// stream of its frontend and of its backend).
#[derive(Debug, Default)]
pub struct CliCounters {
    pub current: std::sync::atomic::AtomicU32,
    pub cumulated: std::sync::atomic::AtomicU64,
}

/// Every runtime API socket of the process, bound, not yet served.
pub struct CliSockets {
    bound: Vec<Bound>,
    counters: Arc<CliCounters>,
    timeout: Duration,
    maxconn: usize,
}

impl std::fmt::Debug for CliSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliSockets")
            .field("sockets", &self.bound.len())
            .finish()
    }
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> ProxyError {
    move |e| ProxyError::Plan(format!("{what}: {e}"))
}

/// Binds a unix socket at `path` through `path.PID.tmp`, with its owner and mode set
/// before it appears under its name.
fn bind_unix(
    path: &Path,
    mode: Option<u32>,
    owner: Option<(Option<u32>, Option<u32>)>,
) -> Result<std::os::unix::net::UnixListener, ProxyError> {
    let tmp = PathBuf::from(format!("{}.{}.tmp", path.display(), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener = std::os::unix::net::UnixListener::bind(&tmp).map_err(io_error(format!(
        "cannot bind UNIX socket ({})",
        path.display()
    )))?;
    if let Some((uid, gid)) = owner {
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(&tmp, uid, gid).map_err(io_error(format!(
                "cannot change UNIX socket ownership ({})",
                path.display()
            )))?;
        }
    }
    if let Some(mode) = mode {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(io_error(
            format!("cannot change UNIX socket permissions ({})", path.display()),
        ))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ProxyError::Plan(format!(
            "cannot switch final and temporary UNIX sockets ({}): {e}",
            path.display()
        ))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(io_error(format!("UNIX socket {}", path.display())))?;
    Ok(listener)
}

fn user_id(name: &str) -> Option<u32> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

fn group_id(name: &str) -> Option<u32> {
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

impl CliSockets {
    /// Binds every `stats socket` of `global`.
    pub fn bind(global: &Global) -> Result<CliSockets, ProxyError> {
        let mut bound = Vec::new();
        for sock in &global.stats_sockets {
            let o = &sock.options;
            let at = format!("[{}:{}]", sock.at.file, sock.at.line);
            let level = Level::from_option(o.level.as_deref()).ok_or_else(|| {
                ProxyError::Plan(format!(
                    "{}: 'level' only supports 'user', 'operator', and 'admin'",
                    at
                ))
            })?;
            let socket = match &sock.address {
                BindAddress::Unix(path) => {
                    let uid = o.uid.or_else(|| o.user.as_deref().and_then(user_id));
                    let gid = o.gid.or_else(|| o.group.as_deref().and_then(group_id));
                    Socket::Unix(bind_unix(path, o.mode, Some((uid, gid)))?)
                }
                BindAddress::Inet { host, ports } => {
                    let ip = host.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
                    let addr = std::net::SocketAddr::new(ip, ports.first);
                    let domain = socket2::Domain::for_address(addr);
                    let s = socket2::Socket::new(domain, socket2::Type::STREAM, None)
                        .map_err(io_error(format!("{}: stats socket", at)))?;
                    let _ = s.set_reuse_address(true);
                    // A reload's new process binds beside the old one.
                    let _ = s.set_reuse_port(true);
                    s.bind(&addr.into())
                        .map_err(io_error(format!("{}: cannot bind stats socket {addr}", at)))?;
                    s.listen(1024)
                        .map_err(io_error(format!("{}: stats socket {addr}", at)))?;
                    s.set_nonblocking(true)
                        .map_err(io_error(format!("{}: stats socket {addr}", at)))?;
                    Socket::Tcp(s.into())
                }
                other => {
                    return Err(ProxyError::Plan(format!(
                        "{}: 'stats socket' on {other:?} is not supported by ha-compat yet",
                        at
                    )))
                }
            };
            bound.push(Bound { socket, level });
        }
        Ok(CliSockets {
            bound,
            counters: Arc::default(),
            timeout: global.stats_timeout.unwrap_or(DEFAULT_TIMEOUT),
            maxconn: global.stats_maxconn.map_or(DEFAULT_MAXCONN, |m| m as usize),
        })
    }

    /// The connection counters every socket of this set updates.
    pub fn counters(&self) -> Arc<CliCounters> {
        self.counters.clone()
    }

    /// A socket the configuration does not name: `admin` level, mode 0600.
    pub fn add_private(&mut self, path: &Path) -> Result<(), ProxyError> {
        let listener = bind_unix(path, Some(0o600), None)?;
        self.bound.push(Bound {
            socket: Socket::Unix(listener),
            level: Level::Admin,
        });
        Ok(())
    }

    /// Serves every socket until `stop` resolves (a soft stop closes them, as HAProxy
    /// stops its `GLOBAL` proxy).
    pub async fn serve(
        self,
        target: Arc<dyn CliTarget + Send + Sync>,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let slots = Arc::new(Semaphore::new(self.maxconn));
        let mut tasks = tokio::task::JoinSet::new();
        for bound in self.bound {
            let ctx = Accepting {
                slots: slots.clone(),
                timeout: self.timeout,
                level: bound.level,
                counters: self.counters.clone(),
                target: target.clone(),
            };
            match bound.socket {
                Socket::Unix(listener) => {
                    let Ok(listener) = tokio::net::UnixListener::from_std(listener) else {
                        continue;
                    };
                    let listener = Arc::new(listener);
                    tasks.spawn(ctx.run(move || {
                        let listener = listener.clone();
                        async move { listener.accept().await.map(|(s, _)| s) }
                    }));
                }
                Socket::Tcp(listener) => {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        continue;
                    };
                    let listener = Arc::new(listener);
                    tasks.spawn(ctx.run(move || {
                        let listener = listener.clone();
                        async move { listener.accept().await.map(|(s, _)| s) }
                    }));
                }
            }
        }
        if tasks.is_empty() {
            return;
        }
        stop.await;
        tasks.abort_all();
    }
}

/// What an accept loop needs: the shared connection slots, the session settings, the
/// counters and the engine.
struct Accepting {
    slots: Arc<Semaphore>,
    timeout: Duration,
    level: Level,
    counters: Arc<CliCounters>,
    target: Arc<dyn CliTarget + Send + Sync>,
}

impl Accepting {
    /// Accepts with `accept` while a slot is free, one task per connection.
    async fn run<S, F, Fut>(self, mut accept: F)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::io::Result<S>>,
    {
        loop {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                return;
            };
            let Ok(stream) = accept().await else {
                continue;
            };
            let (target, counters) = (self.target.clone(), self.counters.clone());
            let (level, timeout) = (self.level, self.timeout);
            tokio::spawn(async move {
                let _held = Held::new(counters);
                serve_connection(stream, level, timeout, target).await;
                drop(permit);
            });
        }
    }
}

/// A connection counted while it lasts.
struct Held(Arc<CliCounters>);

impl Held {
    fn new(counters: Arc<CliCounters>) -> Held {
        use std::sync::atomic::Ordering::Relaxed;
        counters.cumulated.fetch_add(1, Relaxed);
        counters.current.fetch_add(1, Relaxed);
        Held(counters)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0
            .current
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One CLI connection: commands in, replies out, until the session ends, the client
/// leaves, or it stays silent for `timeout`.
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    level: Level,
    timeout: Duration,
    target: Arc<dyn CliTarget + Send + Sync>,
) {
    let mut session = Session::new(level);
    let mut buf = vec![0u8; 16384];
    loop {
        let wait = session.timeout().unwrap_or(timeout);
        let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => break,
        };
        let out = session.feed(&buf[..n], n == 0, target.as_ref());
        if !out.bytes.is_empty() && stream.write_all(&out.bytes).await.is_err() {
            break;
        }
        if out.close || n == 0 {
            break;
        }
    }
    // HAProxy shuts the write side and reads what the client still sends until it
    // closes: a late command is discarded, not answered with a reset.
    let _ = stream.shutdown().await;
    let drain = async { while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(timeout, drain).await;
}
