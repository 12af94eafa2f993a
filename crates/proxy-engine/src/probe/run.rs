//! One check run on tokio (`tcpcheck_main()` and the I/O around it): rules in order,
//! each connect with its deadline, sends, expects re-evaluated from their chain head
//! as data arrives, and the result HAProxy reports for each way it ends.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout_at, Instant};

use super::rules::{
    empty_response_message, eval_http_expect, eval_tcp_expect, step_context, Action, Connect, Eval,
    Seen, Step, BUFSIZE,
};
use super::{CheckDeadlines, ProbeSpec, ProxyHeader, Ruleset};
use crate::health::{CheckResult, CheckStatus};

/// `strerror(errno)`: the text of an OS error without Rust's " (os error N)".
fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The PROXY header HAProxy sends first on a check connection.
fn proxy_header(version: ProxyHeader, local: SocketAddr, peer: SocketAddr) -> Vec<u8> {
    match version {
        ProxyHeader::V1 => {
            let (proto, src, dst) = match (local, peer) {
                (SocketAddr::V4(l), SocketAddr::V4(p)) => {
                    ("TCP4", l.ip().to_string(), p.ip().to_string())
                }
                _ => {
                    let v6 = |a: SocketAddr| match a {
                        SocketAddr::V4(v) => v.ip().to_ipv6_mapped().to_string(),
                        SocketAddr::V6(v) => v.ip().to_string(),
                    };
                    ("TCP6", v6(local), v6(peer))
                }
            };
            format!(
                "PROXY {proto} {src} {dst} {} {}\r\n",
                local.port(),
                peer.port()
            )
            .into_bytes()
        }
        ProxyHeader::V2 => {
            let mut h = b"\r\n\r\n\x00\r\nQUIT\n".to_vec();
            // Version 2, LOCAL; family UNSPEC; no address block.
            h.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
            h
        }
    }
}

/// How the check currently stands: which rule runs, the connection, what was read.
struct Run<'a> {
    spec: &'a ProbeSpec,
    deadlines: &'a CheckDeadlines,
    start: Instant,
    deadline: Instant,
    current: Option<usize>,
    conn: Option<TcpStream>,
    linger: bool,
    input: Vec<u8>,
    eos: bool,
    /// A connection error seen while reading (reported only if nothing was read).
    read_error: Option<io::Error>,
}

enum Stop {
    Done(CheckResult),
}

