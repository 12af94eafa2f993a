//! The zero-copy leg of the TCP pump: a kernel pipe that `splice(2)` fills from one
//! socket and drains into the other, so the bytes never reach user space (HAProxy's
//! `option splice-*`, src/raw_sock.c `raw_sock_to_pipe()` / `raw_sock_from_pipe()`).
//!
//! Both calls use `SPLICE_F_MOVE | SPLICE_F_NONBLOCK` as HAProxy does, on the sockets
//! tokio already made non-blocking, and are driven by tokio's readiness: wait for the
//! socket to be readable (writable), try the call, and let `try_io` clear the readiness
//! when the kernel says `EAGAIN`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::tcp_session::PipeLimits;

/// The kernel's default pipe capacity (16 pages): HAProxy's `tune.pipesize` 0.
const DEFAULT_PIPE_SIZE: usize = 64 * 1024;

/// Pipes open in the process, against `maxpipes` (HAProxy's `pipes_used`). Process-wide
/// because the limit is: one engine runs per process.
static PIPES_IN_USE: AtomicUsize = AtomicUsize::new(0);

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK
}

/// One direction's pipe and how many bytes it holds.
#[derive(Debug)]
pub(crate) struct SplicePipe {
    read_end: OwnedFd,
    write_end: OwnedFd,
    /// Most bytes asked from the socket in one call: the pipe's capacity, so one fill
    /// never waits for the pipe.
    size: usize,
    held: usize,
}

impl SplicePipe {
    /// A new, empty pipe; `None` when `maxpipes` pipes are open or the process is out
    /// of file descriptors: the caller copies instead, as HAProxy does when
    /// `get_pipe()` fails.
    pub(crate) fn new(limits: PipeLimits) -> Option<SplicePipe> {
        let reserved = PIPES_IN_USE.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            // A match, not `is_none_or`: MSRV 1.80.
            match limits.max_pipes {
                Some(max) if n >= max => None,
                _ => Some(n + 1),
            }
        });
        reserved.ok()?;
        let Ok((read_end, write_end)) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
        else {
            PIPES_IN_USE.fetch_sub(1, Ordering::AcqRel);
            return None;
        };
        let size = match limits.pipe_size {
            // `tune.pipesize`: the kernel rounds up to pages and says what it set.
            Some(wanted) => i32::try_from(wanted)
                .ok()
                .and_then(|w| fcntl(&write_end, FcntlArg::F_SETPIPE_SZ(w)).ok())
                .and_then(|got| usize::try_from(got).ok())
                .unwrap_or(DEFAULT_PIPE_SIZE),
            None => DEFAULT_PIPE_SIZE,
        };
        Some(SplicePipe {
            read_end,
            write_end,
            size,
            held: 0,
        })
    }

    /// Bytes in the pipe, not yet written to the destination.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Moves what `from` has received into the (empty) pipe: `Ok(0)` is the peer's
    /// FIN. Cancel-safe: nothing moves until the call itself returns.
    pub(crate) async fn fill(&mut self, from: &TcpStream) -> io::Result<usize> {
        let room = self.size.saturating_sub(self.held).max(1);
        loop {
            from.readable().await?;
            let moved = from.try_io(Interest::READABLE, || {
                splice(from.as_fd(), None, &self.write_end, None, room, flags())
                    .map_err(io::Error::from)
            });
            match moved {
                Ok(n) => {
                    self.held += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes some of what the pipe holds to `to`; never `Ok(0)` while it holds bytes
    /// (that would be a broken pipe: reported as an error). Cancel-safe like `fill`.
    pub(crate) async fn drain(&mut self, to: &TcpStream) -> io::Result<usize> {
        loop {
            to.writable().await?;
            let moved = to.try_io(Interest::WRITABLE, || {
                splice(&self.read_end, None, to.as_fd(), None, self.held, flags())
                    .map_err(io::Error::from)
            });
            match moved {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.held -= n.min(self.held);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for SplicePipe {
    fn drop(&mut self) {
        PIPES_IN_USE.fetch_sub(1, Ordering::AcqRel);
    }
}
