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

use nix::fcntl::{splice, OFlag, SpliceFFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Most bytes asked from the socket in one call: the default pipe capacity (16 pages),
/// so one fill never blocks on the pipe, as HAProxy's default `tune.pipesize` (0: the
/// kernel's size).
const PIPE_CAPACITY: usize = 64 * 1024;

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK
}

/// One direction's pipe and how many bytes it holds.
#[derive(Debug)]
pub(crate) struct SplicePipe {
    read_end: OwnedFd,
    write_end: OwnedFd,
    held: usize,
}

impl SplicePipe {
    /// A new, empty pipe (fails when out of file descriptors: the caller copies instead,
    /// as HAProxy does when `get_pipe()` fails).
    pub(crate) fn new() -> io::Result<SplicePipe> {
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        Ok(SplicePipe {
            read_end,
            write_end,
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
        let room = PIPE_CAPACITY - self.held;
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