impl Run<'_> {
    fn result(&self, status: CheckStatus, info: String, code: Option<u16>) -> CheckResult {
        let mut info = info;
        // HAProxy keeps HCHK_DESC_LEN - 1 bytes of the description.
        if info.len() > 127 {
            let mut cut = 127;
            while !info.is_char_boundary(cut) {
                cut -= 1;
            }
            info.truncate(cut);
        }
        CheckResult {
            status,
            code,
            info,
            duration: Duration::from_millis(self.start.elapsed().as_millis() as u64),
        }
    }

    fn current_step(&self) -> Option<&Step> {
        self.current.map(|i| &self.spec.steps[i])
    }

    /// `chk_report_conn_err()` for an OS error: `strerror` + the step context.
    fn conn_error(&self, status: CheckStatus, e: &io::Error) -> Stop {
        let info = format!(
            "{}{}",
            strerror(e),
            step_context(self.spec.ruleset, self.current_step())
        );
        Stop::Done(self.result(status, info, None))
    }

    /// The deadline passed: `L4TOUT` while connecting, else `L7TOUT` (or the current
    /// expect's `tout-status`), with the step context and no error text.
    fn expired(&self, connecting: bool) -> Stop {
        let status = if connecting {
            CheckStatus::L4Tout
        } else {
            match self.current_step().map(|s| &s.action) {
                Some(Action::Expect(e)) => e.tout_status.unwrap_or(CheckStatus::L7Tout),
                _ => CheckStatus::L7Tout,
            }
        };
        let info = step_context(self.spec.ruleset, self.current_step());
        Stop::Done(self.result(status, info, None))
    }

    fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.linger {
                // HAProxy closes check connections with a reset unless `linger`; a
                // zero linger never blocks the thread.
                let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
            }
            drop(conn);
        }
    }

    async fn connect(&mut self, c: &Connect, delay_ack: bool) -> Result<(), Stop> {
        self.close();
        self.input.clear();
        self.eos = false;
        self.read_error = None;
        let target = self.spec.connect_target(c);
        let now = Instant::now();
        self.deadline = now + self.deadlines.connect();
        let socket = match if target.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        } {
            Ok(s) => s,
            Err(e) => return Err(self.conn_error(CheckStatus::SockErr, &e)),
        };
        if delay_ack {
            // CONNECT_DELACK_ALWAYS: a pure connect check is closed (with a reset)
            // before the handshake's last ACK leaves, so the server never accepts it;
            // before a send, the ACK rides with the data.
            let _ = socket2::SockRef::from(&socket).set_tcp_quickack(false);
        }
        let stream = match timeout_at(self.deadline, socket.connect(target)).await {
            Err(_) => return Err(self.expired(true)),
            Ok(Err(e)) => return Err(self.conn_error(CheckStatus::L4Con, &e)),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        self.linger = c.linger;
        let header = if c.send_proxy {
            Some(self.spec.proxy_header_version)
        } else if c.default || c.implicit {
            self.spec.default_proxy_header
        } else {
            None
        };
        self.conn = Some(stream);
        if let Some(version) = header {
            let (local, peer) = match self.conn.as_ref().map(|s| (s.local_addr(), s.peer_addr())) {
                Some((Ok(l), Ok(p))) => (l, p),
                Some((Err(e), _)) | Some((_, Err(e))) => {
                    return Err(self.conn_error(CheckStatus::SockErr, &e))
                }
                None => return Ok(()),
            };
            let bytes = proxy_header(version, local, peer);
            self.write(&bytes, true).await?;
        }
        if let Some(t) = self.deadlines.timeout_check {
            self.deadline = Instant::now() + t;
        }
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8], connecting: bool) -> Result<(), Stop> {
        let deadline = self.deadline;
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        match timeout_at(deadline, conn.write_all(bytes)).await {
            Err(_) => Err(self.expired(connecting)),
            Ok(Err(e)) => Err(self.conn_error(CheckStatus::SockErr, &e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// `tcpcheck_eval_recv()`: waits for data (or the end) and appends it. Returns
    /// whether this was the last read (end of stream, error or full buffer).
    async fn recv(&mut self) -> Result<bool, Stop> {
        if !self.eos && self.read_error.is_none() && self.input.len() < BUFSIZE {
            let deadline = self.deadline;
            let Some(conn) = self.conn.as_mut() else {
                return Ok(true);
            };
            let mut buf = vec![0u8; BUFSIZE - self.input.len()];
            match timeout_at(deadline, conn.read(&mut buf)).await {
                Err(_) => return Err(self.expired(false)),
                Ok(Ok(0)) => self.eos = true,
                Ok(Ok(n)) => self.input.extend_from_slice(&buf[..n]),
                Ok(Err(e)) => self.read_error = Some(e),
            }
        }
        if self.input.is_empty() {
            if let Some(e) = self.read_error.take() {
                return Err(self.conn_error(CheckStatus::SockErr, &e));
            }
            if self.eos {
                if self.spec.ruleset == Ruleset::Http {
                    // The H1 mux turns a close before any response into a parsing
                    // error: L7RSP without text (recorded from the real haproxy).
                    return Err(Stop::Done(self.result(
                        CheckStatus::L7Rsp,
                        String::new(),
                        None,
                    )));
                }
                let (status, info) = match self.current_step() {
                    Some(step) => {
                        let status = match &step.action {
                            Action::Expect(e) => e.err_status.unwrap_or(CheckStatus::L7Rsp),
                            _ => CheckStatus::L7Rsp,
                        };
                        (status, empty_response_message(step))
                    }
                    None => (CheckStatus::L7Rsp, String::new()),
                };
                return Err(Stop::Done(self.result(status, info, None)));
            }
        }
        Ok(self.eos || self.read_error.is_some() || self.input.len() >= BUFSIZE)
    }

    async fn run(&mut self) -> CheckResult {
        let spec = self.spec;
        let steps = &spec.steps;
        let mut i = 0;
        let mut must_read = true;
        let mut last_read = false;
        let mut seen = Seen::default();
        let mut head_request = false;
        while i < steps.len() {
            let step = &steps[i];
            seen.code = None;
            match &step.action {
                Action::Connect(c) => {
                    self.current = Some(i);
                    let next = steps[i + 1..].first().map(|s| &s.action);
                    let delay_ack = matches!(
                        next,
                        None | Some(Action::Send(_)) | Some(Action::SendHttp(_))
                    );
                    if let Err(Stop::Done(r)) = self.connect(c, delay_ack).await {
                        self.close();
                        return r;
                    }
                    must_read = true;
                    last_read = false;
                }
                Action::Send(bytes) => {
                    self.current = Some(i);
                    self.input.clear();
                    if let Err(Stop::Done(r)) = self.write(bytes, false).await {
                        self.close();
                        return r;
                    }
                    must_read = true;
                }
                Action::SendHttp(req) => {
                    self.current = Some(i);
                    self.input.clear();
                    head_request = req.is_head();
                    let bytes = req.to_bytes();
                    if let Err(Stop::Done(r)) = self.write(&bytes, false).await {
                        self.close();
                        return r;
                    }
                    must_read = true;
                }
                Action::Expect(e) => {
                    self.current = Some(i);
                    if must_read {
                        match self.recv().await {
                            Ok(last) => last_read = last,
                            Err(Stop::Done(r)) => {
                                self.close();
                                return r;
                            }
                        }
                        must_read = false;
                    }
                    let eval = match self.spec.ruleset {
                        Ruleset::Http => eval_http_expect(
                            step,
                            e,
                            &self.input,
                            last_read,
                            head_request,
                            &mut seen,
                        ),
                        _ => eval_tcp_expect(self.spec.ruleset, step, e, &self.input, last_read),
                    };
                    match eval {
                        Eval::Continue => {}
                        Eval::Wait => {
                            // Resume at the chain head once more data came.
                            i = e.head;
                            must_read = true;
                            continue;
                        }
                        Eval::Fail { status, info, code } => {
                            self.close();
                            return self.result(status, info, code);
                        }
                    }
                }
            }
            i += 1;
        }
        // Every rule passed: the status depends on the last rule evaluated.
        let last = self.current_step().map(|s| &s.action);
        let tcp = self.spec.ruleset == Ruleset::TcpCheck;
        let result = match last {
            Some(Action::Expect(e)) => self.result(
                e.ok_status.unwrap_or(CheckStatus::L7Ok),
                if tcp {
                    "(tcp-check)".into()
                } else {
                    String::new()
                },
                Some(seen.code.unwrap_or(0)),
            ),
            Some(Action::Connect(c)) => self.result(
                CheckStatus::L4Ok,
                if c.implicit {
                    String::new()
                } else {
                    "(tcp-check)".into()
                },
                None,
            ),
            _ => self.result(CheckStatus::L7Ok, "(tcp-check)".into(), Some(0)),
        };
        self.close();
        result
    }
}

/// Runs one check of `spec` now, within `deadlines`, and reports it as HAProxy would
/// (status, `info:` text, HTTP code, duration in ms).
pub async fn run_check(spec: &ProbeSpec, deadlines: &CheckDeadlines) -> CheckResult {
    let start = Instant::now();
    let mut run = Run {
        spec,
        deadlines,
        start,
        deadline: start + deadlines.connect(),
        current: None,
        conn: None,
        linger: false,
        input: Vec::new(),
        eos: false,
        read_error: None,
    };
    run.run().await
}
